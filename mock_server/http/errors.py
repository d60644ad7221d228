"""Every error in the vendor envelope: the mock's own and werkzeug's (no route, wrong method, too large).

No Flask here: the vendor routes (``http/vendor.py``) answer without it; the Flask app's handlers
are in ``http/flask_hooks.py``.
"""

from __future__ import annotations

from werkzeug.exceptions import HTTPException

from mock_server import messages
from mock_server.errors import ApiError
from mock_server.errors import BadRequest
from mock_server.errors import ConnectionDropped
from mock_server.errors import MethodNotAllowed
from mock_server.errors import NotFound
from mock_server.errors import PayloadTooLarge
from mock_server.http.drop import DROP_HEADER


def envelope_headers(error: ApiError) -> list[tuple[str, str]]:
    """Headers an error's answer carries besides its body (the drop mark, for the layer outside)."""
    return [(DROP_HEADER, "1")] if isinstance(error, ConnectionDropped) else []


def api_error_of_http(exc: HTTPException, method: str, path: str, max_content_length: int | None) -> ApiError:
    """The mock's error for one of werkzeug's (no route, wrong method, body too large, unreadable)."""
    if exc.code == 404:
        return NotFound(messages.NOT_FOUND.format(method=method, path=path))
    if exc.code == 405:
        return MethodNotAllowed(messages.METHOD_NOT_ALLOWED.format(method=method, path=path))
    if exc.code == 413:
        return PayloadTooLarge(messages.PAYLOAD_TOO_LARGE.format(limit=max_content_length or 0))
    if exc.code == 400:
        return BadRequest(messages.BAD_REQUEST.format(detail=exc.description))
    error = ApiError(exc.description or exc.name)
    error.status = exc.code or 500
    return error
