"""The vendor routes under ``/v1/pixverse``: each reads the request and calls one service method."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import g
from flask import jsonify
from flask import request

from mock_server import messages
from mock_server.errors import BadRequest
from mock_server.faults import SUBMIT_OPERATIONS
from mock_server.faults import FaultError
from mock_server.faults import parse_fault
from mock_server.http.inputs import request_input
from mock_server.http.journaling import operation_of_request
from mock_server.service.core import PixverseService

vendor = Blueprint("vendor", __name__, url_prefix="/v1/pixverse")
FAULT_HEADER = "X-Mock-Fault"
_HOST_URLS: dict[tuple[str, str], str] = {}
"""``request.host_url`` by scheme and host: werkzeug rebuilds it (IRI decoding included) per request."""


def _service() -> PixverseService:
    return current_app.extensions["pixverse_mock"].service


def _base_url() -> str:
    configured = _service().config.public_url
    if configured:
        return configured
    key = (request.scheme, request.host)
    url = _HOST_URLS.get(key)
    if url is None:
        if len(_HOST_URLS) >= 256:
            _HOST_URLS.clear()
        url = _HOST_URLS[key] = request.host_url.rstrip("/")
    return url


def _answer(body: dict[str, Any]) -> Response:
    """``jsonify(body)``, with the body kept beside the response so the journal need not parse it back."""
    response = jsonify(body)
    g.vendor_answer = (body, response)
    return response


def take_faults(runtime: Any, operation: str, tenant: str) -> None:
    """After authentication: the header's and the queue's fault for this request.

    A fault that answers by itself (429, 401, 402, 5xx, drop) is raised here, a delay is served
    here; one that shapes the job (moderated, fail) is left in ``g.faults`` for the service.
    """
    header = request.headers.get(FAULT_HEADER)
    if header:
        try:
            fault = parse_fault(header)
        except FaultError as exc:
            raise BadRequest(f"{FAULT_HEADER}: {exc}") from None
        if fault.shapes_job and operation not in SUBMIT_OPERATIONS:
            raise BadRequest(messages.FAULT_NEEDS_SUBMIT.format(fault=fault.kind))
        g.faults.append(fault)
    queued = runtime.control.take_fault(operation, tenant, runtime.draw)
    if queued is not None:
        g.faults.append(queued)
    for fault in g.faults:
        if not fault.shapes_job:
            runtime.service.raise_fault(fault, tenant)


@vendor.before_request
def authenticate() -> None:
    """Every vendor call needs ``Authorization: Bearer <token>``; the token picks the tenant.

    Then the request may take an injected fault (header, queue), never before auth.
    """
    g.tenant = _service().authenticate(request.headers.get("Authorization"))
    take_faults(current_app.extensions["pixverse_mock"], operation_of_request(), g.tenant)


def _route(rule: str, method: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view under both spellings of its path (with and without the trailing slash).

    Each spelling is a rule of its own, so a wrong method answers 405 with ``Allow`` on either.
    """

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        vendor.add_url_rule(rule, view_func=view, methods=[method])
        vendor.add_url_rule(rule.rstrip("/"), view_func=view, methods=[method])
        return view

    return register


def _submit(method: Callable[..., dict[str, Any]]) -> Response:
    return _answer(method(g.tenant, request_input(request), _base_url(), g.faults))


@_route("/create/", "POST")
def create() -> Response:
    return _submit(_service().submit_create)


@_route("/create_single/", "POST")
def create_single() -> Response:
    return _submit(_service().submit_create_single)


@_route("/animate/", "POST")
def animate() -> Response:
    return _submit(_service().submit_animate)


@_route("/meme_face/", "POST")
def meme_face() -> Response:
    return _submit(_service().submit_meme_face)


@_route("/button/", "POST")
def button() -> Response:
    return _submit(_service().press_button)


@_route("/jobs/", "GET")
def get_job() -> Response:
    return _answer(_service().get_job(g.tenant, request.args.get("jobid"), _base_url()))


@_route("/jobs/cancel/", "GET")
def cancel_job() -> Response:
    return _answer(_service().cancel_job(g.tenant, request.args.get("jobid")))


@_route("/account/", "GET")
def list_accounts() -> Response:
    return jsonify(_service().list_accounts(g.tenant))


@_route("/account/<channel>/", "GET")
def get_account(channel: str) -> Response:
    return jsonify(_service().get_account(g.tenant, channel))


@_route("/account/<channel>/", "POST")
def put_account(channel: str) -> tuple[str, int]:
    _service().put_account(g.tenant, channel, request_input(request))
    return "", 204


@_route("/account/<channel>/", "DELETE")
def delete_account(channel: str) -> tuple[str, int]:
    _service().delete_account(g.tenant, channel)
    return "", 204
