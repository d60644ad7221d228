"""Where the spec and fixtures live: bundled inside the wheel, or beside the package in a checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def _data_root() -> Path:
    bundled = _PACKAGE / "_bundled"
    return bundled if bundled.is_dir() else _PACKAGE.parent


def vendor_spec_path() -> Path:
    """The vendor contract, ``openapi/pixverse-v1.yaml``."""
    return _data_root() / "openapi" / "pixverse-v1.yaml"


def control_spec_path() -> Path:
    """The mock's own control plane contract, ``openapi/control.yaml``."""
    return _data_root() / "openapi" / "control.yaml"


def fixtures_dir() -> Path:
    """The ``fixtures/`` folder (faces, videos, button graph, seed jobs, scenarios)."""
    return _data_root() / "fixtures"
