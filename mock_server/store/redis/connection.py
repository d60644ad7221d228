"""One Redis connection pool per location, its key prefix, and the 503 a lost connection answers."""

from __future__ import annotations

import functools
import inspect
import urllib.parse
from collections.abc import Callable
from typing import Any
from typing import TypeVar

import redis

from mock_server.errors import StoreUnavailable

DEFAULT_PREFIX = "pixverse-mock"
SOCKET_TIMEOUT = 5.0
UNAVAILABLE = "The mock's Redis store is unreachable; retry shortly"

T = TypeVar("T")


def connect(location: str) -> tuple[redis.Redis, str]:
    """A client for ``redis://HOST:PORT/DB[?prefix=NAME]`` and the key prefix (``pixverse-mock``)."""
    parts = urllib.parse.urlsplit(location)
    query = urllib.parse.parse_qs(parts.query)
    prefix = (query.pop("prefix", [DEFAULT_PREFIX]) or [DEFAULT_PREFIX])[0]
    url = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query, doseq=True)))
    client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=SOCKET_TIMEOUT,
                                  socket_connect_timeout=SOCKET_TIMEOUT, health_check_interval=10)
    return client, prefix


def answers_503(cls: type[T]) -> type[T]:
    """Every public method of ``cls``: a lost or refused connection becomes a 503 in the vendor envelope.

    The pool opens a new connection on the next call, so the mock recovers when Redis is back.
    """
    for name, method in inspect.getmembers(cls, inspect.isfunction):
        if not name.startswith("_"):
            setattr(cls, name, _guarded(method))
    return cls


def _guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError, redis.exceptions.BusyLoadingError) as error:
            raise StoreUnavailable(UNAVAILABLE) from error

    return call
