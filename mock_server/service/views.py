"""A job as the vendor shows it at a given moment: status, content, buttons, attachments."""

from __future__ import annotations

import hashlib
from datetime import UTC
from datetime import datetime
from typing import Any

from mock_server import clock
from mock_server import content
from mock_server import messages
from mock_server.buttons import ButtonGraph
from mock_server.jobs import Job
from mock_server.media import MediaLibrary


class JobRenderer:
    """Turns a stored :class:`Job` into the vendor job record, as of ``now``."""

    def __init__(self, graph: ButtonGraph, media: MediaLibrary) -> None:
        self.graph = graph
        self.media = media

    def render(self, job: Job, now: float, base_url: str) -> dict[str, Any]:
        status = job.status_at(now)
        updated = job.updated_at(now)
        view: dict[str, Any] = {
            "jobid": job.jobid,
            "verb": job.verb,
            "status": status,
            "created": iso_millis(job.created),
            "updated": iso_millis(updated),
        }
        view.update(job.record)
        params = job.extra.get("params") or job.record
        if status == "started":
            view["content"] = job.extra.get("started_content") or content.finished(job.user_id, params)
        elif status == "progress":
            view["content"] = content.progress(job.user_id, params, _percent(job, now))
        else:
            view["content"] = job.extra.get("final_content") or content.finished(job.user_id, params)
        view["timestamp"] = discord_timestamp(updated)
        if status == "completed":
            view["buttons"] = self.graph.buttons_of(job.result)
            view["attachments"] = self.attachments(job, base_url)
        elif status == "failed":
            view["error"] = job.error or messages.JOB_FAILED
            if job.error_details:
                view["errorDetails"] = job.error_details
        view["code"] = 200
        return view

    def attachments(self, job: Job, base_url: str) -> list[dict[str, Any]]:
        params = job.extra.get("params") or job.record
        video = self.media.for_ratio(params.get("aspect_ratio"))
        channel = job.channel
        salt = int(hashlib.sha256(job.jobid.encode()).hexdigest()[:12], 16)
        attachments = []
        for index in range(self.graph.videos_of(job.result)):
            attachment_id = str(10**18 + (salt * 16 + index) % (9 * 10**18))
            filename = f"pixverse_{video.token}_{attachment_id[-8:]}_{index + 1}.mp4"
            path = f"attachments/{channel}/{attachment_id}/{filename}"
            attachments.append({
                "id": attachment_id,
                "filename": filename,
                "size": video.size,
                "url": f"{base_url}/{path}",
                "proxy_url": f"{base_url}/media/{path}",
                "content_type": "video/mp4",
                "width": video.width,
                "height": video.height,
            })
        return attachments


def _percent(job: Job, now: float) -> int:
    span = job.ends_at - job.created
    done = (now - job.created) / span if span > 0 else 1.0
    return max(1, min(99, int(done * 100)))


# The same text as mock_server.clock's formatters, without strftime (a third of a render's time).
def iso_millis(epoch: float) -> str:
    """``YYYY-MM-DDTHH:mm:ss.sssZ``, as :func:`mock_server.clock.iso_millis`."""
    m = datetime.fromtimestamp(round(epoch, 3), UTC)
    if m.year < 1000:
        return clock.iso_millis(epoch)
    return (f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}."
            f"{m.microsecond // 1000:03d}Z")


def discord_timestamp(epoch: float) -> str:
    """``2023-09-09T02:04:51.926000+00:00``, as :func:`mock_server.clock.discord_timestamp`."""
    m = datetime.fromtimestamp(round(epoch, 3), UTC)
    if m.year < 1000:
        return clock.discord_timestamp(epoch)
    return (f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}."
            f"{m.microsecond // 1000:03d}000+00:00")
