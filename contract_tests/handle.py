"""What a test gets from the ``pixverse_mock`` fixture: where the mock is, who you are, and its controls."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from contract_tests.properties import Violation
from contract_tests.properties import judge
from contract_tests.server import ThreadedMockServer
from mock_server import MockRuntime
from mock_server.accounts import digest
from mock_server.control.access import CONTROL_TOKEN_HEADER


@dataclass
class MockHandle:
    """A reset mock for one test.

    ``base_url`` is what a client takes instead of ``https://api.useapi.net/v1``; ``control`` is the
    in-process control API (``advance``, ``add_fault``, ``force_outcome``, ``journal``, ``wait_for``...).
    """

    server: ThreadedMockServer
    token: str

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def base_url(self) -> str:
        return f"{self.server.url}/v1"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def control_headers(self) -> dict[str, str]:
        """Headers for ``/__mock/`` over HTTP: the control token, when the mock has one (off loopback)."""
        token = self.control.config.control_token
        return {CONTROL_TOKEN_HEADER: token} if token else {}

    @property
    def control(self) -> MockRuntime:
        return self.server.runtime

    def sleep(self, seconds: float) -> None:
        """A client's sleep in mock time: advances the manual clock instead of waiting."""
        self.control.advance(max(0.0, float(seconds)))

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """The request journal of this handle's token, with spec ``violations``.

        Requests that carried no token at all belong to it too: a client that forgot the header,
        an attachment download.
        """
        mine = digest(self.token)
        return [e for e in self.control.journal("requests", **filters) if e.get("tenant") in (None, mine)]

    def callbacks(self, **filters: Any) -> list[dict[str, Any]]:
        """The callback attempts for this handle's token's jobs."""
        return self.control.journal("callbacks", token=self.token, **filters)

    def wait_for(self, kind: str = "requests", *, timeout: float = 5.0, **filters: Any) -> dict[str, Any] | None:
        """Block until this token's ``requests`` or ``callbacks`` journal has a matching entry (``None`` at timeout).

        In an ``async`` test use :meth:`wait_for_async`: this one blocks the event loop while it waits.
        """
        return self.control.wait_for(kind, timeout=timeout, token=self.token, **filters)

    async def wait_for_async(self, kind: str = "requests", *, timeout: float = 5.0,
                             **filters: Any) -> dict[str, Any] | None:
        """:meth:`wait_for` for ``async`` tests: the event loop (and an async client under test) keeps running.

        The wait happens in a worker thread (``asyncio.to_thread``).
        """
        return await asyncio.to_thread(self.wait_for, kind, timeout=timeout, **filters)

    def violations(self, *, only: Any = None) -> list[Violation]:
        """The client-contract properties this token's traffic (see :meth:`requests`) broke so far."""
        mine = digest(self.token)
        return judge([{**e, "tenant": mine} for e in self.requests()], only=only)
