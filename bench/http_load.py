"""HTTP rows and workloads: the mock, the bare-Flask baseline, Prism and WireMock under wrk.

Every row is a separate server on a free 127.0.0.1 port, started and stopped by PID through the
anchors' ``Server``; rows run one at a time, in alternating order from round to round. Per row:

- startup: process start to the first answer (< 500) to ``GET jobs`` of a seeded job (median of N);
- ``get``: ``GET jobs/?jobid=`` of a job the bench submitted once (completed by then: fast clock);
- ``meme_face``: multipart POST with the 100 KB face (``fixtures/faces/face-100k.jpg``);
- ``button``: JSON POST ``{"jobid": <seeded completed parent>, "button": "U1"}``;
- ``mix``: 1 meme_face submit to 10 polls of jobs submitted earlier in the same run;
- mock rows only: ``POST /__mock/reset`` latency, stored job count, RSS after the load.

Each workload: a short ``wrk`` warm-up (longer the first time for WireMock and Prism, whose JITs
need it), then ``wrk -t2 -c16 -dD --latency``. Submits carry one of
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
from mock_server.launch import command_line

HOST = "127.0.0.1"
TOKENS = 1000
GET_TOKEN = "bench-get"
WORKLOADS = ("get", "meme_face", "button", "mix")

# name -> (kind, options). kind "mock": `pixverse-mock serve` + options; "candidate": `python -m bench.candidates`
# with these options (the mock or the bare-Flask baseline under a named server); "prism"/"wiremock": peers.
# The fastest documented configuration of the mock: see FASTEST_NOTE and bench/RESULTS.md.
FASTEST_ARGS: list[str] = ["--journal-limit", "0"]
FASTEST_NOTE = "`serve --journal-limit 0` (no request journal), 1 process x 4 threads"
BASELINE = ["--app", "flask", "--bodies", "{bodies_path}"]
JIT_KINDS = ("wiremock", "prism")
ROWS: dict[str, dict[str, Any]] = {
    "mock": {"kind": "mock", "args": [], "baseline": "flask",
             "note": "`pixverse-mock serve` (defaults: granian RSGI + bridge, 1 process x 4 threads)"},
    "mock-fastest": {"kind": "mock", "args": FASTEST_ARGS, "baseline": "flask", "note": FASTEST_NOTE},
    "flask": {"kind": "candidate", "args": [*BASELINE, "--server", "shipped"],
              "note": "bare Flask, same JSON + multipart parsing, on the server `serve` ships (same settings)"},
    "mock-gunicorn": {"kind": "candidate", "args": ["--app", "mock", "--server", "gunicorn"],
                      "baseline": "flask-gunicorn", "note": "the mock on the server it shipped with before "
                                                             "(gunicorn gthread, 1 process x 4 threads)"},
    "flask-gunicorn": {"kind": "candidate", "args": [*BASELINE, "--server", "gunicorn"],
                       "note": "bare Flask on the former shipped gunicorn settings (gthread, 1 x 4)"},
    "mock-granian-wsgi": {"kind": "candidate", "args": ["--app", "mock", "--server", "granian-wsgi",
                                                        "--threads", "1"],
                          "baseline": "flask", "note": "the mock on granian's WSGI interface, 1 blocking thread"},
    "mock-granian-wsgi4": {"kind": "candidate", "args": ["--app", "mock", "--server", "granian-wsgi",
                                                         "--threads", "4"],
                           "baseline": "flask", "note": "the mock on granian's WSGI interface, 4 blocking threads"},
    # not in the default run: the multi-process layout
    "mock-sqlite2": {"kind": "mock", "args": ["--store", "sqlite:{run_dir}/mock.sqlite", "--workers", "2"],
                     "baseline": "flask", "note": "`--store sqlite:PATH --workers 2` (2 processes x 4 threads)"},
    "prism": {"kind": "prism", "args": [], "note": "prism mock openapi/pixverse-v1.yaml"},
    "wiremock": {"kind": "wiremock", "args": [], "note": "WireMock standalone jar, 3 stubs, no request journal"},
}
DEFAULT_ROWS = ("mock", "mock-fastest", "flask", "mock-gunicorn", "flask-gunicorn", "mock-granian-wsgi", "prism",
                "wiremock")


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
def build_rows(anchor: Any, ctx: dict[str, Any], names: list[str]) -> list[Any]:
    rows = []
    for name in names:
        spec = ROWS[name]
        kind = spec["kind"]
        args = [a.format(**ctx) for a in spec["args"]]
        if kind == "mock":
            def build(c, port, args=args):
                return [*command_line(), "serve", "--host", HOST, "--port", str(port), *args], str(ROOT)
            needs: list[str] = []
        elif kind == "candidate":
            def build(c, port, args=args):
                return [sys.executable, "-m", "bench.candidates", "--host", HOST, "--port", str(port), *args], str(ROOT)
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
        row.kind = "mock" if name.startswith("mock") else kind  # a candidate row serving the mock is a mock row
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


SLOW = 64  # connections of each kind: stalled mid-head, stalled mid-body, idle keep-alive


def measure_slow_clients(port: int, requests: int) -> dict[str, Any]:
    """A normal client's ``GET jobs`` latency while ``SLOW`` connections of each kind hang on the server.

    Each request has 2 s; after 3 timeouts in a row the server counts as starved and the run stops.
    """
    import socket

    head = f"POST {B.BUTTON_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer bench-slow\r\n".encode()
    opened: list[socket.socket] = []
    idle: list[http.client.HTTPConnection] = []
    times: list[float] = []
    failed = in_a_row = 0
    try:
        for data in (b"GET / HTTP/1.1\r\nHost: x\r\n",
                     head + b"Content-Type: application/json\r\nContent-Length: 40\r\n\r\n{"):
            for _ in range(SLOW):
                sock = socket.create_connection((HOST, port), timeout=5)
                sock.sendall(data)
                opened.append(sock)
        for _ in range(SLOW):  # one answered request each, then the connection idles
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            idle.append(conn)
            try:
                conn.request("GET", "/__mock/health")
                conn.getresponse().read()
            except OSError:
                break
        path = jobs_path(B.SEED_PARENT)
        for _ in range(requests):
            t0 = time.perf_counter()
            try:
                call(port, "GET", path, headers={"Authorization": f"Bearer {GET_TOKEN}"}, timeout=2)
                times.append((time.perf_counter() - t0) * 1000)
                in_a_row = 0
            except OSError:
                failed += 1
                in_a_row += 1
                if in_a_row == 3:
                    break
    finally:
        for sock in opened:
            sock.close()
        for conn in idle:
            conn.close()
    ordered = sorted(times)
    return {"answered": len(times), "tried": len(times) + failed,
            "p50_ms": round(statistics.median(ordered), 2) if ordered else None,
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2) if ordered else None}


def health(port: int) -> dict[str, Any]:
    try:
        status, data = call(port, "GET", "/__mock/health")
        return json.loads(data) if status == 200 else {}
    except (OSError, ValueError):
        return {}


# ------------------------------------------------------------------------------------- measure
def measure_startups(anchor: Any, rows: list[Any], ctx: dict[str, Any], opts: SimpleNamespace,
                     out: dict[str, dict[str, Any]]) -> None:
    """Process start to first answer, ``opts.startup_reps`` times per row, rows interleaved."""
    ready_path = jobs_path(B.SEED_PARENT)
    for rep in range(opts.startup_reps):
        order = rows if rep % 2 == 0 else list(reversed(rows))
        for row in order:
            info = out[row.name]
            if "error" in info:
                continue
            srv = anchor.Server(row, ctx, f"startup{rep}")
            try:
                ms, status = srv.wait_ready(ready_path, opts.start_timeout)
                info.setdefault("startup_ms_all", []).append(round(ms, 1))
                info.setdefault("first_status", status)
            except Exception as exc:
                info["error"] = f"startup: {type(exc).__name__}: {exc}"
                log(f"  {row.name}: ERROR {info['error'][:300]}")
            finally:
                srv.stop(keep_log="error" in info)
            time.sleep(0.2)
    for info in out.values():
        if info.get("startup_ms_all"):
            info["startup_ms"] = round(statistics.median(info["startup_ms_all"]), 1)


def run_load(anchor: Any, rows: list[Any], ctx: dict[str, Any], opts: SimpleNamespace,
             out: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Load every row: all up at once (an idle server costs nothing), each workload ``opts.rounds`` times.

    In each round every row runs in turn (order alternating), so rows compared in one round ran
    seconds apart. Returns ``{workload: [{row: wrk result}, ...one per round]}``.
    """
    servers: dict[str, Any] = {}
    urls: dict[str, dict[str, str]] = {}
    results: dict[str, list[dict[str, Any]]] = {w: [] for w in opts.workloads}
    try:
        for row in rows:
            info = out[row.name]
            if "error" in info:
                continue
            try:
                srv = servers[row.name] = anchor.Server(row, ctx, "load")
                srv.wait_ready(jobs_path(B.SEED_PARENT), opts.start_timeout)
                info["argv"] = srv.argv
                jobid, get_status, get_bytes = prepare_get(srv.port, row.kind)
                info.update(get_status=get_status, get_bytes=get_bytes)
                urls[row.name] = {"get": srv.url(jobs_path(jobid)), "meme_face": srv.url(B.MEME_FACE_PATH),
                                  "button": srv.url(B.BUTTON_PATH), "mix": srv.url("/")}
            except Exception as exc:
                info["error"] = f"start: {type(exc).__name__}: {exc}"
                log(f"  {row.name}: ERROR {info['error'][:300]}")
        live = [row for row in rows if row.name in urls]
        for index, workload in enumerate(opts.workloads):
            script = str(ctx["scripts"][workload])
            # Warm-up; the JITs of the JVM and of Node need longer the first time, and go first: they
            # keep compiling for a while after their warm-up, which the first measured row would pay.
            for row in sorted(live, key=lambda r: r.kind not in JIT_KINDS):
                warm = opts.warmup + (opts.jit_warmup if row.kind in JIT_KINDS and index == 0 else 0)
                if warm > 0:
                    anchor.run_wrk(opts, script, urls[row.name][workload], warm)
            for rnd in range(opts.rounds):
                order = live if rnd % 2 == 0 else list(reversed(live))
                measured: dict[str, Any] = {}
                for row in order:
                    res = anchor.run_wrk_balanced(opts, script, urls[row.name][workload], servers[row.name])
                    res.pop("raw", None)
                    measured[row.name] = res
                    time.sleep(opts.pause)
                results[workload].append(measured)
                log(f"{workload} round {rnd + 1}/{opts.rounds}: " + ", ".join(
                    f"{name} {r.get('rps')} rps p99 {r.get('p99_ms')} ms"
                    + (f" non2xx {r['non2xx']}" if r.get("non2xx") else "") for name, r in measured.items()))
        for row in live:
            srv, info = servers[row.name], out[row.name]
            if row.kind == "mock":
                info["health"] = health(srv.port)
                info["reset"] = measure_reset(srv.port, opts.reset_reps)
                info["slow_clients"] = measure_slow_clients(srv.port, opts.slow_requests)
                log(f"  {row.name} with stalled and idle connections: {info['slow_clients']}")
            pids = srv.tree()
            mem = anchor.mem_kb(pids)
            info.update(nprocs=len(pids), peak_rss_mb=round(mem["hwm_kb"] / 1024, 1),
                        pss_end_mb=round(mem["pss_kb"] / 1024, 1))
    finally:
        for name, srv in servers.items():
            srv.stop(keep_log="error" in out[name])
    return results


def run(opts: SimpleNamespace, run_dir: Path) -> dict[str, Any]:
    """Startup and load for the HTTP rows; the raw figures, rendered by :mod:`bench.report`."""
    from bench import anchors

    missing = anchors.ensure_tools(log)
    anchor = anchors.load()
    ctx: dict[str, Any] = {"run_dir": str(run_dir)}
    bodies_path = run_dir / "bodies.json"
    bodies = B.write(bodies_path)
    ctx["bodies_path"] = str(bodies_path)
    ctx["scripts"] = write_scripts(run_dir, (bodies["token"], B.SEED_PARENT))
    ctx["wiremock_root"] = write_wiremock_root(run_dir, bodies)
    doc: dict[str, Any] = {"skipped": {}, "missing": missing, "rows": {}, "workloads": {},
                           "versions": versions(anchor)}
    if "wrk" in missing:
        doc["skipped"] = {name: "wrk not installed" for name in opts.rows}
        return doc
    rows = []
    for row in build_rows(anchor, ctx, list(opts.rows)):
        need = row.missing()
        if row.kind == "prism" and "prism" in missing or row.kind == "wiremock" and (
                "wiremock" in missing or "java" in missing):
            need = need or [t for t in missing if t in ("prism", "wiremock", "java")]
        if need:
            doc["skipped"][row.name] = f"missing {', '.join(map(str, need))}"
            log(f"skip {row.name}: {doc['skipped'][row.name]}")
        else:
            rows.append(row)
            doc["rows"][row.name] = {"kind": row.kind, "note": row.note, "baseline": row.baseline}
    if opts.startup_reps > 0:
        compile_project()
        log(f"startup: {opts.startup_reps} start(s) per row, interleaved")
        measure_startups(anchor, rows, ctx, opts, doc["rows"])
    if opts.workloads:
        doc["workloads"] = run_load(anchor, rows, ctx, opts, doc["rows"])
    return doc


def compile_project() -> None:
    """Byte-compile the project's modules, as installing its wheel does, before startups are timed.

    The rows run from this checkout (an editable install); where ``PYTHONDONTWRITEBYTECODE`` is set
    no ``.pyc`` is ever written for it, and every start would compile each changed module again
    (50-60 ms of a start here), while Flask and the other libraries were compiled when installed.
    """
    import compileall

    for package in ("mock_server", "bench"):
        compileall.compile_dir(ROOT / package, quiet=1)


def versions(anchor: Any) -> dict[str, Any]:
    try:
        v = anchor.versions()
    except Exception as exc:  # versions are nice to have
        return {"error": str(exc)}
    v.pop("nginx", None)
    v["cpus"] = os.cpu_count()
    from importlib.metadata import version

    v["granian"] = version("granian")
    return v
