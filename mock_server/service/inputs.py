"""A request's fields as the service sees them, whatever the content type they came in.

Input tolerance, as the real service tolerates: an empty string or JSON ``null`` is "not
provided", and numbers may arrive as strings. A JSON object or array where a text or a number is
expected is not a value either (``server: {}`` is a missing server).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field
from typing import Any

_INTEGER = re.compile(r"\s*[+-]?\d+\s*")


@dataclass(frozen=True)
class Upload:
    """A file part: any file name (or none) and whatever content type the client declared."""

    filename: str | None
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class RequestInput:
    """Text fields (multipart) or JSON members, and file parts."""

    values: dict[str, Any] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    is_json: bool = False

    def present(self, name: str) -> bool:
        """Given as a file part or as a non-empty value."""
        return name in self.uploads or self.text(name) is not None

    def text(self, name: str) -> str | None:
        """The value as text; ``None`` when absent, empty or null."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return None

    def integer(self, name: str) -> tuple[int | None, str | None]:
        """``(number, raw)``: the parsed whole number (``None`` if not one) and the raw text."""
        value = self.values.get(name)
        raw = self.text(name)
        if raw is None:
            return None, None
        if isinstance(value, bool):
            return None, raw
        if isinstance(value, int):
            return value, raw
        if isinstance(value, float):
            return (int(value), raw) if value.is_integer() else (None, raw)
        if isinstance(value, str) and _INTEGER.fullmatch(value):
            return int(value), raw
        return None, raw


def present(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` without the absent ones (``None`` or empty), in their order."""
    return {key: value for key, value in values.items() if value is not None and value != ""}
