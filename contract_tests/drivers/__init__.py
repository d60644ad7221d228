"""Drivers run a client on one example; the judge does the rest.

A driver differs from another only in how it runs a client: the Python adapter protocols
(:mod:`~contract_tests.drivers.sync`, :mod:`~contract_tests.drivers.aio`) call methods of an object
in this process on the mock's manual clock; the command driver (:mod:`~contract_tests.drivers.command`)
runs a program in any language with the task in a file. Each returns a :class:`DriverRun`: the
client's report (the JSON shape of the command protocol), or the problem with it, and whether the
run broke its :class:`Budget`. A new driver is one module that fits :class:`Driver`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from typing import Protocol

if TYPE_CHECKING:
    from contract_tests.example import Example
    from contract_tests.staging import Stage
    from mock_server import MockConfig


@dataclass(frozen=True)
class Budget:
    """What one example may cost the client: mock seconds, requests to the mock, wall seconds."""

    mock_seconds: float = 1800.0
    requests: int = 150
    wall_seconds: float = 20.0


class BudgetExceeded(BaseException):  # noqa: N818 (not an error of the client's code: a verdict)
    """Raised into a Python client that ran over its budget.

    A ``BaseException``, so that a client's ``except Exception`` cannot swallow it.
    """


@dataclass
class DriverRun:
    """What a driver saw: the report (or the problem with it) and a broken budget, if any."""

    report: dict[str, Any] | None = None
    problem: str | None = None
    """Why there is no usable report (missing, not JSON, the client crashed)."""
    over_budget: str | None = None
    """Which budget the client broke and how (None: it finished in time)."""
    details: str = ""
    """Anything else worth showing with a violation (a command's exit status, its stderr's tail)."""


class Driver(Protocol):
    """Runs a client on one example. ``name`` shows in reports."""

    name: str

    def mock_config(self, base: MockConfig) -> MockConfig:
        """The mock this driver needs (e.g. the manual clock, or a system clock at a time scale)."""

    def run(self, example: Example, stage: Stage, budget: Budget) -> DriverRun:
        """Run the client on ``example`` against the staged mock, within ``budget``.

        Never raise for the client's mistakes (they go in the :class:`DriverRun`), never hang.
        """
