"""The default backend (``memory``): plain dicts behind one lock, one process, any number of threads."""

from __future__ import annotations

import copy
import heapq
import itertools
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from typing import Any

from mock_server.accounts import Account
from mock_server.faults import Fault
from mock_server.faults import FaultRule
from mock_server.faults import choose_fault
from mock_server.jobs import Job
from mock_server.request_entry import TENANT
from mock_server.request_entry import FilterView
from mock_server.request_entry import packed_entry
from mock_server.request_entry import rendered
from mock_server.request_entry import unpacked
from mock_server.store.base import DEFAULT_JOURNAL_LIMIT
from mock_server.store.base import DEFAULT_LEASE
from mock_server.store.base import JOURNAL_KINDS
from mock_server.store.base import Backend
from mock_server.store.base import Candidate
from mock_server.store.base import Entry
from mock_server.store.base import EntryFilter
from mock_server.store.base import JobBuilder
from mock_server.store.base import Rejected
from mock_server.store.release import release_later

LOCATION = re.compile("memory")
SHARED = False
"""One process's state: several worker processes would each have their own."""


def open_backend(location: str, journal_limit: int = DEFAULT_JOURNAL_LIMIT) -> Backend:
    """``memory``: a fresh state of this process only."""
    return Backend(MemoryStore(), MemoryControlState(journal_limit), )


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
        # (lease end, tenant, jobid) of leased callbacks, on the wall clock; stale entries skipped too
        self._leases: list[tuple[float, str, str]] = []

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
        until = job.lease_until()
        if until is not None:
            heapq.heappush(self._leases, (until, job.tenant, job.jobid))

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

    def claim_callbacks(self, now: float, limit: int = 100, *, lease: float = DEFAULT_LEASE,
                        wall: float | None = None) -> list[tuple[Job, str]]:
        wall = time.time() if wall is None else wall
        with self._lock:
            found: dict[tuple[str, str], None] = {}
            for heap, end in ((self._leases, wall), (self._callbacks, now)):
                while heap and heap[0][0] <= end and len(found) < limit:
                    _, tenant, jobid = heapq.heappop(heap)
                    found[(tenant, jobid)] = None
            claimed: list[tuple[Job, str]] = []
            for tenant, jobid in found:
                state = self._tenants.get(tenant)
                job = state.jobs.get(jobid) if state else None
                if job is None:
                    continue
                job = copy.deepcopy(job)
                stages = job.take_callbacks(now, wall, lease)
                if stages:
                    self._put(state, job)
                    claimed.extend((copy.copy(job), stage) for stage in stages)
            return claimed

    def evict(self, now: float, max_age: float, keep: int) -> int:
        """Walk each tenant's jobs from the oldest (insertion order), only as far as there is work."""
        evicted = 0
        old = now - max_age
        with self._lock:
            for state in self._tenants.values():
                excess = len(state.jobs) - keep
                doomed: list[Job] = []
                for job in state.jobs.values():
                    if excess <= len(doomed) and job.created >= old:
                        break
                    if (excess > len(doomed) or job.ends_at < old) and job.evictable(now):
                        doomed.append(job)
                for job in doomed:
                    del state.jobs[job.jobid]
                    state.executing.get(job.channel, {}).pop(job.jobid, None)
                evicted += len(doomed)
        return evicted

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
                old = self._tenants, self._callbacks, self._leases
                self._tenants, self._callbacks, self._leases = {}, [], []
                release_later(*old, deep=True)
            else:
                dropped = self._tenants.pop(tenant, None)
                if dropped is not None:
                    release_later({tenant: dropped}, deep=True)

    def close(self) -> None:
        """Nothing to release."""


class MemoryControlState:
    """In-process :class:`~mock_server.store.base.ControlState`: bounded deques and a condition variable."""

    def __init__(self, journal_limit: int = DEFAULT_JOURNAL_LIMIT) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        # (seq, entry as kept) pairs: a request's as request_entry keeps it, any other packed. Either
        # holds only atoms and tuples of atoms, which the collector stops tracking: tens of thousands
        # of tracked entries made every full collection a pause of tens of milliseconds (bench/RESULTS.md).
        self._journals: dict[str, deque[tuple[int, Any]]] = {k: deque(maxlen=journal_limit) for k in JOURNAL_KINDS}
        self._seq = {k: 0 for k in JOURNAL_KINDS}
        self._waiting = 0
        self._rules: list[FaultRule] = []
        self._rule_ids = 0
        self._settings: dict[str, Any] = {}
        self._settings_version = 0

    def append(self, kind: str, entry: Entry) -> int:
        with self._lock:  # the lock itself: the condition's own context manager is a Python call
            seq = self._seq[kind] = self._seq[kind] + 1
            if type(entry) is not tuple:
                entry["seq"] = seq
                entry = packed_entry(entry)
            self._journals[kind].append((seq, entry))
            if self._waiting:
                self._changed.notify_all()
            return seq

    def entries(self, kind: str, since: int = 0, accept: EntryFilter | None = None,
                limit: int | None = None) -> list[Entry]:
        with self._changed:
            journal = self._journals[kind]
            newer: Sequence[tuple[int, Any]] = journal
            if since and journal and journal[0][0] <= since:  # kept in seq order: read only the newer tail
                newer = list(itertools.takewhile(lambda kept: kept[0] > since, reversed(journal)))[::-1]
            chosen = list(itertools.islice(_accepted(newer, since, accept), limit))  # stop at the limit
        return [_thawed(seq, entry) for seq, entry in chosen]

    def wait(self, kind: str, since: int, accept: EntryFilter | None, timeout: float) -> Entry | None:
        with self._changed:
            found: list[Entry] = []

            def arrived() -> bool:
                found[:] = self.entries(kind, since, accept, limit=1)
                return bool(found)

            self._waiting += 1
            try:
                self._changed.wait_for(arrived, timeout=max(0.0, timeout))
            finally:
                self._waiting -= 1
            return found[0] if found else None

    def add_fault(self, rule: FaultRule) -> FaultRule:
        with self._changed:
            self._rule_ids += 1
            rule = replace(rule, id=self._rule_ids)
            self._rules.append(rule)
            return rule

    def take_fault(self, endpoint: str, tenant: str | None, draw: Callable[[], float]) -> Fault | None:
        if not self._rules:
            return None
        with self._changed:
            rule = choose_fault(self._rules, endpoint, tenant, draw)
            if rule is None:
                return None
            index = self._rules.index(rule)
            used = rule.used()
            if used is None:
                del self._rules[index]
            else:
                self._rules[index] = used
            return rule.fault

    def faults(self) -> list[FaultRule]:
        with self._changed:
            return list(self._rules)

    def clear_faults(self, tenant: str | None = None) -> None:
        with self._changed:
            self._rules = [] if tenant is None else [r for r in self._rules if r.tenant != tenant]

    def settings(self) -> tuple[int, dict[str, Any]]:
        return self._settings_version, self._settings

    def put_settings(self, settings: dict[str, Any]) -> int:
        with self._changed:
            self._settings = dict(settings)
            self._settings_version += 1
            return self._settings_version

    def clear(self, tenant: str | None = None) -> None:
        with self._changed:
            for kind, journal in self._journals.items():
                others = [] if tenant is None else [
                    kept for kept in journal  # a request's entry is a tuple, any other a dict
                    if (kept[1][TENANT] if type(kept[1]) is tuple else kept[1].get("tenant")) != tenant]
                self._journals[kind] = deque(others, maxlen=journal.maxlen)
                release_later(journal)
            self.clear_faults(tenant)


def _accepted(kept: Iterable[tuple[int, Any]], since: int, accept: EntryFilter | None) -> Iterator[tuple[int, Any]]:
    """The ``(seq, entry)`` pairs after ``since`` that ``accept`` lets through (requests seen through one view)."""
    view = FilterView()
    for pair in kept:
        seq, entry = pair
        if seq <= since:
            continue
        if accept is not None:
            if type(entry) is tuple:
                view.entry = entry
                entry = view
            if not accept(entry):
                continue
        yield pair


def _thawed(seq: int, entry: Any) -> Entry:
    """A kept entry as given out: a fresh dict (a request's rendered, masked), its objects and lists again."""
    if type(entry) is tuple:
        return {**rendered(entry), "seq": seq}  # a kept request entry has no place for its seq
    return {key: unpacked(value) for key, value in entry.items()}
