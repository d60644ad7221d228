"""Around every vendor request: take a queued or header fault, and record the request in the journal.

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
from mock_server.errors import BadRequest
from mock_server.faults import FaultError
from mock_server.faults import parse_fault

FAULT_HEADER = "X-Mock-Fault"
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


def register_journaling(app: Flask) -> None:
    """Install the fault and journal hooks (everything except ``/__mock/``)."""

    @app.before_request
    def take_fault() -> None:
        g.started = time.perf_counter()
        g.faults = []
        if request.path.startswith("/__mock"):
            return
        operation = operation_of_request()
        if operation in ("unknown", "attachment"):
            return
        runtime = current_app.extensions["pixverse_mock"]
        token = bearer_token()
        tenant = digest(token) if token else None
        header = request.headers.get(FAULT_HEADER)
        if header:
            try:
                g.faults.append(parse_fault(header))
            except FaultError as exc:
                raise BadRequest(f"{FAULT_HEADER}: {exc}") from None
        queued = runtime.control.take_fault(operation, tenant, runtime.draw)
        if queued is not None:
            g.faults.append(queued)
        for fault in g.faults:
            if not fault.shapes_job:
                runtime.service.raise_fault(fault, tenant)

    @app.after_request
    def record(response: Response) -> Response:
        if request.path.startswith("/__mock"):
            return response
        runtime = current_app.extensions["pixverse_mock"]
        runtime.control.append("requests", _entry(runtime, response))
        return response


def _entry(runtime: Any, response: Response) -> dict[str, Any]:
    token = bearer_token()
    body = response.get_json(silent=True) if response.is_json else None
    now = runtime.clock.now()
    entry: dict[str, Any] = {
        "time": iso_millis(now),
        "at": now,
        "wall": round(time.time(), 3),
        "tenant": digest(token) if token else None,
        "token": mask_secret(token) if token else None,
        "auth": _auth_kind(),
        "method": request.method,
        "path": request.path,
        "query": request.args.to_dict(),
        "operation": operation_of_request(),
        "contentType": request.mimetype or None,
        "status": response.status_code,
        "durationMs": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 3),
    }
    entry.update(_body_summary())
    if g.get("faults"):
        entry["faults"] = [fault.describe() for fault in g.faults]
    if isinstance(body, dict):
        if body.get("jobid"):
            entry["jobid"] = body["jobid"]
        if body.get("status") and entry["operation"] in ("meme_face", "button", "jobs", "cancel"):
            entry["jobStatus"] = body["status"]
        if body.get("buttons"):
            entry["buttons"] = body["buttons"]
        if "executingJobs" in body:
            entry["executingJobs"] = body["executingJobs"]
        if response.status_code >= 400 and "error" in body:
            entry["error"] = body["error"]
    return entry


def _auth_kind() -> str:
    header = request.headers.get("Authorization")
    if header is None:
        return "missing"
    return "bearer" if bearer_token() else "malformed"


def _body_summary() -> dict[str, Any]:
    """Fields (``discord`` masked, long values cut) and file parts as name, size, type."""
    if request.method in ("GET", "HEAD", "DELETE") and not request.content_length:
        return {}
    try:
        if request.is_json:
            data = request.get_json(silent=True)
            fields = data if isinstance(data, dict) else {"<body>": data}
            return {"json": True, "fields": {k: _safe(k, v) for k, v in fields.items()}}
        fields = {name: _safe(name, request.form.get(name)) for name in request.form}
        files = [
            {"name": name, "filename": part.filename, "size": _size(part), "type": part.mimetype or None}
            for name, part in request.files.items()
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
