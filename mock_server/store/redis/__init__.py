"""The Redis backend (``redis://HOST:PORT/DB``, ``?prefix=NAME``): one state for many instances.

Several mock instances (on one machine or many) pointed at one Redis behave as one service: a job
submitted through one is read, cancelled, pressed and called back through another; ``maxJobs`` holds
across all of them (:mod:`.store`), as do faults, journals, settings and the manual clock
(:mod:`.control`). Every key starts with the prefix (default ``pixverse-mock``), so two mocks can
share a Redis. A lost connection answers 503 and the next call reconnects.
"""

from __future__ import annotations

import re

import redis

from mock_server.store import StoreLocationError
from mock_server.store import shown
from mock_server.store.base import DEFAULT_JOURNAL_LIMIT
from mock_server.store.base import Backend
from mock_server.store.redis.connection import connect
from mock_server.store.redis.control import RedisControlState
from mock_server.store.redis.store import RedisStore

LOCATION = re.compile(r"rediss?://[^/?#\s]+(/\d*)?(\?\S*)?")
SHARED = True
"""Every process and machine opening the same Redis (and prefix) shares one state."""


def open_backend(location: str, journal_limit: int = DEFAULT_JOURNAL_LIMIT) -> Backend:
    """Connect and check the server answers; :class:`StoreLocationError` in one line when it does not."""
    try:
        client, prefix = connect(location)
        client.ping()
    except (redis.RedisError, ValueError) as error:
        raise StoreLocationError(f"cannot use the Redis store {shown(location)!r}: {error}") from None
    return Backend(RedisStore(client, prefix), RedisControlState(client, prefix, journal_limit))
