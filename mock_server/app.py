"""The Flask app factory."""

from __future__ import annotations

from flask import Flask

from mock_server.clock import Clock
from mock_server.config import MockConfig
from mock_server.http.control import control
from mock_server.http.dashboard import dashboard
from mock_server.http.docs import docs
from mock_server.http.docs import swagger_ui
from mock_server.http.drop import DropConnections
from mock_server.http.flask_hooks import register_error_handlers
from mock_server.http.flask_hooks import register_journaling
from mock_server.http.media import media
from mock_server.http.vendor import VendorEdge
from mock_server.http.vendor import body_limits
from mock_server.runtime import MockRuntime
from mock_server.scenarios import Scenario
from mock_server.store.base import Store


def create_app(config: MockConfig | None = None, *, scenario: Scenario | None = None, store: Store | None = None,
               clock: Clock | None = None) -> Flask:
    """A fresh mock: its own store, clock and seeded RNG. Collaborators may be injected (tests).

    A ``scenario`` lays its config over ``config`` and queues its faults.
    """
    config = config or MockConfig()
    if scenario is not None:
        config = scenario.configure(config)
    runtime = MockRuntime(config, store=store, clock=clock)
    if scenario is not None:
        scenario.queue_faults(runtime.control)
    app = flask_app(runtime, scenario)
    app.wsgi_app = DropConnections(  # type: ignore[method-assign]
        VendorEdge(lambda: mock_of(app), config.max_upload_bytes, app.wsgi_app))
    return app


def flask_app(runtime: MockRuntime, scenario: Scenario | None = None) -> Flask:
    """The Flask app of ``runtime``: control plane, docs, dashboard, attachments, and the envelope for unknown paths.

    Not the vendor routes: :class:`~mock_server.http.vendor.VendorEdge` answers them in front of it.
    """
    app = Flask("mock_server")
    app.config["MAX_CONTENT_LENGTH"], app.config["MAX_FORM_MEMORY_SIZE"], app.config["MAX_FORM_PARTS"] = (
        body_limits(runtime.config.max_upload_bytes))
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.url_map.strict_slashes = False
    app.extensions["pixverse_mock"] = runtime
    app.extensions["pixverse_mock_scenario"] = scenario
    app.register_blueprint(media)
    app.register_blueprint(control)
    app.register_blueprint(docs)
    app.register_blueprint(swagger_ui())
    app.register_blueprint(dashboard)
    app.before_request(lambda: mock_of(app).refresh_settings())
    register_journaling(app)
    register_error_handlers(app)
    return app


def mock_of(app: Flask) -> MockRuntime:
    """The :class:`MockRuntime` behind an app made by :func:`create_app`."""
    return app.extensions["pixverse_mock"]


def restart(app: Flask) -> MockRuntime:
    """Give ``app`` a fresh runtime built from its config and scenario: the state :func:`create_app` made.

    Cheaper than a new app (Flask's routes stay compiled). The old runtime is closed. A SQLite store
    keeps its file: its tenants, journals, faults and settings are cleared, its manual clock reading stays.
    """
    old = mock_of(app)
    runtime = MockRuntime(old.config)
    if runtime.config.shared_store:  # the file (or Redis) outlives the runtime
        runtime.reset()
        runtime.control.put_settings({})
        runtime.refresh_settings()
    scenario = app.extensions["pixverse_mock_scenario"]
    if scenario is not None:
        scenario.queue_faults(runtime.control)
    app.extensions["pixverse_mock"] = runtime
    old.close()
    return runtime
