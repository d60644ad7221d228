"""Record every vendor request in the request journal (faults are taken in ``http/vendor.py``).

Secrets never reach the journal: the API token is kept masked (``abc…secured…xyz``) beside the
tenant digest, and a ``discord`` field is masked the same way.
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

MAX_FIELD_CHARS = 4096

OPERATIONS = {
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


def bearer_token() -> str | None:
    scheme, _, token = (request.headers.get("Authorization") or "").strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _caller(req: Any, state: Any) -> tuple[str | None, str | None]:
    """``(token, tenant digest)`` of this request, worked out once."""
    caller = state.get("journal_caller")
    if caller is None:
        scheme, _, token = (req.headers.get("Authorization") or "").strip().partition(" ")
        token = token.strip() or None if scheme.lower() == "bearer" else None
        caller = state.journal_caller = (token, digest(token) if token else None)
    return caller


def register_journaling(app: Flask) -> None:
    """Install the journal hooks (everything except ``/__mock/``)."""

    @app.before_request
    def start_clock() -> None:
        g.started = time.perf_counter()
        g.faults = []

    @app.after_request
    def record(response: Response) -> Response:
        req = request._get_current_object()  # type: ignore[attr-defined]
        if req.path.startswith("/__mock"):
            return response
        runtime = current_app.extensions["pixverse_mock"]
        if runtime.config.journal_limit == 0:  # no request journal: nothing would be kept
            return response
        entry = _entry(runtime, req, g._get_current_object(), response)
        seq = runtime.control.append("requests", entry)
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
    entry: dict[str, Any] = {
        "time": iso_millis(now),
        "at": now,
        "wall": round(time.time(), 3),
        "tenant": tenant,
        "token": mask_secret(token) if token else None,
        "auth": "missing" if req.headers.get("Authorization") is None else "bearer" if token else "malformed",
        "method": req.method,
        "path": req.path,
        "query": req.args.to_dict(),
        "operation": operation,
        "contentType": req.mimetype or None,
        "status": response.status_code,
        "durationMs": round((time.perf_counter() - state.get("started", time.perf_counter())) * 1000, 3),
    }
    entry.update(_body_summary(req))
    faults = state.get("faults")
    if faults:
        entry["faults"] = [fault.describe() for fault in faults]
    if isinstance(body, dict):
        if body.get("jobid"):
            entry["jobid"] = body["jobid"]
        if body.get("status") and operation in ("meme_face", "button", "jobs", "cancel"):
            entry["jobStatus"] = body["status"]
        if body.get("buttons"):
            entry["buttons"] = body["buttons"]
        if "executingJobs" in body:
            entry["executingJobs"] = body["executingJobs"]
        if response.status_code >= 400 and "error" in body:
            entry["error"] = body["error"]
    return entry


def _body_summary(req: Any) -> dict[str, Any]:
    """Fields (``discord`` masked, long values cut) and file parts as name, size, type."""
    if req.method in ("GET", "HEAD", "DELETE") and not req.content_length:
        return {}
    try:
        if req.is_json:
            data = req.get_json(silent=True)
            fields = data if isinstance(data, dict) else {"<body>": data}
            return {"json": True, "fields": {k: _safe(k, v) for k, v in fields.items()}}
        form = req.form
        fields = {name: _safe(name, form.get(name)) for name in form}
        files = [
            {"name": name, "filename": part.filename, "size": _size(part), "type": part.mimetype or None}
            for name, part in req.files.items()
        ]
    except Exception as exc:  # a body the vendor would reject: journal what is known
        return {"bodyError": type(exc).__name__}
    return {"json": False, "fields": fields, "files": files}


def _safe(name: str, value: Any) -> Any:
    if name == "discord" and isinstance(value, str) and value:
        return mask_secret(value)
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
