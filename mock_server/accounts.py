"""A configured PixVerse (Discord) account: the unit that ``maxJobs`` admission counts against.

The mock keeps only a masked copy and a digest of the Discord token: the full token is never
stored, so it can never leak into a response, a journal or a log line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


def mask_secret(value: str) -> str:
    """``ABC…secured…xyz``: the first and last 3 characters, as the vendor shows ``discord``."""
    if len(value) <= 6:
        return "…secured…"
    return f"{value[:3]}…secured…{value[-3:]}"


def digest(value: str) -> str:
    """A stable, non-reversible fingerprint of a secret (to compare tokens without keeping them)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


def discord_user_id(discord_digest: str) -> str:
    """A Discord-snowflake-shaped user id derived from the account's token."""
    return str(10**17 + int(discord_digest[:15], 16) % (9 * 10**17))


@dataclass(frozen=True)
class Account:
    """A configured account of one tenant, keyed by ``channel``."""

    channel: str
    server: str
    discord_masked: str
    discord_digest: str
    max_jobs: int
    reply_url: str | None = None

    @classmethod
    def create(
        cls, *, discord: str, server: str, channel: str, max_jobs: int, reply_url: str | None = None
    ) -> Account:
        """Build from a full Discord token, which is masked and digested here and then dropped."""
        return cls(
            channel=str(channel),
            server=str(server),
            discord_masked=mask_secret(discord),
            discord_digest=digest(discord),
            max_jobs=int(max_jobs),
            reply_url=reply_url,
        )

    def view(self) -> dict[str, Any]:
        """The vendor's account object (``discord`` masked)."""
        return {
            "discord": self.discord_masked,
            "server": self.server,
            "channel": self.channel,
            "maxJobs": self.max_jobs,
        }

    @property
    def user_id(self) -> str:
        return discord_user_id(self.discord_digest)


@dataclass(frozen=True)
class TokenSet:
    """API tokens kept as digests (to check) and masked (to show); never in full."""

    digests: frozenset[str] = frozenset()
    shown: tuple[str, ...] = ()

    @classmethod
    def of(cls, tokens: Iterable[str]) -> TokenSet:
        tokens = [str(t) for t in tokens]
        return cls(frozenset(digest(t) for t in tokens), tuple(sorted(mask_secret(t) for t in tokens)))

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> TokenSet:
        return cls(frozenset(data["digests"]), tuple(data["shown"]))

    def to_mapping(self) -> dict[str, Any]:
        return {"digests": sorted(self.digests), "shown": list(self.shown)}

    def masked(self) -> list[str]:
        return list(self.shown)
