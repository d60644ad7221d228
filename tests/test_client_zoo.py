"""The contract kit against the reference clients (flag nothing) and the zoo of broken ones (flag each).

One mock server (manual clock) serves the whole module; the runner resets it for every example.
Each zoo client must be caught by the property it targets within as many examples as the active
hypothesis profile runs (50 by default), with a shrunk example; shrinking is bounded to keep CI
lean. Set ``PIXVERSE_ZOO_TABLE=<path>`` to get the catch table as Markdown.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from zoo import ASYNC_ZOO
from zoo import ZOO

from contract_tests import ThreadedMockServer
from contract_tests.drivers import Budget
from contract_tests.drivers.aio import AsyncDriver
from contract_tests.drivers.sync import SyncDriver
from contract_tests.judge import ALL_PROPERTIES
from contract_tests.judge import REPORT_PROPERTIES
from contract_tests.properties import PROPERTIES
from contract_tests.reference_async_client import AsyncReferenceClient
from contract_tests.reference_client import ReferenceClient
from contract_tests.runner import Verdict
from contract_tests.runner import check
from mock_server import MockConfig

TOKEN = "user:1-contract-zoo"
SHRINK_SECONDS = 2.0
"""Bounded shrinking: the smallest failing example found in this time is reported."""
NEW_PROPERTIES = {"reports_every_job", "result_reaches_caller_once", "callback_matched_to_job",
                  "falls_back_to_polling", "sends_what_was_asked", "finishes_within_budget"}

_ROWS: dict[str, tuple[str, str, Verdict]] = {}


def examples() -> int:
    """As many examples as the active hypothesis profile (ci: 60, dev: 50), or ``PIXVERSE_ZOO_EXAMPLES``."""
    return int(os.environ.get("PIXVERSE_ZOO_EXAMPLES") or settings().max_examples)


REFERENCE_EXAMPLES = 30
"""The reference clients run 1,000 examples outside CI (see the README); here a smoke run per mode."""


@pytest.fixture(scope="module")
def mock_server() -> Iterator[ThreadedMockServer]:
    with ThreadedMockServer(MockConfig(clock="manual")) as server:
        yield server


@pytest.fixture(scope="module", autouse=True)
def zoo_table() -> Iterator[None]:
    yield
    target = os.environ.get("PIXVERSE_ZOO_TABLE")
    if target and _ROWS:
        Path(target).write_text(_markdown(), encoding="utf-8")


@pytest.mark.parametrize("callbacks", [False, True], ids=["polling", "callbacks"])
def test_reference_client_keeps_every_property(mock_server: ThreadedMockServer, callbacks: bool) -> None:
    verdict = check(SyncDriver(ReferenceClient.make), max_examples=REFERENCE_EXAMPLES, server=mock_server,
                    token=TOKEN, callbacks=callbacks)
    assert verdict.passed, str(verdict.failure)


def test_async_reference_client_keeps_every_property(mock_server: ThreadedMockServer) -> None:
    verdict = check(AsyncDriver(AsyncReferenceClient.make), max_examples=REFERENCE_EXAMPLES, server=mock_server,
                    token=TOKEN)
    assert verdict.passed, str(verdict.failure)


def test_the_zoo_covers_every_property() -> None:
    assert {cls.expected for cls in ZOO} == set(ALL_PROPERTIES)
    assert {cls.expected for cls in ASYNC_ZOO} >= NEW_PROPERTIES | {"respects_max_jobs", "waits_after_429"}
    assert set(ALL_PROPERTIES) == set(PROPERTIES) | set(REPORT_PROPERTIES)
    names = [cls.__name__ for cls in (*ZOO, *ASYNC_ZOO)]
    assert len(set(names)) == len(names)
    for cls in (*ZOO, *ASYNC_ZOO):
        assert cls.__doc__ and cls.__doc__.strip(), f"{cls.__name__} must name its mistake"


@pytest.mark.parametrize("broken", [*ZOO, *ASYNC_ZOO], ids=lambda cls: cls.__name__)
def test_zoo_client_is_caught_by_its_property(mock_server: ThreadedMockServer, broken: type) -> None:
    driver = AsyncDriver(broken.make) if broken in ASYNC_ZOO else SyncDriver(broken.make)
    verdict = check(driver, max_examples=examples(), server=mock_server, token=TOKEN, shrink_seconds=SHRINK_SECONDS)
    assert verdict.failures, f"{broken.__name__} passed {verdict.examples} examples"
    _ROWS[broken.__name__] = (driver.name, broken.expected, verdict)
    caught = [failure for failure in verdict.failures if broken.expected in failure.properties]
    assert caught, "\n".join(str(failure) for failure in verdict.failures)
    notes = getattr(caught[0], "__notes__", [])
    assert any(note.startswith(("Falsifying example", "Failing test case")) for note in notes)


def test_a_client_that_never_sleeps_gets_a_verdict(mock_server: ThreadedMockServer) -> None:
    """A busy loop without sleep or request: the wall budget stops it (the thread gets BudgetExceeded)."""

    class Spins(ReferenceClient):
        def wait_for_result(self, jobid: str) -> dict:
            while True:
                pass

    verdict = check(SyncDriver(Spins.make), max_examples=1, server=mock_server, token=TOKEN, shrink=False,
                    budget=Budget(wall_seconds=0.5))
    assert verdict.failure is not None and "finishes_within_budget" in verdict.failure.properties


def test_a_client_that_floods_gets_a_verdict(mock_server: ThreadedMockServer) -> None:
    """Polling with no sleep at all: the request budget stops it."""

    class Floods(ReferenceClient):
        def wait_for_result(self, jobid: str) -> dict:
            while True:
                self._call("GET", "jobs/", params={"jobid": jobid})

    verdict = check(SyncDriver(Floods.make), max_examples=1, server=mock_server, token=TOKEN, shrink=False,
                    budget=Budget(requests=20))
    assert verdict.failure is not None and "finishes_within_budget" in verdict.failure.properties


# --- the table -------------------------------------------------------------------------------------


def _markdown() -> str:
    lines = ["| client | protocol | property that caught it | all properties broken | first caught at example | runs "
             "| shrunk example |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for cls in (*ZOO, *ASYNC_ZOO):
        if cls.__name__ not in _ROWS:
            continue
        protocol, expected, verdict = _ROWS[cls.__name__]
        failure = next((f for f in verdict.failures if expected in f.properties), verdict.failure)
        caught = f"`{expected}`" if expected in verdict.properties else f"❌ not `{expected}`"
        example = failure.example.describe() if failure and failure.example else ""
        lines.append(f"| `{cls.__name__}`: {cls.__doc__.strip().splitlines()[0]} | {protocol} | {caught} | "
                     f"{', '.join(sorted(verdict.properties))} | {verdict.first_failing} | {verdict.examples} | "
                     f"{example.replace('|', '¦')} |")
    return "\n".join(lines) + "\n"
