"""pixverse-mock's pytest plugin (``pytest11`` entry point ``pixverse_mock``): a mock server for your tests.

Fixtures:

- ``pixverse_mock``: a :class:`~contract_tests.handle.MockHandle` on a running mock that starts, for
  every test, from the state its config describes.
- ``pixverse_mock_config`` / ``pixverse_mock_token``: override them in any ``conftest.py`` (any scope,
  any directory) to change how the mock starts and which API token the handle uses.
- ``pixverse_mock_server``: the :class:`~contract_tests.server.ThreadedMockServer` for this test's config.
- ``pixverse_mock_servers``: the session's servers, one per distinct config.

This module has a name of its own and imports nothing heavy at load (no Flask, hypothesis or
schemathesis; not even ``mock_server`` or ``contract_tests``): a pytest run that uses no fixture of it
pays almost nothing, and a project with its own ``contract_tests`` package or ``mock_server`` module
still loads it. Such a project gets, in the tests that ask for the mock, an error that says which file
shadows which package.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

_HOME = Path(__file__).resolve().parent
"""Where this distribution's packages (``mock_server``, ``contract_tests``) sit beside this module."""
_PACKAGES = ("mock_server", "contract_tests")
DEFAULT_TOKEN = "user:1-pixverse-contract"
HYPOTHESIS_PROFILE = "pixverse-ci"


def _shadowing(name: str) -> str | None:
    """Why ``import name`` would not give this distribution's package, or ``None`` when it would."""
    ours = _HOME / name / "__init__.py"
    module = sys.modules.get(name)
    if module is not None:
        found = getattr(module, "__file__", None)
    else:
        spec = find_spec(name)
        found = spec.origin if spec is not None else None
    if found is not None and Path(found).resolve() == ours:
        return None
    if module is None and found is None:
        return f"its package {name!r} is not importable (expected in {ours.parent}): reinstall pixverse-mock"
    return (f"{found or 'a module with no file'} shadows pixverse-mock's package {name!r} ({ours.parent}); "
            f"rename yours, or keep its folder off sys.path (`python -m pytest` puts the current directory "
            f"first; `pytest --import-mode=importlib` does not add it)")


def _kit() -> Any:
    """``contract_tests.plugin``, after checking that neither of our packages is shadowed."""
    problems = [problem for problem in map(_shadowing, _PACKAGES) if problem]
    if problems:
        pytest.fail("pixverse-mock cannot start its mock: " + "; ".join(problems), pytrace=False)
    from contract_tests import plugin

    return plugin


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Register the hypothesis profile ``pixverse-ci`` when it is asked for, or hypothesis is loaded anyway.

    The profile: 100 examples, derandomized, no example database (the same run every time).

    ``tryfirst``: before hypothesis's own plugin loads the profile named by ``--hypothesis-profile``.
    """
    if config.getoption("hypothesis_profile", None) == HYPOTHESIS_PROFILE or "hypothesis" in sys.modules:
        from hypothesis import settings

        settings.register_profile(HYPOTHESIS_PROFILE, max_examples=100, deadline=None, derandomize=True,
                                  database=None)


@pytest.fixture(scope="session")
def pixverse_mock_config() -> Any:
    """The :class:`mock_server.MockConfig` the mock starts from (default: the manual clock).

    Override it in a ``conftest.py`` at any scope and in any directory; the tests under that conftest
    get a mock with that config (one server per distinct config, shared by the tests that have it).
    """
    from mock_server import MockConfig

    return MockConfig(clock="manual")


@pytest.fixture(scope="session")
def pixverse_mock_token() -> str:
    """The API token :attr:`MockHandle.token` sends (default: ``$PIXVERSE_MOCK_TOKEN`` or a fixed one)."""
    return os.environ.get("PIXVERSE_MOCK_TOKEN", DEFAULT_TOKEN)


@pytest.fixture(scope="session")
def pixverse_mock_servers() -> Iterator[Any]:
    """The session's running mocks (``contract_tests.plugin.MockPool``), one per distinct config.

    Each ``pytest-xdist`` worker is its own session, so each worker has its own mocks.
    """
    pool = _kit().MockPool()
    try:
        yield pool
    finally:
        pool.stop()


@pytest.fixture
def pixverse_mock_server(pixverse_mock_servers: Any, pixverse_mock_config: Any) -> Any:
    """The :class:`~contract_tests.server.ThreadedMockServer` (on 127.0.0.1, a free port) for this test's config.

    Its state is what the last test left; ask for ``pixverse_mock`` to start from a clean one.
    """
    return pixverse_mock_servers.server(pixverse_mock_config)


@pytest.fixture
def pixverse_mock(pixverse_mock_servers: Any, pixverse_mock_config: Any, pixverse_mock_token: str) -> Iterator[Any]:
    """A :class:`~contract_tests.handle.MockHandle` on a mock in the state ``pixverse_mock_config`` describes.

    Nothing of an earlier test survives: jobs, accounts, journals, faults, tokens, moderation words,
    button graph, clock (back to its start) and seeded RNGs all start afresh; the server (and its
    port) stays. ``base_url`` is what a client takes instead of ``https://api.useapi.net/v1``.
    An unexpected error inside the mock during the test is raised again at teardown.
    """
    handle = pixverse_mock_servers.fresh_handle(pixverse_mock_config, pixverse_mock_token)
    yield handle
    handle.server.check()
