"""pixverse-mock's contract kit: check that a client of the PixVerse v1 API behaves."""

from contract_tests.adapter import ApiCallError
from contract_tests.adapter import PixverseClientAdapter
from contract_tests.handle import MockHandle
from contract_tests.properties import PROPERTIES
from contract_tests.properties import Violation
from contract_tests.properties import judge
from contract_tests.server import ThreadedMockServer
from contract_tests.suite import ClientContract
from contract_tests.suite import ContractViolation
from contract_tests.suite import check_client

__all__ = [
    "PROPERTIES",
    "ApiCallError",
    "ClientContract",
    "ContractViolation",
    "MockHandle",
    "PixverseClientAdapter",
    "ThreadedMockServer",
    "Violation",
    "check_client",
    "judge",
]
