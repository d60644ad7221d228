"""Small helpers shared by the endpoint tests: submit, press, poll, and check the error envelope."""

from __future__ import annotations

import multiprocessing
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from io import BytesIO
from typing import Any

import pytest
import yaml
from conftest import AUTH
from conftest import TOKEN  # noqa: F401  (re-exported for the test modules)

from mock_server import create_app
from mock_server import mock_of
from mock_server.config import DEFAULT_ACCOUNT
from mock_server.resources import fixtures_dir

BASE = "/v1/pixverse"
MEME_FACE = f"{BASE}/meme_face"
BUTTON = f"{BASE}/button"
JOBS = f"{BASE}/jobs/"
CANCEL = f"{BASE}/jobs/cancel/"
ACCOUNT = f"{BASE}/account"

DEFAULT_CHANNEL = DEFAULT_ACCOUNT["channel"]
DEFAULT_SERVER = DEFAULT_ACCOUNT["server"]
DEFAULT_DISCORD = DEFAULT_ACCOUNT["discord"]

FRESH = {"discord": "fresh-discord-token-0000000000099", "server": "1100000000000000099",
         "channel": "1200000000000000099"}
"""An explicit account triple on a channel no seed job uses: its ``maxJobs`` slots are all free."""

ISO_MILLIS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
DISCORD_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$")

GRID_BUTTONS = ["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "🔄"]
SINGLE_BUTTONS = ["🔀", "ReDo"]

FAST_DONE = 3
"""Seconds after submit at which a job of the manual clock's profile is completed."""


@cache
def face_bytes(name: str = "face.png") -> bytes:
    return (fixtures_dir() / "faces" / name).read_bytes()


def masked(secret: str) -> str:
    """The vendor's ``discord`` mask: first 3 characters, ``…secured…``, last 3."""
    return f"{secret[:3]}…secured…{secret[-3:]}"


def face_part(data: bytes | None = None, filename: str = "face.png", content_type: str = "image/png"):
    """A file part for the Flask test client: ``(stream, filename, content type)``."""
    return (BytesIO(face_bytes() if data is None else data), filename, content_type)


def submit_meme_face(client, *, headers: dict[str, str] | None = None, face: Any = "default",
                     **fields: Any):
    """``POST meme_face`` as multipart; ``face=None`` leaves the part out, ``"default"`` sends face.png."""
    data: dict[str, Any] = {"prompt": "A girl laughing by the seaside"}
    data.update({k: v for k, v in fields.items()})
    data = {k: v for k, v in data.items() if v is not None}
    if face == "default":
        data["face"] = face_part()
    elif face is not None:
        data["face"] = face
    return client.post(MEME_FACE, data=data, headers=AUTH if headers is None else headers,
                       content_type="multipart/form-data")


def meme_face_job(client, **fields: Any) -> str:
    """Submit a meme_face job that must be admitted; its jobid."""
    response = submit_meme_face(client, **fields)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["jobid"]


def press(client, jobid: str | None, button: str | None, *, json: bool = False,
          headers: dict[str, str] | None = None, **fields: Any):
    """``POST button`` as multipart (or JSON)."""
    data: dict[str, Any] = {"jobid": jobid, "button": button, **fields}
    data = {k: v for k, v in data.items() if v is not None}
    headers = AUTH if headers is None else headers
    if json:
        return client.post(BUTTON, json=data, headers=headers)
    return client.post(BUTTON, data=data, headers=headers, content_type="multipart/form-data")


def button_job(client, jobid: str, button: str, **fields: Any) -> str:
    """Press a button that must be admitted; the child's jobid."""
    response = press(client, jobid, button, **fields)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["jobid"]


def get_job(client, jobid: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = client.get(JOBS, query_string={"jobid": jobid}, headers=AUTH if headers is None else headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def status_of(client, jobid: str) -> str:
    return get_job(client, jobid)["status"]


def complete(mock) -> None:
    """Let every job submitted so far reach its final status."""
    mock.advance(FAST_DONE)


def completed_meme_face(client, mock, **fields: Any) -> str:
    jobid = meme_face_job(client, **fields)
    complete(mock)
    assert status_of(client, jobid) == "completed"
    return jobid


def assert_error(response, status: int, message: str | None = None, *, keys: set[str] | None = None) -> dict:
    """A vendor error answer: JSON ``{"error", "code"}`` (plus ``keys``), ``code`` = HTTP status."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.is_json, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error", "code"} | (keys or set()), body
    assert body["code"] == status, body
    if message is not None:
        assert body["error"] == message, f"{body['error']!r} != {message!r}"
    return body


@cache
def _seed_records() -> tuple[dict[str, Any], ...]:
    path = fixtures_dir() / "seed-jobs.yaml"
    return tuple(yaml.safe_load(path.read_text(encoding="utf-8")) or ())


def seed_job(verb: str, statuses: tuple[str, ...] = ("completed",)) -> dict[str, Any]:
    """The first fixture job of ``verb`` (``None``: any verb) with one of ``statuses``."""
    for record in _seed_records():
        if (verb is None or record["verb"] == verb) and record["status"] in statuses:
            return record
    pytest.fail(f"fixtures/seed-jobs.yaml holds no {verb or 'any'} job with status in {statuses}")


@cache
def video_manifest() -> dict[str, dict[str, Any]]:
    return yaml.safe_load((fixtures_dir() / "videos" / "videos.yaml").read_text(encoding="utf-8"))


@contextmanager
def fresh_mock(config):
    """A mock of its own (for tests that need two, or hypothesis): ``(client, runtime)``.

    Like the ``app`` fixture, it fails the test if the mock raised unexpectedly.
    """
    app = create_app(config)
    runtime = mock_of(app)
    try:
        yield app.test_client(), runtime
    finally:
        runtime.close()
    assert not runtime.errors, f"the mock raised unexpectedly: {runtime.errors!r}"


def poll(condition: Callable[[], Any], deadline: float, what: str, interval: float = 0.02) -> Any:
    """Call ``condition`` until it returns something truthy; fail after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"timed out after {deadline} s waiting for {what}")
        time.sleep(interval)


def run_forked(target: Callable[..., None], args: tuple[Any, ...], count: int, wait: float) -> list[Any]:
    """Run ``target(*args, barrier, results)`` in ``count`` forked processes released together.

    Each child puts one report on ``results``; the reports come back in arrival order. Every child
    is joined (killed if it hangs) and must have exited with code 0.
    """
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(count, timeout=wait)
    results = ctx.Queue()
    children = [ctx.Process(target=target, args=(*args, barrier, results)) for _ in range(count)]
    try:
        for child in children:
            child.start()
        reports = [results.get(timeout=wait) for _ in children]
    finally:
        for child in children:
            child.join(timeout=wait)
            if child.is_alive():
                child.kill()
                child.join(timeout=wait)
        results.close()
        results.join_thread()
    assert [child.exitcode for child in children] == [0] * count
    return reports


class _Ok(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def ok_receiver() -> Iterator[str]:
    """A callback receiver on 127.0.0.1 answering 200 to every POST; yields its URL, stopped on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def free_port() -> int:
    """A port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_environment() -> dict[str, str]:
    """The environment for a server process: none of the caller's ``PIXVERSE_MOCK_*`` settings but the fixture cache."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("PIXVERSE_MOCK_") or k == "PIXVERSE_MOCK_CACHE_DIR"}
