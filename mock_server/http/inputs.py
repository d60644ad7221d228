"""Read a Flask request into the service's :class:`RequestInput` (multipart, urlencoded or JSON)."""

from __future__ import annotations

from flask import Request

from mock_server.service.inputs import RequestInput
from mock_server.service.inputs import Upload


def request_input(request: Request) -> RequestInput:
    """The request's fields; a malformed JSON body reads as empty (the vendor's missing-value error)."""
    if request.is_json:
        body = request.get_json(silent=True)
        return RequestInput(values=body if isinstance(body, dict) else {}, is_json=True)
    values = {name: request.form.get(name) for name in request.form}
    uploads = {
        name: Upload(part.filename, part.mimetype or "application/octet-stream", part.read())
        for name, part in request.files.items()
    }
    return RequestInput(values=values, uploads=uploads)
