"""``pixverse-mock serve`` as real processes: the server, signals, persistence, atomic admission.

Every server listens on 127.0.0.1 only, is started in its own session and is stopped by its PID
(its process group as a last resort) when the test ends; every wait has a deadline.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote

import pytest
import requests
from helpers import free_port
from helpers import poll
from helpers import server_environment

from mock_server.launch import command_line
from mock_server.resources import fixtures_dir

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[1]
TOKEN = "user:4242-processTestToken9f8e7d"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# requests keeps a response's socket open while the response object lives: the helpers close their
# connections so that teardown is quick. test_signal_stops_cleanly holds a keep-alive connection on purpose.
HEADERS = {**AUTH, "Connection": "close"}
READY_DEADLINE = 15.0
STOP_DEADLINE = 5.0
ACCESS_LINE = re.compile(r'^\[[^\]]+\] "(?P<method>[A-Z]+) (?P<uri>\S+)" (?P<status>\d{3}) (?P<length>\d+|-) '
                         r'(?P<ms>\d+)ms$')


class Server:
    """One ``pixverse-mock serve`` process (the server's main process) on a free loopback port."""

    def __init__(self, log_path: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = server_environment()
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [*command_line(), "serve", "--host", "127.0.0.1", "--port", str(self.port), *args],
                cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def access_lines(self) -> list[re.Match[str]]:
        return [m for m in map(ACCESS_LINE.match, self.log().splitlines()) if m]

    def wait_ready(self) -> requests.Response:
        def answer() -> requests.Response | None:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited with {self.proc.returncode} before answering:\n{self.log()}")
            try:
                return requests.get(f"{self.url}/v1/pixverse/account", headers=HEADERS, timeout=2)
            except requests.ConnectionError:
                return None

        response = poll(answer, READY_DEADLINE, f"the server on port {self.port}")
        assert isinstance(response, requests.Response)
        return response

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` to the master and wait for it to exit; the exit code."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        try:
            return self.proc.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"server did not stop within {STOP_DEADLINE} s of signal {sig}:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL the whole process group (the master and its workers)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=STOP_DEADLINE)

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left of the group (workers of a killed master) goes too.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.wait(timeout=STOP_DEADLINE)


@pytest.fixture
def start(tmp_path) -> Iterator[Callable[..., Server]]:
    """``start(*args)``: a ready server; all are stopped at teardown."""
    servers: list[Server] = []

    def start_server(*args: str) -> Server:
        server = Server(tmp_path / f"server-{len(servers)}.log", *args)
        servers.append(server)
        server.wait_ready()
        return server

    yield start_server
    for server in servers:
        server.cleanup()


@pytest.fixture(scope="module")
def face() -> bytes:
    return (fixtures_dir() / "faces" / "face.png").read_bytes()


def submit(url: str, face: bytes, session: requests.Session | None = None,
           **fields: str) -> requests.Response:
    return (session or requests).post(
        f"{url}/v1/pixverse/meme_face/", headers=HEADERS, timeout=30,
        files={"face": ("face.png", face, "image/png")}, data={"prompt": "a cat in a hat", **fields},
    )


def get_job(url: str, jobid: str) -> requests.Response:
    return requests.get(f"{url}/v1/pixverse/jobs/", params={"jobid": jobid}, headers=HEADERS, timeout=10)


def put_account(url: str, channel: str, max_jobs: int) -> requests.Response:
    body = {"discord": f"proc-test-discord-token-{channel}", "server": "1300000000000000001",
            "channel": channel, "maxJobs": max_jobs}
    return requests.post(f"{url}/v1/pixverse/account/{channel}/", json=body, headers=HEADERS, timeout=10)


def sqlite_store(tmp_path: Path) -> str:
    return f"sqlite:{tmp_path / 'state.db'}"


# --- the default server -----------------------------------------------------------------------


def test_defaults_submit_poll_and_access_log(start, face):
    server = start()
    assert "pixverse-mock listening on http://127.0.0.1:" in server.log()
    assert "(store=memory, clock=fast, workers=1x4 threads)" in server.log()
    before = len(poll(server.access_lines, 5, "the readiness probe's access log line"))

    submitted = submit(server.url, face)
    assert submitted.status_code == 200, submitted.text
    job = submitted.json()
    assert job["status"] == "started"
    polled = get_job(server.url, job["jobid"])
    assert polled.status_code == 200, polled.text
    assert polled.json()["jobid"] == job["jobid"]

    poll(lambda: len(server.access_lines()) >= before + 2, 5, "two more access log lines")
    lines = server.access_lines()[before:]
    assert len(lines) == 2  # one line per request
    [post] = [line for line in lines if line["method"] == "POST"]
    [get] = [line for line in lines if line["method"] == "GET"]
    assert (post["uri"], post["status"], int(post["length"])) == (
        "/v1/pixverse/meme_face/", "200", len(submitted.content))
    assert (unquote(get["uri"]), get["status"]) == (f"/v1/pixverse/jobs/?jobid={job['jobid']}", "200")
    assert TOKEN not in server.log()
    assert TOKEN.split(":", 1)[1] not in server.log()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_cleanly(start, sig):
    server = start()
    with requests.Session() as client:  # an idle keep-alive connection stays open during the stop
        assert client.get(f"{server.url}/v1/pixverse/account", headers=AUTH, timeout=5).status_code == 200
        began = time.monotonic()
        assert server.stop(sig) == 0, server.log()
        assert time.monotonic() - began < STOP_DEADLINE
    # the serving process stopped by itself (callbacks drained), not killed after the grace period
    assert re.search(r"pixverse-mock: process \d+ stopped\n", server.log()), server.log()
    assert "pixverse-mock stopped" in server.log()


# --- sqlite persistence -----------------------------------------------------------------------


def test_sqlite_job_survives_sigkill(start, tmp_path, face):
    store = sqlite_store(tmp_path)
    first = start("--store", store)
    submitted = submit(first.url, face)
    assert submitted.status_code == 200, submitted.text
    jobid = submitted.json()["jobid"]
    first.kill()

    second = start("--store", store)
    found = get_job(second.url, jobid)
    assert found.status_code == 200, found.text
    assert found.json()["jobid"] == jobid


def test_sqlite_clean_restart_keeps_jobs_and_accounts(start, tmp_path, face):
    store = sqlite_store(tmp_path)
    channel = "1399999999999999901"
    first = start("--store", store)
    assert put_account(first.url, channel, 4).status_code == 204
    submitted = submit(first.url, face, channel=channel)
    assert submitted.status_code == 200, submitted.text
    jobid = submitted.json()["jobid"]
    assert first.stop() == 0, first.log()

    second = start("--store", store)
    account = requests.get(f"{second.url}/v1/pixverse/account/{channel}/", headers=HEADERS, timeout=10)
    assert account.status_code == 200, account.text
    assert account.json()["channel"] == channel and account.json()["maxJobs"] == 4
    found = get_job(second.url, jobid)
    assert found.status_code == 200, found.text
    assert found.json()["jobid"] == jobid


# --- maxJobs admission under concurrency ------------------------------------------------------


def burst_of_submits(url: str, face: bytes, channel: str, count: int = 64) -> list[requests.Response]:
    """``count`` meme_face submits released together from ``count`` threads, one session each."""
    barrier = threading.Barrier(count)

    def one(_: int) -> requests.Response:
        with requests.Session() as session:
            barrier.wait(timeout=10)
            return submit(url, face, session, channel=channel)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count), timeout=60))


def assert_exactly_three_admitted(responses: list[requests.Response]) -> None:
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 3 and statuses.count(429) == 61, statuses
    admitted = sorted(r.json()["jobid"] for r in responses if r.status_code == 200)
    for rejected in (r for r in responses if r.status_code == 429):
        assert sorted(rejected.json()["executingJobs"]) == admitted, rejected.text


@pytest.mark.parametrize("layout", ["sqlite-4-processes", "memory-1-process-8-threads"])
def test_max_jobs_admission_is_atomic(start, tmp_path, face, layout):
    if layout.startswith("sqlite"):
        server = start("--store", sqlite_store(tmp_path), "--workers", "4", "--clock", "realistic")
        assert "workers=4x4 threads" in server.log()
    else:
        server = start("--workers", "2", "--clock", "realistic")
        assert "workers=1x8 threads" in server.log()
        assert "--workers 2 runs 1 process x 8 threads" in server.log()
    channel = "1388888888888888801"
    answer = put_account(server.url, channel, 3)
    assert answer.status_code == 204, answer.text

    assert_exactly_three_admitted(burst_of_submits(server.url, face, channel))


# --- slow and idle clients, protocol errors, the port, the drop fault -------------------------


def raw_connection(url: str, data: bytes = b"") -> socket.socket:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=STOP_DEADLINE)
    if data:
        sock.sendall(data)
    return sock


def read_until_closed(sock: socket.socket, deadline: float) -> bytes:
    """Everything the server sends until it closes the connection (or ``deadline`` s pass: a failure)."""
    sock.settimeout(deadline)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for {deadline} s; got {received[:200]!r}")
    return received


def test_stalled_and_idle_clients_do_not_starve_a_normal_one(start):
    from mock_server.serve import BODY_READ_TIMEOUT
    from mock_server.serve import HEADER_READ_TIMEOUT

    server = start()
    head = b"POST /v1/pixverse/button HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode()
    mid_headers = [raw_connection(server.url, b"GET /v1/pixverse/account HTTP/1.1\r\nHost: x\r\n")
                   for _ in range(64)]
    mid_body = [raw_connection(server.url, head + b"\r\nContent-Type: application/json\r\nContent-Length: 40"
                               b"\r\n\r\n{\"jobid\":") for _ in range(64)]
    idle = [requests.Session() for _ in range(64)]
    opened = time.monotonic()
    try:
        for session in idle:  # one answered request each, then the keep-alive connection idles
            assert session.get(f"{server.url}/v1/pixverse/account", headers=AUTH, timeout=5).status_code == 200
        with requests.Session() as client:
            for _ in range(20):
                answer = client.get(f"{server.url}/v1/pixverse/account", headers=AUTH, timeout=2)
                assert answer.status_code == 200, answer.text
        # the stalled ones are timed out, as documented: a head gets no answer, a body gets 408
        timed_out_body = read_until_closed(mid_body[0], BODY_READ_TIMEOUT + 5)
        assert timed_out_body.startswith(b"HTTP/1.1 408 "), timed_out_body
        assert b'{"error":"Request body not received within' in timed_out_body
        assert read_until_closed(mid_headers[0], HEADER_READ_TIMEOUT + 5) == b""
        assert time.monotonic() - opened >= min(BODY_READ_TIMEOUT, HEADER_READ_TIMEOUT) - 1
    finally:
        for sock in mid_headers + mid_body:
            sock.close()
        for session in idle:
            session.close()


def test_server_protocol_errors_answer_in_the_envelope_or_as_documented(start):
    server = start()
    long_uri = requests.get(f"{server.url}/v1/pixverse/jobs/?jobid={'j' * 9000}", headers=HEADERS, timeout=5)
    assert long_uri.status_code == 414
    assert long_uri.json() == {"error": "Request URI longer than 8190 bytes", "code": 414}
    big_head = requests.get(f"{server.url}/v1/pixverse/account", timeout=5,
                            headers={**HEADERS, "X-Padding": "p" * 20000})
    assert big_head.status_code == 431
    assert big_head.json() == {"error": "Request headers larger than 16384 bytes", "code": 431}
    too_large = raw_connection(server.url, b"POST /v1/pixverse/meme_face HTTP/1.1\r\nHost: x\r\nAuthorization: "
                               b"Bearer t\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                               b"Content-Length: 99999999\r\nConnection: close\r\n\r\n")
    with too_large:
        answer = read_until_closed(too_large, 5)
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert answer.rstrip().endswith(b'{"error":"Request body larger than 10485760 bytes","code":413}')
    # answered by granian itself, before Python: a malformed request line or header (documented in serve.py)
    for garbage in (b"NOT HTTP\r\n\r\n", b"GET /x HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"):
        with raw_connection(server.url, garbage) as sock:
            assert read_until_closed(sock, 5).startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert "Traceback" not in server.log()
    assert TOKEN not in server.log()


def test_port_in_use_is_one_error_line_and_a_quick_exit(start):
    server = start()
    began = time.monotonic()
    second = subprocess.run(
        [*command_line(), "serve", "--host", "127.0.0.1", "--port", str(server.port)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=STOP_DEADLINE * 2,
    )
    assert second.returncode == 1
    assert time.monotonic() - began < STOP_DEADLINE
    assert second.stdout == ""
    assert second.stderr == (f"pixverse-mock: cannot listen on 127.0.0.1:{server.port}: "
                             "Address already in use\n")
    assert get_job(server.url, "j-unknown").status_code == 404  # the first one is unharmed


def test_drop_fault_closes_with_no_answer_and_is_not_logged_as_500(start):
    server = start()
    request = (f"GET /v1/pixverse/account HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
               "X-Mock-Fault: drop\r\n\r\n").encode()
    with raw_connection(server.url, request) as sock:
        assert read_until_closed(sock, 5) == b""
    line = poll(lambda: next((m for m in server.access_lines() if m["status"] == "444"), None), 5,
                "the access log line of the dropped request")
    assert (line["method"], line["uri"], line["length"]) == ("GET", "/v1/pixverse/account", "-")
    assert not [m for m in server.access_lines() if m["status"] == "500"]


def test_a_delayed_request_is_handled_at_once_and_only_its_answer_waits(start):
    # The memory store's vendor routes run on the server's event loop: the request is handled at
    # once and its delay is waited out asynchronously, so other clients are answered meanwhile.
    server = start()
    finished: dict[str, float] = {}

    def send_delayed() -> None:
        answer = requests.get(f"{server.url}/v1/pixverse/account", timeout=10,
                              headers={**HEADERS, "X-Mock-Fault": "delay:2"})
        finished["delayed"] = time.monotonic()
        finished["status"] = answer.status_code

    began = time.monotonic()
    sender = threading.Thread(target=send_delayed)
    sender.start()

    def handled() -> bool | None:
        entries = requests.get(f"{server.url}/__mock/journal/requests", params={"token": TOKEN}, timeout=10).json()
        return any(entry.get("faults") for entry in entries["entries"]) or None

    poll(handled, 10, "the delayed request in the journal")
    others = [requests.get(f"{server.url}/v1/pixverse/account", headers=HEADERS, timeout=10) for _ in range(5)]
    held_while_others_answered = sender.is_alive()
    sender.join(10)
    assert [answer.status_code for answer in others] == [200] * 5
    assert finished["status"] == 200 and finished["delayed"] - began >= 2.0, finished
    assert held_while_others_answered, "the other requests waited for the delayed one"
