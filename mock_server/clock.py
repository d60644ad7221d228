"""One clock for the whole server, and the timing profiles that schedule a job's lifecycle.

A job's status is derived from its schedule and ``clock.now()``, so nothing needs a background
thread to move jobs along; the manual clock moves only when told.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Protocol

# 2026-01-01T00:00:00Z: where a manual clock starts unless told otherwise, so runs repeat exactly.
MANUAL_EPOCH = 1767225600.0


class Clock(Protocol):
    """Mock time in epoch seconds."""

    def now(self) -> float: ...


class SystemClock:
    """Wall-clock time (profiles ``fast`` and ``realistic``)."""

    def now(self) -> float:
        return time.time()


class ScaledClock:
    """System time running ``scale`` times faster from ``origin`` (epoch seconds; default: now).

    The same reading a client gets under libfaketime's ``faketime -f '+0 xR'``: mock time equals
    wall time at ``origin`` and then moves ``scale`` mock seconds per wall second, so a client whose
    own clock runs at that rate sees jobs take as long, in its time, as at scale 1 in real time.
    """

    def __init__(self, scale: float, origin: float | None = None) -> None:
        if scale <= 0:
            raise ValueError("the time scale must be positive")
        self.scale = scale
        self.origin = time.time() if origin is None else origin

    def now(self) -> float:
        return self.origin + (time.time() - self.origin) * self.scale


class ClockCell(Protocol):
    """Where a manual clock keeps its reading (the store, so every worker process shares it)."""

    def get_clock(self) -> float | None: ...

    def set_clock(self, value: float) -> None:
        """Store ``value``, unless the reading is already later (a clock never moves backwards)."""

    def advance_clock(self, seconds: float) -> float:
        """Add ``seconds`` to the reading in one atomic step; returns the new reading."""


class ManualClock:
    """Time that moves only through :meth:`advance` or :meth:`set` (profile ``manual``)."""

    def __init__(self, cell: ClockCell, start: float = MANUAL_EPOCH) -> None:
        self._cell = cell
        self._lock = threading.Lock()
        if cell.get_clock() is None:
            cell.set_clock(start)

    def now(self) -> float:
        value = self._cell.get_clock()
        return MANUAL_EPOCH if value is None else value

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (never backwards) and return the new reading."""
        if seconds < 0:
            raise ValueError("the clock never moves backwards")
        return self._cell.advance_clock(seconds)

    def set(self, value: float) -> float:
        """Jump to ``value`` epoch seconds; it must not be earlier than now."""
        with self._lock:
            if value < self.now():
                raise ValueError("the clock never moves backwards")
            self._cell.set_clock(value)
            return value


@dataclass(frozen=True)
class Timing:
    """How long a job takes: seconds after submit to ``progress`` and to its final status."""

    name: str
    progress_after: tuple[float, float]
    complete_after: tuple[float, float]

    def schedule(self, created: float, rng: random.Random) -> tuple[float, float]:
        """``(progress_at, ends_at)`` for a job created at ``created``."""
        progress = created + _pick(self.progress_after, rng)
        ends = created + max(_pick(self.complete_after, rng), progress - created)
        return progress, ends


def _pick(bounds: tuple[float, float], rng: random.Random) -> float:
    low, high = bounds
    return low if low == high else rng.uniform(low, high)


PROFILES = {
    "fast": Timing("fast", (1.0, 1.0), (3.0, 3.0)),
    # The real service polls Discord every 15 to 60 seconds.
    "realistic": Timing("realistic", (5.0, 15.0), (15.0, 60.0)),
    "manual": Timing("manual", (1.0, 1.0), (3.0, 3.0)),
}


# The date-and-time part of a timestamp, per whole second: a datetime and strftime per call were a
# third of a job's render. Bounded; outside 1970..9999 the datetime path answers.
_SECONDS: dict[int, str] = {}
_LAST_EPOCH = 253402300800  # 10000-01-01


def _second_and_millis(epoch: float) -> tuple[str, int] | None:
    moment = round(epoch, 3)
    if not 0 <= moment < _LAST_EPOCH:
        return None
    second = math.floor(moment)
    micros = round((moment - second) * 1e6)  # half to even, as datetime.fromtimestamp rounds
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    text = _SECONDS.get(second)
    if text is None:
        if len(_SECONDS) >= 4096:
            _SECONDS.clear()
        text = _SECONDS[second] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    return text, micros // 1000


def _slow_parts(epoch: float) -> tuple[str, int]:
    moment = datetime.fromtimestamp(round(epoch, 3), UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S"), moment.microsecond // 1000


def iso_millis(epoch: float) -> str:
    """``YYYY-MM-DDTHH:mm:ss.sssZ`` (the vendor's ``created`` / ``updated``)."""
    second, millis = _second_and_millis(epoch) or _slow_parts(epoch)
    return f"{second}.{millis:03d}Z"


def discord_timestamp(epoch: float) -> str:
    """``2023-09-09T02:04:51.926000+00:00`` (Discord's message ``timestamp``)."""
    second, millis = _second_and_millis(epoch) or _slow_parts(epoch)
    return f"{second}.{millis:03d}000+00:00"
