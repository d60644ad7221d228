"""The state boundary: everything a backend keeps, as two protocols and the pair that opens them.

A backend is one module (or package) of :mod:`mock_server.store` named after the scheme of its
location (``memory``, ``sqlite:PATH``, ``redis://HOST:PORT/DB``) with an ``open_backend`` function;
nothing else in the mock names a backend. The service and the control plane depend on this module
only, and no backend imports the control plane or the service.

- :class:`Store`: tenants, accounts, jobs (admission), callback claims and the manual clock's reading.
- :class:`ControlState`: the control plane's journals, fault queue and runtime settings.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import Protocol

from mock_server.accounts import Account
from mock_server.faults import Fault
from mock_server.faults import FaultRule
from mock_server.jobs import Job


@dataclass(frozen=True)
class Candidate:
    """An account a submit may run on, with the ``maxJobs`` limit that applies to it."""

    account: Account
    limit: int


@dataclass(frozen=True)
class Rejected:
    """Admission refused: every candidate already runs its limit of jobs."""

    limit: int
    executing_jobs: list[str]


JOURNAL_KINDS = ("requests", "callbacks")
DEFAULT_JOURNAL_LIMIT = 50_000
DEFAULT_LEASE = 60.0
"""Wall-clock seconds a claimed callback stays with its sender before it is handed out again."""

JobBuilder = Callable[[Candidate, int], Job]
"""Builds the new job for the chosen candidate and a store-wide unique sequence number."""


class Store(Protocol):
    """Jobs, accounts and the manual clock's reading, per tenant.

    ``admit`` is the one operation that must be atomic across threads *and* processes: check
    ``maxJobs`` on the candidates in order, and create the job on the first with room.
    """

    def ensure_tenant(self, tenant: str, seed: Callable[[], tuple[list[Account], list[Job]]]) -> None:
        """Create the tenant with ``seed()``'s accounts and jobs the first time it is seen."""

    def accounts(self, tenant: str) -> list[Account]: ...

    def account(self, tenant: str, channel: str) -> Account | None: ...

    def put_account(self, tenant: str, account: Account) -> None: ...

    def delete_account(self, tenant: str, channel: str) -> bool: ...

    def job(self, tenant: str, jobid: str) -> Job | None: ...

    def insert_job(self, job: Job) -> None:
        """Store a job as it is, without admission (seed jobs)."""

    def update_job(self, tenant: str, jobid: str, change: Callable[[Job], None]) -> Job | None:
        """Apply ``change`` to the stored job atomically; ``None`` when there is no such job."""

    def admit(self, tenant: str, candidates: Sequence[Candidate], now: float, build: JobBuilder) -> Job | Rejected:
        """Create a job on the first candidate with fewer than ``limit`` executing jobs at ``now``."""

    def executing(self, tenant: str, channel: str, now: float) -> list[str]:
        """Ids of the jobs executing on ``channel`` at ``now``, oldest first."""

    def claim_callbacks(self, now: float, limit: int = 100, *, lease: float = DEFAULT_LEASE,
                        wall: float | None = None) -> list[tuple[Job, str]]:
        """Atomically lease up to ``limit`` jobs' callbacks to send now: ``(job, stage)`` pairs.

        A callback is due at mock time ``now``; it is leased for ``lease`` seconds of the wall clock
        (``wall``, default ``time.time()``) and handed out again only when its lease runs out
        unsettled (``Job.settle_callback``), as its next delivery: at least once across crashes,
        and never to two threads, processes or instances at the same time.
        """

    def evict(self, now: float, max_age: float, keep: int) -> int:
        """Forget jobs, oldest first; returns how many.

        Those that ended more than ``max_age`` seconds before ``now`` (mock time) go, and in each
        tenant those beyond its newest ``keep``. A job still executing or owing a callback stays.
        """

    def job_count(self) -> int: ...

    def get_clock(self) -> float | None: ...

    def set_clock(self, value: float) -> None:
        """Store the manual clock's reading, unless it is already later."""

    def advance_clock(self, seconds: float) -> float:
        """Add to the manual clock's reading atomically; returns the new reading."""

    def reset(self, tenant: str | None = None) -> None:
        """Forget every tenant, or one tenant only (the manual clock's reading stays)."""

    def close(self) -> None: ...


Entry = dict[str, Any]
"""A journal entry as read (``append`` also takes a request's as kept: a tuple)."""
EntryFilter = Callable[[Entry], bool]


class ControlState(Protocol):
    """Journals, faults and settings shared by every thread (and, for a shared backend, every process)."""

    def append(self, kind: str, entry: Entry) -> int:
        """Record a journal entry; returns its sequence number (also set as ``entry["seq"]`` on a dict).

        A request's entry comes as kept (a tuple, :func:`mock_server.request_entry.keep`): a backend
        that keeps it in the process may hold it so, and must give it out
        :func:`~mock_server.request_entry.rendered` with its ``seq``; one that writes it anywhere
        renders it first.
        """

    def entries(self, kind: str, since: int = 0, accept: EntryFilter | None = None,
                limit: int | None = None) -> list[Entry]:
        """Entries with ``seq > since`` that ``accept`` lets through, oldest first."""

    def wait(self, kind: str, since: int, accept: EntryFilter | None, timeout: float) -> Entry | None:
        """Block until an entry with ``seq > since`` passes ``accept``, or ``timeout`` seconds pass."""

    def add_fault(self, rule: FaultRule) -> FaultRule:
        """Queue a rule; its ``id`` is assigned here."""

    def take_fault(self, endpoint: str, tenant: str | None, draw: Callable[[], float]) -> Fault | None:
        """The fault the next request to ``endpoint`` answers, if any; consumes one use of it."""

    def faults(self) -> list[FaultRule]: ...

    def clear_faults(self, tenant: str | None = None) -> None: ...

    def settings(self) -> tuple[int, dict[str, Any]]:
        """``(version, settings)``; the version grows with every :meth:`put_settings`."""

    def put_settings(self, settings: dict[str, Any]) -> int: ...

    def clear(self, tenant: str | None = None) -> None:
        """Forget journals and faults (of one tenant only, when given); settings stay."""


@dataclass(frozen=True)
class Backend:
    """What one backend opened at one location: its store and its control state."""

    store: Store
    control: ControlState

    def close(self) -> None:
        """Release what this process holds (connections); the state itself stays."""
        self.store.close()


def poll_for_entry(scan: Callable[[int], tuple[list[Entry], int]], since: int, timeout: float,
                   interval: float) -> Entry | None:
    """The first entry ``scan(since)`` finds within ``timeout`` s, looking every ``interval`` s (shared stores).

    ``scan`` returns what it found and the ``since`` to look from next time.
    """
    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        found, since = scan(since)
        if found:
            return found[0]
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        time.sleep(min(interval, left))
