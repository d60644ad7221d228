"""Where the mock's state lives: one backend per location scheme, chosen by the location alone.

``memory`` -> :mod:`.memory`, ``sqlite:PATH`` -> :mod:`.sqlite`, ``redis://HOST:PORT/DB`` ->
:mod:`.redis`. A new backend is a new module here named after its scheme, with ``open_backend``
(see :mod:`.base`); nothing else changes.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import urllib.parse
from types import ModuleType

from mock_server.store.base import DEFAULT_JOURNAL_LIMIT
from mock_server.store.base import Backend

_SCHEME = re.compile(r"^([a-z][a-z0-9]*)(?::|$)")


class StoreLocationError(ValueError):
    """A store location no backend understands, or one its backend cannot open."""


def _backend(location: str) -> ModuleType:
    """The backend module for ``location``; its ``LOCATION`` pattern must match the whole of it."""
    match = _SCHEME.match(location)
    name = match.group(1) if match else ""
    if name and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        module = importlib.import_module(f"{__name__}.{name}")
        pattern = getattr(module, "LOCATION", None)  # a backend says which locations are its own
        if pattern is not None and pattern.fullmatch(location):
            return module
    raise StoreLocationError(
        f"store must be 'memory', 'sqlite:PATH' or 'redis://HOST:PORT/DB', not {shown(location)!r}")


def shown(location: str) -> str:
    """``location`` as logs and answers may show it: a password in it is masked."""
    parts = urllib.parse.urlsplit(location)
    if not parts.password:
        return location
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


def check_location(location: str) -> None:
    """Raise :class:`StoreLocationError` unless some backend understands ``location`` (nothing is opened)."""
    _backend(location)


def open_backend(location: str, journal_limit: int = DEFAULT_JOURNAL_LIMIT) -> Backend:
    """Open the state at ``location``; :class:`StoreLocationError` says in one line why it cannot be."""
    return _backend(location).open_backend(location, journal_limit)


def is_shared(location: str) -> bool:
    """Whether processes opening ``location`` share one state (so several worker processes may serve it)."""
    return bool(_backend(location).SHARED)
