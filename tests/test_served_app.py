"""The app ``pixverse-mock serve`` runs (``mock_server/served_app.py``): vendor routes first, Flask later.

The vendor routes answer without Flask ever being imported; the Flask part (control plane, docs,
dashboard, attachments) is built once, by the background warm-up or by the first request for it.
"""

from __future__ import annotations

import gc
import io
import json
import subprocess
import sys
import threading
from typing import Any

import pytest
from conftest import AUTH

from mock_server import MockConfig
from mock_server import create_app
from mock_server import mock_of
from mock_server.http.vendor import json_payload
from mock_server.serve import freeze_survivors
from mock_server.served_app import LateApp
from mock_server.served_app import served_app

SEED_JOB = "j1101100000001-u1000000000000000001-c1200000000000000001-bot:pixverse"

PROBE = """
import io, json, sys
from mock_server.config import MockConfig
from mock_server.served_app import served_app

app, runtime, late = served_app(MockConfig(clock="manual"))

def call(path, query=""):
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr,
               "HTTP_AUTHORIZATION": "Bearer probe-token"}
    statuses = []
    body = b"".join(app(environ, lambda status, headers: statuses.append(status)))
    return statuses[0], json.loads(body)

jobs = call("/v1/pixverse/jobs/", "jobid=nope")
flask_after_vendor = "flask" in sys.modules
health = call("/__mock/health")
journal = [e["operation"] for e in runtime.journal("requests")]
print(json.dumps({"jobs": jobs, "flask_after_vendor": flask_after_vendor, "health": health[0],
                  "flask_after_health": "flask" in sys.modules, "journal": journal}))
runtime.close()
"""


def test_vendor_routes_answer_without_flask_and_the_rest_builds_on_first_use():
    """In a fresh interpreter: a vendor answer imports no Flask; /__mock/health then builds the Flask part."""
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True)
    seen = json.loads(out.stdout)
    assert seen["jobs"] == ["404 NOT FOUND", {"error": "Unable to locate job nope", "code": 404}]
    assert seen["flask_after_vendor"] is False
    assert seen["health"].startswith("200") and seen["flask_after_health"] is True
    assert seen["journal"] == ["jobs"]


def test_a_late_app_is_built_once_however_many_ask_at_once():
    builds: list[int] = []
    started, release = threading.Event(), threading.Event()

    def build() -> Any:
        builds.append(1)
        started.set()
        release.wait(5)
        return lambda environ, start_response: [b"built"]

    late = LateApp(build)
    late.warm()
    answers: list[list[bytes]] = []
    callers = [threading.Thread(target=lambda: answers.append(late({}, None))) for _ in range(4)]
    for caller in callers:
        caller.start()
    assert started.wait(5)  # the warm-up or a caller is building; the others wait for it
    release.set()
    for caller in callers:
        caller.join(5)
    assert builds == [1]
    assert answers == [[b"built"]] * 4


def test_survivors_of_a_full_collection_are_frozen_and_still_freed_when_dropped(face_png):
    """The collector policy of `serve`: jobs leave the full collections, and a reset still frees them."""
    app = create_app(MockConfig(clock="manual"))
    runtime, client = mock_of(app), app.test_client()
    stop = freeze_survivors()

    def submits(count: int) -> None:
        for _ in range(count):
            submitted = client.post("/v1/pixverse/meme_face", headers=AUTH, content_type="multipart/form-data",
                                    data={"prompt": "a cat", "face": (io.BytesIO(face_png), "face.png")})
            assert submitted.status_code == 200
            runtime.advance(3600)

    try:
        submits(5)  # what the first requests set up for good (mimetypes, codecs) is not counted below
        gc.collect()
        kept_before = gc.get_freeze_count()
        submits(200)
        gc.collect()
        frozen = gc.get_freeze_count() - kept_before
        assert len(gc.get_objects(generation=2)) < 1_000  # the survivors were moved out, not left to scan
        assert frozen > 200 * 2, frozen  # the jobs among them (3 tracked objects each; their journal entries none)
        runtime.reset()
        for thread in threading.enumerate():
            if thread.name == "pixverse-release":
                thread.join(10)
        still_frozen = gc.get_freeze_count() - kept_before
        assert still_frozen < frozen / 4, (frozen, still_frozen)  # refcounting freed the jobs, frozen or not
    finally:
        stop()
        gc.unfreeze()
        runtime.close()


def test_a_vendor_answer_leaves_no_garbage_for_the_collector():
    """Each request is freed by reference counting (its request object and environ made a cycle once)."""
    app, runtime, _late = served_app(MockConfig(clock="manual"))
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/v1/pixverse/jobs/", "QUERY_STRING": f"jobid={SEED_JOB}",
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
               "wsgi.errors": sys.stderr, "HTTP_AUTHORIZATION": AUTH["Authorization"]}
    statuses: list[str] = []
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(200):
            b"".join(app({**environ, "wsgi.input": io.BytesIO()}, lambda status, headers: statuses.append(status)))
        gc.collect()
        garbage = len(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        runtime.close()
    assert statuses == ["200 OK"] * 200
    assert garbage == 0, f"{garbage} objects of 200 answers were left for the collector"


@pytest.mark.parametrize("body", [
    {"jobid": "j-1", "buttons": ["U1", "🔄"], "content": "<@1> «prompt» \u2028", "code": 200, "nested": [{"a": None}]},
    {"error": "Unable to locate job \x00\x1f\"\\", "code": 404},
    {"size": 10**30, "code": 200},  # over 64 bits: the standard encoder writes it
    {1: "a non-string key"},  # the standard encoder writes it as "1"
])
def test_answers_are_the_standard_encoders_bytes(body):
    assert json_payload(body) == (json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
