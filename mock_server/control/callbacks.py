"""Callbacks: POST the job record to ``replyUrl`` when it falls due, on a bounded pool.

A scheduler thread claims due callbacks from the store (atomically, so several worker processes
or instances never send one at the same time) and hands them to a fixed pool of delivery threads;
no request thread ever waits on a receiver. Due-ness follows mock time: with the manual clock,
:meth:`poke` after an advance delivers what fell due. Every attempt lands in the ``callbacks``
journal, with its ``attempt`` (1 to ``callback_attempts``) and ``delivery`` number.

At least once: a claim is a lease of :meth:`CallbackDispatcher.lease_seconds` (wall clock), settled
in the store after the delivery or the last attempt. A callback whose sender stopped first
(``stop()`` hands back what it had not sent; SIGKILL leaves the lease to run out) is claimed again,
by this process after a restart or by another one, as its next ``delivery``. So a receiver gets each
callback at most ``callback_attempts`` times per delivery, and a new delivery only after a stop.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mock_server.clock import Clock
from mock_server.clock import iso_millis
from mock_server.errors import StoreUnavailable
from mock_server.jobs import Job
from mock_server.store.base import ControlState
from mock_server.store.base import Store

log = logging.getLogger("pixverse_mock.callbacks")

Render = Callable[[Job, float], dict[str, Any]]
"""The job record as of a moment (the same JSON as ``GET jobs``)."""


class CallbackDispatcher:
    """Delivers due callbacks; ``start()`` once, ``stop()`` at the end."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        control: ControlState,
        render: Render,
        *,
        timeout: float = 5.0,
        attempts: int = 1,
        workers: int = 4,
        poll_interval: float = 0.1,
        delay: float = 0.0,
        duplicate_rate: float = 0.0,
        draw: Callable[[], float] = lambda: 1.0,
        housekeeping: Callable[[], object] = lambda: None,
        housekeeping_interval: float = 10.0,
    ) -> None:
        self.store = store
        self.clock = clock
        self.control = control
        self.render = render
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.poll_interval = poll_interval
        self.delay = delay
        self.duplicate_rate = duplicate_rate
        self.draw = draw
        self.housekeeping = housekeeping
        self.housekeeping_interval = housekeeping_interval
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pixverse-callback")
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._in_flight = 0
        self._idle = threading.Condition()
        # (ready at, order, job, stage): claimed callbacks held back by ``delay``, off the pool
        self._held: list[tuple[float, int, Job, str]] = []
        self._order = itertools.count()
        # claims queued on the pool and not yet started, by order: what ``stop`` hands back
        self._queued: dict[int, tuple[Job, str]] = {}
        self._claiming = threading.Lock()
        self.workers = workers

    @property
    def lease_seconds(self) -> float:
        """How long a claim is this process's: the hold-back delay, then every attempt twice over."""
        return self.delay + 2 * self.attempts * (self.timeout + 1.0) + 1.0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="pixverse-callback-scheduler", daemon=True)
            self._thread.start()

    def poke(self) -> None:
        """Look for due callbacks now (after the clock moved or a job changed)."""
        self._wake.set()

    def stop(self, wait: float = 2.0) -> None:
        """Stop claiming, hand back what was claimed but not sent, and let running sends finish.

        A send still running after ``wait`` seconds keeps its lease, so it is delivered again once
        the lease ends (after a restart, or by another process of the same store).
        """
        deadline = time.monotonic() + wait
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(wait)
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._claiming, self._idle:  # after any claim under way has queued what it took
            unsent = [(job, stage) for _, _, job, stage in self._held] + list(self._queued.values())
            self._held.clear()
            self._queued.clear()
        for job, stage in unsent:
            self._settle(job, stage, release=True, sent=False)
            self._done()
        self.wait_idle(max(0.0, deadline - time.monotonic()))

    def wait_idle(self, timeout: float) -> bool:
        """Block until every claimed callback has been attempted (or ``timeout`` passes)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def dispatch_due(self) -> int:
        """Claim what is due now and queue it for delivery; returns how many were claimed.

        One caller at a time (the scheduler, or ``advance`` on a request thread), so the room counted
        is the room claimed into.
        """
        with self._claiming:
            with self._idle:
                # No more than the pool sends well within a lease: a claim queued longer would be sent twice.
                room = 2 * self.workers - (self._in_flight - len(self._held))
            if room <= 0 or self._stopped.is_set():
                return 0
            claimed = self.store.claim_callbacks(self.clock.now(), room, lease=self.lease_seconds)
            ready_at = time.monotonic() + self.delay
            for job, stage in claimed:
                copies = 2 if self.duplicate_rate and self.draw() < self.duplicate_rate else 1
                with self._idle:
                    self._in_flight += copies
                    for _ in range(copies):
                        heapq.heappush(self._held, (ready_at, next(self._order), job, stage))
        self._release_held()
        return len(claimed)

    def _release_held(self) -> None:
        """Hand the callbacks whose (wall-clock) delay has passed to the delivery pool."""
        now = time.monotonic()
        with self._idle:
            while self._held and self._held[0][0] <= now:
                _, order, job, stage = heapq.heappop(self._held)
                self._queued[order] = (job, stage)
                self._pool.submit(self._deliver, order, job, stage)

    def _run(self) -> None:
        next_housekeeping, store_down = time.monotonic(), False
        while not self._stopped.is_set():
            try:
                self.dispatch_due()
                if time.monotonic() >= next_housekeeping:
                    next_housekeeping = time.monotonic() + self.housekeeping_interval
                    self.housekeeping()
                store_down = False
            except StoreUnavailable:  # said once per outage; the next look retries
                if not store_down:
                    log.warning("the store is unreachable: callbacks wait until it is back")
                store_down = True
            except Exception:  # a broken store must not end the scheduler
                log.exception("claiming due callbacks or housekeeping failed")
            with self._idle:
                next_release = self._held[0][0] - time.monotonic() if self._held else self.poll_interval
            self._wake.wait(max(0.0, min(self.poll_interval, next_release)))
            self._wake.clear()

    def _deliver(self, order: int, job: Job, stage: str) -> None:
        with self._idle:
            if self._queued.pop(order, None) is None:
                return  # ``stop`` took it back
        sent = False
        try:
            due = job.ends_at if stage == "final" else job.progress_at
            body = self.render(job, due)
            url = str(job.record.get("replyUrl"))
            for attempt in range(1, self.attempts + 1):
                if self._stopped.is_set():
                    self._settle(job, stage, release=True, sent=sent)
                    return
                sent = True
                if self._attempt(job, stage, body, url, attempt):
                    break
                if attempt < self.attempts:
                    time.sleep(min(0.2 * attempt, 1.0))
            self._settle(job, stage)
        except Exception:
            log.exception("delivering the callback of %s failed", job.jobid)
        finally:
            self._done()

    def _settle(self, job: Job, stage: str, *, release: bool = False, sent: bool = True) -> None:
        """Record in the store that the callback is done with (or handed back, ``release``)."""
        try:
            if release:
                self.store.update_job(job.tenant, job.jobid, lambda stored: stored.release_callback(stage, sent))
            else:
                self.store.update_job(job.tenant, job.jobid, lambda stored: stored.settle_callback(stage))
        except Exception:  # the lease runs out instead, and the callback is delivered again
            log.exception("settling the callback of %s failed", job.jobid)

    def _done(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()
        self._wake.set()

    def _attempt(self, job: Job, stage: str, body: dict[str, Any], url: str, attempt: int) -> bool:
        started = time.perf_counter()
        entry: dict[str, Any] = {
            "time": iso_millis(self.clock.now()),
            "tenant": job.tenant,
            "jobid": job.jobid,
            "stage": stage,
            "jobStatus": body.get("status"),
            "replyRef": body.get("replyRef"),
            "url": url,
            "attempt": attempt,
            "delivery": job.delivery(stage),
        }
        import requests  # imported on the first callback, not at start-up

        delivered = False
        try:
            response = requests.post(url, json=body, timeout=self.timeout, headers={"User-Agent": "pixverse-mock"})
            entry["statusCode"] = response.status_code
            # requests follows a 301/302/303 with a GET and no body: the job never arrived.
            delivered = 200 <= response.status_code < 300 and response.request.method == "POST"
            if response.history:
                entry["redirects"] = [r.status_code for r in response.history]
                entry["finalUrl"] = response.url
        except requests.RequestException as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"[:500]
        entry["durationMs"] = round((time.perf_counter() - started) * 1000, 2)
        entry["delivered"] = delivered
        self.control.append("callbacks", entry)
        return delivered
