"""``python -m bench.time_scale``: unmodified clients under libfaketime against the mock at the same rate.

For each time scale R and each client (Node fetch + FormData + setTimeout, Python requests +
time.sleep, bash + curl + sleep; the protocol clients of ``tests/clients/``), it runs one task (3
meme_face jobs with ``maxJobs`` 2, a button on the first, one Discord 429 on the first submit; jobs
take 15-60 mock s, the ``realistic`` profile) a few times through the command driver, and prints
per cell: wall seconds per run, whether the run was
clean (report complete, every job completed, no property broken), the shortest gap between two
polls of one job and between the 429 and the next submit (mock seconds; the client sleeps 10 s), and
the mock seconds one run took. Loopback only; every process it starts is stopped.

    .venv/bin/python -m bench.time_scale                       # R = 10 20 50 100 200, 2 runs per cell
    .venv/bin/python -m bench.time_scale --scales 50 --runs 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench.anchors import ROOT
from contract_tests.drivers.command import run_command
from contract_tests.properties import judge
from contract_tests.server import ThreadedMockServer
from mock_server import MockConfig

CLIENTS = {
    "node": ["node", str(ROOT / "tests/clients/node/protocol/client.mjs")],
    "python": [sys.executable, str(ROOT / "tests/clients/python/client.py")],
    "bash": ["bash", str(ROOT / "tests/clients/bash/client.sh")],
}
TOKEN = "user:1-time-scale"


def task(base_url: str, download_dir: Path, scale: float) -> dict:
    face = str(ROOT / "fixtures/faces/face.png")
    jobs = [{"id": f"j{i}", "endpoint": "meme_face", "face": face, "prompt": f"a cat {i}",
             "fields": {"maxJobs": 2, "replyRef": f"ref-{i}"}} for i in range(3)]
    jobs.append({"id": "b", "endpoint": "button", "parent": "j0", "button": "🔀", "prompt": "again", "fields": {}})
    return {"protocol": 1, "base_url": base_url, "token": TOKEN, "time_scale": scale,
            "download_dir": str(download_dir), "callbacks": None, "jobs": jobs}


def one_run(client: list[str], scale: float, workdir: Path, clock: str) -> dict:
    with ThreadedMockServer(MockConfig(clock=clock, time_scale=scale)) as mock:
        runtime = mock.runtime
        runtime.add_fault("discord429", endpoint="meme_face", token=TOKEN)
        started = runtime.now()
        run = run_command(client, task(f"{mock.url}/v1", workdir / "downloads", scale), env=dict(os.environ),
                          time_scale=scale, wall_budget=120, workdir=workdir)
        mock_seconds = runtime.now() - started
        entries = runtime.journal("requests")
    outcomes = [r["outcome"] for r in (run.report or {}).get("results", [])]
    clean = (run.problem is None and outcomes == ["completed"] * 4 and not judge(entries) and not run.cut_off)
    return {"wall": run.wall_seconds, "clean": clean, "mock": mock_seconds, "poll_gap": _min_poll_gap(entries),
            "retry_gap": _retry_gap(entries), "why": run.problem or run.stderr[-300:] or str(outcomes)}


def _min_poll_gap(entries: list[dict]) -> float | None:
    last: dict[str, float] = {}
    gaps = []
    for e in entries:
        if e.get("operation") == "jobs":
            jobid = (e.get("query") or {}).get("jobid")
            if jobid in last:
                gaps.append(e["at"] - last[jobid])
            last[jobid] = e["at"]
    return min(gaps) if gaps else None


def _retry_gap(entries: list[dict]) -> float | None:
    submits = [e for e in entries if e.get("operation") in ("meme_face", "button")]
    for first, second in zip(submits, submits[1:], strict=False):
        if first.get("status") == 429:
            return second["at"] - first["at"]
    return None


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.time_scale", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", default="10,20,50,100,200")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--clients", default=",".join(CLIENTS))
    ap.add_argument("--clock", default="realistic", help="timing profile of the jobs (default realistic: 15-60 s)")
    a = ap.parse_args(argv)
    print("| R | client | wall s/run (median) | clean runs | min poll gap (mock s) | 429 -> next submit (mock s) "
          "| mock s/run |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for scale in (float(s) for s in a.scales.split(",")):
        for name in a.clients.split(","):
            runs = []
            for _ in range(a.runs):
                with tempfile.TemporaryDirectory(prefix="pixverse-time-scale-") as scratch:
                    runs.append(one_run(CLIENTS[name], scale, Path(scratch), a.clock))
            gaps = [r["poll_gap"] for r in runs if r["poll_gap"] is not None]
            retries = [r["retry_gap"] for r in runs if r["retry_gap"] is not None]
            print(f"| {scale:g} | {name} | {statistics.median(r['wall'] for r in runs):.2f} "
                  f"| {sum(r['clean'] for r in runs)}/{len(runs)} | {min(gaps) if gaps else float('nan'):.1f} "
                  f"| {min(retries) if retries else float('nan'):.1f} "
                  f"| {statistics.median(r['mock'] for r in runs):.0f} |", flush=True)
            for r in runs:
                if not r["clean"]:
                    print(f"|   | ↳ not clean: {r['why'][-200:]!r} | | | | | |", flush=True)


if __name__ == "__main__":
    main()
