"""Field rules of the submit endpoints, checked in a fixed order with the vendor's exact messages.

meme_face: 1 missing face/prompt (or a partial discord/server/channel triple), 2 face not a file,
3 too long, 4 aspect_ratio, 5 seed_value, 6 maxJobs, 7 face bytes not an image.
create, create_single: 1 missing prompt/style (or a partial triple), 2 too long, 3 style,
4 character (Anime only; ignored with another style), 5 aspect_ratio, 6 seed_value (create_single),
7 maxJobs.
animate: 1 missing image (or a partial triple), 2 image not a file, 3 too long, 4 motion,
5 seed_value, 6 hd_quality, 7 maxJobs, 8 image bytes not an image.
button: 1 missing jobid/button, 2 unknown button, 3 too long, 4 prompt on a button without one,
5 maxJobs. Parent, account, admission and moderation checks follow in the service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mock_server import messages
from mock_server.errors import BadRequest
from mock_server.service.inputs import RequestInput
from mock_server.service.inputs import Upload
from mock_server.service.inputs import present

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
    """Fields every submit endpoint shares."""

    max_jobs: int | None
    reply_url: str | None
    reply_ref: str | None
    discord: str | None


@dataclass(frozen=True)
class Submission:
    """A valid generation submit (create, create_single, animate, meme_face), ready for an account."""

    verb: str
    params: dict[str, Any]
    """The request echo of the job record, in record order."""
    common: Common
    server: str | None
    channel: str | None
    missing: str
    """The endpoint's "value is missing" message, also the answer when no account is usable."""
    prompts: tuple[str | None, ...] = ()
    upload: tuple[str, Upload] | None = None
    video_ratio: str | None = None
    """The videos' aspect ratio when no ``aspect_ratio`` field says it (animate: from the image)."""
    slowdown: float = 1.0
    """How much longer than usual the job takes (animate with ``hd_quality: Yes``)."""


@dataclass(frozen=True)
class ButtonRequest:
    jobid: str
    button: str
    prompt: str | None
    common: Common


def meme_face_request(data: RequestInput) -> Submission:
    """Validate a meme_face submit; raise :class:`BadRequest` with the first failing rule."""
    if not data.present("face") or data.text("prompt") is None or _partial_triple(data):
        raise BadRequest(messages.MEME_FACE_MISSING)
    face = _upload(data, "face", messages.FACE_NOT_FILE)
    prompt, negative = data.text("prompt"), data.text("negative_prompt")
    reply_url, reply_ref = data.text("replyUrl"), data.text("replyRef")
    if _too_long(prompt, messages.PROMPT_MAX, negative, messages.PROMPT_MAX, reply_url, reply_ref):
        raise BadRequest(messages.MEME_FACE_TOO_LONG)
    aspect_ratio = _aspect_ratio(data)
    seed_value = _seed_value(data)
    common = _common(data, reply_url, reply_ref)
    _check_image(face, messages.FACE_NOT_IMAGE)
    params = {"prompt": prompt, "negative_prompt": negative, "seed_value": seed_value, "aspect_ratio": aspect_ratio}
    return Submission("pixverse-meme_face", present(params), common, data.text("server"), data.text("channel"),
                      messages.MEME_FACE_MISSING, (prompt, negative), ("face", face))


def create_request(data: RequestInput, characters: Sequence[str], *, single: bool) -> Submission:
    """Validate a create (``single``: create_single) submit; raise :class:`BadRequest` on the first failing rule."""
    prompt, style = data.text("prompt"), data.text("style")
    if prompt is None or style is None or _partial_triple(data):
        raise BadRequest(messages.CREATE_MISSING)
    negative = data.text("negative_prompt")
    reply_url, reply_ref = data.text("replyUrl"), data.text("replyRef")
    if _too_long(prompt, messages.PROMPT_MAX, negative, messages.PROMPT_MAX, reply_url, reply_ref):
        raise BadRequest(messages.CREATE_TOO_LONG)
    if style not in messages.STYLES:
        raise BadRequest(messages.STYLE_NOT_SUPPORTED.format(style=style, supported=", ".join(messages.STYLES)))
    # The vendor: character is "only used when style is Anime, ignored otherwise".
    character = data.text("character") if style == messages.ANIME_STYLE else None
    if character is not None and character not in characters:
        raise BadRequest(messages.CHARACTER_NOT_SUPPORTED.format(character=character,
                                                                 supported=", ".join(characters)))
    aspect_ratio = _aspect_ratio(data)
    seed_value = _seed_value(data) if single else None
    common = _common(data, reply_url, reply_ref)
    params = {"prompt": prompt, "style": style, "negative_prompt": negative, "aspect_ratio": aspect_ratio,
              "character": character, "seed_value": seed_value}
    verb = "pixverse-create_single" if single else "pixverse-create"
    return Submission(verb, present(params), common, data.text("server"), data.text("channel"),
                      messages.CREATE_MISSING, (prompt, negative))


def animate_request(data: RequestInput) -> Submission:
    """Validate an animate submit; raise :class:`BadRequest` with the first failing rule."""
    if not data.present("image") or _partial_triple(data):
        raise BadRequest(messages.ANIMATE_MISSING)
    image = _upload(data, "image", messages.IMAGE_NOT_FILE)
    prompt = data.text("prompt")
    reply_url, reply_ref = data.text("replyUrl"), data.text("replyRef")
    if _too_long(prompt, messages.PROMPT_MAX, None, 0, reply_url, reply_ref):
        raise BadRequest(messages.ANIMATE_TOO_LONG)
    motion, raw_motion = data.integer("motion")
    if raw_motion is not None and (motion is None or not messages.MOTION_MIN <= motion <= messages.MOTION_MAX):
        raise BadRequest(messages.MOTION_RANGE.format(motion=raw_motion))
    seed_value = _seed_value(data)
    hd_quality = data.text("hd_quality")
    if hd_quality is not None and hd_quality not in messages.HD_QUALITY:
        raise BadRequest(messages.HD_QUALITY_NOT_SUPPORTED.format(hd_quality=hd_quality))
    common = _common(data, reply_url, reply_ref)
    _check_image(image, messages.IMAGE_NOT_IMAGE)
    params = {"prompt": prompt, "motion": messages.MOTION_DEFAULT if motion is None else motion,
              "seed_value": seed_value, "hd_quality": hd_quality}
    return Submission("pixverse-animate", present(params), common, data.text("server"), data.text("channel"),
                      messages.ANIMATE_MISSING, (prompt,), ("image", image))


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


def _partial_triple(data: RequestInput) -> bool:
    """``discord`` or ``server`` without all three of discord, server and channel: no account to pick."""
    discord, server, channel = data.text("discord"), data.text("server"), data.text("channel")
    return bool((discord or server) and not (discord and server and channel))


def _upload(data: RequestInput, name: str, not_file: str) -> Upload:
    upload = data.uploads.get(name)
    if upload is None:
        raise BadRequest(not_file)
    return upload


def _check_image(upload: Upload, message: str) -> None:
    if upload.size == 0 or not (upload.data.startswith(_IMAGE_MAGIC) or _is_riff_or_isobmff_image(upload.data)):
        raise BadRequest(message)


def _aspect_ratio(data: RequestInput) -> str | None:
    aspect_ratio = data.text("aspect_ratio")
    if aspect_ratio is not None and aspect_ratio not in messages.ASPECT_RATIOS:
        raise BadRequest(messages.ASPECT_RATIO_NOT_SUPPORTED.format(
            aspect_ratio=aspect_ratio, supported=", ".join(messages.ASPECT_RATIOS)))
    return aspect_ratio


def _seed_value(data: RequestInput) -> int | None:
    seed_value, raw = data.integer("seed_value")
    if raw is not None and (seed_value is None or not 0 <= seed_value <= messages.SEED_VALUE_MAX):
        raise BadRequest(messages.SEED_VALUE_RANGE.format(seed_value=raw))
    return seed_value


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
