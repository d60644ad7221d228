"""What loading the pytest plugin costs a pytest run that uses none of it.

    python -m bench.plugin_import                 # the plugin as installed (entry point pixverse_mock)
    python -m bench.plugin_import --rounds 21
    python -m bench.plugin_import --module contract_tests.plugin --path /tmp/older-checkout   # another version

Two figures, each the median of ``--rounds`` fresh interpreters, configurations interleaved:

- **import**: importing the plugin module in an interpreter that has already imported pytest (what
  pytest's entry-point loading adds), and which heavy modules that pulled in;
- **collect-only start**: wall time of ``python -m pytest --co`` on a one-test project with the plugin
  (autoloaded) and with ``-p no:pixverse_mock``; the difference is the plugin's share (noisy on a busy
  machine: read it beside the import figure).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("flask", "hypothesis", "schemathesis", "jsonschema", "requests", "mock_server", "contract_tests")
PROBE = """
import json, sys, time
import pytest
before = set(sys.modules)
started = time.perf_counter()
__import__({module!r})
elapsed = time.perf_counter() - started
pulled = sorted({{name.split(".")[0] for name in set(sys.modules) - before}} & set({heavy!r}))
print(json.dumps({{"seconds": elapsed, "heavy": pulled}}))
"""


def import_cost(module: str, path: str | None) -> tuple[float, list[str]]:
    env = {**os.environ, **({"PYTHONPATH": path} if path else {})}
    out = subprocess.run([sys.executable, "-c", PROBE.format(module=module, heavy=HEAVY)], env=env, check=True,
                         capture_output=True, text=True, timeout=120, cwd=tempfile.gettempdir()).stdout
    answer = json.loads(out)
    return answer["seconds"], answer["heavy"]


def collect_only(project: Path, *extra: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider", *extra], cwd=project,
                   check=True, capture_output=True, timeout=120)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.plugin_import", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--module", default="pytest_pixverse_mock", help="the plugin module to import")
    ap.add_argument("--path", default=None, help="PYTHONPATH for --module (e.g. an older checkout)")
    args = ap.parse_args(argv)

    imports, heavy = [], []
    with_plugin, without = [], []
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "test_one.py").write_text("def test_one():\n    assert True\n", encoding="utf-8")
        for round_ in range(args.rounds):
            seconds, heavy = import_cost(args.module, args.path)
            imports.append(seconds)
            runs = [(with_plugin, ()), (without, ("-p", "no:pixverse_mock"))]
            for samples, extra in runs if round_ % 2 else runs[::-1]:
                samples.append(collect_only(project, *extra))

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:.1f} ms"

    print(f"plugin module {args.module}: import after pytest {ms(imports)} (median of {args.rounds}); "
          f"heavy modules pulled in: {', '.join(heavy) or 'none'}")
    share = [a - b for a, b in zip(with_plugin, without, strict=True)]
    print(f"pytest --co, one test: with the plugin {ms(with_plugin)}, with -p no:pixverse_mock {ms(without)}, "
          f"difference {ms(share)} (median of per-round differences)")


if __name__ == "__main__":
    main()
