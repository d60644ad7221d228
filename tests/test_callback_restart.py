"""Callbacks are at least once across stops and crashes: real ``serve`` processes on one SQLite file.

A slow receiver holds each callback for a moment; the mock is stopped (SIGTERM) or killed (SIGKILL of
its process group) while callbacks are in flight, then started again on the same file. Every callback
arrives; after SIGTERM each exactly once, after SIGKILL the ones cut short once more, journalled as
their second ``delivery``. Loopback only, every wait bounded, every process stopped by its PID.
"""

from __future__ import annotations

import collections
import json
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from helpers import poll
from test_serve_process import HEADERS
from test_serve_process import face  # noqa: F401  (fixture)
from test_serve_process import start  # noqa: F401  (fixture)
from test_serve_process import submit

from mock_server.config import DEFAULT_ACCOUNT

pytestmark = pytest.mark.slow

JOBS = 24
WAIT = 30.0


class SlowReceiver(ThreadingHTTPServer):
    """Records each callback's jobid on arrival, then answers 200 after ``hold`` seconds."""

    daemon_threads = True

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.arrivals: list[str] = []
        self.changed = threading.Condition()
        self.stopping = threading.Event()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def wait_for(self, what: str, test: Any, timeout: float = WAIT) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: test(self.arrivals), timeout):
                pytest.fail(f"timed out after {timeout} s waiting for {what}; arrived: {len(self.arrivals)}")

    def counts(self) -> collections.Counter[str]:
        with self.changed:
            return collections.Counter(self.arrivals)


class _Handler(BaseHTTPRequestHandler):
    server: SlowReceiver

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        with self.server.changed:
            self.server.arrivals.append(body["jobid"])
            self.server.changed.notify_all()
        self.server.stopping.wait(self.server.hold)  # the receiver is slow; its test ending cuts it short
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[SlowReceiver]:
    server = SlowReceiver(request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.stopping.set()
    server.shutdown()
    server.server_close()
    thread.join(WAIT)


def _config(tmp_path: Path, timeout: float) -> str:
    path = tmp_path / "mock.yaml"
    account = {**DEFAULT_ACCOUNT, "maxJobs": 100}
    path.write_text(json.dumps({"callback_workers": 4, "callback_timeout": timeout, "accounts": [account]}))
    return str(path)


def _submit_and_finish(url: str, face: bytes, reply_url: str) -> list[str]:  # noqa: F811
    jobids = []
    with requests.Session() as session:
        for _ in range(JOBS):
            answer = submit(url, face, session, replyUrl=reply_url)
            assert answer.status_code == 200, answer.text
            jobids.append(answer.json()["jobid"])
        advanced = session.post(f"{url}/__mock/clock/advance", json={"seconds": 60}, headers=HEADERS, timeout=10)
        assert advanced.status_code == 200, advanced.text
    return jobids


def _journal(url: str, jobids: list[str]) -> list[dict[str, Any]]:
    """The callback journal, once it holds a delivered entry for each of ``jobids``."""

    def complete() -> list[dict[str, Any]] | None:
        answer = requests.get(f"{url}/__mock/journal/callbacks", headers=HEADERS, timeout=10)
        assert answer.status_code == 200, answer.text
        entries = answer.json()["entries"]
        return entries if set(jobids) <= {e["jobid"] for e in entries if e["delivered"]} else None

    return poll(complete, WAIT, "a delivered journal entry for every job")


@pytest.mark.parametrize("receiver", [0.5], indirect=True)
def test_callbacks_in_flight_at_sigterm_arrive_once_after_the_restart(start, tmp_path, face, receiver):  # noqa: F811
    args = ("--store", f"sqlite:{tmp_path / 'state.db'}", "--clock", "manual", "--config", _config(tmp_path, 3))
    first = start(*args)
    jobids = _submit_and_finish(first.url, face, receiver.url)
    receiver.wait_for("the first callbacks", lambda arrived: len(arrived) >= 4)
    assert first.stop(signal.SIGTERM) == 0
    before_restart = len(receiver.counts())
    assert before_restart < JOBS, "every callback arrived before the stop: the test proves nothing"

    second = start(*args)
    receiver.wait_for(f"all {JOBS} callbacks", lambda arrived: set(jobids) <= set(arrived))
    counts = receiver.counts()
    assert set(counts) == set(jobids) and set(counts.values()) == {1}, counts
    entries = _journal(second.url, jobids)
    assert sorted(e["jobid"] for e in entries if e["delivered"]) == sorted(jobids)
    assert {(e["attempt"], e["delivery"]) for e in entries} == {(1, 1)}


@pytest.mark.parametrize("receiver", [1.0], indirect=True)
def test_callbacks_in_flight_at_sigkill_are_delivered_again_after_the_restart(start, tmp_path, face, receiver):  # noqa: F811
    args = ("--store", f"sqlite:{tmp_path / 'state.db'}", "--clock", "manual", "--config", _config(tmp_path, 2))
    first = start(*args)
    jobids = _submit_and_finish(first.url, face, receiver.url)
    receiver.wait_for("the first callbacks", lambda arrived: len(arrived) >= 4)
    first.kill()  # SIGKILL, master and workers: nothing settles what was in flight
    cut_short = set(receiver.counts())
    assert len(cut_short) < JOBS

    second = start(*args)
    started = time.monotonic()
    receiver.wait_for(f"all {JOBS} callbacks", lambda arrived: set(jobids) <= set(arrived))
    receiver.wait_for("the callbacks cut short, again", lambda arrived: all(
        arrived.count(jobid) >= 2 for jobid in cut_short))
    counts = receiver.counts()
    assert set(counts) == set(jobids)
    assert {jobid for jobid, n in counts.items() if n > 1} == cut_short, counts
    assert max(counts.values()) == 2
    entries = _journal(second.url, jobids)
    assert all(e["delivered"] and e["attempt"] == 1 for e in entries)
    # the 4 cut short, and those claimed but not yet sent when the process died (the pool's queue)
    redelivered = {e["jobid"] for e in entries if e["delivery"] == 2}
    assert cut_short <= redelivered and len(redelivered) <= 8
    assert time.monotonic() - started < WAIT
