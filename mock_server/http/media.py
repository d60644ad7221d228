"""The attachment URLs of completed jobs, served by the mock itself (no auth, like Discord's CDN)."""

from __future__ import annotations

import re

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import send_file

from mock_server import messages
from mock_server.errors import NotFound

media = Blueprint("media", __name__)

_RATIO_TOKEN = re.compile(r"pixverse_(\d+x\d+)_")


@media.get("/attachments/<channel>/<attachment_id>/<filename>")
@media.get("/media/attachments/<channel>/<attachment_id>/<filename>")
def attachment(channel: str, attachment_id: str, filename: str) -> Response:
    match = _RATIO_TOKEN.match(filename)
    library = current_app.extensions["pixverse_mock"].service.media
    video = library.for_token(match.group(1)) if match else None
    if video is None:
        raise NotFound(messages.NOT_FOUND.format(method="GET", path=f"/attachments/.../{filename}"))
    return send_file(video.path, mimetype="video/mp4", conditional=True, max_age=86400)
