"""The pytest plugin (entry point ``pytest11``): a threaded mock for the session, reset for each test.

Fixtures (override the ``*_config`` / ``*_token`` ones in your conftest):

- ``pixverse_mock_config`` (session): the :class:`~mock_server.MockConfig`; default: manual clock.
- ``pixverse_mock_token`` (session): the API token the handle uses.
- ``pixverse_mock_server`` (session): the running :class:`~contract_tests.server.ThreadedMockServer`.
- ``pixverse_mock`` (function): a :class:`~contract_tests.handle.MockHandle` on a freshly reset mock;
  any unexpected error inside the mock during the test is raised again at teardown.

It also registers the hypothesis profile ``pixverse-ci`` (100 examples, derandomized: the same run
every time).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from contract_tests.handle import MockHandle
from contract_tests.server import ThreadedMockServer
from mock_server import MockConfig

# A deterministic profile for CI: ``pytest --hypothesis-profile=pixverse-ci``.
settings.register_profile("pixverse-ci", max_examples=100, deadline=None, derandomize=True, database=None)


@pytest.fixture(scope="session")
def pixverse_mock_config() -> MockConfig:
    return MockConfig(clock="manual")


@pytest.fixture(scope="session")
def pixverse_mock_token() -> str:
    return os.environ.get("PIXVERSE_MOCK_TOKEN", "user:1-pixverse-contract")


@pytest.fixture(scope="session")
def pixverse_mock_server(pixverse_mock_config: MockConfig) -> Iterator[ThreadedMockServer]:
    server = ThreadedMockServer(pixverse_mock_config).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pixverse_mock(pixverse_mock_server: ThreadedMockServer, pixverse_mock_token: str) -> Iterator[MockHandle]:
    pixverse_mock_server.runtime.reset()
    pixverse_mock_server.runtime.errors.clear()
    yield MockHandle(pixverse_mock_server, pixverse_mock_token)
    pixverse_mock_server.check()
