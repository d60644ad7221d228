"""The moderation list: a prompt holding one of its words is moderated (the documented 422)."""

from __future__ import annotations

import re
from collections.abc import Iterable


class Moderation:
    """Case-insensitive whole-word match against a configurable word list."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = tuple(w for w in (str(w).strip() for w in words) if w)
        alternatives = "|".join(re.escape(w) for w in self.words)
        self._pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE) if alternatives else None

    def flags(self, *texts: str | None) -> bool:
        """True when any of ``texts`` holds a moderated word."""
        if self._pattern is None:
            return False
        return any(text and self._pattern.search(text) for text in texts)
