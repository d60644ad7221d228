"""The mock's configuration: embedded defaults, overridable by a YAML file, environment and flags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from dataclasses import replace
from pathlib import Path
from typing import Any

from mock_server.clock import PROFILES
from mock_server.resources import fixtures_dir

DEFAULT_ACCOUNT = {
    "discord": "mock-discord-token-000000000000000001",
    "server": "1100000000000000001",
    "channel": "1200000000000000001",
    "maxJobs": 10,
}
DEFAULT_MODERATION_WORDS = ("nsfw", "nude", "naked", "gore")


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class MockConfig:
    """Everything the mock can be told at start-up. Every field has a working default."""

    host: str = "127.0.0.1"
    port: int = 8080
    store: str = "memory"
    clock: str = "fast"
    seed: int = 0
    workers: int = 1
    accepted_tokens: tuple[str, ...] = ()
    expired_tokens: tuple[str, ...] = ()
    accounts: tuple[Mapping[str, Any], ...] = (DEFAULT_ACCOUNT,)
    moderation_words: tuple[str, ...] = DEFAULT_MODERATION_WORDS
    button_graph: Path = field(default_factory=lambda: fixtures_dir() / "button-graph.yaml")
    seed_jobs: Path | None = field(default_factory=lambda: fixtures_dir() / "seed-jobs.yaml")
    generation: Path = field(default_factory=lambda: fixtures_dir() / "generation.yaml")
    public_url: str | None = None
    max_upload_bytes: int = 10 * 1024 * 1024
    clock_start: float | None = None
    callback_timeout: float = 5.0
    callback_attempts: int = 1
    callback_workers: int = 4
    progress_callbacks: bool = False
    callback_delay: float = 0.0
    callback_duplicate_rate: float = 0.0
    journal_limit: int = 50_000
    retention_days: float = 31.0
    """Jobs that ended longer ago than this (mock time) are forgotten, as the vendor's are."""
    retention_jobs: int = 10_000
    """Per tenant, jobs beyond the newest this many are forgotten (oldest first), so memory stays flat."""
    jobs: tuple[Mapping[str, Any], ...] = ()
    control_token: str | None = field(default=None, repr=False)
    """Required by ``/__mock/`` when set, and always off loopback (``control/access.py``)."""
    time_scale: float = 1.0
    time_origin: float | None = None

    def __post_init__(self) -> None:
        if self.clock not in PROFILES:
            raise ConfigError(f"clock must be one of {', '.join(PROFILES)}, not {self.clock!r}")
        from mock_server.store import StoreLocationError
        from mock_server.store import check_location

        try:
            check_location(self.store)
        except StoreLocationError as exc:
            raise ConfigError(str(exc)) from None
        if not (isinstance(self.time_scale, int | float) and self.time_scale > 0):
            raise ConfigError(f"time_scale must be a positive number, not {self.time_scale!r}")
        if self.time_scale != 1 and self.clock == "manual":
            raise ConfigError("time_scale applies to the fast and realistic clocks (the manual clock moves when told)")
        if self.workers < 1:
            raise ConfigError("workers must be at least 1")
        if self.retention_days <= 0 or self.retention_jobs < 1:
            raise ConfigError("retention_days must be above 0 and retention_jobs at least 1")
        if self.control_token is not None and (not isinstance(self.control_token, str) or not self.control_token):
            raise ConfigError("control_token must be a non-empty string")
        for account in self.accounts:
            missing = {"discord", "server", "channel"} - set(account)
            if missing:
                raise ConfigError(f"account {dict(account)} lacks {', '.join(sorted(missing))}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], base: MockConfig | None = None) -> MockConfig:
        """Build from a config-file mapping (the YAML layout documented in the README), over ``base``."""
        data = dict(data)
        tokens = data.pop("tokens", None) or {}
        moderation = data.pop("moderation", None)
        values: dict[str, Any] = {}
        if tokens:
            values["accepted_tokens"] = tuple(str(t) for t in tokens.get("accepted") or ())
            values["expired_tokens"] = tuple(str(t) for t in tokens.get("expired") or ())
        if moderation is not None:
            words = moderation.get("words") if isinstance(moderation, Mapping) else moderation
            values["moderation_words"] = tuple(str(w) for w in words or ())
        if "accounts" in data:
            accounts = data.pop("accounts") or ()
            if not isinstance(accounts, list | tuple) or not all(isinstance(a, Mapping) for a in accounts):
                raise ConfigError("accounts must be a list of {discord, server, channel, maxJobs} mappings")
            values["accounts"] = tuple(dict(a) for a in accounts)
        known = {f.name: f for f in fields(cls)}
        for key, value in data.items():
            name = key.replace("-", "_")
            if name not in known:
                raise ConfigError(f"unknown configuration key {key!r}")
            values[name] = _coerce(name, value)
        try:
            return replace(base, **values) if base is not None else cls(**values)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"invalid configuration value: {exc}") from exc

    @classmethod
    def from_file(cls, path: str | Path) -> MockConfig:
        """Read a YAML config file."""
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
        if not isinstance(data, Mapping):
            raise ConfigError(f"config file {path} must hold a mapping")
        return cls.from_mapping(data)

    def with_overrides(self, **overrides: Any) -> MockConfig:
        """A copy with the given fields replaced (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    @property
    def store_shown(self) -> str:
        """``store`` for logs and answers: a password in a Redis URL is masked."""
        from mock_server.store import shown

        return shown(self.store)

    @property
    def shared_store(self) -> bool:
        """Whether the store is shared by processes (``sqlite:``, ``redis://``), so workers may be processes."""
        from mock_server.store import is_shared

        return is_shared(self.store)

    @property
    def sqlite_path(self) -> str | None:
        return self.store.removeprefix("sqlite:") if self.store.startswith("sqlite:") else None


def _coerce(name: str, value: Any) -> Any:
    if name in {"port", "seed", "workers", "max_upload_bytes", "callback_attempts", "callback_workers",
                "journal_limit", "retention_jobs"}:
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{name} must be a whole number, not {value!r}") from exc
    if name in {"button_graph", "seed_jobs", "generation"}:
        return Path(value) if value else None
    if name == "jobs":
        return tuple(dict(job) for job in value or ())
    if name in {"clock_start", "callback_timeout", "callback_delay", "callback_duplicate_rate", "retention_days",
                "time_scale", "time_origin"}:
        try:
            return None if value is None else float(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{name} must be a number, not {value!r}") from exc
    if name == "progress_callbacks":
        return bool(value)
    return value
