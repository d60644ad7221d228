"""Callbacks across restarts: the figure of the at-least-once rule, with real processes.

200 jobs call back a receiver that answers after 2 s; the mock (SQLite store) is stopped after 8 s,
by SIGTERM or SIGKILL (its process group), and started again on the same file, ``--restarts`` times;
then the run waits for the stragglers. Reported: callbacks that never arrived, and those that
arrived more than once (a SIGKILL cuts sends short: those are sent again).

    python -m bench.callback_restarts                    # SIGTERM and SIGKILL, 3 restarts each
    python -m bench.callback_restarts --jobs 100 --restarts 1
"""

from __future__ import annotations

import argparse
import collections
import json
import signal
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.procs import HOST
from bench.procs import Client
from bench.procs import free_port
from bench.procs import serve
from mock_server.config import DEFAULT_ACCOUNT

HOLD = 2.0
RUN_BEFORE_STOP = 8.0
TOKEN = "user:1-restarts"


class _Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.arrivals: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()
        super().__init__((HOST, 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Receiver

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        time.sleep(HOLD)  # the slow receiver the figure is about
        with self.server.lock:
            self.server.arrivals[body["jobid"]] += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def run(jobs: int, restarts: int, how: str) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix="pixverse-restarts-"))
    receiver = _Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    reply_url = f"http://{HOST}:{receiver.server_address[1]}/hook"
    (scratch / "mock.yaml").write_text(json.dumps({"accounts": [{**DEFAULT_ACCOUNT, "maxJobs": 1000}],
                                                   "callback_timeout": 5}))
    args = ("--store", f"sqlite:{scratch / 'state.db'}", "--config", str(scratch / "mock.yaml"))
    jobids: list[str] = []
    try:
        for round_ in range(restarts + 1):
            mock = serve(free_port(), scratch / f"mock-{round_}.log", *args)
            if round_ == 0:
                client = Client(mock.port, TOKEN)
                for _ in range(jobs):
                    status, body = client.submit(replyUrl=reply_url)
                    assert status == 200, body
                    jobids.append(body["jobid"])
                client.close()
            if round_ == restarts:
                deadline = time.monotonic() + 3 * jobs * HOLD / 4 + 60
                while set(jobids) - set(receiver.arrivals) and time.monotonic() < deadline:
                    time.sleep(0.5)
                mock.stop()
                break
            time.sleep(RUN_BEFORE_STOP)
            if how == "SIGKILL":
                mock.proc.send_signal(signal.SIGKILL)  # the master first, then what is left of its group
            mock.stop()
    finally:
        receiver.shutdown()
        receiver.server_close()
    with receiver.lock:
        arrivals = dict(receiver.arrivals)
    return {"how": how, "jobs": jobs, "restarts": restarts, "lost": len(set(jobids) - set(arrivals)),
            "duplicated": sum(1 for n in arrivals.values() if n > 1), "arrivals": sum(arrivals.values())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.callback_restarts", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--restarts", type=int, default=3)
    ap.add_argument("--how", choices=("SIGTERM", "SIGKILL", "both"), default="both")
    a = ap.parse_args(argv)
    print("| stop | jobs | restarts | callbacks lost | delivered twice | deliveries |\n|---|---:|---:|---:|---:|---:|")
    for how in (("SIGTERM", "SIGKILL") if a.how == "both" else (a.how,)):
        r = run(a.jobs, a.restarts, how)
        print(f"| {how} | {r['jobs']} | {r['restarts']} | {r['lost']} | {r['duplicated']} | {r['arrivals']} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
