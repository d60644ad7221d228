"""Staging: set the mock up for one example's behaviour and record what it did.

Before the client runs: reset the mock, restart its seeds, queue the faults (429 bursts, errors, on
any submit endpoint). While it runs: each job the mock accepts gets its generated fate (final status,
duration, what the relay does with its callback) at the moment it is journaled, before the client can
see the answer, so the outcome does not depend on when the client polls. Every driver uses the same
staging; the judge reads :attr:`Stage.accepted` beside the journals.
"""

from __future__ import annotations

import threading
from typing import Any

from contract_tests.example import SUBMIT_ENDPOINTS
from contract_tests.example import Example
from contract_tests.example import Outcome
from contract_tests.relay import CallbackRelay
from contract_tests.server import ThreadedMockServer
from mock_server import MockRuntime
from mock_server.accounts import digest
from mock_server.errors import ApiError

EARLY_DELIVERY_WAIT = 5.0
"""Wall seconds the mock holds a submit answer while an ``early`` callback reaches the client."""


class Stage:
    """The mock set up for one example: ``with Stage(...) as stage:`` around the client's run."""

    def __init__(self, server: ThreadedMockServer, token: str, example: Example, relay: CallbackRelay,
                 *, request_budget: int) -> None:
        self.server = server
        self.token = token
        self.example = example
        self.relay = relay
        self.request_budget = request_budget
        self.tenant = digest(token)
        self.accepted: dict[str, Outcome] = {}
        """Every job the mock accepted for this client, in order, with the fate it was given."""
        self.requests_seen = 0
        self.over_requests = threading.Event()
        """Set when the client sent more requests than the budget allows."""
        self.problems: list[str] = []
        self._callbacks_due: dict[str, float] = {}
        """Jobs that asked for the relay's callback: when (mock time) it falls due."""
        self._lock = threading.Lock()
        self._remove_listener: Any = None

    @property
    def control(self) -> MockRuntime:
        return self.server.runtime

    @property
    def base_url(self) -> str:
        return f"{self.server.url}/v1"

    @property
    def reply_url(self) -> str | None:
        return self.relay.url if self.example.callbacks else None

    def __enter__(self) -> Stage:
        control = self.control
        control.reset()
        control.reseed(0)
        control.errors.clear()
        self.relay.clear()
        for endpoint, fault in self.example.behaviour.faults:
            control.add_fault(fault, endpoint=endpoint, token=self.token)
        self._remove_listener = control.on_request(self._journaled)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None

    def advance(self, seconds: float) -> float:
        """Move the manual clock, let the callbacks that fell due reach the relay, pump them to the client."""
        now = self.control.advance(max(0.0, float(seconds)))
        due = [jobid for jobid, at in list(self._callbacks_due.items()) if at <= now]
        self.relay.wait_handled(due, EARLY_DELIVERY_WAIT)  # the mock's pool delivers them: wait for it
        self.relay.pump(now)
        return now

    def traffic(self) -> list[dict[str, Any]]:
        """The client's request journal; tokenless requests (downloads, a forgotten header) count as its own."""
        return [{**e, "tenant": self.tenant} for e in self.control.journal("requests")
                if e.get("tenant") in (None, self.tenant)]

    # --- while the client runs ------------------------------------------------------------------

    def _journaled(self, entry: dict[str, Any]) -> None:
        if entry.get("tenant") not in (None, self.tenant):
            return
        try:
            with self._lock:
                self.requests_seen += 1
                if self.requests_seen > self.request_budget:
                    self.over_requests.set()
                accepted = (entry.get("operation") in SUBMIT_ENDPOINTS and entry.get("status") == 200
                            and entry.get("jobid") and entry["jobid"] not in self.accepted)
                if not accepted:
                    return
                outcome = self.example.behaviour.outcome(len(self.accepted))
                self.accepted[entry["jobid"]] = outcome
            self._shape(entry, outcome)
        except Exception as exc:  # never break the mock's answer; the runner reports it
            self.problems.append(f"staging {entry.get('jobid')}: {exc!r}")

    def _shape(self, entry: dict[str, Any], outcome: Outcome) -> None:
        jobid = entry["jobid"]
        early = self.example.callbacks and outcome.callback == "early"
        relayed = (entry.get("fields") or {}).get("replyUrl") == self.relay.url
        if self.example.callbacks:
            self.relay.plan(jobid, outcome.callback)
        after = 0.0 if early else outcome.duration
        try:
            self.control.force_outcome(self.token, jobid, outcome.status, error=outcome.error, after=after)
        except ApiError:
            return  # already final (a job-shaping fault ended it): its fate is the mock's
        if relayed:
            self._callbacks_due[jobid] = entry["at"] + after
            if early:
                self.relay.wait_handled([jobid], EARLY_DELIVERY_WAIT)
