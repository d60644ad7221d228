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
_BODILESS = frozenset(("GET", "HEAD", "DELETE"))
"""Methods whose request is summarised without a body unless it says it has one (``Content-Length``)."""


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
    """Append the request's entry to the journal and tell the listeners (nothing when the journal is off).

    The entry is kept as facts (:func:`mock_server.request_entry.keep`), rendered when read.
    """
    if runtime.config.journal_limit == 0:  # no request journal: nothing would be kept
        return
    token, tenant = answered.caller
    body, operation, status = answered.body, answered.operation, answered.status
    environ = req.environ
    method, path = req.method, req.path
    query = environ.get("QUERY_STRING", "")
    summary = _body_summary(req) if method not in _BODILESS or environ.get("CONTENT_LENGTH") else None
    secrets = secrets_in(req.args.to_dict()) if query and may_name_secret(query) else []
    if summary and summary.get("fields"):
        secrets += secrets_in(summary["fields"])
    if (token and token in path) or (secrets and any(secret in path for secret in secrets)):
        path = Redactor([token, *secrets]).text(path)
    jobid = job_status = None
    buttons = ()
    executing: Any = ...
    error: Any = ...
    if type(body) is dict:
        jobid = body.get("jobid") or None
        if operation in _JOB_STATUS_OPERATIONS:
            job_status = body.get("status") or None
        if "buttons" in body:
            buttons = tuple(body["buttons"] or ())
        executing = body.get("executingJobs", ...)
        if status >= 400 and "error" in body:
            error = body["error"]
    content_type = environ.get("CONTENT_TYPE")
    try:  # a manual clock is read from the store, so is the journal written
        entry = keep(
            tenant, operation, method, path, status, jobid, job_status, token, secrets,
            "missing" if environ.get("HTTP_AUTHORIZATION") is None else "bearer" if token else "malformed",
            runtime.clock.now(), time.time(), time.perf_counter() - answered.started, query,
            (req.mimetype or None) if content_type else None, summary,
            tuple(fault.describe() for fault in answered.faults) if answered.faults else (), buttons, executing,
            error)
        seq = runtime.control.append("requests", entry)
    except StoreUnavailable:  # the shared store is down: the answer (its 503) goes out unjournaled
        return
    if runtime.request_listeners:
        shown = {**rendered(entry), "seq": seq}  # rendered once, each listener gets its own copy
        for listener in list(runtime.request_listeners):
            listener(dict(shown))


def _body_summary(req: Any) -> dict[str, Any]:
    """Fields (long values cut; secrets are masked by the caller) and file parts as name, size, type."""
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
