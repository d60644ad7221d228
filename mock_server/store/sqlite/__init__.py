"""The SQLite backend (``sqlite:PATH``): one file shared by every thread and worker process.

:mod:`.store` keeps tenants, accounts, jobs and the clock; :mod:`.control` the journals, faults
and settings, in the same file and transactions.
"""

from __future__ import annotations

import re

from mock_server.store.base import DEFAULT_JOURNAL_LIMIT
from mock_server.store.base import Backend
from mock_server.store.sqlite.control import SqliteControlState
from mock_server.store.sqlite.store import DUE_CALLBACKS_SQL
from mock_server.store.sqlite.store import EXECUTING_SQL
from mock_server.store.sqlite.store import SCHEMA_VERSION
from mock_server.store.sqlite.store import SqliteStore

__all__ = ["DUE_CALLBACKS_SQL", "EXECUTING_SQL", "SCHEMA_VERSION", "SqliteControlState", "SqliteStore",
           "open_backend"]

LOCATION = re.compile("sqlite:.+")
SHARED = True
"""Every process opening the same file shares one state."""


def open_backend(location: str, journal_limit: int = DEFAULT_JOURNAL_LIMIT) -> Backend:
    """``sqlite:PATH``: the file at ``PATH`` (created if missing), shared by every process opening it."""
    store = SqliteStore(location.removeprefix("sqlite:"))
    return Backend(store, SqliteControlState(store, journal_limit), )
