"""The control plane's state in Redis: journals, the fault queue and runtime settings.

- ``P:journal:KIND`` (zset seq -> ``"seq|JSON"``) and ``P:journal:KIND:seq``: an append is one Lua
  call (number, add, trim to ``journal_limit``), so journals stay bounded and numbers never repeat.
- ``P:faults`` (hash id -> rule JSON; ids from ``P:faults:ids`` give the queue's order); a rule is
  taken under ``WATCH``, so each use is consumed once across instances.
- ``P:settings`` (JSON) and ``P:settings:version``.

There is no notification across instances: :meth:`RedisControlState.wait` polls.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import redis

from mock_server.faults import Fault
from mock_server.faults import FaultRule
from mock_server.faults import choose_fault
from mock_server.request_entry import rendered
from mock_server.store.base import DEFAULT_JOURNAL_LIMIT
from mock_server.store.base import JOURNAL_KINDS
from mock_server.store.base import Entry
from mock_server.store.base import EntryFilter
from mock_server.store.base import poll_for_entry
from mock_server.store.documents import dumps
from mock_server.store.documents import rule_document
from mock_server.store.documents import rule_of
from mock_server.store.redis.connection import answers_503

POLL_INTERVAL = 0.02
"""Seconds between two looks at the journal while :meth:`RedisControlState.wait` waits."""

_APPEND = """
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], seq, seq .. '|' .. ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', seq - tonumber(ARGV[2]))
return seq
"""


@answers_503
class RedisControlState:
    """A :class:`~mock_server.store.base.ControlState` shared by every instance on one Redis and prefix."""

    def __init__(self, client: redis.Redis, prefix: str, journal_limit: int = DEFAULT_JOURNAL_LIMIT) -> None:
        self.client = client
        self.prefix = prefix
        self.journal_limit = max(0, int(journal_limit))
        self._append = client.register_script(_APPEND)

    def _journal(self, kind: str) -> str:
        if kind not in JOURNAL_KINDS:
            raise KeyError(f"unknown journal {kind!r}; one of: {', '.join(JOURNAL_KINDS)}")
        return f"{self.prefix}:journal:{kind}"

    # --- journals ----------------------------------------------------------------------------

    def append(self, kind: str, entry: Entry) -> int:
        key = self._journal(kind)
        entry = rendered(entry)
        entry.pop("seq", None)
        seq = int(self._append(keys=[key, f"{key}:seq"], args=[dumps(entry), self.journal_limit]))
        entry["seq"] = seq
        return seq

    def entries(self, kind: str, since: int = 0, accept: EntryFilter | None = None,
                limit: int | None = None) -> list[Entry]:
        if limit is not None and limit <= 0:
            return []
        found: list[Entry] = []
        for member in self.client.zrangebyscore(self._journal(kind), f"({since}", "+inf"):
            entry = _entry(member)
            if accept is None or accept(entry):
                found.append(entry)
                if limit is not None and len(found) >= limit:
                    break
        return found

    def wait(self, kind: str, since: int, accept: EntryFilter | None, timeout: float) -> Entry | None:
        return poll_for_entry(lambda since: (self.entries(kind, since, accept, 1), since), since, timeout,
                              POLL_INTERVAL)

    # --- faults ------------------------------------------------------------------------------

    def add_fault(self, rule: FaultRule) -> FaultRule:
        rule = replace(rule, id=int(self.client.incr(f"{self.prefix}:faults:ids")))
        self.client.hset(f"{self.prefix}:faults", str(rule.id), rule_document(rule))
        return rule

    def take_fault(self, endpoint: str, tenant: str | None, draw: Callable[[], float]) -> Fault | None:
        """One read when no rule applies; otherwise the walk and its write under ``WATCH``."""
        key = f"{self.prefix}:faults"
        if not any(rule.applies_to(endpoint, tenant) for rule in self._rules(self.client.hgetall(key))):
            return None
        with self.client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    rule = choose_fault(self._rules(pipe.hgetall(key)), endpoint, tenant, draw)
                    if rule is None:
                        return None
                    used = rule.used()
                    pipe.multi()
                    if used is None:
                        pipe.hdel(key, str(rule.id))
                    elif used is not rule:
                        pipe.hset(key, str(rule.id), rule_document(used))
                    pipe.execute()
                    return rule.fault
                except redis.WatchError:
                    continue

    @staticmethod
    def _rules(stored: dict[str, str]) -> list[FaultRule]:
        return [rule_of(int(rule_id), data) for rule_id, data in sorted(stored.items(), key=lambda kv: int(kv[0]))]

    def faults(self) -> list[FaultRule]:
        return self._rules(self.client.hgetall(f"{self.prefix}:faults"))

    def clear_faults(self, tenant: str | None = None) -> None:
        key = f"{self.prefix}:faults"
        if tenant is None:
            self.client.delete(key)
            return
        doomed = [str(rule.id) for rule in self.faults() if rule.tenant == tenant]
        if doomed:
            self.client.hdel(key, *doomed)

    # --- settings ----------------------------------------------------------------------------

    def settings(self) -> tuple[int, dict[str, Any]]:
        version, data = self.client.mget(f"{self.prefix}:settings:version", f"{self.prefix}:settings")
        return int(version or 0), json.loads(data) if data else {}

    def put_settings(self, settings: dict[str, Any]) -> int:
        with self.client.pipeline() as pipe:
            pipe.set(f"{self.prefix}:settings", dumps(settings))
            pipe.incr(f"{self.prefix}:settings:version")
            _, version = pipe.execute()
        return int(version)

    # --- lifecycle ---------------------------------------------------------------------------

    def clear(self, tenant: str | None = None) -> None:
        for kind in JOURNAL_KINDS:
            key = self._journal(kind)
            if tenant is None:
                self.client.delete(key)
                continue
            doomed = [m for m in self.client.zrange(key, 0, -1) if _entry(m).get("tenant") == tenant]
            for start in range(0, len(doomed), 1000):
                self.client.zrem(key, *doomed[start:start + 1000])
        self.clear_faults(tenant)



def _entry(member: str) -> Entry:
    seq, data = member.split("|", 1)
    entry: Entry = json.loads(data)
    entry["seq"] = int(seq)
    return entry
