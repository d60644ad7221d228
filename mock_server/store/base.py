"""The state interface every backend implements (in-memory and SQLite)."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from mock_server.accounts import Account
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

    def claim_callbacks(self, now: float, limit: int = 100) -> list[tuple[Job, str]]:
        """Atomically take up to ``limit`` callbacks due at ``now``: ``(job, stage)`` pairs.

        A claimed callback is never handed out again, by any thread or process.
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
