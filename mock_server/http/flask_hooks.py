"""The Flask app's hooks: every error in the vendor envelope, and the journal of what it answers.

The Flask app serves what is not a vendor route (control plane, docs, dashboard, attachments,
unknown paths); ``http/vendor.py`` answers the vendor routes before it, with the same envelope
(``http/errors.py``) and journal (``http/journaling.py``).
"""

from __future__ import annotations

import logging
import time

from flask import Flask
from flask import Response
from flask import current_app
from flask import g
from flask import jsonify
from flask import request
from werkzeug import exceptions as werkzeug_exceptions
from werkzeug.exceptions import HTTPException

from mock_server import messages
from mock_server.errors import ApiError
from mock_server.http.errors import api_error_of_http
from mock_server.http.errors import envelope_headers
from mock_server.http.journaling import Journaled
from mock_server.http.journaling import caller
from mock_server.http.journaling import record
from mock_server.redaction import bearer_of

log = logging.getLogger("pixverse_mock")
NOT_JOURNALED = ("/__mock", "/docs", "/openapi.yaml")
"""The control plane and the served contracts: not vendor requests."""

OPERATIONS = {"media.attachment": "attachment"}
"""Operations of the Flask routes that are journaled (the vendor routes name their own)."""


def render(error: ApiError) -> tuple[Response, int]:
    response = jsonify(error.body())
    for name, value in envelope_headers(error):
        response.headers[name] = value
    return response, error.status


def register_error_handlers(app: Flask) -> None:
    """ApiError and every werkzeug HTTPException answer ``{"error": ..., "code": ...}``.

    Anything else is a bug: it is logged, kept in ``runtime.errors`` for the test that caused it,
    and answered in the envelope too (never a traceback).
    """

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> tuple[Response, int]:
        return render(error)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        response, status = render(api_error_of_http(exc, request.method, request.path, request.max_content_length))
        if isinstance(exc, werkzeug_exceptions.MethodNotAllowed) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        return response, status

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        app.extensions["pixverse_mock"].errors.append(exc)
        return render(ApiError(messages.INTERNAL.format(detail=type(exc).__name__)))


def register_journaling(app: Flask) -> None:
    """Journal the requests the Flask app answers (everything except :data:`NOT_JOURNALED`).

    The vendor routes are answered (and journaled) before Flask, by ``mock_server.http.vendor``.
    """

    @app.before_request
    def start_clock() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def record_flask(response: Response) -> Response:
        req = request._get_current_object()  # type: ignore[attr-defined]
        if req.path.startswith(NOT_JOURNALED):
            return response
        body = response.get_json(silent=True) if response.is_json else None
        operation = OPERATIONS.get(req.endpoint or "", "unknown")
        record(current_app.extensions["pixverse_mock"], req, Journaled(
            operation, response.status_code, body, g.get("started", time.perf_counter()), [],
            caller(bearer_of(req.headers.get("Authorization")))))
        return response
