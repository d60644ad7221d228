"""What a tenant starts with: the configured accounts and the fixture parent jobs."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from mock_server import messages
from mock_server.accounts import Account
from mock_server.accounts import digest
from mock_server.accounts import discord_user_id
from mock_server.buttons import ButtonGraph
from mock_server.datafiles import load_yaml
from mock_server.jobs import TERMINAL
from mock_server.jobs import Job

# A seeded job that is still executing never finishes (2100-01-01T00:00:00Z).
NEVER = 4102444800.0
_DERIVED_FIELDS = ("jobid", "verb", "status", "created", "updated", "buttons", "attachments", "content",
                   "timestamp", "error", "errorDetails", "code", "finishes_after")
_MENTION = re.compile(r"<@(\d+)>")


def accounts_from_config(accounts: Iterable[Mapping[str, Any]]) -> list[Account]:
    return [
        Account.create(
            discord=str(a["discord"]), server=str(a["server"]), channel=str(a["channel"]),
            max_jobs=int(a.get("maxJobs", messages.DEFAULT_MAX_JOBS)), reply_url=a.get("replyUrl"),
        )
        for a in accounts
    ]


def load_seed_jobs(path: Path | None, graph: ButtonGraph, inline: Iterable[Mapping[str, Any]] = ()) -> list[Job]:
    """Parse the fixture jobs (and a scenario's ``jobs``) once; :func:`for_tenant` copies them per tenant.

    A record may say ``finishes_after: <seconds>`` instead of fixed times: the job is then executing
    from the moment its tenant is created, and reaches its ``status`` that many seconds later.
    """
    records = list(load_yaml(path) or []) if path is not None else []
    return [_seed_job(record, graph) for record in [*records, *inline]]


def for_tenant(templates: Iterable[Job], tenant: str, now: float) -> list[Job]:
    """Copies for ``tenant``; a job seeded with ``finishes_after`` starts ``now`` and ends that much later."""
    jobs = []
    for job in templates:
        relative = job.extra.get("finishes_after")
        if relative is None:
            jobs.append(dataclasses.replace(job, tenant=tenant))
        else:
            jobs.append(dataclasses.replace(job, tenant=tenant, created=now, progress_at=now,
                                            ends_at=now + float(relative)))
    return jobs


def _seed_job(record: Mapping[str, Any], graph: ButtonGraph) -> Job:
    status = str(record.get("status", "completed"))
    relative = record.get("finishes_after")
    created = 0.0 if relative is not None else _epoch(record["created"])
    updated = created if relative is not None else _epoch(record.get("updated", record["created"]))
    if relative is not None:
        progress_at, ends_at, outcome = created, created + float(relative), status
    elif status in TERMINAL:
        progress_at, ends_at, outcome = min(created, updated), updated, status
    else:
        progress_at = updated if status == "progress" else NEVER
        ends_at, outcome = NEVER, "completed"
    kept = {k: v for k, v in record.items() if k not in _DERIVED_FIELDS}
    channel = str(record.get("channel", ""))
    kept.setdefault("discord", "moc…secured…001")
    final_content = str(record.get("content") or "")
    mention = _MENTION.search(final_content)
    return Job(
        tenant="",
        jobid=str(record["jobid"]),
        verb=str(record["verb"]),
        channel=channel,
        created=created,
        progress_at=progress_at,
        ends_at=ends_at,
        outcome=outcome,
        record=kept,
        result=graph.result_of_verb(str(record["verb"])),
        user_id=mention.group(1) if mention else discord_user_id(digest(channel)),
        error=record.get("error"),
        error_details=record.get("errorDetails"),
        extra={key: value for key, value in (("final_content", final_content), ("finishes_after", relative),
                                             ("seed", True))  # a fixture: never evicted by retention
               if value not in (None, "")},
    )


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
