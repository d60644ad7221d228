"""Where a ``delay`` fault holds its answer back: in the request's thread, or on the server's event loop.

A request served on a thread of its own sleeps there (:func:`hold`). ``pixverse-mock serve`` runs
the vendor routes of the memory store on its event loop (``mock_server.serve``), where a sleep would
stop every other client: there the request is answered at once under :class:`Deferring`, which
collects the delay, and the server waits it out asynchronously before it sends the answer.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from contextvars import Token
from typing import Any

_deferred: ContextVar[list[float] | None] = ContextVar("pixverse_mock_deferred_delays", default=None)


def hold(seconds: float) -> None:
    """Hold this request's answer back ``seconds`` (wall clock)."""
    deferred = _deferred.get()
    if deferred is None:
        time.sleep(seconds)
    else:
        deferred.append(seconds)


class Deferring:
    """Within the block, :func:`hold` adds its seconds to the list the block gets instead of sleeping.

    A class rather than ``contextlib.contextmanager``: it runs on every request of the event loop,
    where the generator-based one took 3.3% of the samples of a ``meme_face`` load (py-spy).
    """

    __slots__ = ("held", "_token")

    def __enter__(self) -> list[float]:
        self.held: list[float] = []
        self._token: Token[list[float] | None] = _deferred.set(self.held)
        return self.held

    def __exit__(self, *_exc: Any) -> None:
        _deferred.reset(self._token)
