"""pixverse-mock: a stateful mock of the useapi.net PixVerse v1 API."""

from mock_server.app import create_app
from mock_server.app import mock_of
from mock_server.app import restart
from mock_server.config import MockConfig
from mock_server.runtime import MockRuntime
from mock_server.scenarios import Scenario

__all__ = ["MockConfig", "MockRuntime", "Scenario", "create_app", "mock_of", "restart"]
