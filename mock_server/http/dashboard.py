"""The dashboard: one self-contained HTML page at ``/__mock/`` and the JSON it polls, ``/__mock/overview``.

The page (``dashboard.html`` beside this module) has its script and styles inline and loads nothing
from another host; it reads ``/__mock/overview`` every second and drives the existing control
endpoints (``/__mock/clock/advance``, ``/__mock/reset``).
"""

from __future__ import annotations

from importlib.resources import files

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify

from mock_server.control.overview import overview as build_overview
from mock_server.http.control import require_control_token

dashboard = Blueprint("dashboard", __name__, url_prefix="/__mock")
# Every tenant's jobs and prompts: the same guard as the rest of the control plane.
dashboard.before_request(require_control_token)

_PAGE = files(__package__).joinpath("dashboard.html")


@dashboard.get("/")
def page() -> Response:
    return Response(_PAGE.read_bytes(), mimetype="text/html", headers={"Cache-Control": "no-store"})


@dashboard.get("/overview")
def overview() -> Response:
    runtime = current_app.extensions["pixverse_mock"]
    return jsonify(build_overview(runtime, current_app.extensions.get("pixverse_mock_scenario")))
