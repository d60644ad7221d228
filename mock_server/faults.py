"""Faults: the error scenarios a test can ask for, by the control plane, a header or a prompt marker.

One vocabulary everywhere (``kind`` or ``kind:argument``):

| fault | answer |
|---|---|
| ``discord429`` | 429 ``Discord /interactions failed with HTTP status 429`` with ``errorDetails`` |
| ``maxjobs429`` | 429 ``Maximum of <maxJobs> jobs executing in parallel supported`` with ``executingJobs`` |
| ``unauthorized`` | 401 ``Unauthorized`` |
| ``expired`` | 402 ``Account has no subscription or subscription expired`` |
| ``moderated`` | 422 on a submit: the job is created with status ``moderated`` |
| ``fail[:message]`` | a submit is accepted, and the job ends ``failed`` with ``error`` = message |
| ``server_error[:status]`` | a 5xx (default 500) in the vendor envelope |
| ``delay:seconds`` | the answer is held back that many (wall-clock) seconds, then given as usual |
| ``drop`` | the connection is closed with no answer |
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import replace
from typing import Any

KINDS = ("discord429", "maxjobs429", "unauthorized", "expired", "moderated", "fail", "server_error",
         "delay", "drop")
JOB_KINDS = frozenset({"moderated", "fail"})
"""Faults that shape the job a submit creates (applied by the service, on submits only)."""
SUBMIT_OPERATIONS = ("create", "create_single", "animate", "meme_face", "button")
"""The operations that create a job, so the only ones a job-shaping fault applies to."""

MAX_DELAY_SECONDS = 60.0
_MARKER = re.compile(r"\[mock:([a-z0-9_]+(?::[^\]]*)?)\]", re.IGNORECASE)


class FaultError(ValueError):
    """A fault description that cannot be used; the message says why."""


class FaultMarkerError(FaultError):
    """A ``[mock:...]`` prompt marker that names no usable fault (answered 400, like the header)."""

    def __init__(self, marker: str, reason: FaultError) -> None:
        super().__init__(str(reason))
        self.marker = marker


@dataclass(frozen=True)
class Fault:
    """One fault to answer with."""

    kind: str
    status: int | None = None
    seconds: float = 0.0
    message: str | None = None

    @property
    def shapes_job(self) -> bool:
        return self.kind in JOB_KINDS

    def describe(self) -> str:
        """Back to the ``kind:argument`` form."""
        if self.kind == "server_error":
            return f"server_error:{self.status}"
        if self.kind == "delay":
            return f"delay:{self.seconds:g}"
        if self.kind == "fail" and self.message:
            return f"fail:{self.message}"
        return self.kind


def parse_fault(text: str) -> Fault:
    """Parse ``kind`` or ``kind:argument``; raise :class:`FaultError` on anything else."""
    kind, _, argument = str(text).strip().partition(":")
    kind = kind.strip().lower()
    argument = argument.strip()
    if kind not in KINDS:
        raise FaultError(f"unknown fault {text!r}; one of: {', '.join(KINDS)}")
    if kind == "server_error":
        status = int(argument) if argument.isdigit() else 500 if not argument else -1
        if not 500 <= status <= 599:
            raise FaultError(f"server_error takes a 5xx status, not {argument!r}")
        return Fault(kind, status=status)
    if kind == "delay":
        try:
            seconds = float(argument)
        except ValueError:
            raise FaultError(f"delay takes seconds, e.g. delay:2, not {text!r}") from None
        if not 0 <= seconds <= MAX_DELAY_SECONDS:
            raise FaultError(f"delay must be between 0 and {MAX_DELAY_SECONDS:g} seconds")
        return Fault(kind, seconds=seconds)
    if kind == "fail":
        return Fault(kind, message=argument or None)
    if argument:
        raise FaultError(f"{kind} takes no argument")
    return Fault(kind)


def faults_in_text(*texts: str | None) -> list[Fault]:
    """The ``[mock:...]`` markers in prompts, as faults; :class:`FaultMarkerError` for one that is not."""
    found = []
    for text in texts:
        for match in _MARKER.finditer(text or ""):
            try:
                found.append(parse_fault(match.group(1)))
            except FaultError as exc:
                raise FaultMarkerError(match.group(1), exc) from None
    return found


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
