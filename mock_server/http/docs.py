"""The contracts, served: ``/openapi.yaml`` (vendor), ``/__mock/openapi.yaml`` (control plane), ``/docs``.

``/docs`` is Swagger UI from the ``flask-swagger-ui`` package, whose wheel ships the Swagger UI files:
the page loads nothing from any other host, so it works with no network at all.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint
from flask import Response
from flask import send_file
from flask_swagger_ui import get_swaggerui_blueprint

from mock_server.resources import control_spec_path
from mock_server.resources import vendor_spec_path

DOCS_PATH = "/docs"
VENDOR_SPEC_URL = "/openapi.yaml"
CONTROL_SPEC_URL = "/__mock/openapi.yaml"

docs = Blueprint("docs", __name__)


@docs.get(VENDOR_SPEC_URL)
def vendor_spec() -> Response:
    return _yaml(vendor_spec_path())


@docs.get(CONTROL_SPEC_URL)
def control_spec() -> Response:
    return _yaml(control_spec_path())


def _yaml(path: Path) -> Response:
    return send_file(path, mimetype="application/yaml", max_age=0)


def swagger_ui() -> Blueprint:
    """Swagger UI at ``/docs``: both contracts (a selector at the top), no validator badge (it calls out)."""
    return get_swaggerui_blueprint(DOCS_PATH, VENDOR_SPEC_URL, blueprint_name="swagger_ui", config={
        "app_name": "pixverse-mock: API reference",
        "urls": [{"url": VENDOR_SPEC_URL, "name": "PixVerse v1 (useapi.net), as the mock serves it"},
                 {"url": CONTROL_SPEC_URL, "name": "pixverse-mock control plane (/__mock/)"}],
        "validatorUrl": None,
        "deepLinking": True,
    })
