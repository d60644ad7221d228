"""Run the mock under granian (Rust, RSGI), the production server chosen by measurement (``bench/RESULTS.md``).

This is the only module that knows the server. granian reads every request, body included, on its
async runtime; only a complete request reaches Python, where :class:`WsgiBridge` hands it to the
app: on the event loop itself for the vendor routes of the memory store (:func:`layout`), else on a
pool of ``4`` threads per process. So a client that stalls mid-headers or mid-body, or an idle
keep-alive connection, holds no thread: it waits on the runtime until it is done or timed out
(:data:`HEADER_READ_TIMEOUT`, :data:`BODY_READ_TIMEOUT`).

With the memory store all state lives in one process, so ``workers=N`` becomes one process with
``4*N`` threads; with ``sqlite:PATH`` or Redis it means N processes of 4 threads, each building its
own app (and opening its own connections) after the fork.

Protocol errors and limits, every one answered in the vendor envelope ``{"error", "code"}`` except
where granian (hyper) answers by itself, before Python sees the request:

=========================================  ==========================================================
URI over :data:`MAX_URI_BYTES`             414 envelope (here)
request head over :data:`MAX_HEADER_BYTES` 431 envelope (here)
body not complete in BODY_READ_TIMEOUT s   408 envelope (here), connection closed
body over ``max_upload_bytes``             413 envelope (the app's handler; the body is not read)
head over :data:`HTTP1_BUFFER_BYTES`       431 or 414, empty body (hyper, by itself)
malformed request line or header           400, empty body (hyper, by itself)
head not complete in HEADER_READ_TIMEOUT   connection closed, no answer (hyper, by itself)
=========================================  ==========================================================
"""

from __future__ import annotations

import gc
import json
import os
import socket
import stat
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import replace
from functools import lru_cache
from importlib import import_module
from io import BytesIO
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import quote

from mock_server.holding import Deferring

if TYPE_CHECKING:
    from mock_server.config import MockConfig
    from mock_server.scenarios import Scenario

THREADS_PER_WORKER = 4
HEADER_READ_TIMEOUT = 10.0
"""Seconds a client has to send a request's head (hyper closes the connection after it)."""
BODY_READ_TIMEOUT = 10.0
"""Seconds a client has to send a request's body once the head is in (408 after it)."""
MAX_URI_BYTES = 8190
MAX_HEADER_BYTES = 16384
HTTP1_BUFFER_BYTES = 65536
STOP_TIMEOUT = 3.0
"""On SIGINT/SIGTERM idle connections close at once; a process still busy ``STOP_TIMEOUT + 1`` s later is killed."""

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


VENDOR_PREFIX = "/v1/pixverse/"


@dataclass(frozen=True)
class Layout:
    """How many processes and threads a config runs with, and which paths skip the threads.

    With the memory store a vendor request only computes (no disk, no network, no lock held for
    long), so it is answered on the event loop (:class:`WsgiBridge`); a shared store's calls block
    on I/O, so there every request goes to a thread.
    """

    processes: int
    threads: int
    inline_prefixes: tuple[str, ...] = ()


def layout(config: MockConfig) -> Layout:
    if not config.shared_store:
        return Layout(1, THREADS_PER_WORKER * config.workers, (VENDOR_PREFIX,))
    return Layout(config.workers, THREADS_PER_WORKER)


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


# ------------------------------------------------------------------------------ the access log
def access_line(method: str, uri: str, status: int, length: int | None, millis: int,
                authorization: str | None = None) -> str:
    """The one access-log line of a request: time, method, path with query, status, bytes, ms.

    Never a request header, and the target with its secrets masked (``?token=``, the request's own
    bearer token however spelled; :func:`mock_server.redaction.redact_target`). A dropped connection
    (``drop`` fault) is logged with nginx's 444 ("closed with no answer").
    """
    from mock_server.redaction import redact_target

    target = redact_target(uri, authorization)
    return f'[{_stamp(int(time.time()))}] "{method} {target}" {status} {"-" if length is None else length} {millis}ms'


@lru_cache(maxsize=2)
def _stamp(second: int) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(second))


@lru_cache(maxsize=1024)
def _quoted(path: str) -> str:
    """A request path as its target is written in the access log (a path repeats: kept)."""
    return quote(path, safe="/;:@&=+$,!~*'()%")


# ------------------------------------------------------------------------- the RSGI -> WSGI bridge
def envelope(status: int, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    body = json.dumps({"error": message, "code": status}, separators=(",", ":")).encode()
    return status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body


class Dropped(Exception):
    """The app answered a ``drop`` fault: close the connection with no answer."""


def shutdown_clients(server: str, keep: Callable[[str], bool]) -> int:
    """Shut down the connections to ``server`` (``host:port``) of this process whose client ``keep`` refuses.

    granian does not hand the sockets to Python; the process's own file descriptors do. ``dup`` keeps
    the runtime's descriptor valid; ``shutdown`` ends the connection for both. Returns how many.
    """
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return 0
    done = 0
    for name in names:
        try:
            if not stat.S_ISSOCK(os.fstat(int(name)).st_mode):
                continue
            sock = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue
        with sock:
            try:
                if _addr(sock.getsockname()) == server and not keep(_addr(sock.getpeername())):
                    sock.shutdown(socket.SHUT_RDWR)
                    done += 1
            except OSError:
                continue
    return done


def _addr(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return bind_address(address[0], address[1])
    return str(address)


class WsgiBridge:
    """An RSGI application that runs a WSGI app on a thread pool once the request is complete.

    A request whose path starts with one of ``inline_prefixes`` is answered on the event loop itself,
    with no hand-over to a thread and back (what the app does there must never block; a ``delay``
    fault is awaited after the answer is built, :mod:`mock_server.holding`).

    It also writes the access log (:func:`access_line`), answers the limits of the module docstring
    in the vendor envelope, and turns the app's ``drop`` answer into a closed connection.
    """

    def __init__(self, app: WsgiApp, threads: int, max_body: int, on_close: Callable[[], None] | None = None,
                 log: Callable[[str], None] | None = None, inline_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.threads = threads
        self.inline_prefixes = inline_prefixes
        self.max_body = max_body
        self.on_close = on_close
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.pool: ThreadPoolExecutor | None = None
        self.loop: Any = None
        self.server_address = ""
        self.busy: set[str] = set()
        self.stopping = False
        self.base_environ: dict[str, Any] = {
            "SCRIPT_NAME": "", "wsgi.version": (1, 0), "wsgi.errors": sys.stderr, "wsgi.multithread": True,
            "wsgi.multiprocess": False, "wsgi.run_once": False, "wsgi.input_terminated": True,
            "SERVER_SOFTWARE": "pixverse-mock",
        }

    def __rsgi_init__(self, loop: Any) -> None:
        self.loop = loop
        self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="pixverse-mock-request")

    def __rsgi_del__(self, _loop: Any) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        if self.on_close is not None:
            self.on_close()

    def stop(self) -> None:
        """The process is told to stop: close idle connections now, the others after their answer.

        granian would otherwise wait for idle keep-alive clients to leave, and be killed before
        ``on_close`` (callbacks delivered) runs.
        """
        self.stopping = True
        if self.server_address:
            shutdown_clients(self.server_address, self.busy.__contains__)

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        if scope.proto != "http":
            return
        self.server_address = scope.server
        self.busy.add(scope.client)
        try:
            await self.serve(scope, proto)
        finally:
            self.busy.discard(scope.client)

    async def serve(self, scope: Any, proto: Any) -> None:
        started = time.perf_counter()
        query = scope.query_string
        uri = _quoted(scope.path) + ("?" + query if query else "")
        try:
            status, headers, body = await self.answer(scope, proto, uri)
        except Dropped:
            if shutdown_clients(scope.server, lambda peer: peer != scope.client):
                status, length = 444, None
                proto.response_empty(500, [("Connection", "close")])
            else:
                status, headers, body = envelope(500, "Internal mock error: the connection could not be dropped")
                proto.response_bytes(status, headers, body)
                length = len(body)
        else:
            proto.response_bytes(status, [*headers, ("Connection", "close")] if self.stopping else headers, body)
            length = len(body)
        millis = int((time.perf_counter() - started) * 1000)
        self.log(access_line(scope.method, uri, status, length, millis, scope.headers.get("authorization")))

    async def answer(self, scope: Any, proto: Any, uri: str) -> tuple[int, list[tuple[str, str]], bytes]:
        if len(uri) > MAX_URI_BYTES:
            return envelope(414, f"Request URI longer than {MAX_URI_BYTES} bytes")
        environ = dict(self.base_environ)
        head = 0
        for name, value in scope.headers.items():
            head += len(name) + len(value) + 4
            key = name.upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        if head > MAX_HEADER_BYTES:
            return envelope(431, f"Request headers larger than {MAX_HEADER_BYTES} bytes")
        body: bytes | None = b""
        declared = environ.get("CONTENT_LENGTH")
        too_large = declared is not None and declared.isdigit() and int(declared) > self.max_body
        if scope.method not in ("GET", "HEAD") and not too_large:  # the app answers 413 without the body
            import asyncio

            try:
                async with asyncio.timeout(BODY_READ_TIMEOUT):  # not wait_for: no task per request
                    body = await (self.read_sized(proto) if declared else self.read_body(proto))
            except TimeoutError:
                status, headers, payload = envelope(
                    408, f"Request body not received within {BODY_READ_TIMEOUT:g} s")
                return status, [*headers, ("Connection", "close")], payload
            if body is None:  # a chunked body over the limit: the app answers 413 from the length
                environ["CONTENT_LENGTH"], body = str(self.max_body + 1), b""
        host, _, port = scope.server.rpartition(":")
        environ.update({
            "REQUEST_METHOD": scope.method, "PATH_INFO": scope.path.encode("utf-8").decode("latin-1"),
            "QUERY_STRING": query_text(scope.query_string), "RAW_URI": uri,
            "SERVER_NAME": host.strip("[]"), "SERVER_PORT": port,
            "REMOTE_ADDR": scope.client.rpartition(":")[0].strip("[]"),
            "SERVER_PROTOCOL": f"HTTP/{scope.http_version}", "wsgi.url_scheme": scope.scheme,
            "wsgi.input": BytesIO(body),
        })
        if body and "CONTENT_LENGTH" not in environ:
            environ["CONTENT_LENGTH"] = str(len(body))
        if not scope.path.startswith(self.inline_prefixes):
            return await self.loop.run_in_executor(self.pool, self.call_app, environ)
        with Deferring() as held:
            answer = self.call_app(environ)
        if held:
            import asyncio

            await asyncio.sleep(sum(held))
        return answer

    async def read_sized(self, proto: Any) -> bytes:
        """A body with a Content-Length, in one call; empty if the client went away before its end.

        The app then sees a body shorter than its Content-Length and answers that (400).
        """
        try:
            return await proto()
        except Exception:  # the connection ended before the body did
            return b""

    async def read_body(self, proto: Any) -> bytes | None:
        """A body sent without Content-Length (chunked), or ``None`` once it passes the upload limit."""
        parts, size = [], 0
        try:
            async for chunk in proto:
                size += len(chunk)
                if size > self.max_body:
                    return None
                parts.append(chunk)
        except Exception:  # the connection ended before the body did
            pass
        return b"".join(parts)

    def call_app(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            started[:] = [int(status[:3]), headers]
            return lambda data: None

        try:
            chunks = self.app(environ, start_response)
        except ConnectionAbortedError as exc:  # mock_server.http.drop: no socket here, the bridge drops
            raise Dropped() from exc
        try:
            body = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        return started[0], started[1], body


def query_text(query: str) -> str:
    return query.encode("utf-8").decode("latin-1") if not query.isascii() else query


# -------------------------------------------------------------------------------- the process
class PortInUse(Exception):
    """The address is taken by another process (a second mock, or anything else)."""


def reserve(host: str, port: int) -> socket.socket:
    """Bind ``host:port`` exclusively, then let only this server's own processes share it.

    granian's workers bind with SO_REUSEPORT, so a second server would silently split the traffic
    with the first; this bind, made without it, fails instead. Keeping the socket (never listening,
    so it takes no connections) reserves the port, and ``port=0`` picks the real one here.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    except OSError as exc:
        sock.close()
        raise PortInUse(f"cannot listen on {bind_address(host, port)}: {exc.strerror or exc}") from exc
    return sock


def server_options(config: MockConfig, port: int) -> dict[str, Any]:
    """The granian settings for ``config`` (the bench's bare-Flask baseline is served with the same)."""
    from granian.constants import HTTPModes
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    return {
        "address": config.host.strip("[]"), "port": port, "interface": Interfaces.RSGI,
        "workers": layout(config).processes, "http": HTTPModes.http1,
        "http1_settings": HTTP1Settings(header_read_timeout=int(HEADER_READ_TIMEOUT * 1000),
                                        max_buffer_size=HTTP1_BUFFER_BYTES),
        "workers_kill_timeout": int(STOP_TIMEOUT) + 1,
        "log_level": "warning",
        "log_dictconfig": {  # on stderr, secrets masked (a request line quoted in an error, say)
            "filters": {"redact": {"()": "mock_server.redaction.RedactingFilter"}},
            "handlers": {
                "console": {"formatter": "generic", "class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                            "filters": ["redact"]},
                "access": {"formatter": "access", "class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                           "filters": ["redact"]}}},
    }


def freeze_survivors() -> Callable[[], None]:
    """From now on, what survives a full collection is left out of every later one (``gc.freeze``).

    The memory store keeps every job (about 8 objects the collector tracks each): after a load of
    tens of thousands of submits, each full collection scanned them all (35 ms for 10,000 jobs,
    in-process): the ``meme_face`` p99 (``bench/RESULTS.md``). Frozen, they are not scanned again; a job
    that is evicted or reset is still freed by reference counting (the state keeps no reference cycles).
    Returns a function that stops it.
    """
    def freeze(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            gc.freeze()

    gc.callbacks.append(freeze)
    return lambda: gc.callbacks.remove(freeze)


def on_stop_signal(callback: Callable[[], None]) -> None:
    """Have ``callback`` called when this server process gets SIGINT/SIGTERM (call it in the process).

    granian's worker builds its stop signal right after loading the app, through
    ``granian._signals.set_loop_signals``; the signal takes callbacks (``add_cb``), so this adds one there.
    """
    from granian import _signals

    build = _signals.set_loop_signals

    def set_loop_signals(loop: Any) -> Any:
        signal = build(loop)
        signal.add_cb(callback)
        return signal

    _signals.set_loop_signals = set_loop_signals


def serve_wsgi(config: MockConfig, load: Callable[[], tuple[WsgiApp, Callable[[], None] | None]],
               name: str = "pixverse-mock", preload: str | None = None) -> None:
    """Serve the WSGI app ``load()`` builds (in each process) until SIGINT/SIGTERM, as ``config`` lays out.

    ``load`` returns the app and what to call when the process stops; the module ``preload`` is
    imported once, before the processes fork. Exits with one line on stderr and status 1 when the
    address is taken.
    """
    try:
        reservation = reserve(config.host, config.port)
    except PortInUse as exc:
        print(f"{name}: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    from granian.server import Server

    if preload:
        import_module(preload)

    port = reservation.getsockname()[1]
    shape = layout(config)

    def loader(_target: str) -> WsgiBridge:
        app, on_close = load()

        def close() -> None:
            if on_close is not None:
                on_close()
            print(f"{name}: process {os.getpid()} stopped", file=sys.stderr, flush=True)

        bridge = WsgiBridge(app, shape.threads, config.max_upload_bytes, close,
                            inline_prefixes=shape.inline_prefixes)
        gc.freeze()  # what was built to start (modules, app, fixtures) is never garbage: out of every collection
        freeze_survivors()
        on_stop_signal(bridge.stop)
        print(f"{name}: process {os.getpid()} ready", file=sys.stderr, flush=True)
        return bridge

    server = Server(name, **server_options(config, port))
    server.on_startup(lambda: print(
        f"{name} listening on http://{bind_address(config.host, port)} (store={config.store_shown}, "
        f"clock={config.clock}, workers={shape.processes}x{shape.threads} threads)", file=sys.stderr, flush=True))
    server.on_shutdown(lambda: print(f"{name} stopped", file=sys.stderr, flush=True))
    gc.freeze()  # what start-up imported lives until exit (mock_server.launch ran it without the collector)
    gc.enable()
    try:
        server.serve(target_loader=loader)
    finally:
        reservation.close()


def run(config: MockConfig, scenario: Scenario | None = None) -> None:
    """Serve the mock until SIGINT/SIGTERM (in-flight requests finish, due callbacks are delivered).

    ``config`` is final (a scenario's config already laid in); the scenario's faults are queued
    once: in the one worker of the memory store, or here, before forking, in the shared store.
    """
    if config.time_scale != 1 and config.time_origin is None:
        # one origin for every worker process, so their accelerated clocks agree
        config = replace(config, time_origin=time.time())
    from mock_server.store import open_backend

    backend = open_backend(config.store, config.journal_limit)  # a store that cannot open stops here
    if scenario is not None and config.shared_store:
        scenario.queue_faults(backend.control)
    backend.close()
    if not config.shared_store and config.workers > 1:
        print(
            f"pixverse-mock: the memory store keeps state in one process, so --workers {config.workers} "
            f"runs 1 process x {layout(config).threads} threads (use --store sqlite:PATH for several processes)",
            file=sys.stderr, flush=True,
        )

    def load() -> tuple[WsgiApp, Callable[[], None]]:
        from mock_server.served_app import served_app

        app, runtime, late = served_app(config, scenario)
        late.warm()
        return app, runtime.close

    serve_wsgi(config, load, preload="mock_server.served_app")
