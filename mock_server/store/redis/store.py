r"""Jobs, accounts, tenants, callback claims and the clock in Redis, shared by every instance.

Keys (``P`` is the prefix; ``T`` a tenant):

- ``P:tenants`` (set); ``P:t:T:accounts`` (hash channel -> JSON) and ``P:t:T:account-order`` (zset);
- ``P:t:T:job:ID`` (the job as JSON); ``P:t:T:jobs`` (zset ID -> row number: submit order);
- ``P:t:T:exec:CHANNEL`` (zset ID -> row number): jobs that may still be executing, pruned by
  admission; ``P:t:T:reserved:CHANNEL`` (zset sequence -> wall-clock expiry): admissions under way;
- ``P:callbacks`` (zset ``T\\nID`` -> mock time the next callback is due) and ``P:leases`` (zset
  ``T\\nID`` -> wall-clock end of the earliest lease): the two callback indexes;
- ``P:seq`` (job sequence), ``P:rows`` (row numbers), ``P:clock`` (the manual clock's reading).

Admission is a Lua script (atomic in Redis): count the executing jobs and live reservations of each
candidate, and reserve a slot on the first with room; the job is then built in Python and written
with its reservation released in one ``MULTI``. A job is changed under ``WATCH`` of its key, so two
instances never both claim its callback: the index scripts only pick candidates.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import redis

from mock_server.accounts import Account
from mock_server.jobs import Job
from mock_server.store.base import DEFAULT_LEASE
from mock_server.store.base import Candidate
from mock_server.store.base import JobBuilder
from mock_server.store.base import Rejected
from mock_server.store.documents import account_document
from mock_server.store.documents import account_of
from mock_server.store.documents import dumps
from mock_server.store.documents import job_of
from mock_server.store.redis.connection import answers_503

RESERVATION_SECONDS = 30.0
"""Wall-clock seconds a reserved slot counts if its instance dies before writing the job."""

_RESERVE = """
local prefix, tenant, now, wall = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local busy, seen, pending = {}, {}, 0
for i = 5, #ARGV - 1, 2 do
  local channel, limit = ARGV[i], tonumber(ARGV[i + 1])
  local base = prefix .. ':t:' .. tenant
  local exec, reserved = base .. ':exec:' .. channel, base .. ':reserved:' .. channel
  local running = {}
  for _, jobid in ipairs(redis.call('ZRANGE', exec, 0, -1)) do
    local data = redis.call('GET', base .. ':job:' .. jobid)
    if data and cjson.decode(data)['ends_at'] > now then
      running[#running + 1] = jobid
    else
      redis.call('ZREM', exec, jobid)
    end
  end
  redis.call('ZREMRANGEBYSCORE', reserved, '-inf', wall)
  local reservations = redis.call('ZCARD', reserved)
  pending = pending + reservations
  if #running + reservations < limit then
    local sequence = redis.call('INCR', prefix .. ':seq')
    redis.call('ZADD', reserved, wall + tonumber(ARGV[#ARGV]), sequence)
    return {(i - 3) / 2, sequence}
  end
  for _, jobid in ipairs(running) do
    if not seen[jobid] then seen[jobid] = true; busy[#busy + 1] = jobid end
  end
end
return {0, busy, pending}
"""
"""ARGV: prefix, tenant, now, wall, the channel and limit of each candidate, the reservation's
seconds. Returns ``{index, sequence}`` of the candidate reserved (1-based), or ``{0, executing ids,
live reservations}``."""

_PICK_CALLBACKS = """
local prefix, now, wall, limit, hold = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local leases, callbacks = prefix .. ':leases', prefix .. ':callbacks'
local picked = redis.call('ZRANGEBYSCORE', leases, '-inf', wall, 'LIMIT', 0, limit)
if #picked < limit then
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', callbacks, '-inf', now, 'LIMIT', 0, limit - #picked)) do
    picked[#picked + 1] = member
  end
end
for _, member in ipairs(picked) do
  redis.call('ZREM', callbacks, member)
  redis.call('ZADD', leases, tonumber(wall) + hold, member)
end
return picked
"""
"""Candidates for a claim: expired leases, then due callbacks, each moved under a short lease of
its own (``hold``), so an instance dying between this and the job's write loses nothing."""

_SET_CLOCK = """
local current = redis.call('GET', KEYS[1])
if not current or tonumber(current) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
"""


@answers_503
class RedisStore:
    """A :class:`~mock_server.store.base.Store` in Redis; any number of instances may share it."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._reserve = client.register_script(_RESERVE)
        self._pick_callbacks = client.register_script(_PICK_CALLBACKS)
        self._set_clock = client.register_script(_SET_CLOCK)
        self._seeding = threading.Lock()

    # --- keys --------------------------------------------------------------------------------

    def _key(self, tenant: str, *parts: str) -> str:
        return ":".join((self.prefix, "t", tenant, *parts))

    def _job_key(self, tenant: str, jobid: str) -> str:
        return self._key(tenant, "job", jobid)

    def _global(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    # --- tenants -----------------------------------------------------------------------------

    def ensure_tenant(self, tenant: str, seed: Callable[[], tuple[list[Account], list[Job]]]) -> None:
        """Seed the tenant once, with its accounts and jobs in the ``MULTI`` that adds it.

        The tenant set is watched, so of two instances seeding at once one writes and the other
        finds the tenant there; threads of one process wait for each other (``seed`` runs once).
        """
        tenants = self._global("tenants")
        if self.client.sismember(tenants, tenant):
            return
        with self._seeding, self.client.pipeline() as pipe:
            seeded: tuple[list[Account], list[Job]] | None = None
            while True:
                try:
                    pipe.watch(tenants)
                    if pipe.sismember(tenants, tenant):
                        return
                    seeded = seeded or seed()
                    pipe.multi()
                    for account in seeded[0]:
                        self._put_account(pipe, tenant, account)
                    for job in seeded[1]:
                        self._put_job(pipe, job)
                    pipe.sadd(tenants, tenant)
                    pipe.execute()
                    return
                except redis.WatchError:
                    continue

    def reset(self, tenant: str | None = None) -> None:
        """Delete the tenant's keys (or every tenant's) and their callback index entries."""
        pattern = self._key(_glob_escape(tenant) if tenant is not None else "*", "*")
        keys = list(self.client.scan_iter(match=pattern, count=1000))
        with self.client.pipeline() as pipe:
            for start in range(0, len(keys), 1000):
                pipe.delete(*keys[start:start + 1000])
            if tenant is None:
                pipe.delete(self._global("tenants"), self._global("callbacks"), self._global("leases"))
            else:
                pipe.srem(self._global("tenants"), tenant)
                for index in ("callbacks", "leases"):
                    members = [m for m in self.client.zrange(self._global(index), 0, -1)
                               if m.startswith(f"{tenant}\n")]
                    if members:
                        pipe.zrem(self._global(index), *members)
            pipe.execute()

    # --- accounts ----------------------------------------------------------------------------

    def accounts(self, tenant: str) -> list[Account]:
        order = self.client.zrange(self._key(tenant, "account-order"), 0, -1)
        if not order:
            return []
        data = self.client.hmget(self._key(tenant, "accounts"), order)
        return [account_of(item) for item in data if item is not None]

    def account(self, tenant: str, channel: str) -> Account | None:
        data = self.client.hget(self._key(tenant, "accounts"), channel)
        return account_of(data) if data is not None else None

    def put_account(self, tenant: str, account: Account) -> None:
        with self.client.pipeline() as pipe:
            self._put_account(pipe, tenant, account)
            pipe.execute()

    def _put_account(self, pipe: Any, tenant: str, account: Account) -> None:
        row = self.client.incr(self._global("rows"))
        pipe.sadd(self._global("tenants"), tenant)
        pipe.hset(self._key(tenant, "accounts"), account.channel, account_document(account))
        pipe.zadd(self._key(tenant, "account-order"), {account.channel: row}, nx=True)

    def delete_account(self, tenant: str, channel: str) -> bool:
        with self.client.pipeline() as pipe:
            pipe.hdel(self._key(tenant, "accounts"), channel)
            pipe.zrem(self._key(tenant, "account-order"), channel)
            deleted, _ = pipe.execute()
        return bool(deleted)

    # --- jobs --------------------------------------------------------------------------------

    def job(self, tenant: str, jobid: str) -> Job | None:
        data = self.client.get(self._job_key(tenant, jobid))
        return job_of(data) if data is not None else None

    def insert_job(self, job: Job) -> None:
        with self.client.pipeline() as pipe:
            self._put_job(pipe, job)
            pipe.execute()

    def _put_job(self, pipe: Any, job: Job) -> None:
        """Queue the writes of a new (or replaced) job: its document, its row number and its indexes.

        Row numbers follow the order jobs are stored in, as the sequence of admitted ones does.
        """
        row = self.client.incr(self._global("rows"))
        pipe.sadd(self._global("tenants"), job.tenant)
        pipe.zadd(self._key(job.tenant, "jobs"), {job.jobid: row}, nx=True)
        pipe.zadd(self._key(job.tenant, "exec", job.channel), {job.jobid: row}, nx=True)
        self._write(pipe, job)

    def _write(self, pipe: Any, job: Job) -> None:
        """Queue the job's document and its two callback index entries."""
        member = f"{job.tenant}\n{job.jobid}"
        pipe.set(self._job_key(job.tenant, job.jobid), dumps(job.to_dict()))
        for index, score in (("callbacks", job.callback_due_at()), ("leases", job.lease_until())):
            if score is None:
                pipe.zrem(self._global(index), member)
            else:
                pipe.zadd(self._global(index), {member: score})

    def update_job(self, tenant: str, jobid: str, change: Callable[[Job], None]) -> Job | None:
        """Read, ``change`` and write back under ``WATCH`` of the job's key; retried when it moved."""
        key = self._job_key(tenant, jobid)
        with self.client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    data = pipe.get(key)
                    if data is None:
                        return None
                    job = job_of(data)
                    change(job)
                    pipe.multi()
                    self._write(pipe, job)
                    pipe.execute()
                    return job
                except redis.WatchError:
                    continue

    def admit(self, tenant: str, candidates: Sequence[Candidate], now: float, build: JobBuilder) -> Job | Rejected:
        """Reserve a slot atomically (Lua), build the job, then write it and free the reservation.

        If ``build`` raises, the reservation is released and nothing else is kept (a sequence
        number may be skipped).
        """
        channels: list[Any] = []
        for candidate in candidates:
            channels += [candidate.account.channel, candidate.limit]
        deadline, pause = time.monotonic() + 5.0, 0.002
        while True:
            index, result, *pending = self._reserve(
                args=[self.prefix, tenant, repr(now), repr(time.time()), *channels, RESERVATION_SECONDS])
            # A refusal while others hold reservations looks again in a moment: their jobs are about
            # to exist, and the answer lists the executing jobs in full.
            if index or not pending[0] or time.monotonic() > deadline:
                break
            time.sleep(pause)
            pause = min(2 * pause, 0.02)
        if not index:
            return Rejected(max((c.limit for c in candidates), default=0), list(result))
        candidate = candidates[int(index) - 1]
        reserved = self._key(tenant, "reserved", candidate.account.channel)
        try:
            job = build(candidate, int(result))
        except BaseException:
            self.client.zrem(reserved, result)
            raise
        with self.client.pipeline() as pipe:
            self._put_job(pipe, job)
            pipe.zrem(reserved, result)
            pipe.execute()
        return job

    def executing(self, tenant: str, channel: str, now: float) -> list[str]:
        jobids = self.client.zrange(self._key(tenant, "exec", channel), 0, -1)
        if not jobids:
            return []
        documents = self.client.mget([self._job_key(tenant, jobid) for jobid in jobids])
        return [jobid for jobid, data in zip(jobids, documents, strict=True)
                if data is not None and json.loads(data)["ends_at"] > now]

    # --- callbacks ---------------------------------------------------------------------------

    def claim_callbacks(self, now: float, limit: int = 100, *, lease: float = DEFAULT_LEASE,
                        wall: float | None = None) -> list[tuple[Job, str]]:
        """Pick candidates (Lua), then lease each job's callbacks under ``WATCH`` of its key."""
        wall = time.time() if wall is None else wall
        if limit <= 0:
            return []
        picked = self._pick_callbacks(args=[self.prefix, repr(now), repr(wall), limit, lease])
        claimed: list[tuple[Job, str]] = []
        for member in picked:
            tenant, jobid = member.split("\n", 1)
            stages: list[str] = []

            def take(job: Job, stages: list[str] = stages) -> None:
                stages[:] = job.take_callbacks(now, wall, lease)

            job = self.update_job(tenant, jobid, take)
            if job is None:
                self.client.zrem(self._global("leases"), member)
            else:
                claimed.extend((job, stage) for stage in stages)
        return claimed

    # --- retention ---------------------------------------------------------------------------

    def evict(self, now: float, max_age: float, keep: int) -> int:
        """Per tenant, walk the oldest jobs (in pages) only as far as there is work."""
        evicted = 0
        old = now - max_age
        for tenant in self.client.smembers(self._global("tenants")):
            order = self._key(tenant, "jobs")
            excess = self.client.zcard(order) - keep
            start, doomed, channels = 0, [], {}
            while True:
                page = self.client.zrange(order, start, start + 99)
                if not page:
                    break
                documents = self.client.mget([self._job_key(tenant, jobid) for jobid in page])
                done = False
                for jobid, data in zip(page, documents, strict=True):
                    if data is None:
                        doomed.append(jobid)
                        continue
                    job = job_of(data)
                    if excess <= len(doomed) and job.created >= old:
                        done = True
                        break
                    if (excess > len(doomed) or job.ends_at < old) and job.evictable(now):
                        doomed.append(jobid)
                        channels[jobid] = job.channel
                if done:
                    break
                start += 100
            if doomed:
                with self.client.pipeline() as pipe:
                    pipe.delete(*(self._job_key(tenant, jobid) for jobid in doomed))
                    pipe.zrem(order, *doomed)
                    for jobid, channel in channels.items():
                        pipe.zrem(self._key(tenant, "exec", channel), jobid)
                    pipe.execute()
                evicted += len(doomed)
        return evicted

    def job_count(self) -> int:
        tenants = self.client.smembers(self._global("tenants"))
        with self.client.pipeline(transaction=False) as pipe:
            for tenant in tenants:
                pipe.zcard(self._key(tenant, "jobs"))
            return sum(pipe.execute())

    # --- clock and lifecycle -----------------------------------------------------------------

    def get_clock(self) -> float | None:
        value = self.client.get(self._global("clock"))
        return None if value is None else float(value)

    def set_clock(self, value: float) -> None:
        self._set_clock(keys=[self._global("clock")], args=[repr(float(value))])

    def advance_clock(self, seconds: float) -> float:
        return float(self.client.incrbyfloat(self._global("clock"), float(seconds)))

    def close(self) -> None:
        """Nothing per thread: the pool's connections close with the process."""


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)
