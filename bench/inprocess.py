"""In-process measurements, each run in a fresh interpreter (``python -m bench.inprocess WHAT``).

- ``reset``: ``mock_of(app).reset()`` after a typical test (one tenant, one submit), and with 10,000 jobs.
- ``lifecycle``: ``create_app(MockConfig(clock="manual"))``, submit a meme_face with a ``replyUrl`` on a
  local receiver, ``advance(3)``, ``wait_for("callbacks", ...)`` until the receiver has it.
- ``scale``: jobs built as the service builds them (one real submit, then copies with their own ids,
  message ids and content) inserted straight into the app's ``MemoryStore``; at each size: RSS growth
  per job, ``service.get_job`` p50/p99 over random stored jobs, and ``store.admit`` with a limit
  (first call after the bulk insert, and steady state) on the tenant that holds them all.
- ``contract``: ``contract_tests.check_client`` with the reference client and a ``ThreadedMockServer``.

Each prints one JSON object on its last stdout line; :func:`run` starts them with a timeout.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FACE = ROOT / "fixtures" / "faces" / "face.jpg"


def log(*parts: Any) -> None:
    print("[bench]", *parts, file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def rss_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _submit(client: Any, token: str, **fields: str) -> Any:
    data = {"prompt": "A girl laughing by the seaside", **fields,
            "face": (open(FACE, "rb"), "face.jpg", "image/jpeg")}
    return client.post("/v1/pixverse/meme_face", data=data, headers={"Authorization": f"Bearer {token}"},
                       content_type="multipart/form-data")


# ------------------------------------------------------------------------------------------ reset
def bench_reset(reps: int) -> dict[str, Any]:
    from mock_server import MockConfig
    from mock_server import create_app
    from mock_server import mock_of

    app = create_app(MockConfig(clock="manual"))
    runtime, client = mock_of(app), app.test_client()
    try:
        times = []
        for i in range(reps + 20):
            assert _submit(client, f"reset-{i % 3}").status_code == 200
            t0 = time.perf_counter()
            runtime.reset()
            if i >= 20:
                times.append((time.perf_counter() - t0) * 1000)
        # a reset with 10,000 jobs of 1,000 tenants (inserted straight into the store)
        template = _template(runtime, client)
        for i in range(10_000):
            runtime.store.insert_job(_job_like(template, i, tenant=f"tenant-{i % 1000}"))
        t0 = time.perf_counter()
        runtime.reset()
        big = (time.perf_counter() - t0) * 1000
        return {"p50_ms": round(statistics.median(times), 3), "p99_ms": round(pct(times, 0.99), 3),
                "reps": reps, "with_10k_jobs_ms": round(big, 2)}
    finally:
        runtime.close()


# -------------------------------------------------------------------------------------- lifecycle
class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def bench_lifecycle(reps: int) -> dict[str, Any]:
    from mock_server import MockConfig
    from mock_server import create_app
    from mock_server import mock_of

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    reply_url = f"http://127.0.0.1:{receiver.server_port}/callback"
    phases: dict[str, list[float]] = {k: [] for k in ("create_app", "submit", "advance", "callback", "total",
                                                      "warm_total")}
    failures = []
    try:
        for i in range(reps + 2):
            t0 = time.perf_counter()
            app = create_app(MockConfig(clock="manual"))
            runtime, client = mock_of(app), app.test_client()
            t1 = time.perf_counter()
            answer = _submit(client, "lifecycle", replyUrl=reply_url)
            jobid = answer.get_json().get("jobid")
            t2 = time.perf_counter()
            runtime.advance(3)
            t3 = time.perf_counter()
            entry = runtime.wait_for("callbacks", timeout=5, jobid=jobid)
            t4 = time.perf_counter()
            # the same again on the app that is up (what a test suite with one app per session pays)
            runtime.reset()
            w0 = time.perf_counter()
            jobid2 = _submit(client, "lifecycle", replyUrl=reply_url).get_json().get("jobid")
            runtime.advance(3)
            entry2 = runtime.wait_for("callbacks", timeout=5, jobid=jobid2)
            w1 = time.perf_counter()
            runtime.close()
            if not (entry and entry.get("delivered") and entry2 and entry2.get("delivered")):
                failures.append({"entry": entry, "entry2": entry2})
            if i < 2:  # first runs warm imports and caches
                continue
            for key, value in (("create_app", t1 - t0), ("submit", t2 - t1), ("advance", t3 - t2),
                               ("callback", t4 - t3), ("total", t4 - t0), ("warm_total", w1 - w0)):
                phases[key].append(value * 1000)
    finally:
        receiver.shutdown()
        receiver.server_close()
    out: dict[str, Any] = {key: {"p50_ms": round(statistics.median(v), 2), "p90_ms": round(pct(v, 0.9), 2)}
                           for key, v in phases.items()}
    out["reps"] = reps
    out["failures"] = failures[:3]
    return out


# ------------------------------------------------------------------------------------------ scale
def _template(runtime: Any, client: Any) -> Any:
    """A real job, as the service builds it for a meme_face submit with every optional field."""
    answer = _submit(client, "scale-template", negative_prompt="sad face", seed_value="12345",
                     aspect_ratio="16:9", replyRef="order-42")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    from mock_server.accounts import digest

    return runtime.store.job(digest("scale-template"), answer.get_json()["jobid"])


def _job_like(template: Any, i: int, tenant: str) -> Any:
    """A job shaped like ``template`` with its own ids, times and content (as a new submit would have)."""
    import dataclasses

    message_id = str(1_300_000_000_000_000_000 + i)
    jobid = f"j{1120000000000 + i:013d}{i % 10000:04d}-u{template.user_id}-c{template.channel}-bot:pixverse"
    created = template.created + i * 0.001
    # Values parsed from each request are objects of their own; the account's (discord, server,
    # channel) are shared by every job of the account, as in the service.
    record = {key: value if key in ("discord", "server", "channel") else _fresh(value)
              for key, value in template.record.items()}
    record["messageId"] = message_id
    extra = dict(template.extra)
    return dataclasses.replace(template, tenant=tenant, jobid=jobid, created=created, progress_at=created + 1,
                               ends_at=created + 3, record=record, extra=extra)


def _fresh(value: Any) -> Any:
    """An equal value in new objects (strings and ints as a request parser makes them)."""
    if isinstance(value, str):
        return value.encode().decode()
    if isinstance(value, int) and not isinstance(value, bool):
        return int(str(value))
    if isinstance(value, dict):
        return {key: _fresh(item) for key, item in value.items()}
    return value


def bench_scale(sizes: list[int], lookups: int, admits: int) -> dict[str, Any]:
    from mock_server import MockConfig
    from mock_server import create_app
    from mock_server import mock_of
    from mock_server.store.base import Candidate
    from mock_server.store.base import Rejected

    app = create_app(MockConfig(clock="manual"))
    runtime, client = mock_of(app), app.test_client()
    template = _template(runtime, client)
    runtime.reset()
    store, service = runtime.store, runtime.service
    tenant = "scale-tenant"
    account = service._seed_accounts[0]
    now = template.created + 10_000_000.0  # every stored job long finished
    ids: list[str] = []
    sequence = [0]  # jobs admitted so far (stored as well)
    rng = random.Random(0)
    # A second mock that keeps the smallest size: every level's lookups alternate, batch by batch,
    # between the big store and this one, so "N jobs vs 1,000" is a ratio from one sitting.
    small_app = create_app(MockConfig(clock="manual"))
    small = mock_of(small_app)
    small_ids = []
    for i in range(min(sizes)):
        job = _job_like(template, 50_000_000 + i, tenant)
        small.store.insert_job(job)
        small_ids.append(job.jobid)
    gc.collect()
    base_rss = rss_kb()
    levels = []
    for size in sorted(sizes):
        t0 = time.perf_counter()
        while len(ids) + sequence[0] < size:  # jobs admitted at the level before count too
            job = _job_like(template, len(ids), tenant)
            store.insert_job(job)
            ids.append(job.jobid)
        insert_s = time.perf_counter() - t0
        gc.collect()
        rss = rss_kb()
        level: dict[str, Any] = {"jobs": size, "insert_s": round(insert_s, 2), "rss_mb": round(rss / 1024, 1),
                                 "growth_bytes_per_job": round((rss - base_rss) * 1024 / size)}
        if levels:
            prev = levels[-1]
            level["marginal_bytes_per_job"] = round((rss - prev["_rss"]) * 1024 / (size - prev["jobs"]))
        level["_rss"] = rss
        # GET: the service call a GET jobs makes, on random stored jobs (big store and the small one in turn)
        base_url = "http://127.0.0.1:8080"
        times: dict[str, list[float]] = {"big": [], "small": []}
        targets = {"big": (service, ids), "small": (small.service, small_ids)}
        for svc, pool in targets.values():
            for _ in range(200):
                svc.get_job(tenant, pool[rng.randrange(len(pool))], base_url)
        for batch in range(max(1, lookups // 500)):
            for name in (("big", "small") if batch % 2 == 0 else ("small", "big")):
                svc, pool = targets[name]
                for jobid in [pool[rng.randrange(len(pool))] for _ in range(500)]:
                    t = time.perf_counter_ns()
                    svc.get_job(tenant, jobid, base_url)
                    times[name].append((time.perf_counter_ns() - t) / 1000)
        level["get_p50_us"] = round(statistics.median(times["big"]), 1)
        level["get_p99_us"] = round(pct(times["big"], 0.99), 1)
        level["small_get_p50_us"] = round(statistics.median(times["small"]), 1)
        level["get_vs_small"] = round(level["get_p50_us"] / level["small_get_p50_us"], 3)
        # admission with a limit, on the tenant and channel that hold every stored job
        clock = [now]

        def build(candidate: Any, seq: int, at: list[float] = clock) -> Any:
            sequence[0] += 1
            job = _job_like(template, 10_000_000 + seq, tenant)
            job.created, job.progress_at, job.ends_at = at[0], at[0] + 1, at[0] + 3
            return job

        t = time.perf_counter_ns()
        first = store.admit(tenant, [Candidate(account, 10)], clock[0], build)
        level["admit_first_us"] = round((time.perf_counter_ns() - t) / 1000, 1)
        admit_times, rejected = [], isinstance(first, Rejected)
        for _ in range(admits):
            clock[0] += 1.0  # one new job a second, each 3 s long: 3 executing, under the limit of 10
            t = time.perf_counter_ns()
            got = store.admit(tenant, [Candidate(account, 10)], clock[0], build)
            admit_times.append((time.perf_counter_ns() - t) / 1000)
            rejected = rejected or isinstance(got, Rejected)
        now = clock[0] + 10
        level["admit_p50_us"] = round(statistics.median(admit_times), 1)
        level["admit_p99_us"] = round(pct(admit_times, 0.99), 1)
        level["admit_rejected"] = rejected
        log(f"scale {size:>9,} jobs: RSS {level['rss_mb']} MB, {level['growth_bytes_per_job']} B/job, "
            f"GET p50 {level['get_p50_us']} us p99 {level['get_p99_us']} us "
            f"({level['get_vs_small']}x the {min(sizes):,}-job store's, same sitting), "
            f"admit p50 {level['admit_p50_us']} us "
            f"(first {level['admit_first_us']} us), insert {level['insert_s']} s")
        levels.append(level)
    for level in levels:
        level.pop("_rss", None)
    runtime.close()
    small.close()
    return {"small_jobs": min(sizes), "base_rss_mb": round(base_rss / 1024, 1), "levels": levels,
            "lookups": lookups, "admits": admits}


# --------------------------------------------------------------------------------------- contract
def bench_contract(examples: int) -> dict[str, Any]:
    from mock_server import MockConfig

    out: dict[str, Any] = {"examples": examples}
    t0 = time.perf_counter()
    try:
        from contract_tests import ThreadedMockServer
        from contract_tests import check_client
        from contract_tests.handle import MockHandle
        from contract_tests.reference_client import ReferenceClient

        server = ThreadedMockServer(MockConfig(clock="manual")).start()
        try:
            t1 = time.perf_counter()
            check_client(MockHandle(server, "user:1-bench-contract"), ReferenceClient.make, max_examples=examples)
            out["suite_s"] = round(time.perf_counter() - t1, 2)
        finally:
            server.stop()
        out["ok"] = True
    except BaseException as exc:  # the kit is in flux: record what happened, whatever it is
        out["ok"] = False
        out["error"] = f"{type(exc).__name__}: {exc}"[:1500]
    out["wall_s"] = round(time.perf_counter() - t0, 2)
    return out


# ------------------------------------------------------------------------------------------ driver
def run(what: str, args: list[str], timeout: float) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; its JSON, or ``{"error": ...}``."""
    cmd = [sys.executable, "-m", "bench.inprocess", what, *args]
    t0 = time.perf_counter()
    try:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "PYTHONHASHSEED": "0"})
    except subprocess.TimeoutExpired as exc:
        return {"error": f"timed out after {timeout:.0f} s", "stderr": (exc.stderr or "")[-800:]
                if isinstance(exc.stderr, str) else "", "wall_s": round(time.perf_counter() - t0, 1)}
    for line in (done.stderr or "").splitlines():
        if line.startswith("[bench]"):
            print(line, file=sys.stderr, flush=True)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"error": f"rc={done.returncode}, no result", "stderr": done.stderr[-1500:]}
    result["wall_s"] = result.get("wall_s", round(time.perf_counter() - t0, 1))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.inprocess")
    ap.add_argument("what", choices=("reset", "lifecycle", "scale", "contract"))
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--sizes", default="1000,10000,100000,1000000")
    ap.add_argument("--lookups", type=int, default=20000)
    ap.add_argument("--admits", type=int, default=2000)
    ap.add_argument("--examples", type=int, default=100)
    a = ap.parse_args()
    if a.what == "reset":
        result = bench_reset(a.reps)
    elif a.what == "lifecycle":
        result = bench_lifecycle(a.reps)
    elif a.what == "scale":
        result = bench_scale([int(s) for s in a.sizes.split(",") if s], a.lookups, a.admits)
    else:
        result = bench_contract(a.examples)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
