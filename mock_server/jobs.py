"""The job: its fixed record and its schedule; the status at any moment is derived, never stored.

A job is ``started`` from submit, ``progress`` from ``progress_at`` and reaches ``outcome`` at
``ends_at``. Cancelling or forcing an outcome only ever moves ``ends_at`` of a job that is still
executing, so a status never goes backwards and never leaves a terminal status.
"""

from __future__ import annotations

import copy
import operator
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from typing import Any

STATUSES = ("created", "started", "moderated", "progress", "completed", "failed", "cancelled")
TERMINAL = frozenset({"completed", "failed", "moderated", "cancelled"})
EXECUTING = frozenset({"created", "started", "progress"})


@dataclass(slots=True)
class Job:
    """One job of one tenant.

    ``record`` holds the vendor fields fixed at submit (request echo, masked account, messageId,
    ``face``, ``button``, ``parentJobId``...). ``result`` is the kind of result it produces
    (a key of the button graph's ``results``).
    """

    tenant: str
    jobid: str
    verb: str
    channel: str
    created: float
    progress_at: float
    ends_at: float
    outcome: str
    record: dict[str, Any]
    result: str = "single"
    user_id: str = "1000000000000000001"
    error: str | None = None
    error_details: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    progress_callback: bool = False
    callbacks_claimed: list[str] = field(default_factory=list)
    callback_leases: dict[str, list[float]] = field(default_factory=dict)
    """Claimed callbacks not yet settled: ``stage -> [lease end (wall-clock seconds), delivery]``."""

    def status_at(self, now: float) -> str:
        """The vendor status at mock time ``now``."""
        if now >= self.ends_at:
            return self.outcome
        if now >= self.progress_at:
            return "progress"
        return "started"

    def updated_at(self, now: float) -> float:
        """When the status last changed, as of ``now``."""
        if now >= self.ends_at:
            return self.ends_at
        if now >= self.progress_at:
            return self.progress_at
        return self.created

    def is_executing(self, now: float) -> bool:
        return now < self.ends_at

    def finish(self, now: float, outcome: str, error: str | None = None, details: str | None = None) -> None:
        """End an executing job at ``now`` with ``outcome``; a finished job is left as it is."""
        if not self.is_executing(now):
            return
        self.ends_at = now
        self.progress_at = min(self.progress_at, now)
        self.outcome = outcome
        self.error, self.error_details = error, details

    def callback_due_at(self) -> float | None:
        """When the next callback to ``replyUrl`` falls due (``None``: no callback left to send)."""
        if not self.record.get("replyUrl") or "final" in self.callbacks_claimed:
            return None
        if self.progress_callback and "progress" not in self.callbacks_claimed and self.progress_at < self.ends_at:
            return self.progress_at
        return self.ends_at

    def claim_callback(self, now: float) -> str | None:
        """Mark the callback due at ``now`` as taken; returns its stage (``progress`` or ``final``)."""
        due = self.callback_due_at()
        if due is None or due > now:
            return None
        stage = "final" if now >= self.ends_at else "progress"
        self.callbacks_claimed = [*self.callbacks_claimed, stage]
        return stage

    def take_callbacks(self, now: float, wall: float, lease: float) -> list[str]:
        """Lease the callbacks to send now, for ``lease`` wall-clock seconds; returns their stages.

        First the claimed callbacks whose lease ran out unsettled (the process sending them stopped),
        as the next delivery of each; then the callback newly due at mock time ``now``, if any.
        """
        leases = dict(self.callback_leases)
        stages = [stage for stage, (until, _) in leases.items() if until <= wall]
        for stage in stages:
            leases[stage] = [wall + lease, leases[stage][1] + 1]
        stage = self.claim_callback(now)
        if stage is not None:
            leases[stage] = [wall + lease, 1]
            stages.append(stage)
        self.callback_leases = leases
        return stages

    def delivery(self, stage: str) -> int:
        """Which delivery of ``stage`` its current lease is (1, then one more after each lost lease)."""
        lease = self.callback_leases.get(stage)
        return int(lease[1]) if lease else 1

    def lease_until(self) -> float | None:
        """When the earliest lease ends (wall clock); ``None`` while no callback is out unsettled."""
        return min((until for until, _ in self.callback_leases.values()), default=None)

    def evictable(self, now: float) -> bool:
        """Whether retention may forget it: ended, owing no callback, and not a seed job (a fixture)."""
        return (not self.is_executing(now) and self.callback_due_at() is None and not self.callback_leases
                and not self.extra.get("seed"))

    def settle_callback(self, stage: str) -> None:
        """The callback of ``stage`` was delivered, or its last attempt made: it is never sent again."""
        self.callback_leases = {s: lease for s, lease in self.callback_leases.items() if s != stage}

    def release_callback(self, stage: str, sent: bool) -> None:
        """Hand a leased callback back at once (its sender stops); unsent, it keeps its delivery number."""
        lease = self.callback_leases.get(stage)
        if lease is not None:
            self.callback_leases = {**self.callback_leases, stage: [0.0, lease[1] - (0 if sent else 1)]}

    def __copy__(self) -> Job:
        return Job(*_field_values(self))

    def __deepcopy__(self, memo: dict[int, Any]) -> Job:
        # The stores copy a job in and out on every write, and the generic deepcopy walks every field
        # through copy's reduce protocol; here only the containers (record, extra...) are walked.
        return Job(*[_clone(value, memo) for value in _field_values(self)])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        return cls(**data)


_field_values = operator.attrgetter(*(f.name for f in fields(Job)))
_ATOMS = frozenset({str, int, float, bool, type(None)})


def _clone(value: Any, memo: dict[int, Any]) -> Any:
    """A deep copy of JSON-like data (dicts, lists, scalars); anything else goes through ``copy.deepcopy``."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is dict:
        return {key: _clone(item, memo) for key, item in value.items()}
    if kind is list:
        return [_clone(item, memo) for item in value]
    return copy.deepcopy(value, memo)
