"""The control plane over HTTP, under ``/__mock/`` (contract: ``openapi/control.yaml``).

Each route reads its arguments and calls one method of the runtime's control operations.
"""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from flask import request

from mock_server.control.access import CONTROL_TOKEN_HEADER
from mock_server.control.access import control_token_accepted
from mock_server.control.access import control_token_required
from mock_server.control.operations import LATEST
from mock_server.control.operations import MAX_WAIT_SECONDS
from mock_server.errors import ApiError
from mock_server.errors import BadRequest
from mock_server.http.inputs import json_value
from mock_server.http.inputs import read_body
from mock_server.runtime import MockRuntime

control = Blueprint("control", __name__, url_prefix="/__mock")


class WaitTimeout(ApiError):
    status = 408


class ControlUnauthorized(ApiError):
    status = 401


OPEN_ENDPOINTS = ("control.health",)
"""Answered without the control token (a readiness probe)."""
ONE_TOKEN_ENDPOINTS = ("control.journal", "control.wait")
"""Answered without the control token for ``?token=T``: only T's entries."""


def _runtime() -> MockRuntime:
    return current_app.extensions["pixverse_mock"]


@control.before_request
def require_control_token() -> None:
    """Off loopback (or with ``control_token`` set) the control plane needs ``X-Mock-Control-Token``."""
    config = _runtime().config
    if not control_token_required(config) or request.endpoint in OPEN_ENDPOINTS:
        return
    if control_token_accepted(config, request.headers.get(CONTROL_TOKEN_HEADER)):
        return
    if request.endpoint in ONE_TOKEN_ENDPOINTS and request.args.get("token"):
        return  # the journal filter keeps to that token's tenant
    if config.control_token is None:
        raise ControlUnauthorized("Unauthorized: this mock listens beyond loopback and has no control token; "
                                  "start it with --control-token to use /__mock/")
    raise ControlUnauthorized(f"Unauthorized: /__mock/ needs the {CONTROL_TOKEN_HEADER} header "
                              f"(the control token printed at start, or the one given with --control-token)"
                              + ("; without it the journal answers one API token's entries (?token=)"
                                 if request.endpoint in ONE_TOKEN_ENDPOINTS else ""))


def _body() -> dict[str, Any]:
    if not read_body(request):
        return {}
    body = json_value(request) if request.is_json else None
    if not isinstance(body, dict):
        raise BadRequest("the control plane takes a JSON object body")
    return body


def _number(value: Any, name: str, *, integer: bool = False, minimum: float | None = None,
            maximum: float | None = None) -> Any:
    """``value`` as a finite number (numeric strings too), or ``None``; anything else is a 400."""
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise TypeError(name)
        number = value if integer and isinstance(value, int) else float(value)
        if isinstance(number, float) and not math.isfinite(number):
            raise ValueError(name)
        if integer:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(name)
            number = int(value)  # an int, a whole float, or digits ("1.5" raises)
    except (TypeError, ValueError, OverflowError):
        kind = "a whole number" if integer else "a finite number"
        raise BadRequest(f"{name} must be {kind}, not {value!r}") from None
    if minimum is not None and number < minimum:
        raise BadRequest(f"{name} must be at least {minimum:g}, not {value!r}")
    if maximum is not None and number > maximum:
        raise BadRequest(f"{name} must be at most {maximum:g}, not {value!r}")
    return number


def _token(value: Any, name: str = "token") -> str | None:
    """An API token: a non-empty string, or ``None`` when not given."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{name} must be a non-empty string (an API token)")
    return value


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string, not {value!r}")
    return value


def _filters() -> dict[str, Any]:
    return {k: v for k, v in request.args.items() if k not in ("since", "limit", "timeout")}


@control.get("/health")
def health() -> Response:
    runtime = _runtime()
    return jsonify({"status": "ok", "store": runtime.config.store_shown, "jobs": runtime.store.job_count(),
                    "clock": runtime.clock_view()})


@control.post("/reset")
def reset() -> Response:
    token = _token(_body().get("token"))
    _runtime().reset(token)
    return jsonify({"reset": "tenant" if token else "all"})


@control.post("/seed")
def seed() -> Response:
    value = _number(_body().get("seed"), "seed", integer=True)
    if value is None:
        raise BadRequest("seed is required")
    _runtime().reseed(value)
    return jsonify({"seed": value})


@control.get("/clock")
def get_clock() -> Response:
    return jsonify(_runtime().clock_view())


@control.put("/clock")
def put_clock() -> Response:
    body = _body()
    now = _number(body.get("now"), "now", minimum=0, maximum=LATEST)
    return jsonify(_runtime().set_clock(profile=_text(body.get("profile"), "profile"), now=now))


@control.post("/clock/advance")
def advance_clock() -> Response:
    seconds = _number(_body().get("seconds"), "seconds", minimum=0)
    if seconds is None:
        raise BadRequest("seconds is required and must not be negative")
    runtime = _runtime()
    if runtime.now() + seconds > LATEST:
        raise BadRequest(f"seconds {seconds:g} would move the clock past 9999-12-31T23:59:59Z")
    runtime.advance(seconds)
    return jsonify(runtime.clock_view())


@control.post("/jobs/<path:jobid>/outcome")
def force_outcome(jobid: str) -> Response:
    body = _body()
    token, outcome = _token(body.get("token")), _text(body.get("outcome"), "outcome")
    if not token or not outcome:
        raise BadRequest("token and outcome are required")
    job = _runtime().force_outcome(token, jobid, outcome, error=_text(body.get("error"), "error"),
                                   after=_number(body.get("after"), "after", minimum=0) or 0.0)
    return jsonify(job)


@control.get("/faults")
def list_faults() -> Response:
    return jsonify({"faults": _runtime().fault_rules()})


@control.post("/faults")
def add_fault() -> tuple[Response, int]:
    body = _body()
    fault = _text(body.get("fault"), "fault")
    if not fault:
        raise BadRequest("fault is required, e.g. discord429 or server_error:503")
    count = body.get("count", 1)
    probability = _number(body.get("probability", 1.0), "probability")
    rule = _runtime().add_fault(
        fault, endpoint=_text(body.get("endpoint"), "endpoint"), token=_token(body.get("token")),
        count=None if count is None else _number(count, "count", integer=True),
        probability=1.0 if probability is None else probability,
    )
    return jsonify(rule), 201


@control.delete("/faults")
def clear_faults() -> Response:
    token = request.args.get("token")
    _runtime().clear_faults(_token(_body().get("token") if token is None else token))
    return jsonify({"faults": _runtime().fault_rules()})


@control.get("/settings")
def get_settings() -> Response:
    return jsonify(_runtime().settings_view())


@control.put("/tokens")
def put_tokens() -> Response:
    body = _body()
    _runtime().set_tokens(accepted=_strings(body, "accepted"), expired=_strings(body, "expired"))
    return jsonify(_runtime().settings_view())


@control.put("/accounts")
def put_accounts() -> Response:
    body = _body()
    accounts = body.get("accounts")
    if not isinstance(accounts, list):
        raise BadRequest("accounts must be a list")
    return jsonify({"accounts": _runtime().set_accounts(accounts, token=_token(body.get("token")))})


@control.put("/moderation")
def put_moderation() -> Response:
    words = _strings(_body(), "words")
    if words is None:
        raise BadRequest("words must be a list of strings")
    _runtime().set_moderation(words)
    return jsonify(_runtime().settings_view())


@control.put("/button-graph")
def put_button_graph() -> Response:
    _runtime().set_button_graph(_body())
    return jsonify(_runtime().settings_view())


@control.get("/journal/<kind>")
def journal(kind: str) -> Response:
    since = _number(request.args.get("since", 0), "since", integer=True, minimum=0)
    limit = _number(request.args.get("limit"), "limit", integer=True, minimum=0)
    entries = _runtime().journal(kind, since=since, limit=limit, **_filters())
    return jsonify({"entries": entries, "last": entries[-1]["seq"] if entries else since})


@control.get("/wait/<kind>")
def wait(kind: str) -> Response:
    since = _number(request.args.get("since", 0), "since", integer=True, minimum=0)
    timeout = _number(request.args.get("timeout", 5), "timeout", minimum=0, maximum=MAX_WAIT_SECONDS)
    entry = _runtime().wait_for(kind, timeout=timeout, since=since, **_filters())
    if entry is None:
        raise WaitTimeout(f"nothing matching in the {kind} journal within {timeout:g} s")
    return jsonify(entry)


def _strings(body: dict[str, Any], name: str) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"{name} must be a list of strings")
    return value
