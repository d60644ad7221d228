"""What the pytest plugin (``pytest_pixverse_mock``, entry point ``pytest11``) runs once a test asks for a mock.

The plugin module itself imports nothing of this kit, nor hypothesis, nor Flask: a pytest run that uses
no ``pixverse_mock`` fixture pays nothing for it. This module is imported on the first fixture used.
"""

from __future__ import annotations

from contract_tests.handle import MockHandle
from contract_tests.server import ThreadedMockServer
from mock_server import MockConfig


class MockPool:
    """One running mock per distinct config, started on first use, all stopped at the end of the session.

    Tests whose ``pixverse_mock_config`` is equal share a server; each test still starts from the state
    its config describes (:meth:`fresh_handle`), so sharing never leaks state.
    """

    def __init__(self) -> None:
        self._servers: list[tuple[MockConfig, ThreadedMockServer]] = []

    def server(self, config: MockConfig) -> ThreadedMockServer:
        if not isinstance(config, MockConfig):
            raise TypeError(f"pixverse_mock_config must return a mock_server.MockConfig, not {type(config).__name__}")
        for known, server in self._servers:
            if known == config:
                return server
        server = ThreadedMockServer(config).start()
        self._servers.append((config, server))
        return server

    def fresh_handle(self, config: MockConfig, token: str) -> MockHandle:
        """A handle on the server for ``config``, given a new runtime: no job, journal, fault or setting survives."""
        server = self.server(config)
        server.renew()
        return MockHandle(server, token)

    def stop(self) -> None:
        while self._servers:
            _, server = self._servers.pop()
            server.stop()
