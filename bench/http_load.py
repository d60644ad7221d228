"""HTTP rows and workloads: the mock, the bare-Flask baseline, Prism and WireMock under wrk.

Every row is a separate server on a free 127.0.0.1 port, started and stopped by PID through the
anchors' ``Server``; rows run one at a time, in alternating order from round to round. Per row:

- startup: process start to the first answer (< 500) to ``GET jobs`` of a seeded job (median of N);
- ``get``: ``GET jobs/?jobid=`` of a job the bench submitted once (completed by then: fast clock);
- ``meme_face``: multipart POST with the 100 KB face (``fixtures/faces/face-100k.jpg``);
- ``button``: JSON POST ``{"jobid": <seeded completed parent>, "button": "U1"}``;
- ``mix``: 1 meme_face submit to 10 polls of jobs submitted earlier in the same run;
- mock rows only: ``POST /__mock/reset`` latency, stored job count, RSS after the load.

Each workload: a short ``wrk`` warm-up, then ``wrk -t2 -c16 -dD --latency``. Submits carry one of
``TOKENS`` API tokens in turn (each token is a tenant with ``maxJobs`` 10, so a stateful mock does
not answer 429 to the load itself) and the token again as ``replyRef``, which the mix reads back
from the answer to poll the job with the right token.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import sys
import time
import urllib.parse
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench import bodies as B
from bench.anchors import ROOT

HOST = "127.0.0.1"
TOKENS = 1000
GET_TOKEN = "bench-get"
WORKLOADS = ("get", "meme_face", "button", "mix")

# name -> (kind, options). kind "mock": `pixverse-mock serve` + options; "baseline": bench.baseline_flask
# with the same store/workers (the same gunicorn layout); "prism"/"wiremock": peers.
# The fastest documented configuration of the mock: see FASTEST_NOTE and bench/RESULTS.md.
FASTEST_ARGS: list[str] = ["--config", "{fastest_config}"]
FASTEST_CONFIG = "journal_limit: 0\n"
FASTEST_NOTE = "memory store, 1 process x 4 threads, `journal_limit: 0` (no request journal)"
ROWS: dict[str, dict[str, Any]] = {
    "mock": {"kind": "mock", "args": [], "baseline": "flask", "note": "`pixverse-mock serve` (defaults)"},
    "mock-fastest": {"kind": "mock", "args": FASTEST_ARGS, "baseline": "flask", "note": FASTEST_NOTE},
    "flask": {"kind": "baseline", "args": [], "note": "bare Flask, same JSON + multipart parsing, "
                                                      "same gunicorn options as `serve` (1 process x 4 threads)"},
    "prism": {"kind": "prism", "args": [], "note": "prism mock openapi/pixverse-v1.yaml"},
    "wiremock": {"kind": "wiremock", "args": [], "note": "WireMock standalone jar, 3 stubs, no request journal"},
}
DEFAULT_ROWS = ("mock", "mock-fastest", "flask", "prism", "wiremock")


def log(*parts: Any) -> None:
    print("[bench]", *parts, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------- lua scripts
def lua_str(value: str | bytes) -> str:
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r").replace("\n", "\\n")
    return f'"{out}"'


_COMMON = """
threads_started = 0
function setup(thread)
  threads_started = threads_started + 1
  thread:set("tid", threads_started)
end
function init(args)
  n = (tid or 1) * 100003
end
local NTOK = {ntok}
"""

_MEME_FACE = """
local fh = assert(io.open({tail_path}, "rb"))
local tail = fh:read("*a")
fh:close()
local head = {head}
local ctype = {ctype}
local function submit()
  local tok = "bench-" .. (n % NTOK)
  return wrk.format("POST", {path}, {{["Authorization"] = "Bearer " .. tok, ["Content-Type"] = ctype}},
                    head .. tok .. tail)
end
"""


def write_scripts(run_dir: Path, poll: tuple[str, str]) -> dict[str, Path]:
    """The wrk lua scripts; ``poll`` is ``(token, jobid)`` the mix polls until its own submits answer."""
    head, tail, ctype = B.multipart()
    tail_path = run_dir / "meme_face-tail.bin"
    tail_path.write_bytes(tail)
    common = _COMMON.format(ntok=TOKENS)
    meme = _MEME_FACE.format(tail_path=lua_str(str(tail_path)), head=lua_str(head), ctype=lua_str(ctype),
                             path=lua_str(B.MEME_FACE_PATH))
    scripts = {
        "get": f'wrk.method = "GET"\nwrk.headers["Authorization"] = "Bearer {GET_TOKEN}"\n',
        "meme_face": common + meme + "function request()\n  n = n + 1\n  return submit()\nend\n",
        "button": common + f"""
local body = {lua_str(json.dumps(B.button_body(), separators=(",", ":")))}
function request()
  n = n + 1
  return wrk.format("POST", {lua_str(B.BUTTON_PATH)},
                    {{["Authorization"] = "Bearer bench-" .. (n % NTOK), ["Content-Type"] = "application/json"}}, body)
end
""",
        "mix": common + meme + f"""
local ring, ring_n, pos, seen = {{}}, 0, 0, {{}}
local poll_tok, poll_job = {lua_str(poll[0])}, {lua_str(poll[1])}
function request()
  n = n + 1
  if n % 11 == 0 then
    return submit()
  end
  local tok, job = poll_tok, poll_job
  if ring_n > 0 then
    local e = ring[(n % ring_n) + 1]
    tok, job = e[1], e[2]
  end
  return wrk.format("GET", {lua_str(B.JOBS_PATH + "?jobid=")} .. job, {{["Authorization"] = "Bearer " .. tok}})
end
function response(status, headers, body)
  if status ~= 200 then return end
  local job = body:match('"jobid":"([^"]+)"')
  local ref = body:match('"replyRef":"([^"]+)"')
  if job and ref and not seen[job] then
    seen[job] = true
    if ring_n < 64 then
      ring_n = ring_n + 1
      ring[ring_n] = {{ref, job}}
    else
      ring[(pos % 64) + 1] = {{ref, job}}
      pos = pos + 1
    end
  end
end
""",
    }
    paths = {}
    for name, text in scripts.items():
        path = run_dir / f"{name}.lua"
        path.write_text(text, encoding="latin-1")
        paths[name] = path
    return paths


# ------------------------------------------------------------------------------------ WireMock
def write_wiremock_root(run_dir: Path, bodies: dict[str, Any]) -> Path:
    root = run_dir / "wiremock"
    (root / "mappings").mkdir(parents=True, exist_ok=True)
    (root / "__files").mkdir(exist_ok=True)
    auth = {"Authorization": {"matches": "Bearer .+"}}

    def ok(body: dict[str, Any]) -> dict[str, Any]:
        return {"status": 200, "headers": {"Content-Type": "application/json"},
                "body": json.dumps(body, ensure_ascii=False, separators=(",", ":"))}

    part = {"matchingType": "ANY", "headers": {"Content-Disposition": {"contains": 'name="{}"'}}}
    mappings = {
        "get-job.json": {"request": {"method": "GET", "urlPathPattern": "/v1/pixverse/jobs/?", "headers": auth,
                                     "queryParameters": {"jobid": {"matches": ".+"}}},
                         "response": ok(bodies["get_job"])},
        "meme-face.json": {"request": {"method": "POST", "urlPathPattern": "/v1/pixverse/meme_face/?",
                                       "headers": auth, "multipartPatterns": [
                                           json.loads(json.dumps(part).replace("{}", name))
                                           for name in ("face", "prompt")]},
                           "response": ok(bodies["meme_face"])},
        "button.json": {"request": {"method": "POST", "urlPathPattern": "/v1/pixverse/button/?", "headers": auth,
                                    "bodyPatterns": [{"matchesJsonPath": "$.jobid"}, {"matchesJsonPath": "$.button"}]},
                        "response": ok(bodies["button"])},
    }
    for name, mapping in mappings.items():
        (root / "mappings" / name).write_text(json.dumps(mapping, ensure_ascii=False, indent=1), encoding="utf-8")
    return root


# ---------------------------------------------------------------------------------------- rows
def mock_command() -> list[str]:
    script = Path(sys.executable).parent / "pixverse-mock"
    return [str(script)] if script.exists() else [sys.executable, "-m", "mock_server.cli"]


def build_rows(anchor: Any, ctx: dict[str, Any], names: list[str]) -> list[Any]:
    rows = []
    for name in names:
        spec = ROWS[name]
        kind = spec["kind"]
        args = [a.format(**ctx) for a in spec["args"]]
        if kind == "mock":
            def build(c, port, args=args):
                return [*mock_command(), "serve", "--host", HOST, "--port", str(port), *args], str(ROOT)
            needs: list[str] = []
        elif kind == "baseline":
            def build(c, port, args=args):
                return [sys.executable, "-m", "bench.baseline_flask", "--bodies", str(c["bodies_path"]),
                        "--host", HOST, "--port", str(port), *args], str(ROOT)
            needs = []
        elif kind == "prism":
            prism = anchor.tool("node_modules", ".bin", "prism")

            def build(c, port, prism=prism):
                return [prism, "mock", str(ROOT / "openapi" / "pixverse-v1.yaml"), "-p", str(port), "-h", HOST], None
            needs = [prism]
        elif kind == "wiremock":
            jar = anchor.wiremock_jar()

            def build(c, port, jar=jar):
                return ["java", "-jar", jar, "--port", str(port), "--bind-address", HOST, "--root-dir",
                        str(c["wiremock_root"]), "--no-request-journal", "--disable-request-logging",
                        "--disable-banner"], None
            needs = ["java", jar]
        else:
            raise ValueError(kind)
        row = anchor.Row(name, build, needs=needs, note=spec["note"])
        row.kind = kind
        row.baseline = spec.get("baseline")
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------------- helpers
def call(port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
         timeout: float = 10) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def submit_one(port: int, token: str) -> tuple[int, dict[str, Any]]:
    head, tail, ctype = B.multipart()
    status, data = call(port, "POST", B.MEME_FACE_PATH, head + token.encode() + tail,
                        {"Authorization": f"Bearer {token}", "Content-Type": ctype.decode()})
    try:
        return status, json.loads(data)
    except ValueError:
        return status, {}


def jobs_path(jobid: str) -> str:
    return B.JOBS_PATH + "?" + urllib.parse.urlencode({"jobid": jobid})


def prepare_get(port: int, kind: str) -> tuple[str, int, int]:
    """Submit once and return the jobid to poll (completed, for the mock), its GET status and size."""
    status, job = submit_one(port, GET_TOKEN)
    jobid = job.get("jobid") or B.SEED_PARENT
    deadline = time.monotonic() + 8
    while True:
        st, data = call(port, "GET", jobs_path(jobid), headers={"Authorization": f"Bearer {GET_TOKEN}"})
        try:
            done = json.loads(data).get("status") == "completed"
        except (ValueError, AttributeError):
            done = False
        if kind != "mock" or done or time.monotonic() > deadline:
            return jobid, st, len(data)
        time.sleep(0.1)


def measure_reset(port: int, reps: int) -> dict[str, Any]:
    """``POST /__mock/reset`` over one keep-alive connection: the first (with the load's state), then ``reps``."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    times = []
    try:
        for _ in range(reps + 1):
            t0 = time.perf_counter()
            conn.request("POST", "/__mock/reset", body=b"{}", headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            times.append((time.perf_counter() - t0) * 1000)
            if response.status != 200:
                return {"error": f"reset answered {response.status}"}
    finally:
        conn.close()
    rest = sorted(times[1:])
    return {"first_ms": round(times[0], 2), "p50_ms": round(statistics.median(rest), 3),
            "p99_ms": round(rest[min(len(rest) - 1, int(len(rest) * 0.99))], 3), "reps": reps}


def health(port: int) -> dict[str, Any]:
    try:
        status, data = call(port, "GET", "/__mock/health")
        return json.loads(data) if status == 200 else {}
    except (OSError, ValueError):
        return {}


# ------------------------------------------------------------------------------------- measure
def measure_row(anchor: Any, row: Any, ctx: dict[str, Any], opts: SimpleNamespace, rnd: int) -> dict[str, Any]:
    result: dict[str, Any] = {"server": row.name, "kind": row.kind, "note": row.note, "round": rnd}
    ready_path = jobs_path(B.SEED_PARENT)
    startups: list[float] = []
    srv = None
    try:
        for i in range(opts.startup_reps):
            srv = anchor.Server(row, ctx, f"r{rnd}-s{i}")
            ms, status = srv.wait_ready(ready_path, opts.start_timeout)
            startups.append(round(ms, 1))
            result.setdefault("first_status", status)
            if i < opts.startup_reps - 1:
                srv.stop()
                srv = None
                time.sleep(0.2)
        result["startup_ms_all"] = startups
        result["startup_ms"] = round(statistics.median(startups), 1)
        result["argv"] = srv.argv
        jobid, get_status, get_bytes = prepare_get(srv.port, row.kind)
        result.update(get_status=get_status, get_bytes=get_bytes)
        urls = {"get": srv.url(jobs_path(jobid)), "meme_face": srv.url(B.MEME_FACE_PATH),
                "button": srv.url(B.BUTTON_PATH), "mix": srv.url("/")}
        for index, workload in enumerate(opts.workloads):
            warm = opts.warmup + (opts.jvm_warmup if row.kind == "wiremock" and index == 0 else 0)
            script = str(ctx["scripts"][workload])
            if warm > 0:
                anchor.run_wrk(opts, script, urls[workload], warm)
            res = anchor.run_wrk_balanced(opts, script, urls[workload], srv)
            res.pop("raw", None)
            result[workload] = res
            time.sleep(opts.pause)
        if row.kind == "mock":
            result["health"] = health(srv.port)
            result["reset"] = measure_reset(srv.port, opts.reset_reps)
        pids = srv.tree()
        mem = anchor.mem_kb(pids)
        result.update(nprocs=len(pids), peak_rss_mb=round(mem["hwm_kb"] / 1024, 1),
                      pss_end_mb=round(mem["pss_kb"] / 1024, 1))
    except Exception as exc:  # keep going with the other rows
        result["error"] = f"{type(exc).__name__}: {exc}"
        log(f"  {row.name}: ERROR {result['error'][:300]}")
    finally:
        if srv is not None:
            srv.stop(keep_log="error" in result)
    return result


def summary(r: dict[str, Any]) -> str:
    parts = [f"startup {r.get('startup_ms')} ms"]
    for w in WORKLOADS:
        x = r.get(w) or {}
        if x:
            parts.append(f"{w} {x.get('rps')} rps p99 {x.get('p99_ms')} ms"
                         + (f" non2xx {x['non2xx']}" if x.get("non2xx") else ""))
    if r.get("reset"):
        parts.append(f"reset p50 {r['reset'].get('p50_ms')} ms")
    parts.append(f"RSS {r.get('peak_rss_mb')} MB")
    return ", ".join(parts)


def run(opts: SimpleNamespace, run_dir: Path) -> dict[str, Any]:
    """All rounds of the HTTP rows; returns ``{"rounds": [[row result, ...], ...], ...}``."""
    from bench import anchors

    missing = anchors.ensure_tools(log)
    anchor = anchors.load()
    ctx: dict[str, Any] = {"run_dir": str(run_dir)}
    bodies_path = run_dir / "bodies.json"
    bodies = B.write(bodies_path)
    ctx["bodies_path"] = bodies_path
    ctx["fastest_config"] = str(run_dir / "fastest.yaml")
    (run_dir / "fastest.yaml").write_text(FASTEST_CONFIG, encoding="utf-8")
    ctx["scripts"] = write_scripts(run_dir, (bodies["token"], B.SEED_PARENT))
    ctx["wiremock_root"] = write_wiremock_root(run_dir, bodies)
    skipped: dict[str, str] = {}
    names = list(opts.rows)
    if "wrk" in missing:
        return {"rounds": [], "skipped": {n: "wrk not installed" for n in names}, "missing": missing}
    rows = []
    for row in build_rows(anchor, ctx, names):
        need = row.missing()
        if row.kind == "prism" and "prism" in missing or row.kind == "wiremock" and (
                "wiremock" in missing or "java" in missing):
            need = need or [t for t in missing if t in ("prism", "wiremock", "java")]
        if need:
            skipped[row.name] = f"missing {', '.join(map(str, need))}"
            log(f"skip {row.name}: {skipped[row.name]}")
        else:
            rows.append(row)
    rounds = []
    for rnd in range(1, opts.rounds + 1):
        order = rows if rnd % 2 else list(reversed(rows))
        results = []
        for row in order:
            log(f"round {rnd}/{opts.rounds}: {row.name}")
            r = measure_row(anchor, row, ctx, opts, rnd)
            log("  " + summary(r))
            results.append(r)
            time.sleep(opts.pause)
        rounds.append(results)
    return {"rounds": rounds, "skipped": skipped, "missing": missing, "versions": versions(anchor),
            "get_bytes_baseline": len(json.dumps(bodies["get_job"], ensure_ascii=False, separators=(",", ":")))}


def versions(anchor: Any) -> dict[str, Any]:
    try:
        v = anchor.versions()
    except Exception as exc:  # versions are nice to have
        return {"error": str(exc)}
    v.pop("nginx", None)
    v["cpus"] = os.cpu_count()
    return v
