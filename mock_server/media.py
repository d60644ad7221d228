"""The small real mp4s a completed job's attachments point at, one per aspect ratio."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mock_server.datafiles import load_yaml

DEFAULT_ASPECT_RATIO = "16:9"


@dataclass(frozen=True)
class Video:
    aspect_ratio: str
    path: Path
    width: int
    height: int
    size: int

    @property
    def token(self) -> str:
        """``16x9``: the aspect ratio as it appears in attachment file names."""
        return self.aspect_ratio.replace(":", "x")


class MediaLibrary:
    """The manifest ``fixtures/videos/videos.yaml``, loaded once; files are read when served."""

    def __init__(self, videos_dir: Path) -> None:
        manifest = load_yaml(videos_dir / "videos.yaml")
        self._by_ratio = {
            str(ratio): Video(str(ratio), videos_dir / spec["file"], int(spec["width"]),
                              int(spec["height"]), int(spec["size"]))
            for ratio, spec in manifest.items()
        }
        self._by_token = {video.token: video for video in self._by_ratio.values()}

    def for_ratio(self, aspect_ratio: str | None) -> Video:
        return self._by_ratio.get(aspect_ratio or DEFAULT_ASPECT_RATIO) or self._by_ratio[DEFAULT_ASPECT_RATIO]

    def for_token(self, token: str) -> Video | None:
        return self._by_token.get(token)
