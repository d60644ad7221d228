"""Field rules of the submit endpoints, checked in a fixed order with the vendor's exact messages.

meme_face: 1 missing face/prompt (or a partial discord/server/channel triple), 2 face not a file,
3 too long, 4 aspect_ratio, 5 seed_value, 6 maxJobs, 7 face bytes not an image.
button: 1 missing jobid/button, 2 unknown button, 3 too long, 4 prompt on a button without one,
5 maxJobs. Parent, account, admission and moderation checks follow in the service.
"""

from __future__ import annotations

from dataclasses import dataclass

from mock_server import messages
from mock_server.errors import BadRequest
from mock_server.service.inputs import RequestInput
from mock_server.service.inputs import Upload

_IMAGE_MAGIC = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",  # PNG
    b"GIF87a",
    b"GIF89a",
    b"BM",  # BMP
    b"II*\x00",  # TIFF
    b"MM\x00*",
)


@dataclass(frozen=True)
class Common:
    """Fields both submit endpoints share."""

    max_jobs: int | None
    reply_url: str | None
    reply_ref: str | None
    discord: str | None


@dataclass(frozen=True)
class MemeFaceRequest:
    face: Upload
    prompt: str
    negative_prompt: str | None
    seed_value: int | None
    aspect_ratio: str | None
    server: str | None
    channel: str | None
    common: Common


@dataclass(frozen=True)
class ButtonRequest:
    jobid: str
    button: str
    prompt: str | None
    common: Common


def meme_face_request(data: RequestInput) -> MemeFaceRequest:
    """Validate a meme_face submit; raise :class:`BadRequest` with the first failing rule."""
    discord, server, channel = data.text("discord"), data.text("server"), data.text("channel")
    partial_triple = (discord or server) and not (discord and server and channel)
    if not data.present("face") or data.text("prompt") is None or partial_triple:
        raise BadRequest(messages.MEME_FACE_MISSING)
    face = data.uploads.get("face")
    if face is None:
        raise BadRequest(messages.FACE_NOT_FILE)
    prompt, negative = data.text("prompt"), data.text("negative_prompt")
    reply_url, reply_ref = data.text("replyUrl"), data.text("replyRef")
    if _too_long(prompt, messages.PROMPT_MAX, negative, messages.PROMPT_MAX, reply_url, reply_ref):
        raise BadRequest(messages.MEME_FACE_TOO_LONG)
    aspect_ratio = data.text("aspect_ratio")
    if aspect_ratio is not None and aspect_ratio not in messages.ASPECT_RATIOS:
        raise BadRequest(messages.ASPECT_RATIO_NOT_SUPPORTED.format(
            aspect_ratio=aspect_ratio, supported=", ".join(messages.ASPECT_RATIOS)))
    seed_value, raw_seed = data.integer("seed_value")
    if raw_seed is not None and (seed_value is None or not 0 <= seed_value <= messages.SEED_VALUE_MAX):
        raise BadRequest(messages.SEED_VALUE_RANGE.format(seed_value=raw_seed))
    common = _common(data, reply_url, reply_ref)
    if face.size == 0 or not (face.data.startswith(_IMAGE_MAGIC) or _is_riff_or_isobmff_image(face.data)):
        raise BadRequest(messages.FACE_NOT_IMAGE)
    assert prompt is not None
    return MemeFaceRequest(face, prompt, negative, seed_value, aspect_ratio, server, channel, common)


def button_request(data: RequestInput, prompt_buttons: frozenset[str]) -> ButtonRequest:
    """Validate a button submit; raise :class:`BadRequest` with the first failing rule."""
    jobid, button = data.text("jobid"), data.text("button")
    if jobid is None or button is None:
        raise BadRequest(messages.BUTTON_MISSING)
    if button not in messages.BUTTONS:
        raise BadRequest(messages.BUTTON_NOT_SUPPORTED.format(button=button))
    prompt = data.text("prompt")
    reply_url, reply_ref = data.text("replyUrl"), data.text("replyRef")
    if _too_long(prompt, messages.PROMPT_MAX, None, 0, reply_url, reply_ref):
        raise BadRequest(messages.BUTTON_TOO_LONG)
    if prompt is not None and button not in prompt_buttons:
        raise BadRequest(messages.BUTTON_NO_PROMPT.format(button=button))
    return ButtonRequest(jobid, button, prompt, _common(data, reply_url, reply_ref))


def _common(data: RequestInput, reply_url: str | None, reply_ref: str | None) -> Common:
    max_jobs, raw = data.integer("maxJobs")
    if raw is not None and (max_jobs is None or not 1 <= max_jobs <= messages.MAX_CONCURRENT_JOBS):
        raise BadRequest(messages.MAX_JOBS_RANGE.format(max_jobs=raw))
    return Common(max_jobs, reply_url, reply_ref, data.text("discord"))


def _too_long(text: str | None, limit: int, other: str | None, other_limit: int,
              reply_url: str | None, reply_ref: str | None) -> bool:
    return (
        len(text or "") > limit
        or len(other or "") > other_limit
        or len(reply_url or "") > messages.REPLY_MAX
        or len(reply_ref or "") > messages.REPLY_MAX
    )


def _is_riff_or_isobmff_image(data: bytes) -> bool:
    # WEBP is RIFF....WEBP; HEIC/AVIF are ISO BMFF with an 'ftyp' box.
    return (data[:4] == b"RIFF" and data[8:12] == b"WEBP") or data[4:8] == b"ftyp"
