"""WSGI middleware that turns a ``drop`` fault into a closed connection with no answer.

The Flask app marks such a response with :data:`DROP_HEADER`; this layer, outside Flask, closes
the client socket where the server exposes it in the environ (werkzeug's). Where there is none it
raises :class:`ConnectionAbortedError`, as a client would see it: the in-process test client passes
it on, and the server of ``pixverse-mock serve`` closes the connection itself (``mock_server.serve``).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

DROP_HEADER = "X-Pixverse-Mock-Drop"


class DropConnections:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
            captured[:] = [status, headers, exc_info]
            return lambda data: None

        body = self.app(environ, capture)
        status, headers, exc_info = captured or ("500 INTERNAL SERVER ERROR", [], None)
        if not any(name == DROP_HEADER for name, _ in headers):
            write = start_response(status, headers, exc_info) if exc_info else start_response(status, headers)
            del write
            return body
        if hasattr(body, "close"):
            body.close()
        client = environ.get("werkzeug.socket")
        if client is None:
            raise ConnectionAbortedError("pixverse-mock dropped the connection (fault 'drop')")
        try:
            client.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        start_response("500 INTERNAL SERVER ERROR", [("Content-Length", "0"), ("Connection", "close")])
        return []
