"""Record every vendor request in the request journal (faults are taken in ``http/vendor.py``).

Secrets never reach the journal: the API token is kept masked (``abc…secured…xyz``) beside the
tenant digest, and every secret the request carries is masked where the entry is built
(:mod:`mock_server.redaction`): secret-named fields and query parameters whatever their shape, and
the request's tokens wherever else they appear.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask
from flask import Response
from flask import current_app
from flask import g
from flask import request

from mock_server.accounts import digest
from mock_server.accounts import mask_secret
from mock_server.clock import iso_millis
from mock_server.errors import ApiError
from mock_server.errors import StoreUnavailable
from mock_server.faults import SUBMIT_OPERATIONS
from mock_server.http.inputs import MALFORMED
from mock_server.http.inputs import form_parts
from mock_server.http.inputs import json_value
from mock_server.redaction import Redactor
from mock_server.redaction import bearer_of
from mock_server.redaction import secrets_in

MAX_FIELD_CHARS = 4096
NOT_JOURNALED = ("/__mock", "/docs", "/openapi.yaml")
"""The control plane and the served contracts: not vendor requests."""

OPERATIONS = {
    "vendor.create": "create",
    "vendor.create_single": "create_single",
    "vendor.animate": "animate",
    "vendor.meme_face": "meme_face",
    "vendor.button": "button",
    "vendor.get_job": "jobs",
    "vendor.cancel_job": "cancel",
    "vendor.list_accounts": "account",
    "vendor.get_account": "account",
    "vendor.put_account": "account",
    "vendor.delete_account": "account",
    "media.attachment": "attachment",
}


def operation_of_request() -> str:
    return OPERATIONS.get(request.endpoint or "", "unknown")


def _caller(req: Any, state: Any) -> tuple[str | None, str | None]:
    """``(token, tenant digest)`` of this request, worked out once."""
    caller = state.get("journal_caller")
    if caller is None:
        token = bearer_of(req.headers.get("Authorization"))
        caller = state.journal_caller = (token, digest(token) if token else None)
    return caller


def register_journaling(app: Flask) -> None:
    """Install the journal hooks (everything except :data:`NOT_JOURNALED`)."""

    @app.before_request
    def start_clock() -> None:
        g.started = time.perf_counter()
        g.faults = []

    @app.after_request
    def record(response: Response) -> Response:
        req = request._get_current_object()  # type: ignore[attr-defined]
        if req.path.startswith(NOT_JOURNALED):
            return response
        runtime = current_app.extensions["pixverse_mock"]
        if runtime.config.journal_limit == 0:  # no request journal: nothing would be kept
            return response
        try:
            entry = _entry(runtime, req, g._get_current_object(), response)
            seq = runtime.control.append("requests", entry)
        except StoreUnavailable:  # the shared store is down: the answer (its 503) goes out unjournaled
            return response
        for listener in list(runtime.request_listeners):
            listener({**entry, "seq": seq})
        return response


def _entry(runtime: Any, req: Any, state: Any, response: Response) -> dict[str, Any]:
    token, tenant = _caller(req, state)
    answer = state.get("vendor_answer")
    if answer is not None and answer[1] is response:
        body = answer[0]  # what the route answered, before jsonify
    else:
        body = response.get_json(silent=True) if response.is_json else None
    now = runtime.clock.now()
    operation = OPERATIONS.get(req.endpoint or "", "unknown")
    query = req.args.to_dict()
    summary = _body_summary(req)
    redactor = Redactor([token, *secrets_in(query), *secrets_in(summary.get("fields"))])
    entry: dict[str, Any] = {
        "time": iso_millis(now),
        "at": now,
        "wall": round(time.time(), 3),
        "tenant": tenant,
        "token": mask_secret(token) if token else None,
        "auth": "missing" if req.headers.get("Authorization") is None else "bearer" if token else "malformed",
        "method": req.method,
        "path": redactor.text(req.path),
        "query": redactor.value(query),
        "operation": operation,
        "contentType": req.mimetype or None,
        "status": response.status_code,
        "durationMs": round((time.perf_counter() - state.get("started", time.perf_counter())) * 1000, 3),
    }
    entry.update(redactor.value(summary))
    faults = state.get("faults")
    if faults:
        entry["faults"] = redactor.value([fault.describe() for fault in faults])
    if isinstance(body, dict):
        if body.get("jobid"):
            entry["jobid"] = body["jobid"]
        if body.get("status") and operation in (*SUBMIT_OPERATIONS, "jobs", "cancel"):
            entry["jobStatus"] = body["status"]
        if body.get("buttons"):
            entry["buttons"] = body["buttons"]
        if "executingJobs" in body:
            entry["executingJobs"] = body["executingJobs"]
        if response.status_code >= 400 and "error" in body:
            entry["error"] = redactor.value(body["error"])
    return entry


def _body_summary(req: Any) -> dict[str, Any]:
    """Fields (long values cut; secrets are masked by the caller) and file parts as name, size, type."""
    if req.method in ("GET", "HEAD", "DELETE") and not req.content_length:
        return {}
    try:
        if req.is_json:
            data = json_value(req)
            data = None if data is MALFORMED else data
            fields = data if isinstance(data, dict) else {"<body>": data}
            return {"json": True, "fields": {k: _cut(v) for k, v in fields.items()}}
        form, files = form_parts(req)
        fields = {name: _cut(form.get(name)) for name in form}
        files = [
            {"name": name, "filename": part.filename, "size": _size(part), "type": part.mimetype or None}
            for name, part in files.items()
        ]
    except ApiError as exc:  # a body the mock refused (truncated, too deep, too large): say why
        return {"bodyError": exc.message}
    except Exception as exc:  # a body the vendor would reject: journal what is known
        return {"bodyError": type(exc).__name__}
    return {"json": False, "fields": fields, "files": files}


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
        return {"truncated": value[:MAX_FIELD_CHARS], "length": len(value)}
    return value


def _size(part: Any) -> int:
    stream = part.stream
    position = stream.tell()
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(position)
    return size
