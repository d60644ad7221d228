"""A job as the vendor shows it at a given moment: status, content, buttons, attachments."""

from __future__ import annotations

import hashlib
from typing import Any

from mock_server import content
from mock_server import messages
from mock_server.buttons import ButtonGraph
from mock_server.clock import discord_timestamp
from mock_server.clock import iso_millis
from mock_server.errors import Moderated
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
            view["content"] = _started_content(job, params)
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
        if status == "moderated":
            # As the submit answered: the moderator's message and code 422.
            view["error"], view["code"] = messages.MODERATED, Moderated.status
        else:
            view["code"] = 200
        return view

    def attachments(self, job: Job, base_url: str) -> list[dict[str, Any]]:
        params = job.extra.get("params") or job.record
        video = self.media.for_ratio(job.extra.get("video_ratio") or params.get("aspect_ratio"))
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


def _started_content(job: Job, params: Any) -> str:
    """The bot's first message: derived from the job, not stored with it."""
    if job.verb == "pixverse-button":
        return content.button_started(job.user_id, params)
    image_url = None
    if "face" in job.record or "image" in job.record:
        filename = job.extra.get("upload_filename", "blob")
        image_url = (f"https://cdn.discordapp.com/ephemeral-attachments/{job.record.get('server')}/"
                     f"{job.record.get('messageId')}/{filename}")
    return content.generation_started(job.user_id, params, image_url)
