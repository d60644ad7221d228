"""pixverse-mock's contract kit: check that a client of the PixVerse v1 API behaves.

Names load on first use (PEP 562), so ``from contract_tests import MockHandle`` does not import
hypothesis; ``ClientContract`` and ``check_client`` do.
"""

from importlib import import_module
from typing import Any

_HOMES = {
    "ApiCallError": "contract_tests.adapter",
    "PixverseClientAdapter": "contract_tests.adapter",
    "MockHandle": "contract_tests.handle",
    "PROPERTIES": "contract_tests.properties",
    "Violation": "contract_tests.properties",
    "judge": "contract_tests.properties",
    "ThreadedMockServer": "contract_tests.server",
    "ClientContract": "contract_tests.suite",
    "ContractViolation": "contract_tests.suite",
    "check_client": "contract_tests.suite",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'contract_tests' has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
