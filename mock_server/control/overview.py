"""Everything the dashboard shows, in one JSON document (``GET /__mock/overview``).

Jobs are found through the request journal (every job a client submitted or read), grouped by
tenant and shown with the caller's masked token; each comes with its status timeline, derived from
its schedule like its status, and its videos.
"""

from __future__ import annotations

from typing import Any

from mock_server.clock import iso_millis
from mock_server.jobs import Job

RECENT = 100
"""How many of the latest requests and callback attempts the overview carries."""


def overview(runtime: Any, scenario: Any = None, *, recent: int = RECENT) -> dict[str, Any]:
    """Tenants with their jobs, the latest requests (with violations) and callbacks, faults, clock, scenario."""
    now = runtime.now()
    requests = runtime.control.entries("requests")
    return {
        "clock": runtime.clock_view(),
        "scenario": None if scenario is None else {"name": scenario.name, "description": scenario.description},
        "faults": runtime.fault_rules(),
        "tenants": _tenants(runtime, requests, now),
        "requests": _latest(runtime, "requests", requests, recent),
        "callbacks": _latest(runtime, "callbacks", runtime.control.entries("callbacks"), recent),
        "counts": {"requests": len(requests), "jobs": runtime.store.job_count()},
    }


def _latest(runtime: Any, kind: str, entries: list[dict[str, Any]], recent: int) -> list[dict[str, Any]]:
    """The last ``recent`` entries, newest first (request entries annotated with their ``violations``)."""
    if not entries:
        return []
    since = entries[-recent]["seq"] - 1 if len(entries) > recent else 0
    return runtime.journal(kind, since=since)[::-1]


def _tenants(runtime: Any, requests: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    tenants: dict[str, dict[str, Any]] = {}
    for entry in requests:
        tenant = entry.get("tenant")
        if tenant is None:
            continue
        seen = tenants.setdefault(tenant, {"token": entry.get("token"), "requests": 0, "jobids": {}})
        seen["requests"] += 1
        if entry.get("jobid"):
            seen["jobids"][entry["jobid"]] = None
    return [
        {"token": seen["token"], "requests": seen["requests"],
         "jobs": [_job(runtime, job, now) for job in _jobs(runtime, tenant, seen["jobids"])]}
        for tenant, seen in tenants.items()
    ]


def _jobs(runtime: Any, tenant: str, jobids: dict[str, None]) -> list[Job]:
    found = (runtime.store.job(tenant, jobid) for jobid in jobids)
    return sorted((job for job in found if job is not None), key=lambda job: job.created, reverse=True)


def _job(runtime: Any, job: Job, now: float) -> dict[str, Any]:
    view = runtime.service.renderer.render(job, now, runtime.public_url)
    steps = [("started", job.created)]
    if job.progress_at < job.ends_at:
        steps.append(("progress", job.progress_at))
    steps.append((job.outcome, job.ends_at))
    return {
        "jobid": job.jobid,
        "verb": job.verb,
        "status": view.get("status"),
        "error": view.get("error"),
        "timeline": [{"status": status, "at": iso_millis(at), "reached": at <= now} for status, at in steps],
        "videos": [a.get("url") for a in view.get("attachments") or () if a.get("url")],
    }
