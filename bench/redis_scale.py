"""Scale-out on Redis: ``GET jobs`` and ``meme_face`` req/s with 1, 2 and 4 processes on one Redis.

Against the memory store (1 process, the default layout), under ``wrk -t2 -c16``.

The processes are ``pixverse-mock serve --store redis://... --workers N`` (N gunicorn workers, each
its own instance on the shared store: what N machines behind a balancer do, on one port). A local
``redis-server`` is started on a free loopback port and stopped by PID, like every mock.

    python -m bench.redis_scale                  # 3 rounds of 4 s per row and workload
    python -m bench.redis_scale --duration 2 --rounds 1
    python -m bench --only redis                 # the same through ``make bench`` (not in its default run)
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import http_load
from bench.procs import HOST
from bench.procs import Process
from bench.procs import free_port
from bench.procs import serve

WORKLOADS = ("get", "meme_face")
ROWS = (("memory", 1), ("redis", 1), ("redis", 2), ("redis", 4))
_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")


def _redis(scratch: Path) -> Process:
    port = free_port()
    process = Process([shutil.which("redis-server") or "redis-server", "--bind", HOST, "--port", str(port),
                       "--save", "", "--appendonly", "no", "--dir", str(scratch)], port, scratch / "redis.log")
    process.wait_port()
    return process


def _wrk(script: Path, url: str, seconds: int) -> dict[str, Any]:
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", "-s", str(script), url],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = _RPS.search(out)
    non_2xx = _NON_2XX.search(out)
    return {"rps": float(rps.group(1)) if rps else 0.0, "non_2xx": int(non_2xx.group(1)) if non_2xx else 0}


def run(rounds: int, duration: int) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix="pixverse-redis-bench-"))
    redis = _redis(scratch)
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    try:
        for round_ in range(rounds):
            for store, workers in (ROWS if round_ % 2 == 0 else ROWS[::-1]):
                name = f"{store} x{workers}"
                location = "memory" if store == "memory" else f"redis://{HOST}:{redis.port}/0?prefix=r{round_}w{workers}"
                port = free_port()
                mock = serve(port, scratch / f"{name}.log", "--store", location, "--workers", str(workers))
                try:
                    jobid, status, _ = http_load.prepare_get(port, "mock")
                    if status != 200:
                        raise RuntimeError(f"{name}: GET jobs answered {status}")
                    scripts = http_load.write_scripts(scratch, (http_load.GET_TOKEN, jobid))
                    urls = {"get": f"http://{HOST}:{port}{http_load.jobs_path(jobid)}",
                            "meme_face": f"http://{HOST}:{port}/"}
                    for workload in WORKLOADS:
                        _wrk(scripts[workload], urls[workload], 1)  # warm-up
                        figure = _wrk(scripts[workload], urls[workload], duration)
                        results.setdefault(name, {}).setdefault(workload, []).append(figure)
                        http_load.log(f"{name} {workload}: {figure}")
                finally:
                    mock.stop()
    finally:
        redis.stop()
    return {"rounds": rounds, "duration": duration, "rows": results}


def render(result: dict[str, Any]) -> str:
    rows = result["rows"]
    base = {w: statistics.median(f["rps"] for f in rows["memory x1"][w]) for w in WORKLOADS}
    lines = [f"Scale-out on Redis (wrk -t2 -c16, {result['duration']} s x {result['rounds']} rounds, median req/s; "
             "ratio to the memory store in the same sitting):", "",
             "| store | processes | GET jobs | ratio | meme_face | ratio | non-2xx |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, figures in rows.items():
        store, workers = name.split(" x")
        cells = []
        for workload in WORKLOADS:
            rps = statistics.median(f["rps"] for f in figures[workload])
            cells += [f"{rps:,.0f}", f"{rps / base[workload]:.2f}" if base[workload] else "-"]
        errors = sum(f["non_2xx"] for w in WORKLOADS for f in figures[w])
        lines.append(f"| {store} | {workers} | {' | '.join(cells)} | {errors} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.redis_scale", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=4)
    a = ap.parse_args(argv)
    print(render(run(a.rounds, a.duration)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
