"""A request journal entry: kept as one tuple of the request's facts, rendered (secrets masked) when read.

Building the whole entry on every request (masking, the ISO time, the body summary) cost a
``GET jobs`` a quarter of its throughput (``bench/RESULTS.md``), for entries mostly never read; so
did building even a small dict of the fields a filter reads. So the answer path keeps one flat
tuple (:func:`keep`), its strings interned, and :func:`rendered` builds the entry a reader gets;
:class:`FilterView` gives a journal filter the few fields it reads. A store that writes entries
out of the process (SQLite, Redis) renders them first, so a store file, an answer or a report only
ever holds the masked entry.

Objects and lists inside are :func:`packed` as tagged tuples of atoms: the collector stops tracking
such a tuple at its next pass, so tens of thousands of kept entries cause no collection pauses.
"""

from __future__ import annotations

from collections.abc import Iterable
from sys import intern
from typing import Any
from urllib.parse import parse_qsl

import orjson
import werkzeug.urls  # noqa: F401  (registers the "werkzeug.url_quote" error handler query_parameters uses)

from mock_server.accounts import mask_secret
from mock_server.clock import iso_millis
from mock_server.redaction import Redactor

KeptRequest = tuple
"""A request's entry as :func:`keep` returns it (any other journal entry is a dict)."""
_DICT, _LIST = "d", "l"
_CONTAINERS = (dict, list, tuple)
_BUTTONS: dict[tuple[str, ...], tuple[str, ...]] = {}
_BUTTONS_LIMIT = 4096


def keep(tenant: str | None, operation: str, method: str, path: str, status: int, jobid: str | None,
         job_status: str | None, token: str | None, secrets: Iterable[str], auth: str, at: float, wall: float,
         duration: float, query: str, content_type: str | None, summary: dict[str, Any] | None,
         faults: tuple[str, ...], buttons: tuple[str, ...], executing: Any, error: Any) -> KeptRequest:
    """The request's facts as kept, unmasked but for ``path`` (masked by the caller: filters read it).

    ``secrets`` are the request's other secrets (secret-named query parameters and fields), masked
    wherever they appear once rendered; ``query`` is the WSGI ``QUERY_STRING``; ``duration`` is in
    seconds; ``executing`` and ``error`` are ``...`` when the answer had no ``executingJobs`` or ``error``.

    A client's requests repeat their token, tenant, method, path and query: they are interned, and
    equal button tuples shared, so repeated polls hold one copy (about 900 bytes per ``GET jobs``
    otherwise, and the memory a full journal took cost the default configuration CPU on every request).
    """
    if buttons:
        buttons = _BUTTONS.setdefault(buttons, buttons)
        if len(_BUTTONS) > _BUTTONS_LIMIT:
            _BUTTONS.clear()
    return (intern(tenant) if tenant else tenant, operation, intern(method), intern(path), status, jobid,
            job_status, intern(token) if token else token, tuple(secrets), auth, at, wall, duration, intern(query),
            content_type, kept_summary(summary) if summary else None, faults, buttons,
            executing if executing is ... else packed(executing), error if error is ... else packed(error))


class FilterView:
    """The fields of a kept entry a journal filter reads (``control/operations.py``), through ``get``.

    ``get`` answers as a rendered entry would for those fields. One view serves a whole scan (set
    :attr:`entry` to the next kept entry): building a dict of the fields for every entry made a
    filtered read of a full journal 2.5x slower.
    """

    __slots__ = ("entry",)

    def get(self, key: str, default: Any = None) -> Any:
        position = _FILTERED_POSITIONS.get(key)
        return default if position is None else self.entry[position]


_FILTERED_POSITIONS = {name: position for position, name in enumerate(
    ("tenant", "operation", "method", "path", "status", "jobid", "jobStatus"))}
"""Where :func:`keep` puts the fields a filter reads."""
TENANT = _FILTERED_POSITIONS["tenant"]
"""Where :func:`keep` puts the tenant (a tenant's reset reads only that)."""


def rendered(entry: Any) -> dict[str, Any]:
    """The entry as a reader gets it (a kept one rendered and masked; any other as it is)."""
    if type(entry) is not tuple:
        return entry
    (tenant, operation, method, path, status, jobid, job_status, token, secrets, auth, at, wall, duration, query,
     content_type, summary, faults, buttons, executing, error) = entry
    redactor = Redactor((token, *secrets))
    out: dict[str, Any] = {
        "time": iso_millis(at),
        "at": at,
        "wall": round(wall, 3),
        "tenant": tenant,
        "token": mask_secret(token) if token else None,
        "auth": auth,
        "method": method,
        "path": path,
        "query": redactor.value(query_parameters(query)),
        "operation": operation,
        "contentType": content_type,
        "status": status,
        "durationMs": round(duration * 1000, 3),
    }
    if summary:
        out.update(redactor.value(orjson.loads(summary) if type(summary) is bytes else unpacked(summary)))
    if faults:
        out["faults"] = redactor.value(faults)
    if jobid:
        out["jobid"] = jobid
    if job_status:
        out["jobStatus"] = job_status
    if buttons:
        out["buttons"] = list(buttons)
    if executing is not ...:
        out["executingJobs"] = unpacked(executing)
    if error is not ...:
        out["error"] = redactor.value(unpacked(error))
    return out


def query_parameters(query: str) -> dict[str, str]:
    """The first value of each parameter of a WSGI ``QUERY_STRING``, as werkzeug's ``request.args.to_dict()``."""
    parameters: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True, errors="werkzeug.url_quote"):
        parameters.setdefault(name, value)
    return parameters


def kept_summary(summary: dict[str, Any]) -> Any:
    """A body summary as kept: a form's as JSON bytes (one atom; 0.3 us against 2.3 us packed), a JSON body's packed.

    A JSON body may hold what JSON bytes would change (``NaN``, integers over 64 bits); a form holds
    only text and sizes, and what orjson cannot encode (a lone surrogate) is packed instead.
    """
    if summary.get("json") is not True:
        try:
            return orjson.dumps(summary)
        except orjson.JSONEncodeError:
            pass
    return packed(summary)


def packed(value: Any) -> Any:
    """A JSON-like value with every object and list inside turned into a tagged tuple (see the module docstring)."""
    kind = type(value)
    if kind is dict:
        out = [_DICT]
        for name, item in value.items():
            out += (name, packed(item) if type(item) in _CONTAINERS else item)
        return tuple(out)
    if kind is list or kind is tuple:
        return (_LIST, *[packed(item) if type(item) in _CONTAINERS else item for item in value])
    return value


def packed_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry with its top-level scalars as they are (the filters read them) and the rest :func:`packed`."""
    return {key: packed(value) if type(value) in _CONTAINERS else value for key, value in entry.items()}


def unpacked(value: Any) -> Any:
    """:func:`packed` undone: fresh objects and lists."""
    if not isinstance(value, tuple):
        return value
    if value[0] == _DICT:
        return {value[i]: unpacked(value[i + 1]) for i in range(1, len(value), 2)}
    return [unpacked(item) for item in value[1:]]
