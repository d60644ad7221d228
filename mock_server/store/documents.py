"""Jobs, accounts and fault rules as JSON documents: the form the persistent backends keep them in."""

from __future__ import annotations

import functools
import json
from dataclasses import asdict
from typing import Any

from mock_server.accounts import Account
from mock_server.faults import Fault
from mock_server.faults import FaultRule
from mock_server.jobs import Job


def dumps(data: object) -> str:
    """Compact JSON, non-ASCII kept as it is; anything else JSON lacks (a ``Path``) as its ``str``."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)


def job_of(data: str) -> Job:
    return Job.from_dict(json.loads(data))


def account_document(account: Account) -> str:
    return dumps(asdict(account))


def account_of(data: str) -> Account:
    return Account(**json.loads(data))


def rule_document(rule: FaultRule) -> str:
    """The rule without its ``id`` (the backend's row or field is the id)."""
    data: dict[str, Any] = asdict(rule)
    del data["id"]
    return dumps(data)


@functools.lru_cache(maxsize=1024)
def rule_of(rule_id: int, data: str) -> FaultRule:
    """A stored rule, parsed once per process (rules and faults are frozen, so sharing is safe)."""
    fields = json.loads(data)
    fields["fault"] = Fault(**fields["fault"])
    return FaultRule(id=rule_id, **fields)
