"""The property suite for a test module: subclass :class:`ClientContract` (see the README).

Each subclass gets a ``test_client_contract`` that runs the whole contract (:mod:`contract_tests.runner`)
against its client on the plugin's mock, as many examples as the active hypothesis profile says.
``make_client`` builds a sync adapter client; set ``driver = "asyncio"`` for an asyncio adapter one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import settings

from contract_tests.adapter import ClientFactory
from contract_tests.handle import MockHandle
from contract_tests.judge import REPORT_PROPERTIES
from contract_tests.runner import ContractViolation
from contract_tests.runner import check_async_client
from contract_tests.runner import check_client

CALLER_PROPERTIES = {name: REPORT_PROPERTIES[name] for name in
                     ("documented_errors_surface", "final_failures_are_not_results", "completed_results_reach_caller")}
"""The properties judged from what reached the caller (kept under their old name)."""


def _contract_test() -> Callable[..., None]:
    def test_client_contract(self: ClientContract, pixverse_mock: MockHandle) -> None:
        check = check_async_client if type(self).driver == "asyncio" else check_client
        check(pixverse_mock, type(self).make_client, max_examples=settings().max_examples)

    return test_client_contract


class ClientContract:
    """Subclass in a test module and define ``make_client(base_url, token, sleep)``; needs the plugin.

    ::

        class TestMyClient(ClientContract):
            @staticmethod
            def make_client(base_url, token, sleep):
                return MyClientAdapter(base_url, token, sleep=sleep)

    Each subclass gets its own ``test_client_contract``, so several may live in one session.
    """

    make_client: ClientFactory
    driver: str = "sync"
    test_client_contract = _contract_test()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "test_client_contract" not in cls.__dict__:
            cls.test_client_contract = _contract_test()


__all__ = ["CALLER_PROPERTIES", "ClientContract", "ContractViolation", "check_client"]
