"""The default store: plain dicts behind one lock (one process, any number of threads)."""

from __future__ import annotations

import copy
import heapq
import itertools
import threading
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field

from mock_server.accounts import Account
from mock_server.jobs import Job
from mock_server.store.base import Candidate
from mock_server.store.base import JobBuilder
from mock_server.store.base import Rejected
from mock_server.store.release import release_later


@dataclass
class _Tenant:
    accounts: dict[str, Account] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    # channel -> executing jobs in submit order; pruned lazily, so admission costs O(maxJobs)
    executing: dict[str, dict[str, Job]] = field(default_factory=dict)


class MemoryStore:
    """In-memory :class:`~mock_server.store.base.Store`. Jobs are copied in and out."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._tenants: dict[str, _Tenant] = {}
        self._sequence = itertools.count(1)
        self._clock: float | None = None
        # (due, tenant, jobid) of callbacks; stale entries are skipped when popped
        self._callbacks: list[tuple[float, str, str]] = []

    def ensure_tenant(self, tenant: str, seed: Callable[[], tuple[list[Account], list[Job]]]) -> None:
        if tenant in self._tenants:
            return
        with self._lock:
            if tenant in self._tenants:
                return
            accounts, jobs = seed()
            state = _Tenant(accounts={a.channel: a for a in accounts})
            for job in jobs:
                self._put(state, copy.deepcopy(job))
            self._tenants[tenant] = state

    def _tenant(self, tenant: str) -> _Tenant:
        """The tenant's state, created on a write; reads use :meth:`_existing`."""
        state = self._tenants.get(tenant)
        if state is None:
            state = self._tenants.setdefault(tenant, _Tenant())
        return state

    def _existing(self, tenant: str) -> _Tenant:
        return self._tenants.get(tenant) or _Tenant()

    def accounts(self, tenant: str) -> list[Account]:
        with self._lock:
            return list(self._existing(tenant).accounts.values())

    def account(self, tenant: str, channel: str) -> Account | None:
        with self._lock:
            return self._existing(tenant).accounts.get(channel)

    def put_account(self, tenant: str, account: Account) -> None:
        with self._lock:
            self._tenant(tenant).accounts[account.channel] = account

    def delete_account(self, tenant: str, channel: str) -> bool:
        with self._lock:
            return self._existing(tenant).accounts.pop(channel, None) is not None

    def job(self, tenant: str, jobid: str) -> Job | None:
        state = self._tenants.get(tenant)
        job = state.jobs.get(jobid) if state else None
        return copy.copy(job) if job else None

    def insert_job(self, job: Job) -> None:
        with self._lock:
            self._put(self._tenant(job.tenant), copy.deepcopy(job))

    def _put(self, state: _Tenant, job: Job) -> None:
        state.jobs[job.jobid] = job
        state.executing.setdefault(job.channel, {})[job.jobid] = job
        due = job.callback_due_at()
        if due is not None:
            heapq.heappush(self._callbacks, (due, job.tenant, job.jobid))

    def update_job(self, tenant: str, jobid: str, change: Callable[[Job], None]) -> Job | None:
        with self._lock:
            job = self._existing(tenant).jobs.get(jobid)
            if job is None:
                return None
            updated = copy.deepcopy(job)
            change(updated)
            self._put(self._tenant(tenant), updated)
            return copy.copy(updated)

    def admit(self, tenant: str, candidates: Sequence[Candidate], now: float, build: JobBuilder) -> Job | Rejected:
        with self._lock:
            state = self._tenant(tenant)
            busy: list[str] = []
            for candidate in candidates:
                running = self._executing(state, candidate.account.channel, now)
                if len(running) < candidate.limit:
                    job = build(candidate, next(self._sequence))
                    self._put(state, copy.deepcopy(job))
                    return job
                busy.extend(j for j in running if j not in busy)
            return Rejected(max((c.limit for c in candidates), default=0), busy)

    def executing(self, tenant: str, channel: str, now: float) -> list[str]:
        with self._lock:
            return self._executing(self._existing(tenant), channel, now)

    @staticmethod
    def _executing(state: _Tenant, channel: str, now: float) -> list[str]:
        running = state.executing.get(channel)
        if not running:
            return []
        if not all(job.is_executing(now) for job in running.values()):
            # Rebuilt rather than pruned in place: a dict keeps the slots of deleted keys, and walking
            # them made every later admission cost O(jobs ever pruned) instead of O(maxJobs).
            running = state.executing[channel] = {jobid: job for jobid, job in running.items()
                                                  if job.is_executing(now)}
        return list(running)

    def claim_callbacks(self, now: float, limit: int = 100) -> list[tuple[Job, str]]:
        with self._lock:
            claimed: list[tuple[Job, str]] = []
            while self._callbacks and self._callbacks[0][0] <= now and len(claimed) < limit:
                _, tenant, jobid = heapq.heappop(self._callbacks)
                state = self._tenants.get(tenant)
                job = state.jobs.get(jobid) if state else None
                if job is None:
                    continue
                job = copy.deepcopy(job)
                stage = job.claim_callback(now)
                if stage is not None:
                    self._put(state, job)
                    claimed.append((copy.copy(job), stage))
            return claimed

    def job_count(self) -> int:
        with self._lock:
            return sum(len(t.jobs) for t in self._tenants.values())

    def get_clock(self) -> float | None:
        return self._clock

    def set_clock(self, value: float) -> None:
        with self._lock:
            self._clock = value if self._clock is None else max(self._clock, value)

    def advance_clock(self, seconds: float) -> float:
        with self._lock:
            self._clock = (self._clock or 0.0) + seconds
            return self._clock

    def reset(self, tenant: str | None = None) -> None:
        with self._lock:
            if tenant is None:
                old_tenants, old_callbacks = self._tenants, self._callbacks
                self._tenants, self._callbacks = {}, []
                release_later(old_tenants, old_callbacks, deep=True)
            else:
                dropped = self._tenants.pop(tenant, None)
                if dropped is not None:
                    release_later({tenant: dropped}, deep=True)

    def close(self) -> None:
        """Nothing to release."""
