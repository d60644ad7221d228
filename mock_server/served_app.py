"""The WSGI app ``pixverse-mock serve`` runs: the vendor routes answer before Flask is even imported.

The vendor routes need no Flask (``http/vendor.py``). Flask and the app it serves (control plane,
docs, dashboard, attachments) are imported and built on a background thread once the process is
up, or by the first request that needs them if that comes first: importing and building them was
about a fifth of the time from start to the first answer (``bench/RESULTS.md``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from mock_server.http.drop import DropConnections
from mock_server.http.vendor import VendorEdge
from mock_server.runtime import MockRuntime

if TYPE_CHECKING:
    from mock_server.config import MockConfig
    from mock_server.scenarios import Scenario

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


class LateApp:
    """A WSGI app built once, by :meth:`warm` or by the first request, whichever comes first."""

    def __init__(self, build: Callable[[], WsgiApp]) -> None:
        self._build = build
        self._app: WsgiApp | None = None
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return (self._app or self.built())(environ, start_response)

    def built(self) -> WsgiApp:
        """The app, built now if no one has yet (a request that arrives meanwhile waits for it)."""
        with self._lock:
            if self._app is None:
                self._app = self._build()
            return self._app

    def warm(self) -> None:
        """Build the app on a background thread."""
        threading.Thread(target=self.built, name="pixverse-mock-warm", daemon=True).start()


def served_app(config: MockConfig, scenario: Scenario | None = None) -> tuple[WsgiApp, MockRuntime, LateApp]:
    """``(the WSGI app, its runtime, the Flask part to warm)`` for ``config`` (final: a scenario's config laid in).

    The scenario's faults are queued here with the memory store; a shared store has them queued once
    by the parent process.
    """
    runtime = MockRuntime(config)
    if scenario is not None and not config.shared_store:
        scenario.queue_faults(runtime.control)

    def build() -> WsgiApp:
        from mock_server.app import flask_app

        return flask_app(runtime, scenario).wsgi_app

    late = LateApp(build)
    return DropConnections(VendorEdge(lambda: runtime, config.max_upload_bytes, late)), runtime, late
