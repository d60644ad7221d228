"""``python -m bench.command_zoo``: the Node protocol clients (tests/clients/node/protocol) through ``check_command``.

Each broken client (``broken/*.mjs``, one mistake each) runs through the whole runner: generated
examples, staging, the judge, and shrinking; the table says which properties the shrunk failure
broke, at which example the first failure came, how many examples ran (shrinking, bounded by
``--shrink-seconds``, included) and how long it took. The correct client runs
the same number of examples and must pass. Loopback only; every process is stopped.

    .venv/bin/python -m bench.command_zoo                     # 50 examples per client, time scale 20
    .venv/bin/python -m bench.command_zoo --examples 100 --only ok,retries-429-at-once
"""

from __future__ import annotations

import argparse
import time

from bench.anchors import ROOT
from contract_tests.drivers import Budget
from contract_tests.drivers.command import CommandDriver
from contract_tests.runner import check

CLIENTS = ROOT / "tests" / "clients" / "node" / "protocol"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.command_zoo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=50)
    ap.add_argument("--time-scale", type=float, default=20.0)
    ap.add_argument("--mock-budget", type=float, default=1800.0, help="mock seconds per example")
    ap.add_argument("--wall-budget", type=float, default=5.0, help="wall seconds per example on top of the mock "
                    "seconds at the time scale")
    ap.add_argument("--shrink-seconds", type=float, default=45.0, help="bound on shrinking per client")
    ap.add_argument("--only", default="", help="comma list of client names (ok = the correct client)")
    a = ap.parse_args(argv)
    names = ["ok", *sorted(p.stem for p in (CLIENTS / "broken").glob("*.mjs"))]
    if a.only:
        names = [n for n in names if n in a.only.split(",")]
    print("| client | verdict | properties of the shrunk failure | first failing example | examples run | wall s "
          "| shrunk example |")
    print("|---|---|---|---:|---:|---:|---|")
    for name in names:
        script = CLIENTS / ("client.mjs" if name == "ok" else f"broken/{name}.mjs")
        started = time.perf_counter()
        budget = Budget(mock_seconds=a.mock_budget, wall_seconds=a.wall_budget)
        verdict = check(CommandDriver(["node", str(script)], time_scale=a.time_scale), max_examples=a.examples,
                        budget=budget, shrink_seconds=a.shrink_seconds)
        failure = verdict.failure
        shown = failure.example.describe() if failure is not None and failure.example is not None else ""
        print(f"| {name} | {'pass' if failure is None else 'caught'} "
              f"| {', '.join(sorted(failure.properties)) if failure else ''} | {verdict.first_failing or ''} "
              f"| {verdict.examples} "
              f"| {time.perf_counter() - started:.0f} | {shown[:160]} |", flush=True)


if __name__ == "__main__":
    main()
