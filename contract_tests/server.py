"""A real HTTP mock on 127.0.0.1 in a background thread, for tests in the same process.

It serves the app from :func:`mock_server.create_app` with werkzeug's threaded server (enough for a
test; ``pixverse-mock serve`` runs gunicorn), on a free port unless told otherwise.
"""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server

from mock_server import MockConfig
from mock_server import MockRuntime
from mock_server import Scenario
from mock_server import create_app
from mock_server import mock_of
from mock_server import restart
from mock_server.control.access import with_control_token


class MockServerError(AssertionError):
    """The mock raised unexpectedly while answering; carries the exceptions it recorded."""

    def __init__(self, errors: list[BaseException]) -> None:
        super().__init__(f"the mock raised {len(errors)} unexpected error(s): {errors!r}")
        self.errors = errors


class ThreadedMockServer:
    """``start()``, use :attr:`url`, :attr:`runtime` (the control API), ``stop()``; or a ``with`` block."""

    def __init__(self, config: MockConfig | None = None, *, scenario: Scenario | None = None,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self._requested = (host, port)
        self._config = config or MockConfig()
        self._scenario = scenario
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.app = None

    def start(self) -> ThreadedMockServer:
        host, port = self._requested
        # Attachment and callback URLs must name the real port: bind first, then build the app.
        self._server = make_server(host, port, _not_ready, threaded=True, request_handler=_QuietHandler)
        config, _ = with_control_token(self._config.with_overrides(host=host, port=self._server.server_port))
        self.app = create_app(config, scenario=self._scenario)
        self._server.app = self.app
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="pixverse-mock-server", daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        return f"http://{self._requested[0]}:{self._server.server_port}"

    @property
    def runtime(self) -> MockRuntime:
        return mock_of(self.app)

    def renew(self) -> MockRuntime:
        """Swap in a fresh runtime built from the config (and scenario): the state :meth:`start` made, same port."""
        return restart(self.app)

    def check(self) -> None:
        """Raise :class:`MockServerError` if the mock hit an unexpected exception since the last check."""
        errors = list(self.runtime.errors)
        self.runtime.errors.clear()
        if errors:
            raise MockServerError(errors)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        if self.app is not None:
            mock_of(self.app).close()

    def __enter__(self) -> ThreadedMockServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _QuietHandler(WSGIRequestHandler):
    """The request journal records every request; no access log on stderr."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def _not_ready(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("503 SERVICE UNAVAILABLE", [("Content-Type", "application/json")])
    return [b'{"error": "starting", "code": 503}']
