"""Every error in the vendor envelope: the mock's own and werkzeug's (no route, wrong method, too large).

No Flask here: the vendor routes (``http/vendor.py``) answer without it; the Flask app's handlers
are in ``http/flask_hooks.py``.
"""

from __future__ import annotations

import logging
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed as RouteMethodNotAllowed

from mock_server import messages
from mock_server.errors import ApiError
from mock_server.errors import BadRequest
from mock_server.errors import ConnectionDropped
from mock_server.errors import MethodNotAllowed
from mock_server.errors import NotFound
from mock_server.errors import PayloadTooLarge
from mock_server.http.drop import DROP_HEADER

log = logging.getLogger("pixverse_mock")


def error_answer(exc: Exception, request: Any, errors: list[BaseException]) -> tuple[ApiError, list[tuple[str, str]]]:
    """What answers ``exc`` raised while answering ``request``: the envelope's error and its headers.

    The headers: ``Allow`` for a wrong method, the drop mark for the layer outside. Anything but an
    API or HTTP error is a bug: it is logged, kept in ``errors`` for the test that caused it, and
    answered in the envelope too (never a traceback).
    """
    headers: list[tuple[str, str]] = []
    if isinstance(exc, HTTPException):
        if isinstance(exc, RouteMethodNotAllowed) and exc.valid_methods:
            headers.append(("Allow", ", ".join(sorted(exc.valid_methods))))
        exc = api_error_of_http(exc, request.method, request.path, request.max_content_length)
    elif not isinstance(exc, ApiError):
        log.exception("unhandled error on %s %s", request.method, request.path)
        errors.append(exc)
        exc = ApiError(messages.INTERNAL.format(detail=type(exc).__name__))
    if isinstance(exc, ConnectionDropped):
        headers.append((DROP_HEADER, "1"))
    return exc, headers


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
