"""Rules of ``POST account/{channel}``, in the order the vendor page lists its messages."""

from __future__ import annotations

import re

from mock_server import messages
from mock_server.accounts import Account
from mock_server.errors import BadRequest
from mock_server.service.inputs import RequestInput

# Discord ids are snowflakes: 17 to 20 digits.
_SNOWFLAKE = re.compile(r"\d{17,20}")


def account_from_body(path_channel: str, data: RequestInput) -> Account:
    """Validate the body and build the account; raise :class:`BadRequest` on the first failing rule."""
    for name in ("discord", "server", "channel"):
        if data.text(name) is None:
            raise BadRequest(messages.ACCOUNT_PARAM_MISSING.format(name=name))
    channel = data.text("channel") or ""
    if not _SNOWFLAKE.fullmatch(channel):
        raise BadRequest(messages.ACCOUNT_CHANNEL_INVALID.format(channel=channel))
    if channel != path_channel:
        raise BadRequest(messages.ACCOUNT_CHANNEL_MISMATCH.format(channel=channel, path_channel=path_channel))
    max_jobs, raw = data.integer("maxJobs")
    if raw is None:
        raise BadRequest(messages.ACCOUNT_PARAM_MISSING.format(name="maxJobs"))
    if max_jobs is not None and max_jobs > messages.MAX_CONCURRENT_JOBS:
        raise BadRequest(messages.ACCOUNT_MAX_JOBS_TOO_MANY.format(
            max_jobs=raw, max_concurrent=messages.MAX_CONCURRENT_JOBS))
    if max_jobs is None or max_jobs < 1:
        raise BadRequest(messages.ACCOUNT_MAX_JOBS_INVALID.format(max_jobs=raw))
    return Account.create(discord=data.text("discord") or "", server=data.text("server") or "",
                          channel=channel, max_jobs=max_jobs, reply_url=data.text("replyUrl"))
