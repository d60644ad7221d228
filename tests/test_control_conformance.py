"""The control-plane contract ``openapi/control.yaml``: valid, lint-clean, complete, and kept by the mock.

- the spec validates as OpenAPI 3.1 and Redocly reports no error;
- its paths are exactly the ``/__mock`` routes of the Flask app, and nothing else;
- a scripted run answers every documented status of every operation with real data (jobs,
  journal entries, callbacks), each answer checked by schemathesis against the spec;
- schemathesis generates cases (valid and invalid) for every operation against the in-process
  app: no 5xx, only documented statuses, JSON, and answers that match their schema.

``GET /__mock/wait/{kind}`` blocks up to ``timeout`` seconds: generated timeouts are cut to
:data:`FUZZ_WAIT_SECONDS` by a ``map_query`` hook, and the runtime's wait is capped as well, so
nothing here can hang.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from conftest import TOKEN
from helpers import meme_face_job
from helpers import ok_receiver
from helpers import submit_meme_face
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from openapi_spec_validator import OpenAPIV31SpecValidator
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.checks import status_code_conformance

from mock_server import MockConfig
from mock_server import create_app
from mock_server import mock_of
from mock_server.resources import control_spec_path
from mock_server.resources import vendor_spec_path

REPO_ROOT = Path(__file__).resolve().parents[1]
REDOCLY = REPO_ROOT / "node_modules" / ".bin" / "redocly"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ_EXAMPLES = 25
"""Generated cases per operation and generation mode (17 operations × 2 modes)."""
FUZZ_WAIT_SECONDS = 0.01
WAIT_CAP_SECONDS = 0.05


@cache
def _spec() -> dict[str, Any]:
    return yaml.safe_load(control_spec_path().read_text(encoding="utf-8"))


def _operations() -> list[tuple[str, str]]:
    return [(path, method) for path, item in _spec()["paths"].items() for method in item if method in HTTP_METHODS]


def _documented_statuses() -> set[tuple[str, str, int]]:
    return {(path, method, int(status)) for path, method in _operations()
            for status in _spec()["paths"][path][method]["responses"]}


# --- the document itself ---------------------------------------------------------------------------


def test_control_spec_path_points_at_the_openapi_folder():
    assert control_spec_path() == REPO_ROOT / "openapi" / "control.yaml"
    assert control_spec_path().parent == vendor_spec_path().parent


def test_control_spec_validates_as_openapi_3_1():
    spec = _spec()
    assert spec["openapi"].startswith("3.1")
    validate(spec, base_uri=control_spec_path().as_uri(), cls=OpenAPIV31SpecValidator)


def test_control_spec_redocly_lint_reports_no_errors():
    quiet = {"REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true", "NO_COLOR": "1"}
    result = subprocess.run(
        [str(REDOCLY), "lint", "openapi/control.yaml", "--format=json"],
        cwd=REPO_ROOT, env={**os.environ, **quiet}, capture_output=True, text=True, timeout=120, check=False,
    )
    report = json.loads(result.stdout)
    assert report["totals"]["errors"] == 0, json.dumps(report["problems"], indent=2, ensure_ascii=False)


def test_control_spec_paths_are_exactly_the_app_routes(app):
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/__mock"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            routes |= {(path, method.lower()) for method in rule.methods or () if method not in ("HEAD", "OPTIONS")}
    assert routes == set(_operations())


def test_control_spec_is_apart_from_the_vendor_spec():
    assert all(path.startswith("/__mock/") for path in _spec()["paths"])
    vendor = yaml.safe_load(vendor_spec_path().read_text(encoding="utf-8"))
    assert not any(path.startswith("/__mock") for path in vendor["paths"])
    assert not set(_spec()["paths"]) & set(vendor["paths"])


def test_control_spec_security_is_the_control_token_and_says_when():
    spec = _spec()
    assert spec["security"] == [{}, {"controlToken": []}]
    assert spec["components"]["securitySchemes"] == {"controlToken": {
        "type": "apiKey", "in": "header", "name": "X-Mock-Control-Token",
        "description": spec["components"]["securitySchemes"]["controlToken"]["description"]}}
    assert spec["paths"]["/__mock/health"]["get"]["security"] == []
    guarded = [(path, method) for path, method in _operations() if spec["paths"][path][method].get("security") != []]
    assert {path for path, method in _operations() if (path, method) not in guarded} == {
        "/__mock/health", "/__mock/openapi.yaml"}
    assert all("401" in spec["paths"][path][method]["responses"] for path, method in guarded)
    description = spec["info"]["description"]
    assert "loopback" in description and "X-Mock-Control-Token" in description


def test_control_spec_operations_are_complete():
    spec = _spec()
    ids = [spec["paths"][path][method]["operationId"] for path, method in _operations()]
    assert len(ids) == len(set(ids))
    tags = {tag["name"] for tag in spec["tags"]}
    for path, method in _operations():
        operation = spec["paths"][path][method]
        assert operation.get("summary") and set(operation.get("tags", [])) <= tags and operation["tags"]
        assert "200" in operation["responses"] or "201" in operation["responses"]


def test_control_spec_wait_timeout_is_bounded():
    parameters = _spec()["paths"]["/__mock/wait/{kind}"]["get"]["parameters"]
    [timeout] = [p for p in parameters if p.get("name") == "timeout"]
    assert timeout["schema"]["maximum"] == 60 and timeout["schema"]["minimum"] == 0


# --- real answers against the spec -------------------------------------------------------------------


@pytest.fixture
def receiver_url() -> Iterator[str]:
    with ok_receiver() as url:
        yield url


@pytest.fixture(scope="module")
def control_schema():
    return schemathesis.openapi.from_path(control_spec_path())


PAGES = ("/__mock/", "/__mock/openapi.yaml")
"""Operations that answer HTML or YAML, not JSON."""


class Exercise:
    """Calls one operation with concrete data through schemathesis and checks the answer."""

    def __init__(self, schema, app) -> None:
        self.schema = schema
        self.app = app
        self.seen: set[tuple[str, str, int]] = set()

    def __call__(self, method: str, path: str, status: int, *, app=None, body: Any = None,
                 **parts: Any) -> Any:
        operation = self.schema[path][method.upper()]
        kwargs = dict(parts)
        if body is not None:
            kwargs.update(body=body, media_type="application/json")
        case = operation.Case(**kwargs)
        response = case.call(app=app or self.app)
        assert response.status_code == status, (method, path, parts, body, response.text)
        case.validate_response(response, checks=CHECKS)
        self.seen.add((path, method, status))
        return response.text if path in PAGES else response.json()


def test_every_documented_status_is_answered_and_matches_the_spec(app, mock, client, control_schema,
                                                                  receiver_url):
    call = Exercise(control_schema, app)
    jobid = meme_face_job(client, replyUrl=receiver_url, replyRef="order-1")
    doomed = meme_face_job(client, replyUrl="http://127.0.0.1:9/closed")
    submit_meme_face(client, prompt="")  # a 400 with violations in its journal entry

    call("get", "/__mock/health", 200)
    call("post", "/__mock/seed", 200, body={"seed": 3})
    call("post", "/__mock/seed", 400, body={"seed": "three"})
    call("get", "/__mock/clock", 200)
    call("post", "/__mock/clock/advance", 200, body={"seconds": 1})
    call("post", "/__mock/clock/advance", 400, body={"seconds": -1})
    now = call("put", "/__mock/clock", 200, body={"now": mock.now() + 1})["now"]
    call("put", "/__mock/clock", 409, body={"now": now - 1})
    call("put", "/__mock/clock", 400, body={"profile": "warp"})
    with_job = call("post", "/__mock/jobs/{jobid}/outcome", 200, path_parameters={"jobid": doomed},
                    body={"token": TOKEN, "outcome": "failed", "error": "out of credits"})
    assert with_job["status"] == "failed"
    call("post", "/__mock/jobs/{jobid}/outcome", 409, path_parameters={"jobid": doomed},
         body={"token": TOKEN, "outcome": "completed"})
    call("post", "/__mock/jobs/{jobid}/outcome", 404, path_parameters={"jobid": "j0-nothing"},
         body={"token": TOKEN, "outcome": "completed"})
    call("post", "/__mock/jobs/{jobid}/outcome", 400, path_parameters={"jobid": jobid}, body={"token": TOKEN})
    call("post", "/__mock/clock/advance", 200, body={"seconds": 5})
    for owner in (jobid, doomed):
        assert mock.wait_for("callbacks", timeout=10, jobid=owner) is not None
    callbacks = call("get", "/__mock/journal/{kind}", 200, path_parameters={"kind": "callbacks"})
    assert len(callbacks["entries"]) == 2, callbacks  # delivered (jobid) and failed (doomed)
    assert {e.get("statusCode") for e in callbacks["entries"]} >= {200}
    requests_page = call("get", "/__mock/journal/{kind}", 200, path_parameters={"kind": "requests"},
                         query={"token": TOKEN, "limit": 10})
    assert any(e["violations"] for e in requests_page["entries"])
    call("get", "/__mock/journal/{kind}", 400, path_parameters={"kind": "responses"})
    overview = call("get", "/__mock/overview", 200)
    assert [len(t["jobs"]) for t in overview["tenants"]] == [2] and len(overview["callbacks"]) == 2
    assert call("get", "/__mock/openapi.yaml", 200).startswith("openapi: 3.1")
    assert "<html" in call("get", "/__mock/", 200)
    call("get", "/__mock/wait/{kind}", 200, path_parameters={"kind": "callbacks"}, query={"timeout": 0})
    call("get", "/__mock/wait/{kind}", 200, path_parameters={"kind": "requests"}, query={"timeout": 0})
    call("get", "/__mock/wait/{kind}", 408, path_parameters={"kind": "requests"},
         query={"timeout": 0.01, "since": requests_page["last"] + 1000})
    call("get", "/__mock/wait/{kind}", 400, path_parameters={"kind": "requests"}, query={"timeout": 61})
    call("post", "/__mock/faults", 201, body={"fault": "discord429", "endpoint": "meme_face", "count": 2})
    call("post", "/__mock/faults", 201, body={"fault": "server_error:503", "token": TOKEN, "count": None,
                                              "probability": 0.5})
    call("post", "/__mock/faults", 400, body={"fault": "teleport"})
    assert len(call("get", "/__mock/faults", 200)["faults"]) == 2
    call("delete", "/__mock/faults", 200, query={"token": TOKEN})
    call("delete", "/__mock/faults", 400, query={"token": ""})
    settings_now = call("get", "/__mock/settings", 200)
    call("put", "/__mock/tokens", 200, body={"accepted": [TOKEN], "expired": ["user:9-old"]})
    call("put", "/__mock/tokens", 400, body={"accepted": "everyone"})
    call("put", "/__mock/accounts", 200, body={"accounts": [
        {"discord": "conformance-discord-token-0001", "server": "1100000000000000001",
         "channel": "1200000000000000031", "maxJobs": 2, "replyUrl": receiver_url}]})
    call("put", "/__mock/accounts", 200, body={"token": TOKEN, "accounts": [
        {"discord": "conformance-discord-token-0002", "server": "1100000000000000001",
         "channel": "1200000000000000032"}]})
    call("put", "/__mock/accounts", 400, body={"accounts": [{"discord": "x"}]})
    call("put", "/__mock/moderation", 200, body={"words": ["banana"]})
    call("put", "/__mock/moderation", 400, body={"words": "banana"})
    call("put", "/__mock/button-graph", 200, body=settings_now["button_graph"])
    call("put", "/__mock/button-graph", 400, body={"results": {}})
    call("post", "/__mock/reset", 200, body={"token": TOKEN})
    call("post", "/__mock/reset", 200)
    call("post", "/__mock/reset", 400, body={"token": 5})

    with _fast_app() as fast:
        call("post", "/__mock/clock/advance", 409, app=fast, body={"seconds": 1})
    with _fast_app(host="0.0.0.0", control_token="conformance-control-token") as guarded:
        for path, method in _operations():
            if "401" in _spec()["paths"][path][method]["responses"]:
                call(method, path, 401, app=guarded, path_parameters={"kind": "requests", "jobid": jobid})

    assert _documented_statuses() - call.seen == set()


class _fast_app:
    def __init__(self, **config: Any) -> None:
        self.config = MockConfig(clock="fast", **config)

    def __enter__(self):
        self.app = create_app(self.config)
        return self.app

    def __exit__(self, *exc: Any) -> None:
        runtime = mock_of(self.app)
        runtime.close()
        assert not runtime.errors


# --- schemathesis ------------------------------------------------------------------------------------


def _short(value: Any) -> Any:
    """A ``timeout`` the server would read as a wait in [0, 60] seconds, cut to FUZZ_WAIT_SECONDS."""
    if isinstance(value, list):
        return [_short(v) for v in value]
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return value
    return FUZZ_WAIT_SECONDS if math.isfinite(seconds) and 0 <= seconds <= 60 else value


def _fuzz_schema():
    schema = schemathesis.openapi.from_path(control_spec_path())

    @schema.hook
    def map_query(context, query):
        if context.operation is not None and context.operation.path == "/__mock/wait/{kind}":
            query = dict(query or {})
            query["timeout"] = _short(query.get("timeout", FUZZ_WAIT_SECONDS))
        return query

    return schema


@pytest.fixture
def capped_wait(mock):
    """Whatever reaches the runtime, a journal wait lasts at most WAIT_CAP_SECONDS here."""
    original = mock.control.wait

    def wait(kind, since, accept, timeout):
        return original(kind, since, accept, min(timeout, WAIT_CAP_SECONDS))

    mock.control.wait = wait


@pytest.mark.parametrize("path, method", _operations(), ids=[f"{m.upper()} {p}" for p, m in _operations()])
def test_schemathesis_finds_no_server_error(app, mock, capped_wait, path, method):
    operation = _fuzz_schema()[path][method.upper()]
    strategies = [operation.as_strategy(GenerationMode.POSITIVE)]
    try:
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
    except Exception as exc:  # an operation with nothing to negate
        assert "negat" in str(exc).lower(), exc

    @settings(max_examples=FUZZ_EXAMPLES * len(strategies), deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=st.one_of(strategies))
    def fuzz(case):
        case.call_and_validate(app=app, checks=CHECKS)

    fuzz()
    assert mock.errors == []
