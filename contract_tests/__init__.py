"""pixverse-mock's contract kit: check that a client of the PixVerse v1 API behaves.

Names that need hypothesis (the runner, the suite) are imported on first use, so importing the kit
(e.g. the pytest plugin) does not import hypothesis.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ApiCallError": "contract_tests.adapter",
    "PixverseClientAdapter": "contract_tests.adapter",
    "MockHandle": "contract_tests.handle",
    "PROPERTIES": "contract_tests.properties",
    "Violation": "contract_tests.properties",
    "judge": "contract_tests.properties",
    "ALL_PROPERTIES": "contract_tests.judge",
    "ThreadedMockServer": "contract_tests.server",
    "Budget": "contract_tests.drivers",
    "ClientContract": "contract_tests.suite",
    "ContractViolation": "contract_tests.runner",
    "Verdict": "contract_tests.runner",
    "check": "contract_tests.runner",
    "check_client": "contract_tests.runner",
    "check_async_client": "contract_tests.runner",
    "check_command": "contract_tests.runner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'contract_tests' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
