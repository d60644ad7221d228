"""pixverse-mock: a stateful mock of the useapi.net PixVerse v1 API.

The public names are imported on first use, so that the command line (``--help``, a port already
in use) answers without loading Flask and the whole app.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from mock_server.app import create_app
    from mock_server.app import mock_of
    from mock_server.app import restart
    from mock_server.config import MockConfig
    from mock_server.runtime import MockRuntime
    from mock_server.scenarios import Scenario

__all__ = ["MockConfig", "MockRuntime", "Scenario", "create_app", "mock_of", "restart"]
_HOMES = {"create_app": "mock_server.app", "mock_of": "mock_server.app", "restart": "mock_server.app",
          "MockConfig": "mock_server.config", "MockRuntime": "mock_server.runtime", "Scenario": "mock_server.scenarios"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'mock_server' has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name]), name)
    globals()[name] = value
    return value
