"""What the control plane keeps beside the jobs: journals, the fault queue, runtime settings.

``MemoryControlState`` is the in-process version; the SQLite store has its own in the same file,
so every worker process sees the same journals, faults and settings.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import replace
from typing import Any
from typing import Protocol

from mock_server.faults import SUBMIT_OPERATIONS
from mock_server.faults import Fault
from mock_server.store.release import release_later

JOURNAL_KINDS = ("requests", "callbacks")
DEFAULT_JOURNAL_LIMIT = 50_000


@dataclass(frozen=True)
class FaultRule:
    """"The next ``remaining`` requests to ``endpoint`` (of ``tenant``) answer ``fault``".

    ``remaining=None`` means until removed. ``probability`` below 1 makes each matching request
    take the fault with that (seeded) chance instead of always.
    """

    id: int
    fault: Fault
    endpoint: str | None = None
    tenant: str | None = None
    remaining: int | None = 1
    probability: float = 1.0

    def applies_to(self, endpoint: str, tenant: str | None) -> bool:
        """``endpoint`` None matches every operation; ``submit`` every operation that creates a job."""
        endpoint_matches = self.endpoint in (None, endpoint) or (
            self.endpoint == "submit" and endpoint in SUBMIT_OPERATIONS)
        return endpoint_matches and self.tenant in (None, tenant)

    def used(self) -> FaultRule | None:
        """The rule after one more use: ``None`` once its ``remaining`` count is spent."""
        if self.remaining is None:
            return self
        return replace(self, remaining=self.remaining - 1) if self.remaining > 1 else None

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "fault": self.fault.describe(),
            "endpoint": self.endpoint,
            "tenant": self.tenant,
            "remaining": self.remaining,
            "probability": self.probability,
        }


def choose_fault(rules: list[FaultRule], endpoint: str, tenant: str | None,
                 draw: Callable[[], float]) -> FaultRule | None:
    """The first rule that applies and, for a probabilistic one, wins its (seeded) draw."""
    for rule in rules:
        if rule.applies_to(endpoint, tenant) and (rule.probability >= 1.0 or draw() < rule.probability):
            return rule
    return None


Entry = dict[str, Any]
EntryFilter = Callable[[Entry], bool]


class ControlState(Protocol):
    """Journals, faults and settings shared by every thread (and, for SQLite, every process)."""

    def append(self, kind: str, entry: Entry) -> int:
        """Record a journal entry; returns its sequence number (``entry["seq"]``)."""

    def entries(self, kind: str, since: int = 0, accept: EntryFilter | None = None,
                limit: int | None = None) -> list[Entry]:
        """Entries with ``seq > since`` that ``accept`` lets through, oldest first."""

    def wait(self, kind: str, since: int, accept: EntryFilter | None, timeout: float) -> Entry | None:
        """Block until an entry with ``seq > since`` passes ``accept``, or ``timeout`` seconds pass."""

    def add_fault(self, rule: FaultRule) -> FaultRule:
        """Queue a rule; its ``id`` is assigned here."""

    def take_fault(self, endpoint: str, tenant: str | None, draw: Callable[[], float]) -> Fault | None:
        """The fault the next request to ``endpoint`` answers, if any; consumes one use of it."""

    def faults(self) -> list[FaultRule]: ...

    def clear_faults(self, tenant: str | None = None) -> None: ...

    def settings(self) -> tuple[int, dict[str, Any]]:
        """``(version, settings)``; the version grows with every :meth:`put_settings`."""

    def put_settings(self, settings: dict[str, Any]) -> int: ...

    def clear(self, tenant: str | None = None) -> None:
        """Forget journals and faults (of one tenant only, when given); settings stay."""


class MemoryControlState:
    """In-process :class:`ControlState`: bounded deques and a condition variable."""

    def __init__(self, journal_limit: int = DEFAULT_JOURNAL_LIMIT) -> None:
        self._changed = threading.Condition()
        self._journals: dict[str, deque[Entry]] = {k: deque(maxlen=journal_limit) for k in JOURNAL_KINDS}
        self._seq = {k: 0 for k in JOURNAL_KINDS}
        self._rules: list[FaultRule] = []
        self._rule_ids = 0
        self._settings: dict[str, Any] = {}
        self._settings_version = 0

    def append(self, kind: str, entry: Entry) -> int:
        with self._changed:
            self._seq[kind] += 1
            entry["seq"] = self._seq[kind]
            self._journals[kind].append(entry)
            self._changed.notify_all()
            return entry["seq"]

    def entries(self, kind: str, since: int = 0, accept: EntryFilter | None = None,
                limit: int | None = None) -> list[Entry]:
        with self._changed:
            found = [e for e in self._journals[kind] if e["seq"] > since and (accept is None or accept(e))]
        return found[:limit] if limit is not None else found

    def wait(self, kind: str, since: int, accept: EntryFilter | None, timeout: float) -> Entry | None:
        with self._changed:
            found: list[Entry] = []

            def arrived() -> bool:
                found[:] = self.entries(kind, since, accept, limit=1)
                return bool(found)

            self._changed.wait_for(arrived, timeout=max(0.0, timeout))
            return found[0] if found else None

    def add_fault(self, rule: FaultRule) -> FaultRule:
        with self._changed:
            self._rule_ids += 1
            rule = replace(rule, id=self._rule_ids)
            self._rules.append(rule)
            return rule

    def take_fault(self, endpoint: str, tenant: str | None, draw: Callable[[], float]) -> Fault | None:
        if not self._rules:
            return None
        with self._changed:
            rule = choose_fault(self._rules, endpoint, tenant, draw)
            if rule is None:
                return None
            index = self._rules.index(rule)
            used = rule.used()
            if used is None:
                del self._rules[index]
            else:
                self._rules[index] = used
            return rule.fault

    def faults(self) -> list[FaultRule]:
        with self._changed:
            return list(self._rules)

    def clear_faults(self, tenant: str | None = None) -> None:
        with self._changed:
            self._rules = [] if tenant is None else [r for r in self._rules if r.tenant != tenant]

    def settings(self) -> tuple[int, dict[str, Any]]:
        return self._settings_version, self._settings

    def put_settings(self, settings: dict[str, Any]) -> int:
        with self._changed:
            self._settings = dict(settings)
            self._settings_version += 1
            return self._settings_version

    def clear(self, tenant: str | None = None) -> None:
        with self._changed:
            for kind, journal in self._journals.items():
                kept = [] if tenant is None else [e for e in journal if e.get("tenant") != tenant]
                self._journals[kind] = deque(kept, maxlen=journal.maxlen)
                release_later(journal)
            self.clear_faults(tenant)
