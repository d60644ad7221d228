"""The ``Store`` contract, run against every backend: ``MemoryStore``, ``SqliteStore`` and ``RedisStore``.

Admission (``maxJobs``) must hold under 64 racing threads in both stores, and for the SQLite store
also across forked processes sharing one file; so must claiming callbacks (each one handed out
exactly once). Every wait here is bounded; nothing sleeps.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import signal
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from helpers import run_forked
from redis_server import redis_server  # noqa: F401  (fixture)

from mock_server.accounts import Account
from mock_server.jobs import Job
from mock_server.store import open_backend
from mock_server.store.base import Candidate
from mock_server.store.base import JobBuilder
from mock_server.store.base import Rejected
from mock_server.store.base import Store
from mock_server.store.memory import MemoryStore
from mock_server.store.sqlite import DUE_CALLBACKS_SQL
from mock_server.store.sqlite import EXECUTING_SQL
from mock_server.store.sqlite import SCHEMA_VERSION
from mock_server.store.sqlite import SqliteStore

WAIT = 60.0
"""Upper bound, in seconds, on any wait for a thread, a process or a barrier."""

T0 = 1767225600.0


def make_job(
    tenant: str = "tenant-a",
    jobid: str = "job-1",
    channel: str = "111",
    created: float = T0,
    progress_at: float = T0 + 1,
    ends_at: float = T0 + 3,
    outcome: str = "completed",
) -> Job:
    return Job(
        tenant=tenant, jobid=jobid, verb="pixverse-meme_face", channel=channel, created=created,
        progress_at=progress_at, ends_at=ends_at, outcome=outcome,
        record={"prompt": "a cat in a hat 🐱", "channel": channel, "button": "🔀"},
        extra={"params": {"prompt": "ünïcode ✨"}},
    )


def another(store: Store, tmp_path: Path) -> Store:
    """A second handle on the same shared state, with connections of its own."""
    if isinstance(store, SqliteStore):
        return SqliteStore(tmp_path / "mock.sqlite")
    from redis import Redis

    from mock_server.store.redis.store import RedisStore

    assert isinstance(store, RedisStore)
    where = store.client.connection_pool.connection_kwargs
    return RedisStore(Redis(host=where["host"], port=where["port"], db=where["db"], decode_responses=True),
                      store.prefix)


def make_account(channel: str = "111", max_jobs: int = 3) -> Account:
    return Account.create(discord=f"token-{channel}", server="222", channel=channel, max_jobs=max_jobs)


def builder(tenant: str = "tenant-a", now: float = T0, duration: float = 10.0) -> JobBuilder:
    """Builds ``job-<sequence>`` on the chosen channel, executing from ``now`` for ``duration``."""

    def build(candidate: Candidate, sequence: int) -> Job:
        return make_job(tenant, f"job-{sequence}", candidate.account.channel, now, now + 1, now + duration)

    return build


def candidates(*channels: str, limit: int = 3) -> list[Candidate]:
    return [Candidate(make_account(channel), limit) for channel in channels]


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "redis":
        made: Store = open_backend(request.getfixturevalue("redis_server").url()).store
    else:
        made = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "mock.sqlite")
    yield made
    made.close()


# --- tenants ----------------------------------------------------------------------------------


class Seed:
    """A ``seed`` callable that counts its calls."""

    def __init__(self, tenant: str = "tenant-a") -> None:
        self.tenant = tenant
        self.calls = 0

    def __call__(self) -> tuple[list[Account], list[Job]]:
        self.calls += 1
        return [make_account("111"), make_account("333")], [make_job(self.tenant, "seeded", "111")]


def test_ensure_tenant_seeds_once(store: Store) -> None:
    seed = Seed()
    store.ensure_tenant("tenant-a", seed)
    store.ensure_tenant("tenant-a", seed)
    assert seed.calls == 1
    assert [a.channel for a in store.accounts("tenant-a")] == ["111", "333"]
    assert store.job("tenant-a", "seeded") == make_job("tenant-a", "seeded", "111")


def test_ensure_tenant_seeds_again_after_reset(store: Store) -> None:
    seed = Seed()
    store.ensure_tenant("tenant-a", seed)
    store.reset("tenant-a")
    assert store.job_count() == 0
    store.ensure_tenant("tenant-a", seed)
    assert seed.calls == 2
    assert len(store.accounts("tenant-a")) == 2


def test_reading_an_unknown_tenant_does_not_create_it(store: Store) -> None:
    assert store.accounts("tenant-a") == []
    assert store.account("tenant-a", "111") is None
    assert store.executing("tenant-a", "111", T0) == []
    seed = Seed()
    store.ensure_tenant("tenant-a", seed)
    assert seed.calls == 1


def test_ensure_tenant_is_called_once_by_racing_threads(store: Store) -> None:
    seed = Seed()
    barrier = threading.Barrier(16, timeout=WAIT)

    def ensure() -> None:
        try:
            barrier.wait()
            store.ensure_tenant("tenant-a", seed)
        finally:
            store.close()

    with ThreadPoolExecutor(max_workers=16) as pool:
        for future in [pool.submit(ensure) for _ in range(16)]:
            future.result(timeout=WAIT)
    assert seed.calls == 1
    assert store.job_count() == 1


def test_sqlite_reset_in_another_process_is_seen(tmp_path: Path) -> None:
    """Two stores on one file stand for two worker processes, each with its own tenant cache."""
    first, second = SqliteStore(tmp_path / "mock.sqlite"), SqliteStore(tmp_path / "mock.sqlite")
    try:
        seed = Seed()
        first.ensure_tenant("tenant-a", seed)
        second.ensure_tenant("tenant-a", seed)
        assert seed.calls == 1
        second.reset()
        first.ensure_tenant("tenant-a", seed)
        assert seed.calls == 2
        assert [a.channel for a in second.accounts("tenant-a")] == ["111", "333"]
    finally:
        first.close()
        second.close()


def test_seeded_executing_jobs_count_against_max_jobs(store: Store) -> None:
    store.ensure_tenant("tenant-a", lambda: ([make_account("111")], [make_job(ends_at=T0 + 100)]))
    assert store.executing("tenant-a", "111", T0) == ["job-1"]
    rejected = store.admit("tenant-a", candidates("111", limit=1), T0, builder())
    assert rejected == Rejected(1, ["job-1"])


# --- accounts ---------------------------------------------------------------------------------


def test_accounts_put_get_list_delete(store: Store) -> None:
    assert store.accounts("tenant-a") == []
    assert store.account("tenant-a", "111") is None
    store.put_account("tenant-a", make_account("111"))
    store.put_account("tenant-a", make_account("333"))
    store.put_account("tenant-a", make_account("111", max_jobs=7))
    assert store.account("tenant-a", "111") == make_account("111", max_jobs=7)
    assert store.accounts("tenant-a") == [make_account("111", max_jobs=7), make_account("333")]
    assert store.delete_account("tenant-a", "111") is True
    assert store.delete_account("tenant-a", "111") is False
    assert store.accounts("tenant-a") == [make_account("333")]


def test_account_fields_round_trip(store: Store) -> None:
    account = Account.create(discord="x" * 40, server="222", channel="111", max_jobs=2, reply_url="https://ex/é")
    store.put_account("tenant-a", account)
    assert store.account("tenant-a", "111") == account


# --- jobs -------------------------------------------------------------------------------------


def test_job_insert_get_update(store: Store) -> None:
    job = make_job()
    store.insert_job(job)
    assert store.job("tenant-a", "job-1") == job
    assert store.job("tenant-a", "job-2") is None
    assert store.job_count() == 1

    updated = store.update_job("tenant-a", "job-1", lambda j: j.finish(T0 + 2, "cancelled"))
    assert updated is not None
    assert (updated.status_at(T0 + 2), updated.ends_at) == ("cancelled", T0 + 2)
    assert store.job("tenant-a", "job-1") == updated
    assert store.update_job("tenant-a", "missing", lambda j: j.finish(T0, "failed")) is None


def test_jobs_are_copied_in_and_out(store: Store) -> None:
    job = make_job()
    store.insert_job(job)
    job.record["prompt"] = "changed after insert"
    stored = store.job("tenant-a", "job-1")
    assert stored is not None and stored.record["prompt"] == "a cat in a hat 🐱"
    stored.ends_at = 0.0
    updated = store.update_job("tenant-a", "job-1", lambda j: None)
    assert updated is not None and updated.ends_at == T0 + 3
    updated.outcome = "failed"
    assert store.job("tenant-a", "job-1") == make_job()


def test_update_that_raises_changes_nothing(store: Store) -> None:
    store.insert_job(make_job())

    def change(job: Job) -> None:
        job.finish(T0, "failed")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        store.update_job("tenant-a", "job-1", change)
    assert store.job("tenant-a", "job-1") == make_job()
    assert store.update_job("tenant-a", "job-1", lambda j: None) == make_job()


def test_finishing_a_job_frees_its_slot(store: Store) -> None:
    first = store.admit("tenant-a", candidates("111", limit=1), T0, builder())
    assert isinstance(first, Job)
    assert isinstance(store.admit("tenant-a", candidates("111", limit=1), T0 + 1, builder()), Rejected)
    store.update_job("tenant-a", first.jobid, lambda j: j.finish(T0 + 1, "cancelled"))
    assert store.executing("tenant-a", "111", T0 + 1) == []
    assert isinstance(store.admit("tenant-a", candidates("111", limit=1), T0 + 1, builder()), Job)


def test_tenants_are_isolated(store: Store) -> None:
    store.insert_job(make_job("tenant-a", "job-1"))
    store.put_account("tenant-a", make_account("111"))
    store.insert_job(make_job("tenant-b", "job-2"))
    store.put_account("tenant-b", make_account("111", max_jobs=9))
    assert store.job("tenant-b", "job-1") is None
    assert store.executing("tenant-b", "111", T0) == ["job-2"]
    assert store.account("tenant-b", "111") == make_account("111", max_jobs=9)

    store.reset("tenant-a")
    assert store.job("tenant-a", "job-1") is None
    assert store.accounts("tenant-a") == []
    assert store.job("tenant-b", "job-2") == make_job("tenant-b", "job-2")
    assert store.accounts("tenant-b") == [make_account("111", max_jobs=9)]
    assert store.job_count() == 1


def test_reset_all_forgets_every_tenant(store: Store) -> None:
    for tenant in ("tenant-a", "tenant-b"):
        store.insert_job(make_job(tenant))
        store.put_account(tenant, make_account())
    store.reset()
    assert store.job_count() == 0
    assert store.accounts("tenant-a") == store.accounts("tenant-b") == []


# --- admission --------------------------------------------------------------------------------


def test_admit_up_to_the_limit_then_reject(store: Store) -> None:
    admitted = [store.admit("tenant-a", candidates("111"), T0 + i, builder(now=T0 + i)) for i in range(3)]
    assert all(isinstance(job, Job) for job in admitted)
    ids = [job.jobid for job in admitted if isinstance(job, Job)]
    assert [store.job("tenant-a", jobid) for jobid in ids] == admitted

    rejected = store.admit("tenant-a", candidates("111"), T0 + 3, builder())
    assert rejected == Rejected(3, ids)
    assert store.executing("tenant-a", "111", T0 + 3) == ids
    assert store.job_count() == 3


def test_a_job_stops_counting_at_its_end(store: Store) -> None:
    done = store.admit("tenant-a", candidates("111", limit=2), T0, builder(duration=5))
    running = store.admit("tenant-a", candidates("111", limit=2), T0, builder(duration=50))
    assert isinstance(done, Job) and isinstance(running, Job)
    assert store.executing("tenant-a", "111", T0 + 4.999) == [done.jobid, running.jobid]
    assert store.executing("tenant-a", "111", T0 + 5) == [running.jobid]
    late = store.admit("tenant-a", candidates("111", limit=2), T0 + 5, builder(now=T0 + 5))
    assert isinstance(late, Job)
    assert store.job("tenant-a", done.jobid) == done


def test_candidates_are_tried_in_order(store: Store) -> None:
    store.admit("tenant-a", candidates("111", limit=1), T0, builder())
    landed = store.admit("tenant-a", candidates("111", "333", limit=1), T0, builder())
    assert isinstance(landed, Job) and landed.channel == "333"
    first = store.admit("tenant-a", candidates("333", "111", limit=2), T0, builder())
    assert isinstance(first, Job) and first.channel == "333"


def test_rejection_lists_every_candidate_once_with_the_largest_limit(store: Store) -> None:
    one = store.admit("tenant-a", candidates("111", limit=1), T0, builder())
    two = store.admit("tenant-a", candidates("333", limit=1), T0, builder())
    assert isinstance(one, Job) and isinstance(two, Job)
    tried = [Candidate(make_account(channel), 1) for channel in ("111", "333", "111")]
    assert store.admit("tenant-a", tried, T0, builder()) == Rejected(1, [one.jobid, two.jobid])
    assert store.admit("tenant-a", [], T0, builder()) == Rejected(0, [])


def test_sequence_numbers_are_unique_and_increasing(store: Store) -> None:
    seen: list[int] = []

    def build(candidate: Candidate, sequence: int) -> Job:
        seen.append(sequence)
        return builder()(candidate, sequence)

    for i in range(6):
        store.admit("tenant-a", candidates("111", "333", "555", limit=2), T0, build)
        if i == 3:
            store.reset()  # the counter outlives a reset, so job ids never repeat
    assert len(seen) == 6
    assert seen == sorted(set(seen))


def test_a_failing_build_leaves_nothing_behind(store: Store) -> None:
    seen: list[int] = []

    def build(candidate: Candidate, sequence: int) -> Job:
        seen.append(sequence)
        raise ValueError("cannot build")

    with pytest.raises(ValueError, match="cannot build"):
        store.admit("tenant-a", candidates("111"), T0, build)
    assert store.job_count() == 0
    assert store.executing("tenant-a", "111", T0) == []
    job = store.admit("tenant-a", candidates("111"), T0, builder())
    assert isinstance(job, Job) and store.job_count() == 1


def test_64_racing_threads_admit_exactly_the_limit(store: Store) -> None:
    barrier = threading.Barrier(64, timeout=WAIT)

    def submit(_: int) -> Job | Rejected:
        try:
            barrier.wait()
            return store.admit("tenant-a", candidates("111", limit=3), T0, builder())
        finally:
            store.close()

    with ThreadPoolExecutor(max_workers=64) as pool:
        futures = [pool.submit(submit, i) for i in range(64)]
        results = [future.result(timeout=WAIT) for future in futures]
    admitted = [r for r in results if isinstance(r, Job)]
    rejected = [r for r in results if isinstance(r, Rejected)]
    assert (len(admitted), len(rejected)) == (3, 61)
    ids = sorted(job.jobid for job in admitted)
    assert all(sorted(r.executing_jobs) == ids and r.limit == 3 for r in rejected)
    assert sorted(store.executing("tenant-a", "111", T0)) == ids
    assert store.job_count() == 3


# --- clock ------------------------------------------------------------------------------------


def test_clock_get_set_and_reset_keeps_it(store: Store) -> None:
    assert store.get_clock() is None
    store.set_clock(T0)
    store.set_clock(T0 + 12.5)
    assert store.get_clock() == T0 + 12.5
    store.insert_job(make_job())
    store.reset()
    store.reset("tenant-a")
    assert store.get_clock() == T0 + 12.5


def test_clock_never_moves_backwards(store: Store) -> None:
    store.set_clock(T0 + 10)
    store.set_clock(T0)
    assert store.get_clock() == T0 + 10


def test_clock_advances_from_many_threads_all_count(store: Store, tmp_path: Path) -> None:
    store.set_clock(T0)
    others = [store] if isinstance(store, MemoryStore) else [another(store, tmp_path) for _ in range(3)]
    barrier = threading.Barrier(8, timeout=WAIT)

    def advance(index: int) -> None:
        barrier.wait()
        for _ in range(25):
            others[index % len(others)].advance_clock(0.5)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(advance, range(8)))
    assert store.get_clock() == T0 + 8 * 25 * 0.5


# --- callbacks --------------------------------------------------------------------------------

REPLY_URL = "https://hooks.example/pixverse?ref=ü"


def callback_job(
    jobid: str = "job-1",
    tenant: str = "tenant-a",
    progress_at: float = T0 + 1,
    ends_at: float = T0 + 3,
    progress_callback: bool = False,
) -> Job:
    job = make_job(tenant, jobid, progress_at=progress_at, ends_at=ends_at)
    job.record["replyUrl"] = REPLY_URL
    job.progress_callback = progress_callback
    return job


def claims(store: Store, now: float, limit: int = 100) -> list[tuple[str, str]]:
    """``(jobid, stage)`` of what ``claim_callbacks`` hands out at ``now``."""
    return [(job.jobid, stage) for job, stage in store.claim_callbacks(now, limit)]


def test_a_final_callback_is_claimed_once_when_the_job_ends(store: Store) -> None:
    store.insert_job(callback_job())
    assert claims(store, T0) == []
    assert claims(store, T0 + 2.999) == []
    [(job, stage)] = store.claim_callbacks(T0 + 3)
    assert stage == "final"
    assert job.callbacks_claimed == ["final"] and job.record["replyUrl"] == REPLY_URL
    assert store.job("tenant-a", "job-1") == job
    assert claims(store, T0 + 3) == []
    assert claims(store, T0 + 1000) == []


def test_a_callback_due_in_the_past_is_claimed_at_the_next_look(store: Store) -> None:
    store.insert_job(callback_job(ends_at=T0 - 50))
    assert claims(store, T0) == [("job-1", "final")]
    assert claims(store, T0 + 1) == []


def test_progress_callback_then_final(store: Store) -> None:
    store.insert_job(callback_job(progress_callback=True))
    assert claims(store, T0 + 0.5) == []
    assert claims(store, T0 + 1) == [("job-1", "progress")]
    assert claims(store, T0 + 1) == claims(store, T0 + 2.5) == []
    assert claims(store, T0 + 3) == [("job-1", "final")]
    assert claims(store, T0 + 100) == []
    stored = store.job("tenant-a", "job-1")
    assert stored is not None and stored.callbacks_claimed == ["progress", "final"]


def test_only_the_final_callback_when_time_jumps_past_both(store: Store) -> None:
    store.insert_job(callback_job(progress_callback=True))
    assert claims(store, T0 + 10) == [("job-1", "final")]
    assert claims(store, T0 + 20) == []


def test_a_cancelled_job_is_claimed_at_its_new_end_once(store: Store) -> None:
    store.insert_job(callback_job(ends_at=T0 + 10))
    assert claims(store, T0 + 1) == []
    store.update_job("tenant-a", "job-1", lambda job: job.finish(T0 + 2, "cancelled"))
    assert claims(store, T0 + 1.5) == []
    [(job, stage)] = store.claim_callbacks(T0 + 2)
    assert (stage, job.ends_at, job.status_at(job.ends_at)) == ("final", T0 + 2, "cancelled")
    assert claims(store, T0 + 2) == claims(store, T0 + 10) == claims(store, T0 + 100) == []


def test_claiming_respects_the_limit_earliest_first(store: Store) -> None:
    for i in (4, 2, 0, 3, 1):
        store.insert_job(callback_job(f"job-{i}", ends_at=T0 + i))
    assert claims(store, T0 + 10, limit=2) == [("job-0", "final"), ("job-1", "final")]
    assert claims(store, T0 + 10, limit=2) == [("job-2", "final"), ("job-3", "final")]
    assert claims(store, T0 + 10, limit=0) == []
    assert claims(store, T0 + 10, limit=2) == [("job-4", "final")]
    assert claims(store, T0 + 10, limit=2) == []


def test_jobs_without_reply_url_are_never_claimed(store: Store) -> None:
    store.insert_job(make_job())
    store.insert_job(dataclasses.replace(make_job(jobid="job-2"), progress_callback=True))
    admitted = store.admit("tenant-a", candidates("111"), T0, builder())
    assert isinstance(admitted, Job)
    store.update_job("tenant-a", "job-1", lambda job: job.finish(T0 + 1, "cancelled"))
    assert claims(store, T0 + 10_000) == []


def test_admitted_and_seeded_jobs_owe_callbacks_too(store: Store) -> None:
    store.ensure_tenant("tenant-a", lambda: ([make_account()], [callback_job("seeded", ends_at=T0 + 1)]))

    def build(candidate: Candidate, sequence: int) -> Job:
        return callback_job(f"job-{sequence}", ends_at=T0 + 5)

    admitted = store.admit("tenant-a", candidates("111"), T0, build)
    assert isinstance(admitted, Job)
    assert claims(store, T0 + 5) == [("seeded", "final"), (admitted.jobid, "final")]


def test_reset_forgets_owed_callbacks(store: Store) -> None:
    store.insert_job(callback_job("job-a", "tenant-a"))
    store.insert_job(callback_job("job-b", "tenant-b"))
    store.reset("tenant-a")
    assert claims(store, T0 + 10) == [("job-b", "final")]
    store.insert_job(callback_job("job-c", "tenant-c"))
    store.reset()
    assert claims(store, T0 + 10) == []


def leased(store: Store, now: float, wall: float, lease: float = 10.0) -> list[tuple[str, str, int]]:
    """``(jobid, stage, delivery)`` of what ``claim_callbacks`` leases at mock time ``now``, wall clock ``wall``."""
    return [(job.jobid, stage, job.delivery(stage))
            for job, stage in store.claim_callbacks(now, lease=lease, wall=wall)]


def test_an_unsettled_lease_is_handed_out_again_when_it_ends(store: Store) -> None:
    store.insert_job(callback_job())
    assert leased(store, T0 + 3, wall=100.0) == [("job-1", "final", 1)]
    assert leased(store, T0 + 50, wall=109.9) == []
    assert leased(store, T0 + 50, wall=110.0) == [("job-1", "final", 2)]
    assert leased(store, T0 + 50, wall=125.0) == [("job-1", "final", 3)]


def test_a_settled_callback_is_never_handed_out_again(store: Store) -> None:
    store.insert_job(callback_job())
    [(job, stage)] = store.claim_callbacks(T0 + 3, lease=10.0, wall=100.0)
    store.update_job(job.tenant, job.jobid, lambda stored: stored.settle_callback(stage))
    assert leased(store, T0 + 1000, wall=10_000.0) == []
    stored = store.job("tenant-a", "job-1")
    assert stored is not None and stored.callback_leases == {} and stored.callbacks_claimed == ["final"]


@pytest.mark.parametrize("sent", [False, True])
def test_a_released_callback_is_handed_out_at_once(store: Store, sent: bool) -> None:
    store.insert_job(callback_job())
    assert leased(store, T0 + 3, wall=100.0) == [("job-1", "final", 1)]
    store.update_job("tenant-a", "job-1", lambda stored: stored.release_callback("final", sent))
    assert leased(store, T0 + 3, wall=100.5) == [("job-1", "final", 2 if sent else 1)]


def test_a_progress_lease_runs_beside_the_final_callback(store: Store) -> None:
    store.insert_job(callback_job(progress_callback=True))
    assert leased(store, T0 + 1, wall=100.0) == [("job-1", "progress", 1)]
    assert leased(store, T0 + 3, wall=101.0) == [("job-1", "final", 1)]
    assert sorted(leased(store, T0 + 3, wall=111.0)) == [("job-1", "final", 2), ("job-1", "progress", 2)]


def test_16_racing_threads_claim_each_callback_exactly_once(store: Store) -> None:
    for i in range(60):
        store.insert_job(callback_job(f"job-{i}", ends_at=T0 + i % 5, progress_callback=i % 2 == 0))
    barrier = threading.Barrier(16, timeout=WAIT)

    def claim_all() -> list[tuple[str, str]]:
        try:
            mine: list[tuple[str, str]] = []
            for now in (T0 + 1, T0 + 10):  # every thread is done with one moment before the next
                barrier.wait()
                while batch := claims(store, now, limit=3):
                    mine.extend(batch)
            return mine
        finally:
            store.close()

    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = [pool.submit(claim_all) for _ in range(16)]
        claimed = [pair for future in futures for pair in future.result(timeout=WAIT)]
    assert len(claimed) == len(set(claimed)), "a callback was handed out twice"
    # a progress callback only where progress comes before the end (ends_at > T0 + 1)
    progress = {(f"job-{i}", "progress") for i in range(0, 60, 2) if i % 5 >= 2}
    assert set(claimed) == progress | {(f"job-{i}", "final") for i in range(60)}
    assert len(claimed) == 18 + 60
    assert claims(store, T0 + 100) == []


# --- SQLite only: persistence, processes, query plan ------------------------------------------


def test_sqlite_state_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "mock.sqlite"
    store = SqliteStore(path)
    store.ensure_tenant("tenant-a", Seed())
    first = store.admit("tenant-a", candidates("111"), T0, builder())
    store.set_clock(T0 + 1)
    store.close()

    reopened = SqliteStore(path)
    try:
        seed = Seed()
        reopened.ensure_tenant("tenant-a", seed)
        assert seed.calls == 0
        assert isinstance(first, Job) and reopened.job("tenant-a", first.jobid) == first
        assert reopened.get_clock() == T0 + 1
        second = reopened.admit("tenant-a", candidates("111"), T0, builder())
        assert isinstance(second, Job) and second.jobid > first.jobid
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        finally:
            conn.close()
    finally:
        reopened.close()


def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "mock.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(sqlite3.OperationalError, match="newer"):
        SqliteStore(path)


def test_sqlite_admission_query_searches_the_index(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "mock.sqlite")
    try:
        for i in range(200):
            store.insert_job(make_job("tenant-a", f"old-{i}", str(i % 7), ends_at=T0 - i))
    finally:
        store.close()
    conn = sqlite3.connect(tmp_path / "mock.sqlite")
    try:
        plan = [row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {EXECUTING_SQL}", ("tenant-a", "1", T0))]
    finally:
        conn.close()
    search = "SEARCH jobs USING INDEX jobs_executing (tenant=? AND channel=? AND ends_at>?)"
    assert search in plan, plan
    assert not any(p.startswith("SCAN") for p in plan), plan


def _admit_in_child(path: str, store: SqliteStore | None, rounds: int, barrier: Any, results: Any) -> None:
    """Child process: wait for every sibling, then admit ``rounds`` times and report the outcome."""
    try:
        own = store if store is not None else SqliteStore(path)
        barrier.wait(timeout=WAIT)
        outcomes = []
        for _ in range(rounds):
            admitted = own.admit("tenant-a", candidates("111", limit=3), T0, builder())
            outcomes.append(admitted.jobid if isinstance(admitted, Job) else None)
        own.close()
        results.put(("ok", outcomes))
    except BaseException as error:  # reported to the parent, which fails the test with it
        results.put(("error", repr(error)))


@pytest.mark.parametrize("inherited", [False, True], ids=["own-store", "store-inherited-over-fork"])
def test_sqlite_processes_admit_exactly_the_limit(tmp_path: Path, inherited: bool) -> None:
    path = tmp_path / "mock.sqlite"
    parent = SqliteStore(path)  # created (and connected) before the fork, like gunicorn --preload
    shared = parent if inherited else None
    reports = run_forked(_admit_in_child, (str(path), shared, 8), 8, WAIT)
    assert [kind for kind, _ in reports] == ["ok"] * 8, reports
    admitted = [jobid for _, outcomes in reports for jobid in outcomes if jobid is not None]
    assert len(admitted) == 3 and len(set(admitted)) == 3
    try:
        assert sorted(parent.executing("tenant-a", "111", T0)) == sorted(admitted)
        assert parent.job_count() == 3
    finally:
        parent.close()


def _report_connection(store: SqliteStore, inherited: sqlite3.Connection, pipe: Any) -> None:
    pipe.send(store._connection() is not inherited and store.get_clock() == T0)


def test_sqlite_never_uses_a_connection_across_a_fork(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "mock.sqlite")
    store.set_clock(T0)
    ctx = multiprocessing.get_context("fork")
    ours, theirs = ctx.Pipe()
    child = ctx.Process(target=_report_connection, args=(store, store._connection(), theirs))
    try:
        child.start()
        assert ours.poll(WAIT) and ours.recv() is True
    finally:
        child.join(timeout=WAIT)
        ours.close()
        theirs.close()
        store.close()
    assert child.exitcode == 0


def _admit_then_exit(path: str) -> None:
    store = SqliteStore(path)
    store.admit("tenant-a", candidates("111"), T0, builder())
    os._exit(0)


def _admit_then_block(path: str, pipe: Any) -> None:
    store = SqliteStore(path)
    job = store.admit("tenant-a", candidates("111"), T0, builder())
    pipe.send(job.jobid if isinstance(job, Job) else None)
    pipe.recv()  # blocks until the parent kills this process


@pytest.mark.parametrize("ending", ["os._exit", "SIGKILL"])
def test_sqlite_admitted_job_survives_the_process_dying(tmp_path: Path, ending: str) -> None:
    path = tmp_path / "mock.sqlite"
    ctx = multiprocessing.get_context("fork")
    if ending == "os._exit":
        child = ctx.Process(target=_admit_then_exit, args=(str(path),))
        child.start()
        child.join(timeout=WAIT)
        expected_code = 0
    else:
        ours, theirs = ctx.Pipe()
        child = ctx.Process(target=_admit_then_block, args=(str(path), theirs))
        child.start()
        try:
            assert ours.poll(WAIT), "the child did not admit in time"
            assert ours.recv() == "job-1"
        finally:
            assert child.pid is not None
            os.kill(child.pid, signal.SIGKILL)
            child.join(timeout=WAIT)
            ours.close()
            theirs.close()
        expected_code = -signal.SIGKILL
    assert child.exitcode == expected_code

    reopened = SqliteStore(path)
    try:
        job = reopened.job("tenant-a", "job-1")
        assert job == make_job("tenant-a", "job-1", "111", T0, T0 + 1, T0 + 10)
        assert reopened.executing("tenant-a", "111", T0) == ["job-1"]
    finally:
        reopened.close()


def test_sqlite_callbacks_may_write_to_the_store(tmp_path: Path) -> None:
    """A write from inside ``build`` joins the admission's transaction, as MemoryStore's RLock allows."""
    store = SqliteStore(tmp_path / "mock.sqlite")
    try:
        def build(candidate: Candidate, sequence: int) -> Job:
            store.put_account("tenant-a", dataclasses.replace(candidate.account, max_jobs=1))
            return builder()(candidate, sequence)

        assert isinstance(store.admit("tenant-a", candidates("111"), T0, build), Job)
        assert store.account("tenant-a", "111") == make_account("111", max_jobs=1)

        def failing(candidate: Candidate, sequence: int) -> Job:
            store.put_account("tenant-a", make_account("555"))
            raise ValueError("late failure")

        with pytest.raises(ValueError, match="late failure"):
            store.admit("tenant-a", candidates("111"), T0, failing)
        assert store.account("tenant-a", "555") is None
    finally:
        store.close()


# --- SQLite only: callbacks -------------------------------------------------------------------

_VERSION_1 = (
    "CREATE TABLE tenants (tenant TEXT PRIMARY KEY)",
    "CREATE TABLE accounts (tenant TEXT NOT NULL, channel TEXT NOT NULL, data TEXT NOT NULL,"
    " PRIMARY KEY (tenant, channel))",
    "CREATE TABLE jobs (tenant TEXT NOT NULL, jobid TEXT NOT NULL, channel TEXT NOT NULL,"
    " ends_at REAL NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (tenant, jobid))",
    "CREATE INDEX jobs_executing ON jobs (tenant, channel, ends_at)",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value)",
    "INSERT INTO meta (key, value) VALUES ('sequence', 7), ('generation', 0)",
    "PRAGMA user_version = 1",
)


def test_sqlite_migrates_a_version_1_file(tmp_path: Path) -> None:
    path = tmp_path / "mock.sqlite"
    old = make_job(ends_at=T0 + 100)
    old_data = {k: v for k, v in old.to_dict().items() if k not in ("progress_callback", "callbacks_claimed")}
    conn = sqlite3.connect(path)
    try:
        for statement in _VERSION_1:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO jobs (tenant, jobid, channel, ends_at, seq, data) VALUES (?, ?, ?, ?, ?, ?)",
            ("tenant-a", old.jobid, old.channel, old.ends_at, 7, json.dumps(old_data)),
        )
        conn.commit()
    finally:
        conn.close()

    store = SqliteStore(path)
    try:
        assert store.job("tenant-a", old.jobid) == old
        assert store.executing("tenant-a", "111", T0) == [old.jobid]
        store.insert_job(callback_job("job-new", ends_at=T0 + 1))
        assert claims(store, T0 + 1000) == [("job-new", "final")]
        admitted = store.admit("tenant-a", candidates("111"), T0, builder())
        assert isinstance(admitted, Job) and admitted.jobid == "job-8"
    finally:
        store.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        rows = conn.execute("SELECT jobid, callback_at FROM jobs ORDER BY jobid").fetchall()
        assert rows == [("job-1", None), ("job-8", None), ("job-new", None)]
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(jobs)")}
        assert {"jobs_executing", "jobs_callbacks"} <= indexes
    finally:
        conn.close()


def test_sqlite_callback_at_follows_the_job(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "mock.sqlite")
    try:
        store.insert_job(callback_job(progress_callback=True))
        store.insert_job(make_job(jobid="quiet"))

        def column() -> dict[str, float | None]:
            return dict(store._connection().execute("SELECT jobid, callback_at FROM jobs").fetchall())

        assert column() == {"job-1": T0 + 1, "quiet": None}
        store.claim_callbacks(T0 + 1)
        assert column() == {"job-1": T0 + 3, "quiet": None}
        store.update_job("tenant-a", "job-1", lambda job: job.finish(T0 + 2, "cancelled"))
        assert column() == {"job-1": T0 + 2, "quiet": None}
        store.claim_callbacks(T0 + 2)
        assert column() == {"job-1": None, "quiet": None}
    finally:
        store.close()


def test_sqlite_callback_query_searches_the_partial_index(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "mock.sqlite")
    try:
        for i in range(200):
            job = callback_job(f"job-{i}", ends_at=T0 + i) if i % 10 == 0 else make_job(jobid=f"job-{i}")
            store.insert_job(job)
    finally:
        store.close()
    conn = sqlite3.connect(tmp_path / "mock.sqlite")
    try:
        plan = [row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {DUE_CALLBACKS_SQL}", (T0, 100))]
    finally:
        conn.close()
    assert any(p.startswith("SEARCH jobs USING INDEX jobs_callbacks (") for p in plan), plan
    assert not any(p.startswith("SCAN") or "TEMP B-TREE" in p for p in plan), plan


def _claim_in_child(path: str, store: SqliteStore | None, barrier: Any, results: Any) -> None:
    """Child process: wait for every sibling, then claim small batches until nothing is due."""
    try:
        own = store if store is not None else SqliteStore(path)
        barrier.wait(timeout=WAIT)
        mine: list[tuple[str, str]] = []
        while batch := claims(own, T0 + 100, limit=3):
            mine.extend(batch)
        own.close()
        results.put(("ok", mine))
    except BaseException as error:  # reported to the parent, which fails the test with it
        results.put(("error", repr(error)))


@pytest.mark.parametrize("inherited", [False, True], ids=["own-store", "store-inherited-over-fork"])
def test_sqlite_processes_claim_each_callback_exactly_once(tmp_path: Path, inherited: bool) -> None:
    path = tmp_path / "mock.sqlite"
    parent = SqliteStore(path)
    for i in range(50):
        parent.insert_job(callback_job(f"job-{i}", tenant=f"tenant-{i % 3}", ends_at=T0 + i))
    shared = parent if inherited else None
    reports = run_forked(_claim_in_child, (str(path), shared), 4, WAIT)
    assert [kind for kind, _ in reports] == ["ok"] * 4, reports
    claimed = [pair for _, mine in reports for pair in mine]
    jobids = [jobid for jobid, _ in claimed]
    assert len(claimed) == 50 and len(set(jobids)) == 50
    assert {stage for _, stage in claimed} == {"final"}
    try:
        assert claims(parent, T0 + 1000) == []
    finally:
        parent.close()


def test_sqlite_claiming_nothing_takes_no_write_lock(tmp_path: Path) -> None:
    """The schedulers of every worker poll several times a second; they must not queue on writers."""
    path = tmp_path / "mock.sqlite"
    store = SqliteStore(path)
    store.insert_job(callback_job(ends_at=T0 + 5))
    writer = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        writer.execute("BEGIN IMMEDIATE")  # another process is writing
        store._connection().execute("PRAGMA busy_timeout = 0")  # a lock wait fails at once
        assert claims(store, T0 + 4) == []
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            store.claim_callbacks(T0 + 5)
        writer.execute("ROLLBACK")
        assert claims(store, T0 + 5) == [("job-1", "final")]
    finally:
        writer.close()
        store.close()


# --- retention ----------------------------------------------------------------------------------

DAY = 86_400.0


def jobids(store: Store, tenant: str, candidates_: list[str]) -> list[str]:
    return [jobid for jobid in candidates_ if store.job(tenant, jobid) is not None]


def test_evict_forgets_jobs_that_ended_longer_ago_than_the_age(store: Store) -> None:
    for i in range(4):
        store.insert_job(make_job(jobid=f"job-{i}", created=T0 + i * DAY, progress_at=T0 + i * DAY + 1,
                                  ends_at=T0 + i * DAY + 2))
    assert store.evict(T0 + 3 * DAY, max_age=1.5 * DAY, keep=100) == 2
    assert jobids(store, "tenant-a", [f"job-{i}" for i in range(4)]) == ["job-2", "job-3"]
    assert store.evict(T0 + 3 * DAY, max_age=1.5 * DAY, keep=100) == 0


def test_evict_keeps_the_newest_per_tenant_oldest_first(store: Store) -> None:
    for tenant in ("tenant-a", "tenant-b"):
        for i in range(5):
            store.insert_job(make_job(tenant, f"job-{i}"))
    assert store.evict(T0 + 10, max_age=31 * DAY, keep=2) == 6
    for tenant in ("tenant-a", "tenant-b"):
        assert jobids(store, tenant, [f"job-{i}" for i in range(5)]) == ["job-3", "job-4"]
    assert store.job_count() == 4


def test_evict_spares_executing_jobs_and_owed_callbacks(store: Store) -> None:
    store.insert_job(callback_job("leased", ends_at=T0 + 3))
    assert leased(store, T0 + 3, wall=100.0) == [("leased", "final", 1)]
    store.insert_job(make_job(jobid="done"))
    store.insert_job(callback_job("owes", ends_at=T0 + 3))
    store.insert_job(make_job(jobid="running", ends_at=T0 + 100 * DAY))
    store.insert_job(make_job(jobid="new"))
    assert store.evict(T0 + 40 * DAY, max_age=31 * DAY, keep=1) == 2
    assert jobids(store, "tenant-a", ["leased", "done", "owes", "running", "new"]) == ["leased", "owes", "running"]


def test_an_evicted_executing_slot_is_free(store: Store) -> None:
    store.admit("tenant-a", candidates("111", limit=1), T0, builder(duration=5))
    assert store.evict(T0 + 10, max_age=1.0, keep=100) == 1
    assert store.executing("tenant-a", "111", T0 + 10) == []
    assert isinstance(store.admit("tenant-a", candidates("111", limit=1), T0 + 10, builder(now=T0 + 10)), Job)


def test_evict_never_forgets_a_seed_job(store: Store) -> None:
    seed = make_job(jobid="fixture")
    seed.extra["seed"] = True
    store.insert_job(seed)
    store.insert_job(make_job(jobid="made"))
    assert store.evict(T0 + 400 * DAY, max_age=31 * DAY, keep=1) == 1
    assert jobids(store, "tenant-a", ["fixture", "made"]) == ["fixture"]


def test_a_release_pauses_per_slice_of_items_not_per_nested_container(monkeypatch):
    """Freeing 1,000 jobs with two nested dicts each pauses once per SLICE items, nested ones included."""
    from mock_server.store import release

    class Held:
        def __init__(self) -> None:
            self.record = {"a": 1, "b": 2}
            self.extra = {"c": 3}

    pauses: list[float] = []
    monkeypatch.setattr(release, "time", SimpleNamespace(sleep=pauses.append))
    state = {index: Held() for index in range(1000)}
    release._release((state,), deep=True)
    items = 1000 * (1 + 2 + 1)  # each job, its record's two keys, its extra's one
    assert not state
    assert pauses == [release.PAUSE] * -(-items // release.SLICE)
