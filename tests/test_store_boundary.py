"""The state boundary: backends import only the protocol and the domain, never the layers above them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mock_server
from mock_server.config import ConfigError
from mock_server.config import MockConfig

PACKAGE = Path(mock_server.__file__).parent
ABOVE_THE_STORE = ("mock_server.control", "mock_server.service", "mock_server.http", "mock_server.runtime",
                   "mock_server.app", "mock_server.config", "mock_server.serve", "mock_server.cli")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_backend_imports_a_layer_above_the_store() -> None:
    offending = {
        str(path.relative_to(PACKAGE)): sorted(name for name in _imports(path) if name.startswith(ABOVE_THE_STORE))
        for path in (PACKAGE / "store").rglob("*.py")
    }
    assert {path: names for path, names in offending.items() if names} == {}


def test_only_the_store_package_names_a_backend() -> None:
    """The service, the control plane and the wiring reach a backend through ``open_backend`` only."""
    backends = ("mock_server.store.sqlite", "mock_server.store.redis")
    offending = {
        str(path.relative_to(PACKAGE)): sorted(n for n in _imports(path) if n.startswith(backends))
        for path in PACKAGE.rglob("*.py") if "store" not in path.relative_to(PACKAGE).parts
    }
    assert {path: names for path, names in offending.items() if names} == {}


@pytest.mark.parametrize("location", ["memory", "sqlite:/tmp/x.db", "redis://127.0.0.1:6379/0", "redis://h:1/2?prefix=a"])
def test_every_backend_location_is_understood(location: str) -> None:
    assert MockConfig(store=location).store == location


@pytest.mark.parametrize("location", ["base", "release:x", "documents", "redis:", "redis://", "sqlite:", "postgres://x",
                                      ""])
def test_a_location_no_backend_understands_is_refused(location: str) -> None:
    with pytest.raises(ConfigError, match="^store must be 'memory', 'sqlite:PATH' or 'redis://HOST:PORT/DB'"):
        MockConfig(store=location)


def test_a_password_in_the_store_location_is_never_shown() -> None:
    config = MockConfig(store="redis://:s3cret-pass@127.0.0.1:6379/0?prefix=p")
    assert config.store_shown == "redis://:***@127.0.0.1:6379/0?prefix=p"
    assert MockConfig(store="memory").store_shown == "memory"
