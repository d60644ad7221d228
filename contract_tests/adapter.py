"""The adapter protocol: the few calls through which the contract suite drives a Python client.

Wrap your client in a class with these methods and a factory ``make(base_url, token, sleep)``. The
suite passes a ``sleep`` that moves the mock's clock instead of waiting, and a base URL such as
``http://127.0.0.1:8080/v1`` (your client appends ``/pixverse/...``).

An error the API answered must reach the caller as an exception with ``code`` (the HTTP status)
and ``message`` (the vendor's ``error`` string), e.g. :class:`ApiCallError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from typing import Protocol

Sleep = Callable[[float], None]


class ApiCallError(Exception):
    """An error answer of the API, as a client should surface it."""

    def __init__(self, code: int, message: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.body = body or {}


class PixverseClientAdapter(Protocol):
    """What the suite calls. Each returns the job record the API answered, or raises."""

    def submit_meme_face(self, face: bytes, prompt: str, **fields: Any) -> dict[str, Any]:
        """POST meme_face with the face image and the other fields (aspect_ratio, maxJobs, replyUrl...)."""

    def press_button(self, jobid: str, button: str, prompt: str | None = None, **fields: Any) -> dict[str, Any]:
        """POST button on a completed job."""

    def get_job(self, jobid: str) -> dict[str, Any]:
        """GET jobs/?jobid= once."""

    def wait_for_result(self, jobid: str) -> dict[str, Any]:
        """Poll until the job is final; return a completed job, raise for moderated, failed, cancelled."""

    def download(self, url: str) -> bytes:
        """Fetch an attachment (the video)."""


ClientFactory = Callable[[str, str, Sleep], PixverseClientAdapter]
"""``make(base_url, token, sleep)`` → a ready client."""


class AsyncPixverseClientAdapter(Protocol):
    """The asyncio adapter protocol: the same calls as coroutines.

    ``make(base_url, token, sleep)`` gets an ``async`` sleep. Optional: ``async on_callback(job)``
    (callback mode) and ``async aclose()``.
    """

    async def submit_meme_face(self, face: bytes, prompt: str, **fields: Any) -> dict[str, Any]: ...

    async def press_button(self, jobid: str, button: str, prompt: str | None = None,
                           **fields: Any) -> dict[str, Any]: ...

    async def get_job(self, jobid: str) -> dict[str, Any]: ...

    async def wait_for_result(self, jobid: str) -> dict[str, Any]: ...

    async def download(self, url: str) -> bytes: ...
