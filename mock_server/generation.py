"""What the vendor leaves open about create, create_single and animate (``fixtures/generation.yaml``)."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mock_server import messages
from mock_server.datafiles import load_yaml
from mock_server.media import DEFAULT_ASPECT_RATIO

FOLLOW_IMAGE = "image"


@dataclass(frozen=True)
class GenerationOptions:
    """The Anime character list, how much ``hd_quality: Yes`` slows a job, animate's video ratio."""

    anime_characters: tuple[str, ...]
    hd_quality_duration_factor: float = 1.5
    animate_aspect_ratio: str = FOLLOW_IMAGE

    @classmethod
    def load(cls, path: Path) -> GenerationOptions:
        return cls.from_mapping(load_yaml(path) or {})

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> GenerationOptions:
        """Build from the layout of ``fixtures/generation.yaml``; ``ValueError`` if a value is unusable."""
        options = cls(
            anime_characters=tuple(str(c) for c in data.get("anime_characters") or ()),
            hd_quality_duration_factor=float(data.get("hd_quality_duration_factor", 1.5)),
            animate_aspect_ratio=str(data.get("animate_aspect_ratio", FOLLOW_IMAGE)),
        )
        if not options.anime_characters:
            raise ValueError("generation options need a non-empty anime_characters list")
        if options.hd_quality_duration_factor < 1:
            raise ValueError("hd_quality_duration_factor must be at least 1")
        if options.animate_aspect_ratio not in (FOLLOW_IMAGE, *messages.ASPECT_RATIOS):
            raise ValueError(f"animate_aspect_ratio must be {FOLLOW_IMAGE!r} or one of {messages.ASPECT_RATIOS}")
        return options

    def animate_ratio(self, image: bytes) -> str:
        """The aspect ratio of an animate job's video."""
        if self.animate_aspect_ratio != FOLLOW_IMAGE:
            return self.animate_aspect_ratio
        size = image_size(image)
        if size is None:
            return DEFAULT_ASPECT_RATIO
        width, height = size
        return min(messages.ASPECT_RATIOS, key=lambda ratio: abs(_value(ratio) - width / height))


def _value(ratio: str) -> float:
    width, height = ratio.split(":")
    return int(width) / int(height)


def image_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` of a PNG, GIF or JPEG from its header; ``None`` when it cannot be read."""
    size: tuple[int, int] | None = None
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        size = struct.unpack(">II", data[16:24])
    elif data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        size = struct.unpack("<HH", data[6:10])
    elif data.startswith(b"\xff\xd8"):
        size = _jpeg_size(data)
    return size if size and size[0] > 0 and size[1] > 0 else None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    index = 2
    while index + 9 < len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        length = struct.unpack(">H", data[index + 2:index + 4])[0]
        # SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC), carry height then width.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[index + 5:index + 9])
            return width, height
        index += 2 + length
    return None
