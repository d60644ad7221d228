"""``pixverse-contract check``: generated examples against a client, shrunk failures, reports.

A client in any language runs through the command protocol (``--client "node my-client.mjs"``); a
Python client through its adapter (``--adapter my_app.pixverse:make``, or ``--async-adapter``). The
console shows a PASS/FAIL line per property for the run, then the shrunk example and its violations;
``--junit`` and ``--markdown`` write the same. Exit 0 when every example kept the contract, 1 on a
violation, 2 on a usage error.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from contract_tests.cli import InputError
from contract_tests.cli import _md
from contract_tests.cli import _write_text
from contract_tests.cli import write_junit
from contract_tests.judge import ALL_PROPERTIES


@click.command("check")
@click.option("--client", "command", metavar="COMMAND", help="Run this command per example (command protocol 1).")
@click.option("--adapter", metavar="MODULE:FACTORY", help="A Python sync adapter factory make(base_url, token, sleep).")
@click.option("--async-adapter", metavar="MODULE:FACTORY", help="A Python asyncio adapter factory.")
@click.option("--examples", default=100, show_default=True, type=click.IntRange(1), help="Examples to generate.")
@click.option("--mode", type=click.Choice(["both", "polling", "callbacks"]), default="both", show_default=True,
              help="Whether the task asks for results by polling, by callbacks, or either.")
@click.option("--time-scale", default=20.0, show_default=True, type=click.FloatRange(1.0),
              help="Command clients: the mock's clock runs this many times faster than wall time.")
@click.option("--no-faketime", is_flag=True, help="Command clients: do not run under libfaketime (the client "
              "divides its own waits by PIXVERSE_WAIT_SCALE).")
@click.option("--wall-budget", default=20.0, show_default=True, type=click.FloatRange(0.1),
              help="Wall seconds one example may take (command clients: on top of its mock seconds at the time "
              "scale).")
@click.option("--seed", type=int, default=None, help="Random generation with this seed (default: derandomized).")
@click.option("--junit", type=click.Path(dir_okay=False, writable=True), help="Write JUnit XML here.")
@click.option("--markdown", type=click.Path(dir_okay=False, writable=True), help="Write a Markdown report here.")
def check(command: str | None, adapter: str | None, async_adapter: str | None, examples: int, mode: str,
          time_scale: float, no_faketime: bool, wall_budget: float, seed: int | None, junit: str | None,
          markdown: str | None) -> None:
    """Generate examples, run the client on each against the mock, judge, shrink a failure."""
    from contract_tests.drivers import Budget
    from contract_tests.runner import check as run_check

    chosen = [c for c in (command, adapter, async_adapter) if c]
    if len(chosen) != 1:
        raise InputError("give exactly one of --client, --adapter, --async-adapter")
    callbacks = {"both": None, "polling": False, "callbacks": True}[mode]
    budget = Budget(wall_seconds=wall_budget)
    driver = _driver(command, adapter, async_adapter, time_scale, not no_faketime)
    verdict = run_check(driver, max_examples=examples, budget=budget, callbacks=callbacks, seed=seed)
    broken = [v for failure in verdict.failures for v in failure.violations]
    by_property = {name: [str(v) for v in broken if v.property == name] for name in ALL_PROPERTIES}
    click.echo(console_report(verdict, by_property))
    if junit:
        write_junit(junit, "pixverse-contract-check", by_property.items())
    if markdown:
        _write_text(markdown, markdown_report(verdict, by_property))
    sys.exit(0 if verdict.passed else 1)


def _driver(command: str | None, adapter: str | None, async_adapter: str | None, time_scale: float,
            faketime: bool) -> Any:
    if command:
        from contract_tests.drivers.command import CommandDriver

        return CommandDriver(command, time_scale=time_scale, faketime=faketime)
    if adapter:
        from contract_tests.drivers.sync import SyncDriver

        return SyncDriver(_load(adapter))
    from contract_tests.drivers.aio import AsyncDriver

    return AsyncDriver(_load(str(async_adapter)))


def _load(spec: str) -> Any:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise InputError(f"{spec!r} is not MODULE:FACTORY")
    try:
        value: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            value = getattr(value, part)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"cannot load {spec}: {exc}") from None
    return value


def console_report(verdict: Any, by_property: dict[str, list[str]]) -> str:
    """PASS/FAIL per property, then the shrunk example with its violations, then a totals line."""
    lines = [f"pixverse-contract check ({verdict.driver}): {verdict.examples} examples in "
             f"{verdict.seconds:.1f} s ({verdict.rate:.1f}/s)"]
    lines += [f"{'FAIL' if found else 'PASS'}  {name}" for name, found in by_property.items()]
    if verdict.failures:
        lines += ["", f"First broken at example {verdict.first_failing}."]
    for failure in verdict.failures:
        example = failure.example
        lines += ["", "Shrunk to:", f"  {example.describe() if example else '?'}", "Violations:"]
        lines += [f"  - {v}" for v in failure.violations]
    failed = sum(1 for found in by_property.values() if found)
    lines += ["", f"{len(by_property)} properties: {len(by_property) - failed} passed, {failed} failed"]
    return "\n".join(lines)


def markdown_report(verdict: Any, by_property: dict[str, list[str]]) -> str:
    lines = ["# pixverse-contract check", "",
             f"{verdict.examples} examples ({verdict.driver} driver) in {verdict.seconds:.1f} s.", "",
             "| property | result |", "| --- | --- |"]
    lines += [f"| `{name}` | {'❌ FAIL' if found else '✅ PASS'} |" for name, found in by_property.items()]
    for failure in verdict.failures:
        example = failure.example
        lines += ["", "## Shrunk example", "", _md(example.describe() if example else "?"), "", "### Violations", ""]
        lines += [f"- **{v.property}**: {_md(v.message)}" for v in failure.violations]
    return "\n".join(lines) + "\n"
