"""The shared perf-anchor harness (``shared/bench-anchors``), used as a tool.

Its ``bench.py`` already knows how to start a server on a free loopback port in its own session,
wait for its first answer, drive ``wrk`` (req/s, p50, p99, non-2xx, server CPU per request from
/proc, re-run when all load went to one worker) and read the peak RSS of the process tree, and
stop it by PID. This module finds it, installs its tools with its ``setup.sh`` when they are
missing, and imports it as a module; the rows and workloads are the project's own
(:mod:`bench.http_load`).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def anchors_dir() -> Path | None:
    """``$BENCH_ANCHORS``, else ``shared/bench-anchors`` beside the checkout (or beside its parent: a worktree)."""
    candidates = [os.environ.get("BENCH_ANCHORS"), ROOT.parent / "shared" / "bench-anchors",
                  ROOT.parent.parent / "shared" / "bench-anchors", ROOT / "shared" / "bench-anchors"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "bench.py").is_file():
            return Path(candidate)
    return None


def tools_dir() -> Path:
    return Path(os.environ.get("PERF_TOOLS") or Path(os.environ.get("TMPDIR") or tempfile.gettempdir())
                / "perf-anchor-tools")


def missing_tools() -> list[str]:
    tools = tools_dir()
    missing = []
    if not shutil.which("wrk"):
        missing.append("wrk")
    if not (tools / "node_modules" / ".bin" / "prism").exists():
        missing.append("prism")
    if not list((tools / "node_modules" / "wiremock" / "build").glob("wiremock-standalone-*.jar")):
        missing.append("wiremock")
    return missing


def ensure_tools(log) -> list[str]:
    """Run the anchors' ``setup.sh`` if a tool is missing; returns what is still missing."""
    missing = missing_tools()
    where = anchors_dir()
    if missing and where is not None and (where / "setup.sh").is_file():
        log(f"peer tools missing ({', '.join(missing)}): running {where / 'setup.sh'}")
        env = {**os.environ, "PERF_TOOLS": str(tools_dir())}
        try:
            done = subprocess.run(["bash", str(where / "setup.sh")], env=env, capture_output=True, text=True,
                                  timeout=900)
            if done.returncode != 0:
                log(f"setup.sh failed (rc={done.returncode}): {done.stderr[-600:]}")
        except (OSError, subprocess.TimeoutExpired) as exc:
            log(f"setup.sh could not run: {exc}")
        missing = missing_tools()
    if not shutil.which("java"):
        missing.append("java")
    return missing


def load() -> ModuleType:
    """The anchors' ``bench.py`` as a module (raises ``SystemExit`` with a clear note if absent)."""
    where = anchors_dir()
    if where is None:
        raise SystemExit("bench: shared/bench-anchors/bench.py not found (set BENCH_ANCHORS=DIR)")
    os.environ.setdefault("PERF_TOOLS", str(tools_dir()))
    name = "pixverse_bench_anchor"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, where / "bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
