"""The callback relay: the ``replyUrl`` the kit hands a callback-driven client.

The mock POSTs each final job record here; the relay applies the generated callback behaviour per
job (:data:`~contract_tests.example.CALLBACK_MODES`) and passes the record on to the client's
receiver: a Python adapter's ``on_callback`` (the drivers pump due records on the manual clock), or
the client's own HTTP listener (:meth:`CallbackRelay.forward_to`). ``early`` records reach the
receiver at once, while the mock still holds the submit answer (see :mod:`contract_tests.staging`).
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

import requests

from contract_tests.example import LATE_BY

Receiver = Callable[[dict[str, Any]], None]
FORWARD_TIMEOUT = 5.0


class CallbackRelay:
    """``start()``, hand out :attr:`url`, ``plan(jobid, mode)``, ``pump(now)``; ``stop()`` at the end."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._due: list[tuple[float, int, dict[str, Any]]] = []
        self._order = itertools.count()
        self._modes: dict[str, str] = {}
        self.receiver: Receiver | None = None
        self.received: Counter[str] = Counter()
        """Callbacks the mock sent, per jobid."""
        self.delivered: Counter[str] = Counter()
        """Callbacks handed to the client, per jobid."""
        self.handled: Counter[str] = Counter()
        """POSTs of the mock fully handled (held, dropped, or delivered when early), per jobid."""
        self._server: ThreadingHTTPServer | None = None
        self._forwarder: threading.Thread | None = None
        self._stopped = threading.Event()

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> CallbackRelay:
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"null")
                except ValueError:
                    body = None
                if isinstance(body, dict):
                    relay._arrived(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         name="pixverse-callback-relay", daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the relay first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/callback"

    def stop(self) -> None:
        self._stopped.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._forwarder is not None:
            self._forwarder.join(2)

    # --- per example ---------------------------------------------------------------------------

    def clear(self) -> None:
        with self._lock:
            self._due.clear()
            self._modes.clear()
            self.received.clear()
            self.delivered.clear()
            self.handled.clear()

    def plan(self, jobid: str, mode: str) -> None:
        """What to do with ``jobid``'s callback (one of ``CALLBACK_MODES``)."""
        with self._lock:
            self._modes[jobid] = mode

    def mode(self, jobid: str) -> str:
        """What is planned for ``jobid``'s callback (``on_time`` unless :meth:`plan` said otherwise)."""
        return self._modes.get(jobid, "on_time")

    def pump(self, now: float | None = None) -> list[dict[str, Any]]:
        """Hand the receiver every held record due by ``now`` (mock time); returns them."""
        now = self._now() if now is None else now
        with self._lock:
            ready = []
            while self._due and self._due[0][0] <= now:
                ready.append(heapq.heappop(self._due)[2])
        for body in ready:
            self._deliver(body)
        return ready

    def wait_handled(self, jobids: list[str], timeout: float) -> bool:
        """Block until the mock's callback of each of ``jobids`` was handled here (or ``timeout`` passes)."""
        deadline = time.monotonic() + timeout
        while any(self.handled[jobid] < 1 for jobid in jobids):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)
        return True

    def pending(self) -> bool:
        with self._lock:
            return bool(self._due)

    def forward_to(self, url: str, *, every: float = 0.02) -> None:
        """Send the records to the client's own listener (a POST of the JSON), pumping every ``every`` s."""
        session = requests.Session()

        def post(body: dict[str, Any]) -> None:
            try:
                session.post(url, json=body, timeout=FORWARD_TIMEOUT)
            except requests.RequestException:  # the client's listener is under test: never crash the relay
                pass

        self.receiver = post
        if self._forwarder is None:
            def loop() -> None:
                while not self._stopped.wait(every):
                    self.pump()
            self._forwarder = threading.Thread(target=loop, name="pixverse-callback-forwarder", daemon=True)
            self._forwarder.start()

    # --- internals -----------------------------------------------------------------------------

    def _arrived(self, body: dict[str, Any]) -> None:
        jobid = str(body.get("jobid"))
        try:
            self._apply(jobid, body)
        finally:
            with self._lock:
                self.handled[jobid] += 1

    def _apply(self, jobid: str, body: dict[str, Any]) -> None:
        now = self._now()
        with self._lock:
            self.received[jobid] += 1
            mode = self.mode(jobid)
            if mode == "never" or (mode == "duplicated" and self.received[jobid] > 1):
                return
            if mode != "early":
                copies = 2 if mode == "duplicated" else 1
                at = now + LATE_BY if mode == "late" else now
                for _ in range(copies):
                    heapq.heappush(self._due, (at, next(self._order), body))
                return
        self._deliver(body)  # early: before the mock lets the submit answer go

    def _deliver(self, body: dict[str, Any]) -> None:
        receiver = self.receiver
        if receiver is None:
            return
        with self._lock:
            self.delivered[str(body.get("jobid"))] += 1
        try:
            receiver(body)
        except Exception:  # the client's handler is under test: never crash the relay
            pass
