"""The ``ControlState`` contract, run against ``MemoryControlState`` and ``SqliteControlState``.

Journals, the fault queue and settings must behave the same in both; the SQLite one must also be
shared by every process using the file (two states on one file stand for two worker processes,
and forked children race on one fault rule). Every wait is bounded; the only sleeping is the
~20 ms polling inside ``SqliteControlState.wait``.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import run_forked
from redis_server import redis_server  # noqa: F401  (fixture)

from mock_server.faults import Fault
from mock_server.faults import FaultRule
from mock_server.faults import parse_fault
from mock_server.store import open_backend
from mock_server.store.base import ControlState
from mock_server.store.memory import MemoryControlState
from mock_server.store.sqlite import SqliteControlState
from mock_server.store.sqlite import SqliteStore
from mock_server.store.sqlite.control import TRIM_EVERY

WAIT = 60.0
"""Upper bound, in seconds, on any wait for a thread, a process or a barrier."""

Factory = Callable[..., ControlState]


@pytest.fixture(params=["memory", "sqlite", "redis"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """Builds the state under test; every SQLite one of a test shares one file, every Redis one a prefix."""
    made: list[SqliteControlState] = []
    url = request.getfixturevalue("redis_server").url() if request.param == "redis" else ""

    def factory(journal_limit: int = 50_000) -> ControlState:
        if request.param == "memory":
            return MemoryControlState(journal_limit)
        if request.param == "redis":
            return open_backend(url, journal_limit).control
        state = SqliteControlState(tmp_path / "mock.sqlite", journal_limit)
        made.append(state)
        return state

    yield factory
    for state in made:
        state.close()


@pytest.fixture
def state(make: Factory) -> ControlState:
    return make()


def rule(fault: str = "discord429", **fields: Any) -> FaultRule:
    return FaultRule(id=0, fault=parse_fault(fault), **fields)


def never() -> float:
    raise AssertionError("draw() is only for rules with a probability below 1")


def cycle(*values: float) -> Callable[[], float]:
    """A deterministic ``draw`` returning ``values`` over and over; ``.calls`` counts the draws."""
    source = itertools.cycle(values)

    def draw() -> float:
        draw.calls += 1  # type: ignore[attr-defined]
        return next(source)

    draw.calls = 0  # type: ignore[attr-defined]
    return draw


# --- journals ---------------------------------------------------------------------------------


def test_append_numbers_entries_per_kind(state: ControlState) -> None:
    first = {"tenant": "t1", "path": "/api/pixverse/v1/jobs"}
    assert state.append("requests", first) == 1
    assert first["seq"] == 1
    assert state.append("requests", {"tenant": "t2"}) == 2
    assert state.append("callbacks", {"tenant": "t1", "stage": "final"}) == 1
    assert state.append("requests", {"tenant": None}) == 3
    assert [e["seq"] for e in state.entries("requests")] == [1, 2, 3]
    assert state.entries("callbacks") == [{"tenant": "t1", "stage": "final", "seq": 1}]


def test_entries_round_trip(state: ControlState) -> None:
    entry = {
        "tenant": "t1", "prompt": "ünïcode ✨ 🐱", "query": {"a": "1"}, "fields": {"n": 3, "x": None},
        "files": [{"name": "image", "size": 12}], "durationMs": 1.25, "delivered": False,
    }
    state.append("requests", dict(entry))
    assert state.entries("requests") == [{**entry, "seq": 1}]


def test_entries_since_filter_and_limit(state: ControlState) -> None:
    for i in range(10):
        state.append("requests", {"tenant": f"t{i % 2}", "i": i})
    assert [e["i"] for e in state.entries("requests", since=7)] == [7, 8, 9]
    assert state.entries("requests", since=10) == []
    odd = state.entries("requests", accept=lambda e: e["tenant"] == "t1")
    assert [e["i"] for e in odd] == [1, 3, 5, 7, 9]
    assert [e["i"] for e in state.entries("requests", limit=3)] == [0, 1, 2]
    assert [e["i"] for e in state.entries("requests", since=2, accept=lambda e: e["i"] % 3 == 0, limit=2)] == [3, 6]
    assert state.entries("requests", limit=0) == []
    assert state.entries("callbacks") == []


def test_an_unknown_journal_is_an_error(state: ControlState) -> None:
    with pytest.raises(KeyError):
        state.append("nope", {})
    with pytest.raises(KeyError):
        state.entries("nope")


def test_journal_keeps_the_newest_entries_up_to_its_limit(make: Factory) -> None:
    state = make(journal_limit=5)
    for i in range(1, 13):
        assert state.append("requests", {"i": i}) == i
    state.append("callbacks", {"i": 0})
    assert [e["seq"] for e in state.entries("requests")] == [8, 9, 10, 11, 12]
    assert [e["seq"] for e in state.entries("requests", since=10)] == [11, 12]
    assert state.append("requests", {"i": 13}) == 13
    assert [e["i"] for e in state.entries("requests")] == [9, 10, 11, 12, 13]
    assert [e["seq"] for e in state.entries("callbacks")] == [1]
    for i in range(14, 151):
        state.append("requests", {"i": i})
    assert [e["i"] for e in state.entries("requests", since=3)] == [146, 147, 148, 149, 150]
    assert state.wait("requests", 0, None, timeout=0) == {"i": 146, "seq": 146}


def test_sqlite_journal_table_stays_bounded(tmp_path: Path) -> None:
    state = SqliteControlState(tmp_path / "mock.sqlite", 10)
    try:
        for i in range(1, 1001):
            state.append("requests", {"tenant": f"t{i % 2}"})
            rows = state.store._connection().execute("SELECT COUNT(*) FROM journal_requests").fetchone()[0]
            assert rows <= 10 + TRIM_EVERY
        state.clear("t0")  # the newest entry is gone, but the window still ends at seq 1000
        assert [e["seq"] for e in state.entries("requests")] == [991, 993, 995, 997, 999]
    finally:
        state.close()


def test_wait_returns_an_entry_appended_while_waiting(state: ControlState) -> None:
    state.append("requests", {"tenant": "t2"})  # already there, but not after ``since``
    since = state.entries("requests")[-1]["seq"]
    waiting = threading.Event()
    result: list[Any] = []

    def waiter() -> None:
        waiting.set()
        result.append(state.wait("requests", since, lambda e: e["tenant"] == "t2", timeout=WAIT))

    thread = threading.Thread(target=waiter)
    thread.start()
    try:
        assert waiting.wait(WAIT)
        state.append("requests", {"tenant": "t1"})
        state.append("callbacks", {"tenant": "t2"})
        appended = state.append("requests", {"tenant": "t2", "n": 2})
    finally:
        thread.join(WAIT)
    assert not thread.is_alive()
    assert result == [{"tenant": "t2", "n": 2, "seq": appended}]


def test_wait_returns_a_matching_entry_at_once(state: ControlState) -> None:
    state.append("requests", {"tenant": "t1"})
    state.append("requests", {"tenant": "t2"})
    started = time.monotonic()
    found = state.wait("requests", 0, lambda e: e["tenant"] == "t2", timeout=WAIT)
    assert found is not None and found["seq"] == 2
    assert state.wait("requests", 0, None, timeout=0) == {"tenant": "t1", "seq": 1}
    assert time.monotonic() - started < 5


def test_wait_gives_up_at_the_timeout(state: ControlState) -> None:
    state.append("requests", {"tenant": "t1"})
    started = time.monotonic()
    assert state.wait("requests", 0, lambda e: e["tenant"] == "t2", timeout=0.05) is None
    assert state.wait("requests", 1, None, timeout=0) is None
    assert 0.04 <= time.monotonic() - started < 5


# --- faults -----------------------------------------------------------------------------------


def test_faults_are_queued_with_ids_in_order(state: ControlState) -> None:
    first = state.add_fault(rule("discord429"))
    second = state.add_fault(rule("server_error:503", endpoint="jobs", tenant="t1", remaining=None))
    third = state.add_fault(rule("fail:nope ü", probability=0.25, remaining=4))
    assert 0 < first.id < second.id < third.id
    assert state.faults() == [first, second, third]
    assert second.fault == Fault("server_error", status=503) and third.fault == Fault("fail", message="nope ü")
    assert [r.view() for r in state.faults()][1] == {
        "id": second.id, "fault": "server_error:503", "endpoint": "jobs", "tenant": "t1", "remaining": None,
        "probability": 1.0,
    }


def test_every_fault_kind_survives_the_queue(state: ControlState) -> None:
    texts = ["discord429", "maxjobs429", "unauthorized", "expired", "moderated", "fail", "fail:why ✨",
             "server_error", "server_error:502", "delay:1.5", "drop"]
    for text in texts:
        state.add_fault(rule(text))
    taken = [state.take_fault("meme_face", "t1", never) for _ in texts]
    assert taken == [parse_fault(text) for text in texts]
    assert state.take_fault("meme_face", "t1", never) is None


def test_rules_are_taken_in_order_and_counted_down(state: ControlState) -> None:
    assert state.take_fault("meme_face", "t1", never) is None
    twice = state.add_fault(rule("discord429", remaining=2))
    forever = state.add_fault(rule("unauthorized", remaining=None))
    assert state.take_fault("meme_face", "t1", never) == Fault("discord429")
    assert [r.remaining for r in state.faults()] == [1, None]
    assert state.faults()[0].id == twice.id
    assert state.take_fault("button", "t2", never) == Fault("discord429")
    assert state.faults() == [forever]
    for _ in range(5):
        assert state.take_fault("jobs", None, never) == Fault("unauthorized")
    assert state.faults() == [forever]


def test_rules_match_endpoint_and_tenant(state: ControlState) -> None:
    state.add_fault(rule("expired", endpoint="jobs", tenant="t1", remaining=None))
    state.add_fault(rule("unauthorized", endpoint="cancel", remaining=None))
    state.add_fault(rule("drop", tenant="t2", remaining=None))
    assert state.take_fault("jobs", "t1", never) == Fault("expired")
    assert state.take_fault("jobs", "t3", never) is None
    assert state.take_fault("jobs", None, never) is None  # a tenant rule never matches a tokenless request
    assert state.take_fault("cancel", "t1", never) == Fault("unauthorized")
    assert state.take_fault("cancel", None, never) == Fault("unauthorized")
    assert state.take_fault("jobs", "t2", never) == Fault("drop")
    assert state.take_fault("meme_face", "t1", never) is None
    assert len(state.faults()) == 3


@pytest.mark.parametrize("endpoint", ["meme_face", "button", "jobs", "submit"])
def test_a_submit_rule_follows_fault_rule_applies_to(state: ControlState, endpoint: str) -> None:
    """Whatever ``endpoint="submit"`` matches (``FaultRule.applies_to`` decides), both states agree."""
    queued = state.add_fault(rule("moderated", endpoint="submit"))
    expected = Fault("moderated") if queued.applies_to(endpoint, "t1") else None
    assert state.take_fault(endpoint, "t1", never) == expected
    assert len(state.faults()) == (0 if expected else 1)
    assert queued.applies_to("submit", "t1")


def test_probability_rules_draw_per_matching_request(state: ControlState) -> None:
    state.add_fault(rule("discord429", probability=0.5, remaining=2))
    state.add_fault(rule("expired", endpoint="jobs", remaining=None))
    draw = cycle(0.05, 0.95)
    assert state.take_fault("meme_face", "t1", draw) == Fault("discord429")  # 0.05 < 0.5: taken
    assert state.take_fault("meme_face", "t1", draw) is None  # 0.95: skipped, nothing else matches
    assert state.take_fault("jobs", "t1", draw) == Fault("discord429")  # 0.05: taken, the last use
    assert draw.calls == 3  # type: ignore[attr-defined]
    assert [r.fault for r in state.faults()] == [Fault("expired")]
    assert state.take_fault("jobs", "t1", draw) == Fault("expired")
    assert draw.calls == 3  # type: ignore[attr-defined]


def test_a_skipped_probability_rule_falls_through_to_the_next(state: ControlState) -> None:
    state.add_fault(rule("discord429", probability=0.5, remaining=None))
    state.add_fault(rule("expired", remaining=1))
    draw = cycle(0.95)
    assert state.take_fault("meme_face", "t1", draw) == Fault("expired")
    assert state.take_fault("meme_face", "t1", draw) is None
    assert draw.calls == 2  # type: ignore[attr-defined]
    assert [r.fault for r in state.faults()] == [Fault("discord429")]


def test_clear_faults_of_one_tenant_or_all(state: ControlState) -> None:
    everyone = state.add_fault(rule("drop", remaining=None))
    state.add_fault(rule("expired", tenant="t1"))
    other = state.add_fault(rule("unauthorized", tenant="t2"))
    state.clear_faults("t1")
    assert state.faults() == [everyone, other]
    state.clear_faults()
    assert state.faults() == []
    again = state.add_fault(rule("drop"))
    assert again.id > other.id  # ids are never reused


# --- clear and settings -----------------------------------------------------------------------


def test_clear_one_tenant_keeps_the_others(state: ControlState) -> None:
    for tenant in ("t1", "t2", None, "t1"):
        state.append("requests", {"tenant": tenant})
    state.append("callbacks", {"tenant": "t1"})
    state.append("callbacks", {"tenant": "t2"})
    kept = state.add_fault(rule("drop", tenant="t2"))
    shared = state.add_fault(rule("drop"))
    state.add_fault(rule("expired", tenant="t1"))
    state.clear("t1")
    assert [(e["seq"], e["tenant"]) for e in state.entries("requests")] == [(2, "t2"), (3, None)]
    assert [(e["seq"], e["tenant"]) for e in state.entries("callbacks")] == [(2, "t2")]
    assert state.faults() == [kept, shared]
    state.clear()
    assert state.entries("requests") == state.entries("callbacks") == []
    assert state.faults() == []
    assert state.append("requests", {"tenant": "t1"}) == 5  # sequence numbers go on after a clear


def test_settings_versions_grow(state: ControlState) -> None:
    assert state.settings() == (0, {})
    assert state.put_settings({"clock": "fast", "limits": {"maxJobs": 3}}) == 1
    assert state.settings() == (1, {"clock": "fast", "limits": {"maxJobs": 3}})
    assert state.put_settings({}) == 2
    assert state.settings() == (2, {})
    state.clear()
    assert state.settings() == (2, {})


# --- SQLite only: shared by every process -----------------------------------------------------


def test_sqlite_states_on_one_file_share_everything(tmp_path: Path) -> None:
    """Two states on one file stand for two worker processes."""
    one = SqliteControlState(tmp_path / "mock.sqlite", 100)
    two = SqliteControlState(tmp_path / "mock.sqlite", 100)
    try:
        one.append("requests", {"tenant": "t1"})
        assert two.append("requests", {"tenant": "t2"}) == 2
        assert [e["tenant"] for e in one.entries("requests")] == ["t1", "t2"]

        queued = one.add_fault(rule("expired", remaining=2))
        assert two.faults() == [queued]
        assert two.take_fault("jobs", "t1", never) == Fault("expired")
        assert one.take_fault("jobs", "t1", never) == Fault("expired")
        assert one.faults() == two.faults() == []

        assert one.settings() == two.settings() == (0, {})
        one.put_settings({"x": 1})
        assert two.settings() == (1, {"x": 1})
        two.put_settings({"x": 2})
        assert one.settings() == (2, {"x": 2})

        result: list[Any] = []
        waiting = threading.Event()

        def waiter() -> None:
            waiting.set()
            result.append(two.wait("callbacks", 0, None, timeout=WAIT))
            two.close()

        thread = threading.Thread(target=waiter)
        thread.start()
        try:
            assert waiting.wait(WAIT)
            one.append("callbacks", {"tenant": "t1", "stage": "final"})
        finally:
            thread.join(WAIT)
        assert result == [{"tenant": "t1", "stage": "final", "seq": 1}]

        two.clear("t1")
        assert [e["tenant"] for e in one.entries("requests")] == ["t2"]
    finally:
        one.close()
        two.close()


def test_sqlite_store_hands_out_its_control_state(tmp_path: Path) -> None:
    backend = open_backend(f"sqlite:{tmp_path / 'mock.sqlite'}", journal_limit=3)
    store, control = backend.store, backend.control
    try:
        assert isinstance(store, SqliteStore) and isinstance(control, SqliteControlState)
        assert control.store is store and control.journal_limit == 3
        for i in range(5):
            control.append("requests", {"tenant": "t1", "i": i})
        store.reset()  # the store's reset leaves the control state alone (the runtime clears both)
        assert [e["i"] for e in control.entries("requests")] == [2, 3, 4]
        reopened = SqliteControlState(tmp_path / "mock.sqlite", 3)
        assert [e["i"] for e in reopened.entries("requests")] == [2, 3, 4]
        reopened.close()
    finally:
        store.close()


def test_sqlite_take_fault_takes_no_write_lock_unless_a_rule_applies(tmp_path: Path) -> None:
    """Requests must not queue behind each other (or a busy writer) just to learn there is no fault."""
    state = SqliteControlState(tmp_path / "mock.sqlite")
    state.add_fault(rule("expired", tenant="t2"))
    writer = sqlite3.connect(tmp_path / "mock.sqlite", isolation_level=None, timeout=0)
    try:
        writer.execute("BEGIN IMMEDIATE")  # another process is writing
        state.store._local.conn.execute("PRAGMA busy_timeout = 0")  # a lock wait fails at once
        assert state.take_fault("jobs", "t1", never) is None
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            state.take_fault("jobs", "t2", never)
        writer.execute("ROLLBACK")
        assert state.take_fault("jobs", "t2", never) == Fault("expired")
        assert state.take_fault("jobs", "t2", never) is None
    finally:
        writer.close()
        state.close()


def _take_in_child(state: SqliteControlState, barrier: Any, results: Any) -> None:
    """Child process: wait for every sibling, then take faults and journal each request."""
    try:
        barrier.wait(timeout=WAIT)
        taken = 0
        for i in range(10):
            if state.take_fault("meme_face", "t1", never) is not None:
                taken += 1
            state.append("requests", {"tenant": "t1", "i": i})
        results.put(("ok", taken))
    except BaseException as error:  # reported to the parent, which fails the test with it
        results.put(("error", repr(error)))


def test_sqlite_processes_consume_a_rule_exactly_its_remaining_times(tmp_path: Path) -> None:
    state = SqliteControlState(tmp_path / "mock.sqlite")  # opened before the fork (gunicorn --preload)
    state.add_fault(rule("discord429", remaining=10))
    state.add_fault(rule("expired", tenant="t2", remaining=None))
    reports = run_forked(_take_in_child, (state,), 4, WAIT)
    try:
        assert [kind for kind, _ in reports] == ["ok"] * 4, reports
        assert sum(taken for _, taken in reports) == 10
        assert [r.fault for r in state.faults()] == [Fault("expired")]
        assert [e["seq"] for e in state.entries("requests")] == list(range(1, 41))
    finally:
        state.close()
