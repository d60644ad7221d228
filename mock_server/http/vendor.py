"""The vendor routes under ``/v1/pixverse``: each reads the request and calls one service method."""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import g
from flask import jsonify
from flask import request

from mock_server.http.inputs import request_input
from mock_server.service.core import PixverseService

vendor = Blueprint("vendor", __name__, url_prefix="/v1/pixverse")


def _service() -> PixverseService:
    return current_app.extensions["pixverse_mock"].service


def _base_url() -> str:
    return _service().config.public_url or request.host_url.rstrip("/")


@vendor.before_request
def authenticate() -> None:
    """Every vendor call needs ``Authorization: Bearer <token>``; the token picks the tenant."""
    g.tenant = _service().authenticate(request.headers.get("Authorization"))


@vendor.post("/meme_face/")
def meme_face() -> Response:
    return jsonify(_service().submit_meme_face(g.tenant, request_input(request), _base_url(), g.faults))


@vendor.post("/button/")
def button() -> Response:
    return jsonify(_service().press_button(g.tenant, request_input(request), _base_url(), g.faults))


@vendor.get("/jobs/")
def get_job() -> Response:
    return jsonify(_service().get_job(g.tenant, request.args.get("jobid"), _base_url()))


@vendor.get("/jobs/cancel/")
def cancel_job() -> Response:
    return jsonify(_service().cancel_job(g.tenant, request.args.get("jobid")))


@vendor.get("/account/")
def list_accounts() -> Response:
    return jsonify(_service().list_accounts(g.tenant))


@vendor.get("/account/<channel>/")
def get_account(channel: str) -> Response:
    return jsonify(_service().get_account(g.tenant, channel))


@vendor.post("/account/<channel>/")
def put_account(channel: str) -> tuple[str, int]:
    _service().put_account(g.tenant, channel, request_input(request))
    return "", 204


@vendor.delete("/account/<channel>/")
def delete_account(channel: str) -> tuple[str, int]:
    _service().delete_account(g.tenant, channel)
    return "", 204
