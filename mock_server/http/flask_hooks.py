"""The Flask app's hooks: every error in the vendor envelope, and the journal of what it answers.

The Flask app serves what is not a vendor route (control plane, docs, dashboard, attachments,
unknown paths); ``http/vendor.py`` answers the vendor routes before it, with the same envelope
(``http/errors.py``) and journal (``http/journaling.py``).
"""

from __future__ import annotations

import time

from flask import Flask
from flask import Response
from flask import current_app
from flask import g
from flask import jsonify
from flask import request

from mock_server.http.errors import error_answer
from mock_server.http.journaling import Journaled
from mock_server.http.journaling import caller
from mock_server.http.journaling import record
from mock_server.redaction import bearer_of

NOT_JOURNALED = ("/__mock", "/docs", "/openapi.yaml")
"""The control plane and the served contracts: not vendor requests."""

OPERATIONS = {"media.attachment": "attachment"}
"""Operations of the Flask routes that are journaled (the vendor routes name their own)."""


def register_error_handlers(app: Flask) -> None:
    """Every error the Flask app raises, the mock's, werkzeug's or a bug, answers in the envelope.

    As on the vendor routes: :func:`mock_server.http.errors.error_answer`.
    """

    @app.errorhandler(Exception)
    def answer_error(exc: Exception) -> tuple[Response, int]:
        error, headers = error_answer(exc, request, app.extensions["pixverse_mock"].errors)
        response = jsonify(error.body())
        response.headers.extend(headers)
        return response, error.status


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
