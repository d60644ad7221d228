"""The ``content`` string: the PixVerse bot's Discord message, in the formats the vendor pages show."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Order and labels as in the documented messages ("prompt: … style: … negative-prompt: …").
_PARAMETERS = (
    ("prompt", "prompt"),
    ("style", "style"),
    ("negative_prompt", "negative-prompt"),
    ("aspect_ratio", "aspect-ratio"),
    ("character", "character"),
    ("motion", "motion"),
)


def parameters(record: Mapping[str, Any]) -> str:
    """``prompt: … negative-prompt: … aspect-ratio: …`` for the fields the job has."""
    return " ".join(f"{label}: {record[key]}" for key, label in _PARAMETERS if record.get(key) not in (None, ""))


def generation_started(user_id: str, record: Mapping[str, Any], image_url: str | None = None) -> str:
    """create, create_single, animate, meme_face: the bot's first answer (with the image, if one was sent)."""
    image = f"[image attached](<{image_url}>) " if image_url else ""
    return (
        f"<@{user_id}> We are making videos. We will notify you when it's done. "
        f"({image}{parameters(record)}) Author: <@{user_id}>)"
    )


def button_started(user_id: str, record: Mapping[str, Any]) -> str:
    # The vendor's example has two spaces after the mention.
    return (
        f"<@{user_id}>  Hi! We are remaking your videos. We will notify you when it's done. "
        f"({parameters(record)}) Author: <@{user_id}>)"
    )


def progress(user_id: str, record: Mapping[str, Any], percent: int) -> str:
    return f"<@{user_id}> Generating {percent}% ({parameters(record)}) Author: <@{user_id}>)"


def finished(user_id: str, record: Mapping[str, Any]) -> str:
    return f"<@{user_id}> ({parameters(record)}) Author: <@{user_id}>)"
