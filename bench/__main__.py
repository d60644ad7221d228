"""``python -m bench`` (``make bench``): every row and workload of the benchmark, one command.

Builds what it needs (the peer tools through ``shared/bench-anchors/setup.sh`` when missing; the
baseline's bodies from the mock itself), sends bounded load to 127.0.0.1 only, stops every server
it started by PID, prints the tables and writes them into ``bench/RESULTS.md`` (between the
generated-section markers; the analysis written around them is kept).

    python -m bench                   # the default run (~9 min on 2 cores)
    python -m bench --quick           # 2-3 min: 1 round, short runs, scale up to 100,000 jobs
    python -m bench --rounds 5 --duration 8
    python -m bench --only mock,flask,prism        # these HTTP rows (and no in-process section)
    python -m bench --only scale,lifecycle         # these sections only
    python -m bench --only soak,redis              # opt-in: 10-minute soak; scale-out on Redis
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from bench import http_load
from bench import inprocess
from bench import report
from bench.anchors import ROOT

SECTIONS = ("startup", "load", "reset", "lifecycle", "scale", "contract", "soak", "redis")
OPT_IN = ("soak", "redis")
"""Sections that run only when named in ``--only`` (they take minutes of their own)."""
HTTP_SECTIONS = ("startup", "load")
RESULTS = ROOT / "bench" / "RESULTS.md"


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short run: 1 round, 2 s per run, scale to 100,000 jobs")
    ap.add_argument("--rounds", type=int, help="rounds per HTTP workload (default 2; quick 1)")
    ap.add_argument("--duration", type=int, help="wrk seconds per row, workload and round (default 3; quick 2)")
    ap.add_argument("--warmup", type=int, help="wrk warm-up seconds per row and workload (default 1; quick 1)")
    ap.add_argument("--jit-warmup", type=int,
                    help="extra warm-up for the first workload of WireMock and Prism (JITs; default 15; quick 5)")
    ap.add_argument("--startup-reps", type=int, help="starts per row for the startup figure (default 3; quick 1)")
    ap.add_argument("--only", default="", help="comma list of rows (" + ", ".join(http_load.ROWS) + ") and/or "
                    "sections (" + ", ".join(SECTIONS) + "); rows alone mean the HTTP sections only")
    ap.add_argument("--workloads", default=",".join(http_load.WORKLOADS), help="comma list (default: all)")
    ap.add_argument("--sizes", help="stored-job counts for the scale section (default 1000,10000,100000,1000000)")
    ap.add_argument("--examples", type=int, help="contract suite examples (default 100; quick 20)")
    ap.add_argument("--results", default=str(RESULTS), help="markdown file to update (default bench/RESULTS.md)")
    ap.add_argument("--no-results", action="store_true", help="print only, leave RESULTS.md alone")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder (lua scripts, server logs, JSON)")
    return ap.parse_args(argv)


def options(a: argparse.Namespace) -> SimpleNamespace:
    quick = a.quick

    def pick(value: int | None, default: int, fast: int) -> int:
        return value if value is not None else fast if quick else default

    names = [n.strip() for n in a.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in http_load.ROWS and n not in SECTIONS]
    if unknown:
        raise SystemExit(f"--only: unknown {', '.join(unknown)}; rows: {', '.join(http_load.ROWS)}; "
                         f"sections: {', '.join(SECTIONS)}")
    rows = [n for n in names if n in http_load.ROWS] or list(http_load.DEFAULT_ROWS)
    for name in list(rows):  # a mock row is compared with its baseline: bring it along
        base = http_load.ROWS[name].get("baseline")
        if base and base not in rows:
            rows.append(base)
    sections = [n for n in names if n in SECTIONS]
    if not sections:
        sections = list(HTTP_SECTIONS) if any(n in http_load.ROWS for n in names) else [
            s for s in SECTIONS if s not in OPT_IN]
    return SimpleNamespace(
        quick=quick, rows=rows, sections=sections,
        rounds=pick(a.rounds, 2, 1), duration=pick(a.duration, 3, 2), warmup=pick(a.warmup, 1, 1),
        jit_warmup=pick(a.jit_warmup, 15, 5), startup_reps=pick(a.startup_reps, 3, 1),
        workloads=[w for w in a.workloads.split(",") if w] if "load" in sections else [],
        threads=2, conns=16, retry_imbalanced=1, pause=0.5, start_timeout=90.0, reset_reps=pick(None, 200, 50),
        lifecycle_reps=pick(None, 20, 5), slow_requests=pick(None, 300, 100), examples=pick(a.examples, 100, 20),
        sizes=a.sizes or ("1000,10000,100000" if quick else "1000,10000,100000,1000000"),
        lookups=pick(None, 20000, 5000), admits=pick(None, 2000, 500),
    )


def main(argv: list[str] | None = None) -> int:
    a = parse(sys.argv[1:] if argv is None else argv)
    opts = options(a)
    command = "python -m bench" + ("" if not sys.argv[1:] else " " + shlex.join(sys.argv[1:]))
    run_dir = Path(tempfile.mkdtemp(prefix="pixverse-bench-"))
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    t0 = time.monotonic()
    doc: dict = {"command": command, "started": started, "options": vars(opts),
                 "loadavg_before": tuple(round(x, 2) for x in os.getloadavg())}
    http_load.log(f"rows {', '.join(opts.rows)}; sections {', '.join(opts.sections)}; scratch {run_dir}")
    if any(s in opts.sections for s in HTTP_SECTIONS):
        http_opts = SimpleNamespace(**vars(opts))
        if "startup" not in opts.sections:
            http_opts.startup_reps = 0
        doc["http"] = http_load.run(http_opts, run_dir)
    if "reset" in opts.sections:
        http_load.log("in-process reset")
        doc["reset"] = inprocess.run("reset", ["--reps", str(opts.reset_reps)], timeout=300)
    if "lifecycle" in opts.sections:
        http_load.log("in-process lifecycle")
        doc["lifecycle"] = inprocess.run("lifecycle", ["--reps", str(opts.lifecycle_reps)], timeout=300)
    if "scale" in opts.sections:
        http_load.log(f"scale: {opts.sizes} stored jobs")
        doc["scale"] = inprocess.run("scale", ["--sizes", opts.sizes, "--lookups", str(opts.lookups),
                                               "--admits", str(opts.admits)], timeout=900)
    if "contract" in opts.sections:
        http_load.log(f"contract suite, {opts.examples} examples")
        doc["contract"] = inprocess.run("contract", ["--examples", str(opts.examples)], timeout=600)
    if "soak" in opts.sections:
        from bench import soak

        http_load.log("soak: 10 minutes of mixed load on the memory store")
        doc["soak"] = soak.run(minutes=2 if opts.quick else 10, threads=4, retention_jobs=1000, sample_every=60)
    if "redis" in opts.sections:
        from bench import redis_scale

        http_load.log("redis: GET jobs and meme_face with 1, 2 and 4 processes on one Redis")
        doc["redis"] = redis_scale.run(rounds=opts.rounds, duration=opts.duration)
    doc["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    doc["elapsed_s"] = round(time.monotonic() - t0, 1)
    doc["loadavg_after"] = tuple(round(x, 2) for x in os.getloadavg())
    (run_dir / "results.json").write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
    text = report.render(doc)
    if "soak" in doc:
        from bench import soak

        print(soak.render(doc["soak"]))
    if "redis" in doc:
        from bench import redis_scale

        print(redis_scale.render(doc["redis"]))
    print(text)
    if not a.no_results:
        path = Path(a.results)
        existing = path.read_text(encoding="utf-8") if path.exists() else ""
        path.write_text(report.merge(existing, text), encoding="utf-8")
        http_load.log(f"wrote {path}")
    if a.keep:
        http_load.log(f"raw figures, scripts and logs in {run_dir}")
    else:
        http_load.log(f"raw figures: {run_dir / 'results.json'}")
        for child in run_dir.iterdir():  # keep results.json only
            if child.name != "results.json":
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
