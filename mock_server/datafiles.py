"""Read the YAML data files (fixtures, configs) once per content: parsed copies are cached by path and mtime."""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> Any:
    """The parsed file (a fresh copy: callers may change it)."""
    stat = path.stat()
    return copy.deepcopy(_parse(str(path), stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=64)
def _parse(path: str, mtime_ns: int, size: int) -> Any:
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_Loader)
