"""Keep full secrets (API tokens, Discord tokens, the control token) out of everything the mock writes.

One place masks what a request carries, wherever it is built: the access log line (and the server's
error log), the request journal entry, the kit's reports. Two rules work together:

- a value under a secret-looking name (``discord``, ``Discord``, ``token``, ``access_token``...) is
  masked whatever its shape: a string, a number, a list, an object;
- every secret known for the request (its bearer token, the values of those names) is replaced
  wherever else it shows up, in any string: a prompt, a path, an error message.

Masks are the vendor's ``abc…secured…xyz`` (:func:`mask_secret`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import quote
from urllib.parse import quote_plus
from urllib.parse import unquote_plus

from mock_server.accounts import mask_secret

SECRET_NAME_PARTS = ("token", "discord", "secret", "password", "authorization")
"""A field or query parameter whose name (any case, ``-``/``_`` ignored) contains one of these is a secret."""
_SECRET_PAIR = re.compile(
    r"(?i)((?:^|[?&;\s'\"])[\w.%-]*(?:" + "|".join(SECRET_NAME_PARTS) + r")[\w.%-]*=)([^&;\s'\"]+)")
_BEARER = re.compile(r"(?i)(bearer\s+)([^\s'\";,]+)")
MIN_SCRUB_LENGTH = 6
"""Known secrets shorter than this are masked where they are named, not searched for in other text."""


@lru_cache(maxsize=4096)
def is_secret_name(name: object) -> bool:
    normalized = str(name).lower().replace("-", "").replace("_", "")
    return any(part in normalized for part in SECRET_NAME_PARTS)


@lru_cache(maxsize=4096)
def may_name_secret(query: str) -> bool:
    """Whether a query string may have a secret-named parameter (its names percent-encoded too).

    Cached: a client polling a job sends the same query again and again.
    """
    text = query.lower()
    if any(part in text for part in SECRET_NAME_PARTS):
        return True
    names = (piece.partition("=")[0] for piece in text.split("&")) if "%" in text else ()
    return any(part in unquote_plus(name).lower() for name in names if "%" in name for part in SECRET_NAME_PARTS)


def bearer_of(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, else ``None``."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def secret_values(value: Any) -> list[str]:
    """Every scalar inside a secret-named value, as text (a list of Discord tokens gives each one)."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif item is not None and item != "" and not isinstance(item, bool):
            found.append(str(item))
    return found


def secrets_in(fields: Any) -> list[str]:
    """The values of secret-named members anywhere inside ``fields`` (nested objects and lists too)."""
    found: list[str] = []
    stack = [fields]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for name, value in item.items():
                if is_secret_name(name):
                    found.extend(secret_values(value))
                else:
                    stack.append(value)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return found


class Redactor:
    """Masks one request's secrets in anything built from it (see the module docstring)."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        known = {s for s in secrets if s and len(s) >= MIN_SCRUB_LENGTH}
        self._secrets = sorted(known, key=len, reverse=True)  # a token inside a longer one: longest first

    def text(self, value: str) -> str:
        """``value`` with every known secret in it masked."""
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, mask_secret(secret))
        return value

    def value(self, value: Any, *, secret: bool = False) -> Any:
        """A copy of a JSON-like value: secret-named members masked whatever their shape, known secrets scrubbed."""
        if isinstance(value, dict):
            return {self.text(str(k)) if isinstance(k, str) else k: self.value(v, secret=secret or is_secret_name(k))
                    for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item, secret=secret) for item in value]
        if secret and value is not None and value != "" and not isinstance(value, bool):
            return mask_secret(str(value))
        if isinstance(value, str):
            return self.text(value)
        return value


def redact_target(target: str, authorization: str | None = None) -> str:
    """A request target (path and query, as sent) fit for a log line.

    Secret-named query parameters are masked (``?token=abc…secured…xyz``), the rest is kept as sent,
    and the request's own bearer token is masked wherever else it appears, percent-encoded or not.
    Cheap when there is nothing to mask.
    """
    bearer = bearer_of(authorization)
    secrets = url_spellings(bearer) if bearer else []
    path, mark, query = target.partition("?")
    if query and may_name_secret(query):
        pieces = []
        for piece in query.split("&"):
            name, equals, value = piece.partition("=")
            if equals and value and is_secret_name(unquote_plus(name)):
                secrets += url_spellings(unquote_plus(value))
                piece = f"{name}={mask_secret(unquote_plus(value))}"
            pieces.append(piece)
        query = "&".join(pieces)
    elif not any(secret in target for secret in secrets):
        return target
    redactor = Redactor(secrets)
    return f"{redactor.text(path)}{mark}{redactor.text(query)}"


def url_spellings(secret: str) -> list[str]:
    """A secret as sent and as a URL carries it (``user%3A1-abc``, ``a+b``)."""
    return list(_spellings(secret))


@lru_cache(maxsize=4096)
def _spellings(secret: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys((secret, quote(secret, safe=""), quote(secret), quote_plus(secret))))


def redact_log_text(text: str) -> str:
    """Free text of a server log (an invalid request line, say), secrets masked.

    ``name=value`` pairs with a secret name, and ``Bearer <token>``.
    """
    text = _SECRET_PAIR.sub(lambda m: m.group(1) + mask_secret(unquote_plus(m.group(2))), text)
    return _BEARER.sub(lambda m: m.group(1) + mask_secret(m.group(2)), text)


class RedactingFilter(logging.Filter):
    """A logging filter that passes every record through :func:`redact_log_text`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_log_text(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True
