"""Where a ``delay`` fault holds its answer back: in the request's thread, or on the server's event loop.

A request served on a thread of its own sleeps there (:func:`hold`). ``pixverse-mock serve`` runs
the vendor routes of the memory store on its event loop (``mock_server.serve``), where a sleep would
stop every other client: there the request is answered at once under :func:`deferring`, which
collects the delay, and the server waits it out asynchronously before it sends the answer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_deferred: ContextVar[list[float] | None] = ContextVar("pixverse_mock_deferred_delays", default=None)


def hold(seconds: float) -> None:
    """Hold this request's answer back ``seconds`` (wall clock)."""
    deferred = _deferred.get()
    if deferred is None:
        time.sleep(seconds)
    else:
        deferred.append(seconds)


@contextmanager
def deferring() -> Iterator[list[float]]:
    """Within the block, :func:`hold` adds its seconds to the list this yields instead of sleeping."""
    token = _deferred.set([])
    try:
        yield _deferred.get()  # type: ignore[misc]
    finally:
        _deferred.reset(token)
