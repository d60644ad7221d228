"""Record every vendor request in the request journal (faults are taken in ``http/vendor.py``).

Secrets never reach the journal's readers: the API token is shown masked (``abc…secured…xyz``)
beside the tenant digest, and every secret the request carries is masked where the entry is
rendered (:mod:`mock_server.request_entry`, :mod:`mock_server.redaction`): secret-named fields and
query parameters whatever their shape, and the request's tokens wherever else they appear.
"""

from __future__ import annotations

import time
from typing import Any
from typing import NamedTuple

from mock_server.accounts import digest
from mock_server.errors import ApiError
from mock_server.errors import StoreUnavailable
from mock_server.faults import SUBMIT_OPERATIONS
from mock_server.http.inputs import MALFORMED
from mock_server.http.inputs import form_parts
from mock_server.http.inputs import json_value
from mock_server.redaction import Redactor
from mock_server.redaction import may_name_secret
from mock_server.redaction import secrets_in
from mock_server.request_entry import keep
from mock_server.request_entry import rendered

MAX_FIELD_CHARS = 4096
_JOB_STATUS_OPERATIONS = frozenset((*SUBMIT_OPERATIONS, "jobs", "cancel"))


class Journaled(NamedTuple):
    """What the journal needs of one answered request besides the request itself (one per request: a tuple)."""

    operation: str
    status: int
    body: Any
    """The JSON answer as built (never parsed back), or ``None``."""
    started: float
    faults: list[Any]
    caller: tuple[str | None, str | None]
    """``(token, tenant digest)``."""


def caller(token: str | None, tenant: str | None = None) -> tuple[str | None, str | None]:
    """``(token, tenant digest)`` of a request; ``tenant`` when authentication already worked it out."""
    return token, tenant or (digest(token) if token else None)


def record(runtime: Any, req: Any, answered: Journaled) -> None:
    """Append the request's entry to the journal and tell the listeners (nothing when the journal is off)."""
    if runtime.config.journal_limit == 0:  # no request journal: nothing would be kept
        return
    try:
        entry = _entry(runtime, req, answered)
        seq = runtime.control.append("requests", entry)
    except StoreUnavailable:  # the shared store is down: the answer (its 503) goes out unjournaled
        return
    listeners = list(runtime.request_listeners)
    if listeners:
        shown = {**rendered(entry), "seq": seq}  # rendered once, each listener gets its own copy
        for listener in listeners:
            listener(dict(shown))


def _entry(runtime: Any, req: Any, answered: Journaled) -> dict[str, Any]:
    """The entry as kept (:func:`mock_server.request_entry.keep`): the filtered fields now, the rest when read."""
    token, tenant = answered.caller
    body, operation = answered.body, answered.operation
    environ = req.environ
    query = environ.get("QUERY_STRING", "")
    summary = _body_summary(req)
    secrets = secrets_in(req.args.to_dict()) if query and may_name_secret(query) else []
    if summary.get("fields"):
        secrets += secrets_in(summary["fields"])
    path = req.path
    if (token and token in path) or (secrets and any(secret in path for secret in secrets)):
        path = Redactor([token, *secrets]).text(path)
    filtered: dict[str, Any] = {"tenant": tenant, "operation": operation, "method": req.method, "path": path,
                                "status": answered.status}
    buttons = ()
    executing: Any = ...
    error: Any = ...
    if isinstance(body, dict):
        if body.get("jobid"):
            filtered["jobid"] = body["jobid"]
        if body.get("status") and operation in _JOB_STATUS_OPERATIONS:
            filtered["jobStatus"] = body["status"]
        buttons = tuple(body.get("buttons") or ())
        executing = body.get("executingJobs", ...)
        if answered.status >= 400 and "error" in body:
            error = body["error"]
    content_type = environ.get("CONTENT_TYPE")
    return keep(
        filtered, token=token, secrets=secrets,
        auth="missing" if environ.get("HTTP_AUTHORIZATION") is None else "bearer" if token else "malformed",
        at=runtime.clock.now(), wall=time.time(), duration=time.perf_counter() - answered.started,
        query=query, content_type=(req.mimetype or None) if content_type else None, summary=summary,
        faults=tuple(fault.describe() for fault in answered.faults) if answered.faults else (),
        buttons=buttons, executing=executing, error=error)


def _body_summary(req: Any) -> dict[str, Any]:
    """Fields (long values cut; secrets are masked by the caller) and file parts as name, size, type."""
    if req.method in ("GET", "HEAD", "DELETE") and not req.environ.get("CONTENT_LENGTH"):
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
