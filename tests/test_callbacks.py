"""Callbacks to ``replyUrl``, against a real HTTP receiver on 127.0.0.1 (a thread of the test).

The receiver's behaviour is set per test: record and answer 200, 500, a garbage body, garbage
instead of HTTP, a slow answer (longer than ``callback_timeout``), a redirect; "down" is a port
that was bound and closed again. Waiting is done with the callbacks journal (``mock.wait_for``),
never by sleeping; only the slow receiver sleeps, because that is its behaviour.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from conftest import AUTH
from conftest import TOKEN
from helpers import CANCEL
from helpers import DEFAULT_DISCORD
from helpers import FAST_DONE
from helpers import get_job
from helpers import meme_face_job
from helpers import press
from helpers import submit_meme_face

from mock_server import MockConfig
from mock_server import create_app
from mock_server import mock_of
from mock_server.accounts import digest

PUBLIC_URL = "http://localhost"
"""The test client's host: with it as ``public_url`` a callback's attachment URLs equal GET jobs' ones."""

ACCOUNTS_FOR_50 = [
    {"discord": f"bulk-discord-token-{n:020d}", "server": "1100000000000000001",
     "channel": f"12000000000000001{n:02d}", "maxJobs": 10}
    for n in range(5)
]


# --- the receiver -----------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: Receiver
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _read(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self, status: int, body: bytes = b'{"ok":true}', headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.server.record(self, b"")
        self._answer(200)

    def do_POST(self) -> None:
        body = self._read()
        behaviour, count = self.server.record(self, body)
        try:
            if behaviour == "ok" or self.path == "/final":
                self._answer(200)
            elif behaviour == "fail":
                self._answer(500, b'{"error":"receiver broke"}')
            elif behaviour == "fail-twice":
                self._answer(500 if count <= 2 else 200)
            elif behaviour == "garbage-body":
                self._answer(200, b"\x00\xff<<<not json at all")
            elif behaviour == "garbage":
                self.wfile.write(b"\x00\x01 this is not HTTP \xff\r\n\r\n")
                self.close_connection = True
            elif behaviour == "slow":
                self.server.sleeping.set()
                self.server.release.wait(self.server.slow_seconds)  # the receiver's own slowness
                self.server.sleeping.clear()
                self._answer(200)
            elif behaviour in ("redirect-302", "redirect-307"):
                self._answer(int(behaviour[-3:]), b"", {"Location": "/final"})
        except OSError:  # the mock gave up (timeout) and closed the connection
            self.close_connection = True


class Receiver(ThreadingHTTPServer):
    """Records every request: ``(method, path, body, headers)``; answers as ``behaviour`` says."""

    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviour = "ok"
        self.slow_seconds = 10.0  # longer than any callback_timeout here; ended early by ``release``
        self.received: list[dict[str, Any]] = []
        self.arrived = threading.Condition()
        self.sleeping = threading.Event()
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/hook"

    def record(self, handler: _Handler, body: bytes) -> tuple[str, int]:
        with self.arrived:
            self.received.append({"method": handler.command, "path": handler.path, "raw": body,
                                  "headers": dict(handler.headers.items())})
            count = len(self.received)
            self.arrived.notify_all()
        return self.behaviour, count

    def wait_received(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def bodies(self) -> list[Any]:
        return [json.loads(r["raw"]) for r in self.received if r["raw"]]

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a connection the mock closed mid-answer is expected here


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="test-callback-receiver", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
        assert not thread.is_alive()


@pytest.fixture
def down_url() -> str:
    """A loopback URL where nothing listens: a port that was bound, then closed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


@pytest.fixture
def overrides() -> dict[str, Any]:
    """Config fields a test changes (parametrize ``overrides`` to set them)."""
    return {}


@pytest.fixture
def config(overrides) -> MockConfig:
    return MockConfig(**{"clock": "manual", "public_url": PUBLIC_URL, "callback_timeout": 2.0, **overrides})


def callbacks(mock, count: int, *, since: int = 0, timeout: float = 15.0, **filters: Any) -> list[dict[str, Any]]:
    """Wait (bounded) until ``count`` callback journal entries after ``since`` match; returns them."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(found) < count:
        left = deadline - time.monotonic()
        entry = mock.wait_for("callbacks", timeout=max(left, 0.0), since=since, **filters) if left > 0 else None
        if entry is None:
            break
        found.append(entry)
        since = entry["seq"]
    assert len(found) == count, f"expected {count} callbacks, got {len(found)}: {found}"
    return found


def nothing_more(mock, since: int, wait: float = 0.3) -> None:
    assert mock.wait_for("callbacks", timeout=wait, since=since) is None


# --- what is sent, and when ---------------------------------------------------------------------------


def test_completed_job_calls_back_with_the_job_record_after_advance(client, mock, receiver):
    jobid = meme_face_job(client, replyUrl=receiver.url, replyRef="order-42")
    assert mock.wait_for("callbacks", timeout=0.2) is None
    mock.advance(FAST_DONE - 0.5)
    assert mock.wait_for("callbacks", timeout=0.2) is None
    assert receiver.received == []
    mock.advance(0.5)
    [entry] = callbacks(mock, 1)
    assert entry["delivered"] is True and entry["statusCode"] == 200 and "error" not in entry
    assert entry["jobid"] == jobid and entry["stage"] == "final" and entry["jobStatus"] == "completed"
    assert entry["url"] == receiver.url and entry["replyRef"] == "order-42" and entry["attempt"] == 1
    assert entry["tenant"] == digest(TOKEN) and entry["time"] == "2026-01-01T00:00:03.000Z"
    [request] = receiver.wait_received(1)
    assert request["method"] == "POST" and request["path"] == "/hook"
    assert request["headers"]["Content-Type"] == "application/json"
    assert "Authorization" not in request["headers"]
    body = json.loads(request["raw"])
    job = get_job(client, jobid)
    assert body == job
    assert body["replyRef"] == "order-42" and body["replyUrl"] == receiver.url
    assert body["status"] == "completed" and body["buttons"] and body["attachments"]
    assert DEFAULT_DISCORD not in request["raw"].decode() and TOKEN not in request["raw"].decode()
    mock.advance(60)
    nothing_more(mock, entry["seq"])
    assert len(receiver.received) == 1


def test_no_reply_url_no_callback(client, mock, receiver):
    meme_face_job(client)
    mock.advance(FAST_DONE)
    nothing_more(mock, 0)


def test_set_clock_delivers_what_fell_due(client, mock, receiver):
    jobid = meme_face_job(client, replyUrl=receiver.url)
    mock.set_clock(now=mock.now() + 10)
    [entry] = callbacks(mock, 1)
    assert entry["jobid"] == jobid and entry["delivered"] is True


def test_reply_url_from_the_tokens_account(client, mock, receiver):
    account = {"discord": "acct-discord-token-0000000000000077", "server": "1100000000000000001",
               "channel": "1200000000000000077", "maxJobs": 10, "replyUrl": receiver.url}
    mock.set_accounts([account], token=TOKEN)
    jobid = meme_face_job(client)
    assert get_job(client, jobid)["replyUrl"] == receiver.url
    mock.advance(FAST_DONE)
    [entry] = callbacks(mock, 1)
    assert entry["jobid"] == jobid and entry["url"] == receiver.url and entry["delivered"] is True
    assert receiver.bodies() == [get_job(client, jobid)]


def test_reply_url_from_the_default_accounts_of_new_tenants(client, mock, receiver):
    account = {"discord": "acct-discord-token-0000000000000078", "server": "1100000000000000001",
               "channel": "1200000000000000078", "maxJobs": 10, "replyUrl": receiver.url}
    mock.set_accounts([account])
    jobid = meme_face_job(client)
    mock.advance(FAST_DONE)
    [entry] = callbacks(mock, 1)
    assert entry["jobid"] == jobid and entry["url"] == receiver.url


def test_reply_url_from_a_configured_account(receiver):
    account = {"discord": "conf-discord-token-0000000000000080", "server": "1100000000000000001",
               "channel": "1200000000000000080", "maxJobs": 10, "replyUrl": receiver.url}
    app = create_app(MockConfig(clock="manual", public_url=PUBLIC_URL, accounts=(account,)))
    runtime = mock_of(app)
    try:
        client = app.test_client()
        jobid = meme_face_job(client)
        runtime.advance(FAST_DONE)
        [entry] = callbacks(runtime, 1)
        assert entry["jobid"] == jobid and entry["url"] == receiver.url and entry["delivered"] is True
        assert receiver.bodies() == [get_job(client, jobid)]
    finally:
        runtime.close()
    assert not runtime.errors


def test_reply_url_of_the_request_beats_the_accounts(client, mock, receiver):
    account = {"discord": "acct-discord-token-0000000000000079", "server": "1100000000000000001",
               "channel": "1200000000000000079", "maxJobs": 10, "replyUrl": receiver.url.replace("/hook", "/acct")}
    mock.set_accounts([account], token=TOKEN)
    meme_face_job(client, replyUrl=receiver.url)
    mock.advance(FAST_DONE)
    [entry] = callbacks(mock, 1)
    assert entry["url"] == receiver.url
    assert [r["path"] for r in receiver.wait_received(1)] == ["/hook"]


def test_button_job_calls_back(client, mock, receiver):
    parent = meme_face_job(client)
    mock.advance(FAST_DONE)
    response = press(client, parent, "🔀", replyUrl=receiver.url, replyRef="remix-1")
    assert response.status_code == 200, response.get_json()
    child = response.get_json()["jobid"]
    mock.advance(FAST_DONE)
    [entry] = callbacks(mock, 1)
    assert entry["jobid"] == child and entry["replyRef"] == "remix-1"
    assert receiver.bodies() == [get_job(client, child)]


@pytest.mark.parametrize("outcome", ["failed", "moderated", "cancelled"])
def test_forced_final_statuses_call_back(client, mock, receiver, outcome):
    jobid = meme_face_job(client, replyUrl=receiver.url)
    forced = mock.force_outcome(TOKEN, jobid, outcome, error="out of credits")
    assert forced == get_job(client, jobid)
    [entry] = callbacks(mock, 1)
    assert entry["jobStatus"] == outcome and entry["delivered"] is True
    [body] = receiver.bodies()
    assert body == get_job(client, jobid) and body["status"] == outcome
    if outcome == "failed":
        assert body["error"] == "out of credits"


def test_moderated_submit_calls_back(client, mock, receiver):
    response = submit_meme_face(client, prompt="an nsfw dance", replyUrl=receiver.url, replyRef="mod-1")
    assert response.status_code == 422
    jobid = response.get_json()["jobid"]
    [entry] = callbacks(mock, 1)
    assert entry["jobid"] == jobid and entry["jobStatus"] == "moderated" and entry["replyRef"] == "mod-1"
    assert receiver.bodies() == [get_job(client, jobid)]
    assert (receiver.bodies()[0]["error"], receiver.bodies()[0]["code"]) == (response.get_json()["error"], 422)


def test_cancelled_job_calls_back(client, mock, receiver):
    jobid = meme_face_job(client, replyUrl=receiver.url)
    assert client.get(CANCEL, query_string={"jobid": jobid}, headers=AUTH).get_json()["status"] == "cancelled"
    [entry] = callbacks(mock, 1)
    assert entry["jobStatus"] == "cancelled"
    assert receiver.bodies()[0]["status"] == "cancelled"


def test_failed_by_fault_calls_back(client, mock, receiver):
    jobid = meme_face_job(client, replyUrl=receiver.url, prompt="a cat [mock:fail:gpu melted]")
    mock.advance(FAST_DONE)
    [entry] = callbacks(mock, 1)
    assert entry["jobid"] == jobid and entry["jobStatus"] == "failed"
    assert receiver.bodies()[0]["error"] == "gpu melted"


def test_callback_journal_filters(client, mock, receiver):
    first = meme_face_job(client, replyUrl=receiver.url)
    second = meme_face_job(client, replyUrl=receiver.url, headers={"Authorization": "Bearer someone-else"})
    mock.force_outcome(TOKEN, first, "failed")
    mock.advance(FAST_DONE)
    callbacks(mock, 2)
    assert [e["jobid"] for e in mock.journal("callbacks", token=TOKEN)] == [first]
    assert [e["jobid"] for e in mock.journal("callbacks", status="completed")] == [second]
    assert [e["jobid"] for e in mock.journal("callbacks", jobid=second)] == [second]
    assert len(mock.journal("callbacks", stage="final")) == 2
    assert mock.journal("callbacks", stage="progress") == []


# --- progress callbacks -------------------------------------------------------------------------------


@pytest.mark.parametrize("overrides", [{"progress_callbacks": True}])
def test_progress_then_final_callbacks(client, mock, receiver):
    jobid = meme_face_job(client, replyUrl=receiver.url)
    assert mock.wait_for("callbacks", timeout=0.2) is None
    mock.advance(1)
    [progress] = callbacks(mock, 1)
    assert progress["stage"] == "progress" and progress["jobStatus"] == "progress"
    mock.advance(FAST_DONE - 1)
    [final] = callbacks(mock, 1, since=progress["seq"])
    assert final["stage"] == "final" and final["jobStatus"] == "completed"
    bodies = receiver.bodies()
    assert [b["status"] for b in bodies] == ["progress", "completed"]
    assert all(b["jobid"] == jobid for b in bodies)
    assert bodies[1] == get_job(client, jobid)
    nothing_more(mock, final["seq"])


def test_no_progress_callbacks_by_default(client, mock, receiver):
    meme_face_job(client, replyUrl=receiver.url)
    mock.advance(1)
    assert mock.wait_for("callbacks", timeout=0.3) is None
    mock.advance(FAST_DONE - 1)
    assert [e["stage"] for e in callbacks(mock, 1)] == ["final"]


# --- receivers that misbehave ------------------------------------------------------------------------------


def _still_serves(client, mock, jobid: str) -> None:
    """The vendor API answers as usual after a failed delivery."""
    assert get_job(client, jobid)["jobid"] == jobid
    assert meme_face_job(client)


def test_receiver_down(client, mock, down_url):
    jobid = meme_face_job(client, replyUrl=down_url)
    mock.advance(FAST_DONE)
    [entry] = callbacks(mock, 1)
    assert entry["delivered"] is False and "statusCode" not in entry
    assert entry["error"].startswith("ConnectionError")
    assert entry["url"] == down_url and entry["attempt"] == 1
    _still_serves(client, mock, jobid)
    nothing_more(mock, entry["seq"])


def test_receiver_answers_500(client, mock, receiver):
    receiver.behaviour = "fail"
    jobid = meme_face_job(client, replyUrl=receiver.url)
    mock.advance(FAST_DONE)
    [entry] = callbacks(mock, 1)
    assert entry["delivered"] is False and entry["statusCode"] == 500 and "error" not in entry
    assert len(receiver.received) == 1
    _still_serves(client, mock, jobid)
    nothing_more(mock, entry["seq"])


def test_receiver_answers_a_garbage_body_with_200(client, mock, receiver):
    """A 2xx is delivered whatever its body says (the body is never read)."""
    receiver.behaviour = "garbage-body"
    jobid = meme_face_job(client, replyUrl=receiver.url)
    mock.advance(FAST_DONE)
    [entry] = callbacks(mock, 1)
    assert entry["delivered"] is True and entry["statusCode"] == 200
    _still_serves(client, mock, jobid)


def test_receiver_answers_garbage_instead_of_http(client, mock, receiver):
    receiver.behaviour = "garbage"
    jobid = meme_face_job(client, replyUrl=receiver.url)
    mock.advance(FAST_DONE)
    [entry] = callbacks(mock, 1)
    assert entry["delivered"] is False and "statusCode" not in entry and entry["error"]
    _still_serves(client, mock, jobid)


@pytest.mark.parametrize("overrides", [{"callback_timeout": 0.2}])
def test_slow_receiver_times_out_and_never_blocks_a_request(client, mock, receiver):
    receiver.behaviour = "slow"
    jobid = meme_face_job(client, replyUrl=receiver.url)
    mock.advance(FAST_DONE)
    assert receiver.wait_received(1) and receiver.sleeping.wait(5)
    # The receiver sleeps on the callback (until released): the vendor API answers meanwhile.
    assert get_job(client, jobid)["status"] == "completed"
    assert meme_face_job(client)
    [entry] = callbacks(mock, 1)
    assert receiver.sleeping.is_set(), "the receiver was still sleeping through all of the above"
    assert entry["delivered"] is False and "statusCode" not in entry
    assert "Timeout" in entry["error"]
    assert entry["durationMs"] >= 200
    receiver.release.set()
    nothing_more(mock, entry["seq"])


@pytest.mark.parametrize("overrides", [{"callback_attempts": 3}])
def test_retries_until_delivered(client, mock, receiver):
    receiver.behaviour = "fail-twice"
    jobid = meme_face_job(client, replyUrl=receiver.url)
    mock.advance(FAST_DONE)
    entries = callbacks(mock, 3)
    assert [(e["attempt"], e["statusCode"], e["delivered"]) for e in entries] == [
        (1, 500, False), (2, 500, False), (3, 200, True)]
    assert {e["jobid"] for e in entries} == {jobid}
    nothing_more(mock, entries[-1]["seq"])
    assert len(receiver.received) == 3
    first = receiver.bodies()[0]
    assert all(body == first for body in receiver.bodies())


@pytest.mark.parametrize("overrides", [{"callback_attempts": 3}])
def test_retries_stop_after_the_configured_attempts(client, mock, down_url):
    meme_face_job(client, replyUrl=down_url)
    mock.advance(FAST_DONE)
    entries = callbacks(mock, 3)
    assert [(e["attempt"], e["delivered"]) for e in entries] == [(1, False), (2, False), (3, False)]
    nothing_more(mock, entries[-1]["seq"], wait=0.5)


def test_one_attempt_by_default(client, mock, receiver):
    receiver.behaviour = "fail"
    meme_face_job(client, replyUrl=receiver.url)
    mock.advance(FAST_DONE)
    [entry] = callbacks(mock, 1)
    nothing_more(mock, entry["seq"], wait=0.6)
    assert len(receiver.received) == 1


def test_redirect_307_is_followed_with_the_body(client, mock, receiver):
    receiver.behaviour = "redirect-307"
    jobid = meme_face_job(client, replyUrl=receiver.url)
    mock.advance(FAST_DONE)
    [entry] = callbacks(mock, 1)
    assert entry["delivered"] is True and entry["statusCode"] == 200 and entry["url"] == receiver.url
    hook, final = receiver.wait_received(2)
    assert (hook["method"], hook["path"], final["method"], final["path"]) == ("POST", "/hook", "POST", "/final")
    assert json.loads(final["raw"]) == json.loads(hook["raw"]) == get_job(client, jobid)


def test_redirect_302_is_followed_but_not_counted_delivered(client, mock, receiver):
    receiver.behaviour = "redirect-302"
    meme_face_job(client, replyUrl=receiver.url)
    mock.advance(FAST_DONE)
    [entry] = callbacks(mock, 1)
    # A 302 turns the POST into a GET without the job: the receiver never got it.
    assert entry["delivered"] is False and entry["statusCode"] == 200 and entry["redirects"] == [302]
    hook, final = receiver.wait_received(2)
    assert (hook["path"], final["path"], final["method"]) == ("/hook", "/final", "GET")


# --- many at once ----------------------------------------------------------------------------------------


def _fifty_callbacks(app, mock, receiver) -> None:
    mock.set_accounts(ACCOUNTS_FOR_50, token=TOKEN)

    def submit(n: int) -> str:
        return meme_face_job(app.test_client(), replyUrl=receiver.url, replyRef=f"ref-{n}")

    with ThreadPoolExecutor(8) as pool:
        jobids = list(pool.map(submit, range(50)))
    assert len(set(jobids)) == 50
    assert mock.wait_for("callbacks", timeout=0.1) is None
    mock.advance(FAST_DONE)
    entries = callbacks(mock, 50, timeout=60)
    assert sorted(e["jobid"] for e in entries) == sorted(jobids)
    assert all(e["delivered"] and e["attempt"] == 1 and e["stage"] == "final" for e in entries)
    received = receiver.wait_received(50)
    bodies = receiver.bodies()
    assert len(received) == 50 and len(bodies) == 50
    assert sorted(b["jobid"] for b in bodies) == sorted(jobids)
    assert sorted(b["replyRef"] for b in bodies) == sorted(f"ref-{n}" for n in range(50))
    mock.advance(60)
    nothing_more(mock, max(e["seq"] for e in entries), wait=0.5)
    assert len(receiver.received) == 50


def test_fifty_jobs_completing_together_call_back_exactly_once_each(app, mock, receiver):
    _fifty_callbacks(app, mock, receiver)


@pytest.fixture
def sqlite_app(tmp_path):
    app = create_app(MockConfig(clock="manual", public_url=PUBLIC_URL, callback_timeout=2.0,
                                store=f"sqlite:{tmp_path / 'm.sqlite'}"))
    yield app
    runtime = mock_of(app)
    runtime.close()
    assert not runtime.errors, f"the mock raised unexpectedly: {runtime.errors!r}"


def test_fifty_callbacks_with_the_sqlite_store(sqlite_app, receiver):
    runtime = mock_of(sqlite_app)
    assert runtime.config.store.startswith("sqlite:")
    assert type(runtime.control).__name__ == "SqliteControlState"
    _fifty_callbacks(sqlite_app, runtime, receiver)


# --- lifecycle -------------------------------------------------------------------------------------------


def _callback_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("pixverse-callback")}


@pytest.mark.parametrize("behaviour", ["ok", "slow"])
def test_dispatcher_stops_with_the_app(receiver, behaviour):
    before = _callback_threads()
    started: set[threading.Thread] = set()
    app = create_app(MockConfig(clock="manual", callback_timeout=0.3))
    runtime = mock_of(app)
    try:
        receiver.behaviour = behaviour
        client = app.test_client()
        for _ in range(3):
            meme_face_job(client, replyUrl=receiver.url)
        runtime.advance(FAST_DONE)
        receiver.wait_received(1)
        started = _callback_threads() - before
        assert any(t.name == "pixverse-callback-scheduler" for t in started)
        assert any(t.name != "pixverse-callback-scheduler" for t in started)
    finally:
        runtime.close()
    deadline = time.monotonic() + 10
    for thread in started:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert [t.name for t in started if t.is_alive()] == []
    assert not runtime.errors
