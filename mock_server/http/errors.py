"""One place that renders every error, Flask's own included, in the vendor envelope."""

from __future__ import annotations

import logging

from flask import Flask
from flask import Response
from flask import jsonify
from flask import request
from werkzeug import exceptions as werkzeug_exceptions
from werkzeug.exceptions import HTTPException

from mock_server import messages
from mock_server.errors import ApiError
from mock_server.errors import BadRequest
from mock_server.errors import ConnectionDropped
from mock_server.errors import MethodNotAllowed
from mock_server.errors import NotFound
from mock_server.errors import PayloadTooLarge
from mock_server.http.drop import DROP_HEADER

log = logging.getLogger("pixverse_mock")


def envelope_headers(error: ApiError) -> list[tuple[str, str]]:
    """Headers an error's answer carries besides its body (the drop mark, for the layer outside)."""
    return [(DROP_HEADER, "1")] if isinstance(error, ConnectionDropped) else []


def render(error: ApiError) -> tuple[Response, int]:
    response = jsonify(error.body())
    for name, value in envelope_headers(error):
        response.headers[name] = value
    return response, error.status


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
