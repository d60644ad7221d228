"""Let go of a large state without making the caller wait: freed in small slices on a background thread.

Dropping 10,000 jobs at once costs ~15 ms of one C call (under the GIL); a reset should not. The
caller swaps the containers out (O(1)) and hands them here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import MutableMapping
from collections.abc import MutableSequence
from typing import Any

SLICE = 500


def release_later(*containers: Any, deep: bool = False) -> None:
    """Empty ``containers`` (dicts, lists, deques) a slice at a time, off the caller's thread.

    ``deep`` also empties the containers held by their items (a value's attributes and nested
    dicts): only for state the caller owns outright, never for items shared elsewhere.
    """
    if any(containers):
        threading.Thread(target=_release, args=(containers, deep), name="pixverse-release", daemon=True).start()


def _release(containers: tuple[Any, ...], deep: bool) -> None:
    time.sleep(0)  # let the caller run on first
    for container in containers:
        _empty(container, deep)


def _empty(container: Any, deep: bool) -> None:
    while container:
        time.sleep(0)  # hand the GIL back between slices
        for _ in range(min(SLICE, len(container))):
            value = container.popitem()[1] if isinstance(container, MutableMapping) else container.pop()
            if not deep:
                continue
            for inner in (value, *getattr(value, "__dict__", {}).values()):
                if isinstance(inner, MutableMapping | MutableSequence):
                    _empty(inner, deep)
