"""Soak: a mixed load for N minutes against one mock (memory store), its RSS and the jobs it keeps.

With the retention policy the job count stops at ``retention_jobs`` per tenant, and the RSS with it.

    python -m bench.soak                   # 10 minutes, 4 tenants, 4 client threads
    python -m bench.soak --minutes 1       # a short look
    python -m bench --only soak            # the same through ``make bench`` (not in its default run)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.procs import Client
from bench.procs import free_port
from bench.procs import serve
from mock_server.config import DEFAULT_ACCOUNT

TENANTS = 4
POLLS_PER_SUBMIT = 10


def _load(port: int, token: str, stop: threading.Event, counts: dict[str, int], lock: threading.Lock) -> None:
    client, recent, rng = Client(port, token), [], random.Random(token)
    mine = {"submits": 0, "polls": 0, "errors": 0}
    try:
        while not stop.is_set():
            status, body = client.submit()
            mine["submits"] += 1
            if status == 200:
                recent = [*recent[-99:], body["jobid"]]
            else:
                mine["errors"] += 1
            for _ in range(POLLS_PER_SUBMIT):
                if recent:
                    mine["polls"] += 1
                    mine["errors"] += client.job(rng.choice(recent))[0] != 200
    finally:
        client.close()
        with lock:
            for key, value in mine.items():
                counts[key] = counts.get(key, 0) + value


def run(minutes: float, threads: int, retention_jobs: int | None, sample_every: float) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix="pixverse-soak-"))
    config = {"accounts": [{**DEFAULT_ACCOUNT, "maxJobs": 10_000}]}
    if retention_jobs is not None:
        config["retention_jobs"] = retention_jobs
    (scratch / "mock.yaml").write_text(json.dumps(config))
    port = free_port()
    mock = serve(port, scratch / "mock.log", "--config", str(scratch / "mock.yaml"))
    stop, lock, counts = threading.Event(), threading.Lock(), {}
    samples: list[dict[str, Any]] = []
    try:
        Client(port, "soak-0").job("none")  # one answer: the app is built
        samples.append({"s": 0, "rss_mb": mock.rss_mb(), "jobs": _jobs(port)})
        workers = [threading.Thread(target=_load, args=(port, f"soak-{i % TENANTS}", stop, counts, lock))
                   for i in range(threads)]
        started = time.monotonic()
        for worker in workers:
            worker.start()
        end = started + minutes * 60
        while (now := time.monotonic()) < end:
            stop.wait(min(sample_every, end - now))
            samples.append({"s": round(time.monotonic() - started), "rss_mb": mock.rss_mb(), "jobs": _jobs(port)})
            print(f"soak: {samples[-1]}", file=sys.stderr, flush=True)
        stop.set()
        for worker in workers:
            worker.join(60)
    finally:
        stop.set()
        mock.stop()
    return {"minutes": minutes, "threads": threads, "tenants": TENANTS, "retention_jobs": retention_jobs,
            "samples": samples, **counts}


def _jobs(port: int) -> int:
    return Client(port, "soak-0").call("GET", "/__mock/health")[1]["jobs"]


def render(result: dict[str, Any]) -> str:
    samples = result["samples"]
    first, last = samples[0], samples[-1]
    peak = max(s["rss_mb"] for s in samples)
    lines = [
        f"Soak: {result['minutes']:g} min of mixed load (1 meme_face : {POLLS_PER_SUBMIT} GET jobs, "
        f"{result['threads']} threads, {result['tenants']} tenants), memory store, "
        f"retention_jobs {result['retention_jobs'] or 'default'}: {result.get('submits', 0)} submits, "
        f"{result.get('polls', 0)} polls, {result.get('errors', 0)} non-200.",
        "",
        "| at (s) | RSS (MB) | jobs kept |",
        "|---:|---:|---:|",
        *(f"| {s['s']} | {s['rss_mb']} | {s['jobs']} |" for s in samples),
        "",
        f"RSS start {first['rss_mb']} MB, end {last['rss_mb']} MB, peak {peak} MB.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--retention-jobs", type=int, help="the mock's retention_jobs (default: its own default)")
    ap.add_argument("--sample-every", type=float, default=30.0, help="seconds between RSS samples")
    a = ap.parse_args(argv)
    print(render(run(a.minutes, a.threads, a.retention_jobs, a.sample_every)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
