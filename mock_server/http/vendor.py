"""The vendor routes under ``/v1/pixverse``: each reads the request and calls one service method.

They are the mock's hot path, so they are served by :class:`VendorEdge`, a WSGI layer built on
werkzeug alone in front of the Flask app, without Flask's per-request machinery (application and
request contexts, signals, hooks, sessions): that machinery cost more than the mock's own work on a
``GET jobs`` (``bench/RESULTS.md``). Every other path (control plane, docs, dashboard, attachments,
unknown paths) goes on to the Flask app. The answers are the ones Flask gave: the vendor envelope
for every error, 405 with ``Allow``, ``OPTIONS``, ``HEAD``, the app's body limits, the journal.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.exceptions import NotFound
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request

from mock_server import messages
from mock_server.errors import BadRequest
from mock_server.faults import SUBMIT_OPERATIONS
from mock_server.faults import Fault
from mock_server.faults import FaultError
from mock_server.faults import parse_fault
from mock_server.http.errors import error_answer
from mock_server.http.inputs import request_input
from mock_server.http.journaling import Journaled
from mock_server.http.journaling import caller
from mock_server.http.journaling import record
from mock_server.redaction import bearer_of

PREFIX = "/v1/pixverse"
FAULT_HEADER = "X-Mock-Fault"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_HOST_URLS: dict[tuple[str, str], str] = {}
"""``request.host_url`` by scheme and host: werkzeug rebuilds it (IRI decoding included) per request."""


class VendorCall:
    """One vendor request on its way through :class:`VendorEdge`."""

    __slots__ = ("request", "runtime", "operation", "started", "faults", "tenant", "token")

    def __init__(self, request: Request, runtime: Any, operation: str) -> None:
        self.request = request
        self.runtime = runtime
        self.operation = operation
        self.started = time.perf_counter()
        self.faults: list[Fault] = []
        self.tenant = ""
        self.token = bearer_of(request.headers.get("Authorization"))

    @property
    def caller(self) -> tuple[str | None, str | None]:
        """``(token, tenant digest)``: the digest even when the token was refused."""
        return caller(self.token, self.tenant)

    @property
    def base_url(self) -> str:
        """Where the answer's attachment URLs point: the configured public URL, else this request's host."""
        configured = self.runtime.config.public_url
        if configured:
            return configured
        key = (self.request.scheme, self.request.host)
        url = _HOST_URLS.get(key)
        if url is None:
            if len(_HOST_URLS) >= 256:
                _HOST_URLS.clear()
            url = _HOST_URLS[key] = self.request.host_url.rstrip("/")
        return url

    def values(self) -> Any:
        """The request's fields (:func:`mock_server.http.inputs.request_input`)."""
        return request_input(self.request)


@dataclass(frozen=True)
class Route:
    """A vendor path (registered with and without its trailing slash), its method and what answers it."""

    path: str
    method: str
    operation: str
    answer: Callable[[Any, VendorCall, dict[str, str]], dict[str, Any] | None]
    """``(service, call, path arguments)`` -> the JSON body, or ``None`` for a 204."""


def _submit(method: str) -> Callable[[Any, VendorCall, dict[str, str]], dict[str, Any]]:
    """A route that hands the request's fields to the service method ``method`` (the submits, ``button``)."""
    return lambda service, call, _: getattr(service, method)(call.tenant, call.values(), call.base_url, call.faults)


ROUTES = (
    Route("/create/", "POST", "create", _submit("submit_create")),
    Route("/create_single/", "POST", "create_single", _submit("submit_create_single")),
    Route("/animate/", "POST", "animate", _submit("submit_animate")),
    Route("/meme_face/", "POST", "meme_face", _submit("submit_meme_face")),
    Route("/button/", "POST", "button", _submit("press_button")),
    Route("/jobs/", "GET", "jobs",
          lambda s, c, _: s.get_job(c.tenant, c.request.args.get("jobid"), c.base_url)),
    Route("/jobs/cancel/", "GET", "cancel",
          lambda s, c, _: s.cancel_job(c.tenant, c.request.args.get("jobid"))),
    Route("/account/", "GET", "account", lambda s, c, _: s.list_accounts(c.tenant)),
    Route("/account/<channel>/", "GET", "account", lambda s, c, a: s.get_account(c.tenant, a["channel"])),
    Route("/account/<channel>/", "POST", "account",
          lambda s, c, a: s.put_account(c.tenant, a["channel"], c.values())),
    Route("/account/<channel>/", "DELETE", "account", lambda s, c, a: s.delete_account(c.tenant, a["channel"])),
)


class Router:
    """Which route answers a vendor path and method, as Flask routed them.

    Both spellings of every path (with and without the trailing slash), ``HEAD`` wherever ``GET``
    is, ``OPTIONS`` everywhere. A dictionary lookup (and one pattern for the path with a channel):
    werkzeug's URL map cost a sixth of a ``GET jobs``.
    """

    _CHANNEL = re.compile(r"(?P<base>.*/account/)(?P<channel>[^/]+)/?")

    def __init__(self, routes: Sequence[Route]) -> None:
        self.methods: dict[str, dict[str, int]] = {}
        for index, route in enumerate(routes):
            for spelling in (route.path, route.path.rstrip("/")):
                path = PREFIX + spelling.replace("<channel>", "*")
                self.methods.setdefault(path, {}).setdefault(route.method, index)
                if route.method == "GET":
                    self.methods[path].setdefault("HEAD", index)
                self.methods[path].setdefault("OPTIONS", index)

    def match(self, path: str, method: str) -> tuple[int, dict[str, str]]:
        """``(route index, path arguments)``; :class:`NotFound` or :class:`MethodNotAllowed` (with ``Allow``)."""
        methods, arguments = self._methods(path)
        if method not in methods:
            raise MethodNotAllowed(valid_methods=sorted(methods))
        return methods[method], arguments

    def allowed(self, path: str) -> list[str]:
        """The methods of a vendor path, sorted (its ``Allow``)."""
        return sorted(self._methods(path)[0])

    def _methods(self, path: str) -> tuple[dict[str, int], dict[str, str]]:
        methods = self.methods.get(path)
        if methods is not None:
            return methods, {}
        found = self._CHANNEL.fullmatch(path)
        if found is None or (methods := self.methods.get(found["base"] + "*")) is None:
            raise NotFound()
        return methods, {"channel": found["channel"]}


def take_faults(runtime: Any, call: VendorCall) -> None:
    """After authentication: the header's and the queue's fault for this request.

    A fault that answers by itself (429, 401, 402, 5xx, drop) is raised here, a delay is served
    here; one that shapes the job (moderated, fail) is left in ``call.faults`` for the service.
    """
    header = call.request.headers.get(FAULT_HEADER)
    if header:
        try:
            fault = parse_fault(header)
        except FaultError as exc:
            raise BadRequest(f"{FAULT_HEADER}: {exc}") from None
        if fault.shapes_job and call.operation not in SUBMIT_OPERATIONS:
            raise BadRequest(messages.FAULT_NEEDS_SUBMIT.format(fault=fault.kind))
        call.faults.append(fault)
    queued = runtime.control.take_fault(call.operation, call.tenant, runtime.draw)
    if queued is not None:
        call.faults.append(queued)
    for fault in call.faults:
        if not fault.shapes_job:
            runtime.service.raise_fault(fault, call.tenant)


def json_payload(body: Any) -> bytes:
    """``body`` as sent: compact JSON in UTF-8 (nothing escaped), then a newline.

    orjson writes it in about a fourteenth of the standard encoder's time (1.4 us against 20 us for
    a job with four attachments, ``bench/RESULTS.md``); what orjson refuses and the standard
    encoder writes (an integer over 64 bits, a non-string key) goes to the standard encoder. A float
    may be spelled differently (``1e16``, not ``1e+16``); the vendor's answers have none.
    """
    try:
        return orjson.dumps(body, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        return (json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def body_limits(max_upload_bytes: int) -> tuple[int, int, int]:
    """``(max_content_length, max_form_memory_size, max_form_parts)``: the Flask app is given the same."""
    return max_upload_bytes, Request.max_form_memory_size or 0, Request.max_form_parts or 0


class VendorEdge:
    """WSGI: answers the vendor routes with the runtime ``runtime_of()`` gives; the rest goes to ``fallback``.

    Per request: the settings other processes published, ``Authorization: Bearer <token>`` (the
    token picks the tenant), then an injected fault (header, queue; never before auth), then the
    route's service call; every answer is journaled. The request object is not put in the environ
    (werkzeug's default), so the two make no reference cycle and each request is freed at once.
    """

    def __init__(self, runtime_of: Callable[[], Any], max_upload_bytes: int, fallback: WsgiApp) -> None:
        self.runtime_of = runtime_of
        self.fallback = fallback
        self.router = Router(ROUTES)
        self.limits = body_limits(max_upload_bytes)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        query = environ.get("QUERY_STRING")
        if query and not query.isascii():  # raw bytes a server passed on: werkzeug's args would raise on them
            environ["QUERY_STRING"] = "".join(c if c.isascii() else f"%{ord(c):02X}" for c in query)
        if not environ.get("PATH_INFO", "").startswith(PREFIX):
            return self.fallback(environ, start_response)
        try:
            index, arguments = self.router.match(environ["PATH_INFO"], environ.get("REQUEST_METHOD", "GET"))
        except NotFound:  # not a vendor route: Flask's 404 (journaled there)
            return self.fallback(environ, start_response)
        except MethodNotAllowed as exc:
            return self.respond(environ, start_response, None, {}, routing=exc)
        return self.respond(environ, start_response, ROUTES[index], arguments)

    def respond(self, environ: dict[str, Any], start_response: Callable[..., Any],
                route: Route | None, arguments: dict[str, str],
                routing: MethodNotAllowed | None = None) -> Iterable[bytes]:
        request = Request(environ, populate_request=False)
        request.max_content_length, request.max_form_memory_size, request.max_form_parts = self.limits
        runtime = self.runtime_of()
        call = VendorCall(request, runtime, route.operation if route else "unknown")
        body: dict[str, Any] | None
        extra: list[tuple[str, str]] = []
        try:
            runtime.refresh_settings()
            if routing is not None:
                raise routing
            call.tenant = runtime.service.authenticate(request.headers.get("Authorization"))
            take_faults(runtime, call)
            if request.method == "OPTIONS":
                status, body = 200, None
                extra.append(("Allow", ", ".join(self.router.allowed(request.path))))
            else:
                body = route.answer(runtime.service, call, arguments)  # type: ignore[union-attr]
                status = 204 if body is None else 200
        except Exception as exc:  # noqa: BLE001 (every error is answered in the envelope)
            error, extra = error_answer(exc, request, runtime.errors)
            status, body = error.status, error.body()
        if body is None:
            payload, headers = b"", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "0")]
        else:
            payload = json_payload(body)
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        record(runtime, request, Journaled(call.operation, status, body, call.started, call.faults, call.caller))
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}", headers + extra)
        return [] if request.method == "HEAD" else [payload]
