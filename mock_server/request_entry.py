"""A request journal entry: kept as the request's facts, rendered (secrets masked) when it is read.

Building the whole entry on every request (masking, the ISO time, the body summary) cost a
``GET jobs`` a quarter of its throughput (``bench/RESULTS.md``), for entries mostly never read. So
the answer path keeps, in a plain dict, the fields a journal filter reads (``tenant``, ``operation``,
``method``, ``path`` already masked, ``status``, ``jobid``, ``jobStatus``) and one tuple of plain
facts under :data:`FACTS`; :func:`rendered` builds the entry a reader gets. A store that writes
entries out of the process (SQLite, Redis) renders them first, so a store file, an answer or a
report only ever holds the masked entry.

Objects and lists inside are :func:`packed` as tagged tuples of atoms: the collector stops tracking
such a tuple at its next pass, so tens of thousands of kept entries cause no collection pauses.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

import orjson
import werkzeug.urls  # noqa: F401  (registers the "werkzeug.url_quote" error handler query_parameters uses)

from mock_server.accounts import mask_secret
from mock_server.clock import iso_millis
from mock_server.redaction import Redactor

FACTS = "~facts"
"""The key of the facts tuple in a kept entry (never in a rendered one)."""
_DICT, _LIST = "d", "l"
_CONTAINERS = (dict, list, tuple)
_SHARED: dict[Any, Any] = {}
_SHARED_LIMIT = 4096


def keep(filtered: dict[str, Any], *, token: str | None, secrets: Iterable[str], auth: str, at: float,
         wall: float, duration: float, query: str, content_type: str | None, summary: dict[str, Any],
         faults: tuple[str, ...], buttons: tuple[str, ...], executing: Any, error: Any) -> dict[str, Any]:
    """``filtered`` (the fields filters read) with the rest of the request's facts, unmasked, under :data:`FACTS`.

    ``secrets`` are the request's other secrets (secret-named query parameters and fields), masked
    wherever they appear once rendered; ``query`` is the WSGI ``QUERY_STRING``; ``duration`` is in
    seconds; ``executing`` and ``error`` are ``...`` when the answer had no ``executingJobs`` or ``error``.
    """
    filtered["tenant"], filtered["path"] = shared(filtered["tenant"]), shared(filtered["path"])
    filtered[FACTS] = (shared(token), tuple(secrets), auth, at, wall, duration, shared(query), content_type,
                       kept_summary(summary) if summary else None, faults, shared(buttons), executing, packed(error))
    return filtered


def shared(value: Any) -> Any:
    """``value``, or an equal one an earlier entry already holds.

    A client's requests repeat their token, tenant, path, query and buttons: each entry used to hold
    its own copies, about 900 bytes per ``GET jobs``, and the memory a full journal takes cost the default
    configuration CPU on every request (``bench/RESULTS.md``). The values are kept here by the
    thousand, then forgotten at once. A value that cannot be a key (a list inside a tuple) is kept as it is.
    """
    try:
        kept = _SHARED.setdefault(value, value)
    except TypeError:
        return value
    if len(_SHARED) > _SHARED_LIMIT:
        _SHARED.clear()
    return kept


def rendered(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry as a reader gets it (a kept one rendered and masked; any other as it is)."""
    facts = entry.get(FACTS)
    if facts is None:
        return entry
    token, secrets, auth, at, wall, duration, query, content_type, summary, faults, buttons, executing, error = facts
    redactor = Redactor((token, *secrets))
    out: dict[str, Any] = {
        "time": iso_millis(at),
        "at": at,
        "wall": round(wall, 3),
        "tenant": entry["tenant"],
        "token": mask_secret(token) if token else None,
        "auth": auth,
        "method": entry["method"],
        "path": entry["path"],
        "query": redactor.value(query_parameters(query)),
        "operation": entry["operation"],
        "contentType": content_type,
        "status": entry["status"],
        "durationMs": round(duration * 1000, 3),
    }
    if summary:
        out.update(redactor.value(orjson.loads(summary) if type(summary) is bytes else unpacked(summary)))
    if faults:
        out["faults"] = redactor.value(faults)
    for name in ("jobid", "jobStatus"):
        if name in entry:
            out[name] = entry[name]
    if buttons:
        out["buttons"] = list(buttons)
    if executing is not ...:
        out["executingJobs"] = executing
    if error is not ...:
        out["error"] = redactor.value(unpacked(error))
    if "seq" in entry:
        out["seq"] = entry["seq"]
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
