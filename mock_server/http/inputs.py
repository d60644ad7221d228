"""Read a request's body: whole and honest about its limits, then as :class:`RequestInput`.

Every body is read once, in full, before it is parsed, so that a body shorter than its
``Content-Length`` is refused before anything happens, and a limit hit while parsing names the
limit that was hit. JSON is parsed with a bounded nesting depth (no ``RecursionError``, anywhere).
"""

from __future__ import annotations

import codecs
import json
import re
from io import BytesIO
from typing import Any

from multipart import MultipartError
from multipart import MultipartSegment
from multipart import ParserLimitReached
from multipart import PushMultipartParser
from werkzeug.datastructures import FileStorage
from werkzeug.datastructures import Headers
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import ClientDisconnected
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request

from mock_server import messages
from mock_server.errors import BadRequest
from mock_server.errors import PayloadTooLarge
from mock_server.service.inputs import RequestInput
from mock_server.service.inputs import Upload

MAX_JSON_DEPTH = 32
"""Deepest JSON nesting accepted; the vendor's bodies are flat and the control plane's a few levels."""
MALFORMED = object()
"""What :func:`json_value` returns for a body that is not JSON at all."""
MAX_PART_HEADERS = 64
MAX_PART_HEADER_BYTES = 16384
"""Per part of a multipart body: headers, and bytes in one header line (werkzeug had no such limits)."""
_PARSED_FORM = "pixverse_mock.form"
_PARSED_JSON = "pixverse_mock.json"
_UNPARSED = object()
_BOUNDARY = re.compile(r"boundary=\"?([^\";]+)\"?", re.IGNORECASE)


def read_body(request: Request) -> bytes:
    """The whole body (cached for the parsers), or a 400 if it ended before its ``Content-Length``."""
    expected = request.content_length
    try:
        data = request.get_data(cache=True)
    except ClientDisconnected:  # werkzeug's own servers notice the short body first
        data = None
    if data is not None and (expected is None or len(data) >= expected):
        return data
    raise BadRequest(messages.BAD_REQUEST.format(detail=messages.BODY_TRUNCATED.format(expected=expected)))


def json_value(request: Request) -> Any:
    """The JSON body, :data:`MALFORMED` if it is not JSON; a 400 if nested deeper than :data:`MAX_JSON_DEPTH`.

    Parsed once per request (the journal reads the same body again).
    """
    parsed = request.environ.get(_PARSED_JSON, _UNPARSED)
    if parsed is _UNPARSED:
        parsed = request.environ[_PARSED_JSON] = _json_value(request)
    return parsed


def _json_value(request: Request) -> Any:
    data = read_body(request)
    try:
        value = json.loads(data)
    except RecursionError:
        value = None
        depth = MAX_JSON_DEPTH + 1
    except ValueError:  # not JSON, or not UTF-8
        return MALFORMED
    else:
        depth = _depth(value)
    if depth > MAX_JSON_DEPTH:
        raise BadRequest(messages.BAD_REQUEST.format(detail=messages.JSON_TOO_DEEP.format(limit=MAX_JSON_DEPTH)))
    return value


def form_parts(request: Request) -> tuple[Any, Any]:
    """``(form, files)`` of a multipart or urlencoded body; a 413 that says which form limit was hit.

    Parsed once per request (the journal reads the same parts again).
    """
    body = read_body(request)
    if request.mimetype == "multipart/form-data":
        parsed = request.environ.get(_PARSED_FORM)
        if parsed is None:
            parsed = request.environ[_PARSED_FORM] = _multipart(request, body)
        return parsed
    return _werkzeug_form(request)


def _werkzeug_form(request: Request) -> tuple[Any, Any]:
    try:
        return request.form, request.files
    except RequestEntityTooLarge:
        raise _form_limit_error(request) from None


def _multipart(request: Request, body: bytes) -> tuple[MultiDict, MultiDict]:
    """A whole ``multipart/form-data`` body as werkzeug's ``(form, files)``, parsed by ``multipart``.

    ``multipart`` finds the boundaries with ``bytes.find`` on the body already in memory: a 100 KB
    face took about a quarter of werkzeug's time (``bench/RESULTS.md``). What werkzeug did is kept: a
    part with a filename (even empty) is a file, any other a text field (UTF-8, bad bytes replaced);
    the same limits answer the same 413s; a body ``multipart`` refuses goes to werkzeug's parser.
    """
    form: MultiDict = MultiDict()
    files: MultiDict = MultiDict()
    boundary = request.mimetype_params.get("boundary")
    if not boundary or not body:
        return form, files
    parts: list[tuple[MultipartSegment, list[bytes]]] = []
    try:
        parser = PushMultipartParser(boundary, len(body), max_header_size=MAX_PART_HEADER_BYTES,
                                     max_header_count=MAX_PART_HEADERS,
                                     max_segment_count=request.max_form_parts or float("inf"))
        for event in [*parser.parse(body), *parser.parse(b"")]:
            if isinstance(event, MultipartSegment):
                parts.append((event, []))
            elif event is not None:
                parts[-1][1].append(bytes(event))
    except ParserLimitReached as exc:
        if "segment count" in str(exc):
            raise PayloadTooLarge(messages.TOO_MANY_PARTS.format(limit=request.max_form_parts)) from None
        return _werkzeug_form(request)
    except MultipartError:  # werkzeug's parser forgives more
        return _werkzeug_form(request)
    if len(parts) != body.count(b"--" + boundary.encode("latin-1")) - 1:
        # a delimiter not on a line of its own (an empty part as werkzeug's test client writes it):
        # werkzeug's parser reads those as parts, so it reads this body
        return _werkzeug_form(request)
    for segment, chunks in parts:
        data = b"".join(chunks)
        if segment.filename is not None:
            files.add(segment.name, FileStorage(BytesIO(data), segment.filename, segment.name,
                                                headers=Headers(segment.headerlist)))
            continue
        limit = request.max_form_memory_size
        if limit is not None and len(data) > limit:
            raise PayloadTooLarge(messages.FIELD_TOO_LARGE.format(limit=limit))
        form.add(segment.name, data.decode(_charset(segment.charset), "replace"))
    return form, files


def _charset(name: str | None) -> str:
    try:
        return codecs.lookup(name).name if name else "utf-8"
    except LookupError:
        return "utf-8"


def request_input(request: Request) -> RequestInput:
    """The request's fields; a body that is not a JSON object reads as empty (the vendor's missing-value error)."""
    if request.is_json:
        body = json_value(request)
        return RequestInput(values=body if isinstance(body, dict) else {}, is_json=True)
    form, files = form_parts(request)
    values = {name: form.get(name) for name in form}
    uploads = {
        name: Upload(part.filename, part.mimetype or "application/octet-stream", part.read())
        for name, part in files.items()
    }
    return RequestInput(values=values, uploads=uploads)


def _form_limit_error(request: Request) -> PayloadTooLarge:
    """The same 413 of werkzeug for too many parts and for one text field too large, told apart."""
    match = _BOUNDARY.search(request.content_type or "")
    parts = request.get_data(cache=True).count(b"--" + match.group(1).encode("latin-1")) - 1 if match else 0
    if request.max_form_parts is not None and parts > request.max_form_parts:
        return PayloadTooLarge(messages.TOO_MANY_PARTS.format(limit=request.max_form_parts))
    return PayloadTooLarge(messages.FIELD_TOO_LARGE.format(limit=request.max_form_memory_size))


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (iterative; stops counting past the limit)."""
    if not isinstance(value, dict | list):
        return 0
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            break
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest
