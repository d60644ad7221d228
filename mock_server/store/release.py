"""Let go of a large state without making the caller wait: freed in small slices on a background thread.

Dropping 10,000 jobs at once costs ~15 ms of one C call (under the GIL); a reset should not. The
caller swaps the containers out (O(1)) and hands them here.

Every :data:`SLICE` items, nested ones counted too, the thread sleeps :data:`PAUSE`, so a request
waiting for the GIL takes it then. With ``sleep(0)`` the thread took the GIL straight back, and a
request waited out the interpreter's 5 ms switch interval: resets that followed a reset of a loaded
mock took 6-12 ms instead of 1-2 ms (``bench/RESULTS.md``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import MutableMapping
from collections.abc import MutableSequence
from typing import Any

SLICE = 100
PAUSE = 0.001
"""Seconds between slices: about 100,000 items are freed a second, at most."""


def release_later(*containers: Any, deep: bool = False) -> None:
    """Empty ``containers`` (dicts, lists, deques) a slice at a time, off the caller's thread.

    ``deep`` also empties the containers held by their items (a value's attributes and nested
    dicts): only for state the caller owns outright, never for items shared elsewhere.
    """
    if any(containers):
        threading.Thread(target=_release, args=(containers, deep), name="pixverse-release", daemon=True).start()


def _release(containers: tuple[Any, ...], deep: bool) -> None:
    freeing = _Slices()
    for container in containers:
        _empty(container, deep, freeing)


class _Slices:
    """Counts the items freed across every container, nested ones included; sleeps :data:`PAUSE` every :data:`SLICE`.

    It sleeps before the first item too, so the caller runs on first.
    """

    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = 0

    def next_item(self) -> None:
        if self.left == 0:
            time.sleep(PAUSE)
            self.left = SLICE
        self.left -= 1


def _empty(container: Any, deep: bool, freeing: _Slices) -> None:
    while container:
        freeing.next_item()
        value = container.popitem()[1] if isinstance(container, MutableMapping) else container.pop()
        if not deep:
            continue
        for inner in (value, *getattr(value, "__dict__", {}).values()):
            if isinstance(inner, MutableMapping | MutableSequence):
                _empty(inner, deep, freeing)
