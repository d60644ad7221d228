"""The runner: generate examples, stage the mock, drive the client, judge, shrink.

Hypothesis generates examples, staging sets the mock up, a driver runs the client, the judge names
what broke; a failure is shrunk to the smallest example and raised as
:class:`ContractViolation`. Every example has a :class:`~contract_tests.drivers.Budget`, so every run
ends with a verdict.

Entry points: :func:`check` (any driver), :func:`check_client` (a sync adapter),
:func:`check_async_client` (an asyncio adapter), :func:`check_command` (a program in any language).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from hypothesis import HealthCheck
from hypothesis import Phase
from hypothesis import given
from hypothesis import seed as hypothesis_seed
from hypothesis import settings

from contract_tests.drivers import Budget
from contract_tests.drivers import Driver
from contract_tests.example import Example
from contract_tests.judge import ALL_PROPERTIES
from contract_tests.judge import Evidence
from contract_tests.judge import judge_example
from contract_tests.properties import Violation
from contract_tests.relay import CallbackRelay
from contract_tests.server import ThreadedMockServer
from contract_tests.staging import Stage
from contract_tests.strategies import examples
from mock_server import MockConfig

DEFAULT_TOKEN = "user:1-pixverse-contract"
ORDER = {name: index for index, name in enumerate(ALL_PROPERTIES)}
PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)
"""Without ``Phase.explain``: it re-runs the shrunk example many times under a tracer, slowly."""


class ContractViolation(AssertionError):
    """The client broke one or more properties; ``violations`` names each, ``example`` is the (shrunk) example."""

    def __init__(self, violations: list[Violation], example: Example | None = None, driver: str = "",
                 details: str = "") -> None:
        self.violations = violations
        self.example = example
        self.driver = driver
        self.details = details
        where = f"\n  example: {example.describe()}" if example is not None else ""
        run = f"\n  {details}" if details else ""
        super().__init__("the client broke the contract:\n" + "\n".join(f"  - {v}" for v in violations) + where + run)

    @property
    def properties(self) -> set[str]:
        return {v.property for v in self.violations}


_KINDS: dict[str, type[ContractViolation]] = {}


def _violation_of(violations: list[Violation]) -> type[ContractViolation]:
    """One exception type per leading property: hypothesis shrinks each broken property as its own bug.

    An example that breaks a different property is not a smaller case of this one.
    """
    lead = min((v.property for v in violations), key=lambda name: (ORDER.get(name, len(ORDER)), name))
    if lead not in _KINDS:
        _KINDS[lead] = type("ContractViolation", (ContractViolation,), {"__qualname__": f"ContractViolation[{lead}]"})
    return _KINDS[lead]


@dataclass
class Verdict:
    """What a whole check found: examples run, their wall time, and the shrunk failure (None: passed)."""

    driver: str
    examples: int = 0
    seconds: float = 0.0
    failures: list[ContractViolation] = field(default_factory=list)
    """Each broken property's smallest example (one per leading property), most fundamental first."""
    first_failing: int | None = None
    """The number of the first generated example that broke a property (before shrinking)."""

    @property
    def failure(self) -> ContractViolation | None:
        return self.failures[0] if self.failures else None

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def properties(self) -> set[str]:
        """Every property some example broke."""
        return {name for failure in self.failures for name in failure.properties}

    @property
    def rate(self) -> float:
        return self.examples / self.seconds if self.seconds else 0.0


class Session:
    """One mock and one callback relay for many examples (each example resets the mock)."""

    def __init__(self, server: ThreadedMockServer, token: str = DEFAULT_TOKEN) -> None:
        self.server = server
        self.token = token
        self.relay = CallbackRelay(lambda: server.runtime.now()).start()
        self.details = ""
        """What the driver added about the last example's run (a command's exit status, its stderr)."""

    def run_example(self, driver: Driver, example: Example, budget: Budget) -> list[Violation]:
        """Stage, drive, judge one example; the violations (empty: the client kept the contract)."""
        with Stage(self.server, self.token, example, self.relay, request_budget=budget.requests) as stage:
            run = driver.run(example, stage, budget)
            traffic = stage.traffic()
        over_budget = run.over_budget
        if over_budget is None and stage.over_requests.is_set():
            over_budget = f"sent more than {budget.requests} requests"
        records = {}
        for jobid in stage.accepted:
            job = self.server.runtime.store.job(stage.tenant, jobid)
            if job is not None:
                records[jobid] = job.record
        evidence = Evidence(example, traffic, run.report, stage.accepted, records, stage.reply_url,
                            dict(self.relay.delivered), problem=run.problem, over_budget=over_budget)
        violations = judge_example(evidence)
        self.details = run.details
        if stage.problems:
            raise RuntimeError("staging failed: " + "; ".join(stage.problems))
        self.server.check()  # the mock itself must never have raised
        return violations

    def close(self) -> None:
        self.relay.stop()


@contextmanager
def session_for(driver: Driver, server: ThreadedMockServer | None = None, token: str = DEFAULT_TOKEN,
                config: MockConfig | None = None) -> Iterator[Session]:
    """A :class:`Session` on ``server``, or on a new mock configured for ``driver`` (stopped afterwards)."""
    own = server is None
    if server is None:
        server = ThreadedMockServer(driver.mock_config(config or MockConfig(clock="manual"))).start()
    session = Session(server, token)
    try:
        yield session
    finally:
        session.close()
        if own:
            server.stop()


def check(driver: Driver, *, max_examples: int = 100, budget: Budget | None = None,
          server: ThreadedMockServer | None = None, token: str = DEFAULT_TOKEN, callbacks: bool | None = None,
          derandomize: bool = True, shrink: bool = True, shrink_seconds: float | None = None,
          config: MockConfig | None = None, seed: int | None = None) -> Verdict:
    """Run ``max_examples`` generated examples through ``driver``.

    The :class:`Verdict` holds the shrunk failure, if any. ``callbacks`` fixes whether results come
    by callback (None: both kinds). ``shrink_seconds`` bounds the shrinking: past it, the smallest
    failing example found so far is the one reported. ``seed`` makes a random (not derandomized)
    generation repeatable.
    """
    budget = budget or Budget()
    verdict = Verdict(driver.name)
    phases = PHASES if shrink else tuple(p for p in PHASES if p is not Phase.shrink)
    started = time.perf_counter()
    failed: list[tuple[Example, list[Violation], str]] = []
    shrink_until = [float("inf")] if shrink_seconds is not None else None
    derandomize = derandomize and seed is None
    with session_for(driver, server, token, config) as session:

        @settings(max_examples=max_examples, deadline=None, derandomize=derandomize, database=None,
                  report_multiple_bugs=True, phases=phases,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                         HealthCheck.data_too_large, HealthCheck.filter_too_much])
        @given(example=examples(callbacks))
        def contract(example: Example) -> None:
            known = next((found for found in failed if found[0] == example), None)  # hypothesis replays
            if known is None:
                if shrink_until is not None and time.monotonic() > shrink_until[0]:
                    return  # shrinking time is up: no more candidates are run
                verdict.examples += 1
                violations = session.run_example(driver, example, budget)
                if not violations:
                    return
                known = (example, violations, session.details)
                failed.append(known)
                if verdict.first_failing is None:
                    verdict.first_failing = verdict.examples
                    if shrink_until is not None:
                        shrink_until[0] = time.monotonic() + float(shrink_seconds or 0)
            raise _violation_of(known[1])(known[1], example, driver.name, known[2])

        # hypothesis derives the derandomized examples from contract's source: seed it here, not above it
        if seed is not None:
            contract = hypothesis_seed(seed)(contract)
        try:
            with _shrinking_bounded(shrink_seconds):
                contract()
        except ContractViolation as failure:
            verdict.failures = [failure]
        except BaseExceptionGroup as group:
            found = [e for e in group.exceptions if isinstance(e, ContractViolation)]
            if len(found) != len(group.exceptions):
                raise  # something else broke: the kit's own error, not a verdict
            verdict.failures = sorted(found, key=lambda f: min(ORDER.get(p, len(ORDER)) for p in f.properties))
    verdict.seconds = time.perf_counter() - started
    return verdict


@contextmanager
def _shrinking_bounded(seconds: float | None) -> Iterator[None]:
    """Hypothesis stops shrinking after ``seconds`` (its own limit is five minutes).

    Hypothesis has no setting for it, so its engine's constant is lowered for the run; should a
    release drop the constant, shrinking still ends early, as candidates past the deadline are not run.
    """
    from hypothesis.internal.conjecture import engine
    from hypothesis.reporting import current_reporter
    from hypothesis.reporting import with_reporter

    default = getattr(engine, "MAX_SHRINKING_SECONDS", None)
    if seconds is None or default is None:
        yield
        return
    outer = current_reporter()

    def reporter(text: str) -> None:
        if "spent more than five minutes working to shrink" not in text:  # its note on the limit we lowered
            outer(text)

    engine.MAX_SHRINKING_SECONDS = seconds
    try:
        with with_reporter(reporter):
            yield
    finally:
        engine.MAX_SHRINKING_SECONDS = default


def raise_on_failure(verdict: Verdict) -> Verdict:
    if verdict.failure is not None:
        raise verdict.failure
    return verdict


def check_client(handle_or_server: Any, make_client: Callable[..., Any], *, max_examples: int = 60,
                 derandomize: bool = True, **options: Any) -> Verdict:
    """Check a sync adapter client (``make(base_url, token, sleep)``); raise the shrunk :class:`ContractViolation`.

    ``handle_or_server``: a :class:`~contract_tests.handle.MockHandle` (the plugin's ``pixverse_mock``), a
    :class:`ThreadedMockServer` on the manual clock, or None for a mock of its own.
    """
    from contract_tests.drivers.sync import SyncDriver

    server, token = _server_and_token(handle_or_server)
    return raise_on_failure(check(SyncDriver(make_client), max_examples=max_examples, server=server, token=token,
                                  derandomize=derandomize, **options))


def check_async_client(handle_or_server: Any, make_client: Callable[..., Any], *, max_examples: int = 60,
                       derandomize: bool = True, **options: Any) -> Verdict:
    """Check an asyncio adapter client (``make(base_url, token, sleep)`` with an ``async`` sleep)."""
    from contract_tests.drivers.aio import AsyncDriver

    server, token = _server_and_token(handle_or_server)
    return raise_on_failure(check(AsyncDriver(make_client), max_examples=max_examples, server=server, token=token,
                                  derandomize=derandomize, **options))


def check_command(command: str, *, max_examples: int = 100, time_scale: float = 20.0, faketime: bool = True,
                  budget: Budget | None = None, token: str = DEFAULT_TOKEN, callbacks: bool | None = None,
                  derandomize: bool = True, shrink: bool = True, **driver_options: Any) -> Verdict:
    """Check a program in any language through the command protocol (version 1); the :class:`Verdict`.

    The program is run once per example (see README, "Checking a client"); it needs
    :mod:`contract_tests.drivers.command`.
    """
    from contract_tests.drivers.command import CommandDriver

    driver = CommandDriver(command, time_scale=time_scale, faketime=faketime, **driver_options)
    return check(driver, max_examples=max_examples, budget=budget, token=token, callbacks=callbacks,
                 derandomize=derandomize, shrink=shrink)


def _server_and_token(handle_or_server: Any) -> tuple[ThreadedMockServer | None, str]:
    if handle_or_server is None:
        return None, DEFAULT_TOKEN
    if isinstance(handle_or_server, ThreadedMockServer):
        return handle_or_server, DEFAULT_TOKEN
    return handle_or_server.server, handle_or_server.token
