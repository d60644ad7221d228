"""Who may use the control plane: anyone on loopback, only the control token's holder elsewhere.

A mock bound to loopback keeps an open control plane (tests, a developer's machine). Bound to any
other address (a shared CI mock, a container), or given a control token explicitly, every
``/__mock/`` call needs the ``X-Mock-Control-Token`` header, except ``GET /__mock/health`` and the
journal of one API token (``?token=T`` on ``journal`` and ``wait``: who holds T sees T's entries).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import replace

from mock_server.config import MockConfig

CONTROL_TOKEN_HEADER = "X-Mock-Control-Token"
CONTROL_TOKEN_ENV = "PIXVERSE_MOCK_CONTROL_TOKEN"


def is_loopback(host: str) -> bool:
    """``127.0.0.1``, ``::1``, ``localhost`` and the rest of 127.0.0.0/8; not ``0.0.0.0``."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def control_token_required(config: MockConfig) -> bool:
    return config.control_token is not None or not is_loopback(config.host)


def control_token_accepted(config: MockConfig, presented: str | None) -> bool:
    """Whether ``presented`` is the configured control token (constant-time compare)."""
    expected = config.control_token
    return bool(expected and presented) and hmac.compare_digest(expected.encode(), presented.encode())


def with_control_token(config: MockConfig) -> tuple[MockConfig, str | None]:
    """``config`` with a control token wherever one is required: ``(config, the token if generated here)``."""
    if not control_token_required(config) or config.control_token is not None:
        return config, None
    generated = secrets.token_urlsafe(24)
    return replace(config, control_token=generated), generated


def start_notice(config: MockConfig, generated: str | None) -> str | None:
    """The warning printed once at start when the control plane is guarded (it shows a generated token once)."""
    if not control_token_required(config):
        return None
    if is_loopback(config.host):
        return f"pixverse-mock: the control plane (/__mock/) needs the {CONTROL_TOKEN_HEADER} header (--control-token)"
    how = (f"{CONTROL_TOKEN_HEADER}: {generated}  (generated for this run; choose one with --control-token "
           f"or {CONTROL_TOKEN_ENV})" if generated else f"the {CONTROL_TOKEN_HEADER} header (your --control-token)")
    return (f"pixverse-mock: WARNING: listening on {config.host}, not loopback: anyone who reaches the port can "
            f"call the vendor API; the control plane (/__mock/) answers only with {how}")
