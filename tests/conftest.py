"""Shared fixtures: a fresh in-process mock per test, on the manual clock unless a test says otherwise."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck
from hypothesis import Phase
from hypothesis import settings

from mock_server import MockConfig
from mock_server import create_app
from mock_server import mock_of
from mock_server.resources import fixtures_dir

settings.register_profile("dev", max_examples=50, deadline=None)
# ci: deterministic, and bounded: no shrinking phase (hypothesis may shrink for minutes), so a
# failure shows the example as generated; rerun with the dev profile to shrink it.
settings.register_profile(
    "ci", max_examples=60, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="session", autouse=True)
def parsed_fixture_cache(tmp_path_factory):
    """Every mock the suite starts, here or in a child process, keeps its parsed fixtures in a temporary folder."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIXVERSE_MOCK_CACHE_DIR", str(tmp_path_factory.mktemp("parsed-fixtures")))
        yield


TOKEN = "user:1234-testtokenAbCdEf"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def config() -> MockConfig:
    """Override in a module to change how the mock starts."""
    return MockConfig(clock="manual")


@pytest.fixture
def app(config):
    app = create_app(config)
    yield app
    runtime = mock_of(app)
    runtime.close()
    assert not runtime.errors, f"the mock raised unexpectedly: {runtime.errors!r}"


@pytest.fixture
def mock(app):
    """The in-process handle: ``mock.advance(seconds)``, ``mock.service``, ``mock.store``."""
    return mock_of(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def face_png() -> bytes:
    return (fixtures_dir() / "faces" / "face.png").read_bytes()
