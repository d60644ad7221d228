"""Read the YAML data files (fixtures, configs) once per content: parsed copies are cached by path and mtime.

The fixtures that ship with the mock are also kept parsed on disk, as JSON named by a hash of their
bytes (:func:`cache_dir`), so that a start whose fixtures have not changed never imports PyYAML: its
import compiles a dozen regular expressions, a tenth of the whole start-up. A user's own files are
parsed at every start and never copied anywhere.
"""

from __future__ import annotations

import copy
import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from mock_server.resources import fixtures_dir

CACHE_FORMAT = b"pixverse-mock parsed fixture 1\n"
"""Part of every cache key: a change to what is stored, or how, starts a new cache."""


def load_yaml(path: Path) -> Any:
    """The parsed file (a fresh copy: callers may change it)."""
    stat = path.stat()
    return copy.deepcopy(_parse(str(path), stat.st_mtime_ns, stat.st_size))


def cache_dir() -> Path:
    """``$PIXVERSE_MOCK_CACHE_DIR``, else ``pixverse-mock`` in ``$XDG_CACHE_HOME`` (``~/.cache``)."""
    chosen = os.environ.get("PIXVERSE_MOCK_CACHE_DIR")
    if chosen:
        return Path(chosen)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pixverse-mock"


@lru_cache(maxsize=64)
def _parse(path: str, mtime_ns: int, size: int) -> Any:
    data = Path(path).read_bytes()
    if not _shipped(path):
        return _parse_yaml(data)
    cached = cache_dir() / f"{hashlib.sha256(CACHE_FORMAT + data).hexdigest()}.json"
    try:
        return orjson.loads(cached.read_bytes())
    except (OSError, orjson.JSONDecodeError):  # not there yet, or cut short: parse it again
        pass
    value = _parse_yaml(data)
    _store(cached, value)
    return value


def _parse_yaml(data: bytes) -> Any:
    import yaml

    return yaml.load(data.decode("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _shipped(path: str) -> bool:
    return Path(path).resolve().is_relative_to(fixtures_dir().resolve())


def _store(cached: Path, value: Any) -> None:
    """Write ``value`` as JSON, atomically; nothing if JSON cannot hold it exactly or the folder is not writable."""
    try:
        encoded = orjson.dumps(value)
        if orjson.loads(encoded) != value:  # a date, a set, a non-string key: parse it each time instead
            return
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f"{cached.name}.{os.getpid()}.partial")
        partial.write_bytes(encoded)
        os.replace(partial, cached)
    except (OSError, orjson.JSONEncodeError):
        return
