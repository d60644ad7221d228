"""The mock's collaborators wired together: store, clock, service, control state, callbacks.

``MockRuntime`` is the in-process handle on a running mock (``mock_of(app)``); the control plane
over HTTP calls the same methods.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

from mock_server.buttons import ButtonGraph
from mock_server.clock import MANUAL_EPOCH
from mock_server.clock import PROFILES
from mock_server.clock import Clock
from mock_server.clock import ManualClock
from mock_server.clock import ScaledClock
from mock_server.clock import SystemClock
from mock_server.config import MockConfig
from mock_server.control.callbacks import CallbackDispatcher
from mock_server.control.operations import Conflict
from mock_server.control.operations import ControlOperations
from mock_server.media import MediaLibrary
from mock_server.resources import fixtures_dir
from mock_server.service.core import PixverseService
from mock_server.store import open_backend
from mock_server.store.base import ControlState
from mock_server.store.base import Store
from mock_server.store.memory import MemoryControlState


def callback_poll_interval(time_scale: float) -> float:
    """Wall seconds between looks for due callbacks: 0.1, or less on an accelerated clock (>= 10 ms).

    A callback then leaves at most half a mock second after its job ended, at time scales up to 50.
    """
    return max(0.01, min(0.1, 0.5 / time_scale))


class MockRuntime(ControlOperations):
    """Everything one mock instance owns, and the control operations on it."""

    def __init__(self, config: MockConfig, *, store: Store | None = None, clock: Clock | None = None,
                 control: ControlState | None = None) -> None:
        self.config = config
        if store is None:
            backend = open_backend(config.store, config.journal_limit)
            store, control = backend.store, control or backend.control
        self.store = store
        self.control = control if control is not None else MemoryControlState(config.journal_limit)
        self.clock = clock if clock is not None else self._make_clock()
        graph = ButtonGraph.load(config.button_graph)
        media = MediaLibrary(fixtures_dir() / "videos")
        self.service = PixverseService(config, self.store, self.clock, PROFILES[config.clock], graph, media)
        self.errors: list[BaseException] = []
        """Unexpected exceptions raised while answering (bugs); the test kit re-raises them."""
        self.request_listeners: list[Callable[[dict[str, Any]], None]] = []
        """Listeners added by :meth:`on_request`."""
        self._rng = random.Random(f"faults:{config.seed}")
        self._rng_lock = threading.Lock()
        self.callbacks = CallbackDispatcher(
            self.store, self.clock, self.control,
            lambda job, at: self.service.renderer.render(job, at, self.public_url),
            timeout=config.callback_timeout, attempts=config.callback_attempts, workers=config.callback_workers,
            delay=config.callback_delay / config.time_scale, duplicate_rate=config.callback_duplicate_rate,
            draw=self.draw, poll_interval=callback_poll_interval(config.time_scale), housekeeping=self.evict_expired,
        )
        self.callbacks.start()

    def _make_clock(self) -> Clock:
        if self.config.clock == "manual":
            return ManualClock(self.store, self.config.clock_start or MANUAL_EPOCH)
        if self.config.time_scale != 1:
            return ScaledClock(self.config.time_scale, self.config.time_origin)
        return SystemClock()

    @property
    def public_url(self) -> str:
        """Base of attachment URLs outside a request (callbacks): the config's, else host and port."""
        return self.config.public_url or f"http://{self.config.host}:{self.config.port}"

    def draw(self) -> float:
        """The next number of the seeded RNG behind probabilistic faults."""
        with self._rng_lock:
            return self._rng.random()

    def advance(self, seconds: float) -> float:
        """Move the manual clock forward and deliver the callbacks that fell due; returns mock time."""
        if not isinstance(self.clock, ManualClock):
            raise Conflict(f"the {self.config.clock!r} clock moves by itself; use clock='manual'")
        now = self.clock.advance(seconds)
        self.evict_expired()
        self.callbacks.dispatch_due()
        return now

    def evict_expired(self) -> int:
        """Apply the retention policy now (the scheduler also does, every 10 s); how many jobs went."""
        return self.store.evict(self.clock.now(), self.config.retention_days * 86_400, self.config.retention_jobs)

    def now(self) -> float:
        return self.clock.now()

    def on_request(self, listener: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call ``listener(entry)`` with each request journal entry (with ``seq``) as it is recorded.

        It runs in the request's thread, before its answer leaves. Returns a function that removes it.

        The contract kit shapes each accepted job here, so a client cannot see a job before its
        generated fate is set. Not called when the journal is off (``journal_limit: 0``).
        """
        self.request_listeners.append(listener)
        return lambda: self.request_listeners.remove(listener)

    def close(self) -> None:
        self.callbacks.stop()
        self.store.close()
