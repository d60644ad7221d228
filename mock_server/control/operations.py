"""The control plane as a Python API (``mock_of(app).<operation>``); ``/__mock/`` calls the same methods.

Tokens are passed in full and used only to find their tenant (a digest); answers show them masked.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from mock_server.accounts import Account
from mock_server.accounts import TokenSet
from mock_server.accounts import digest
from mock_server.buttons import ButtonGraph
from mock_server.clock import PROFILES
from mock_server.clock import ManualClock
from mock_server.clock import iso_millis
from mock_server.errors import ApiError
from mock_server.errors import BadRequest
from mock_server.errors import NotFound
from mock_server.faults import SUBMIT_OPERATIONS
from mock_server.faults import FaultError
from mock_server.faults import FaultRule
from mock_server.faults import parse_fault
from mock_server.jobs import STATUSES
from mock_server.jobs import TERMINAL
from mock_server.jobs import Job
from mock_server.resources import vendor_spec_path
from mock_server.store.base import JOURNAL_KINDS

OUTCOMES = ("progress", "completed", "failed", "moderated", "cancelled", "delay")
LATEST = 253402300799.0
"""9999-12-31T23:59:59Z: the manual clock goes no further (an ISO timestamp cannot show a later moment)."""
MAX_WAIT_SECONDS = 60.0
MAX_VIDEOS = 10
ENDPOINTS = (*SUBMIT_OPERATIONS, "submit", "jobs", "cancel", "account")
FILTERS = ("token", "path", "operation", "method", "status", "jobid", "stage")


class Conflict(ApiError):
    status = 409


class ControlOperations:
    """Mixed into :class:`~mock_server.runtime.MockRuntime`; every operation of ``openapi/control.yaml``."""

    _validator: Any = None
    _settings_version = 0

    # --- state and time ----------------------------------------------------------------------

    def reset(self, token: str | None = None) -> None:
        """Forget every tenant with its journals and faults, or only ``token``'s."""
        tenant = digest(token) if token else None
        self.store.reset(tenant)
        self.control.clear(tenant)

    def reseed(self, seed: int) -> None:
        """Restart the seeded RNGs (job ids and timings, account choice, probabilistic faults)."""
        self.service.reseed(seed)
        self._rng = random.Random(f"faults:{seed}")

    def clock_view(self) -> dict[str, Any]:
        now = self.clock.now()
        return {"profile": self.service.timing.name, "manual": isinstance(self.clock, ManualClock),
                "now": now, "iso": iso_millis(now)}

    def set_clock(self, *, profile: str | None = None, now: float | None = None) -> dict[str, Any]:
        """Change the timing profile of new jobs, and/or jump the manual clock forward to ``now``."""
        if profile is not None:
            if not isinstance(profile, str) or profile not in PROFILES:
                raise BadRequest(f"profile must be one of {', '.join(PROFILES)}")
            if (profile == "manual") != isinstance(self.clock, ManualClock):
                raise Conflict(f"the server runs a {'manual' if isinstance(self.clock, ManualClock) else 'system'} "
                               f"clock; start it with --clock {profile} to switch between manual and system time")
        if now is not None:
            if not 0 <= float(now) <= LATEST:
                raise BadRequest("now must be epoch seconds between 0 and 253402300799 (9999-12-31T23:59:59Z)")
            if not isinstance(self.clock, ManualClock):
                raise Conflict("only the manual clock can be set")
            if float(now) < self.clock.now():
                raise Conflict("the clock never moves backwards")
        if profile is not None:
            self._publish({"profile": profile})
        if now is not None:
            try:
                self.clock.set(float(now))
            except ValueError as exc:
                raise Conflict(str(exc)) from None
            self.callbacks.dispatch_due()
        return self.clock_view()

    # --- jobs --------------------------------------------------------------------------------

    def force_outcome(self, token: str, jobid: str, outcome: str, *, error: str | None = None,
                      after: float = 0.0) -> dict[str, Any]:
        """Make an executing job reach ``outcome`` now (or ``after`` seconds from now).

        ``progress`` moves it to progress now; ``delay`` pushes its end ``after`` seconds later.
        """
        if outcome not in OUTCOMES:
            raise BadRequest(f"outcome must be one of {', '.join(OUTCOMES)}")
        if after < 0:
            raise BadRequest("after must not be negative")
        if error is not None and not isinstance(error, str):
            raise BadRequest("error must be a string")
        tenant = digest(token)
        now = self.clock.now()

        def change(job: Job) -> None:
            status = job.status_at(now)
            if status in TERMINAL:
                raise Conflict(f"job {jobid} is already {status}; a final status never changes")
            if outcome == "progress":
                job.progress_at = min(job.progress_at, now + after)
            elif outcome == "delay":
                job.ends_at += after
            elif after > 0:
                job.ends_at = now + after
                job.progress_at = min(job.progress_at, job.ends_at)
                job.outcome, job.error = outcome, error if outcome == "failed" else None
            else:
                job.finish(now, outcome, error if outcome == "failed" else None)

        job = self.store.update_job(tenant, jobid, change)
        if job is None:
            raise NotFound(f"Unable to locate job {jobid}")
        self.callbacks.dispatch_due()
        return self.service.renderer.render(job, now, self.public_url)

    # --- faults ------------------------------------------------------------------------------

    def add_fault(self, fault: str, *, endpoint: str | None = None, token: str | None = None,
                  count: int | None = 1, probability: float = 1.0) -> dict[str, Any]:
        """Queue "the next ``count`` requests to ``endpoint`` (of ``token``) answer ``fault``"."""
        return self.control.add_fault(fault_rule(fault, endpoint, token, count, probability)).view()

    def fault_rules(self) -> list[dict[str, Any]]:
        return [rule.view() for rule in self.control.faults()]

    def clear_faults(self, token: str | None = None) -> None:
        self.control.clear_faults(digest(token) if token else None)

    # --- settings: tokens, accounts, moderation, button graph --------------------------------

    def set_tokens(self, *, accepted: Iterable[str] | None = None, expired: Iterable[str] | None = None) -> None:
        """Which API tokens are accepted (empty: any) and which are expired (402)."""
        patch: dict[str, Any] = {}
        if accepted is not None:
            patch["accepted_tokens"] = TokenSet.of(accepted).to_mapping()
        if expired is not None:
            patch["expired_tokens"] = TokenSet.of(expired).to_mapping()
        self._publish(patch)

    def set_accounts(self, accounts: Iterable[Mapping[str, Any]], token: str | None = None) -> list[dict[str, Any]]:
        """Replace ``token``'s accounts, or (no token) the accounts every new tenant starts with."""
        built = [_account(a) for a in accounts]
        if token is None:
            self._publish({"accounts": [asdict(a) for a in built]})
        else:
            # Not service.authenticate: setting up a token the vendor API refuses (401/402) is fine.
            tenant = digest(token)
            self.store.ensure_tenant(tenant, lambda: self.service._tenant_seed(tenant))
            for existing in self.store.accounts(tenant):
                self.store.delete_account(tenant, existing.channel)
            for account in built:
                self.store.put_account(tenant, account)
        return [a.view() for a in built]

    def set_moderation(self, words: Iterable[str]) -> None:
        self._publish({"moderation_words": [str(w) for w in words]})

    def set_button_graph(self, graph: Mapping[str, Any]) -> None:
        _check_button_graph(graph)
        try:
            ButtonGraph.from_mapping(graph)
        except (ValueError, OverflowError) as exc:
            raise BadRequest(str(exc)) from None
        self._publish({"button_graph": dict(graph)})

    def settings_view(self) -> dict[str, Any]:
        return self.service.current_settings()

    def _publish(self, patch: dict[str, Any]) -> None:
        _, current = self.control.settings()
        self.service.apply_settings(patch)
        self._settings_version = self.control.put_settings({**current, **patch})

    def refresh_settings(self) -> None:
        """Apply settings another worker process published (cheap when nothing changed)."""
        version, settings = self.control.settings()
        if version != self._settings_version:
            self.service.apply_settings(settings)
            self._settings_version = version

    # --- journals ----------------------------------------------------------------------------

    def journal(self, kind: str, *, since: int = 0, limit: int | None = None, **filters: Any) -> list[dict[str, Any]]:
        """Entries of the ``requests`` or ``callbacks`` journal, oldest first, filtered.

        Filters: ``token``, ``path`` (prefix), ``operation``, ``method``, ``status``, ``jobid``, ``stage``.
        Request entries carry ``violations``: where the request breaks ``openapi/pixverse-v1.yaml``.
        """
        entries = self.control.entries(_kind(kind), since, _accept(filters), limit)
        return [self._annotate(kind, e) for e in entries]

    def wait_for(self, kind: str, *, timeout: float = 5.0, since: int = 0, **filters: Any) -> dict[str, Any] | None:
        """Block until a matching entry is recorded (or ``timeout`` seconds pass: ``None``)."""
        entry = self.control.wait(_kind(kind), since, _accept(filters), min(max(timeout, 0.0), 60.0))
        return self._annotate(kind, entry) if entry is not None else None

    def _annotate(self, kind: str, entry: dict[str, Any]) -> dict[str, Any]:
        if kind != "requests":
            return dict(entry)
        if self._validator is None:
            from mock_server.control.validation import RequestValidator  # jsonschema: only when read

            self._validator = RequestValidator(vendor_spec_path())
        return {**entry, "violations": self._validator.violations(entry)}


def _account(data: Any) -> Account:
    """An account from its control-plane mapping (``discord``, ``server``, ``channel``, ``maxJobs``, ``replyUrl``)."""
    problem = "each account needs discord, server and channel (non-empty strings), maybe maxJobs (1-10) and replyUrl"
    if not isinstance(data, Mapping):
        raise BadRequest(problem)
    values = [data.get(name) for name in ("discord", "server", "channel")]
    max_jobs, reply_url = data.get("maxJobs", 10), data.get("replyUrl")
    if not all(isinstance(v, str) and v for v in values) or reply_url is not None and not isinstance(reply_url, str):
        raise BadRequest(problem)
    if isinstance(max_jobs, bool) or not isinstance(max_jobs, int) or not 1 <= max_jobs <= 10:
        raise BadRequest(problem)
    discord, server, channel = values
    return Account.create(discord=discord, server=server, channel=channel, max_jobs=max_jobs, reply_url=reply_url)


def _check_button_graph(graph: Any) -> None:
    """The types :meth:`ButtonGraph.from_mapping` would otherwise coerce silently (strings as lists...)."""
    problem = ("button graph needs results ({kind: {buttons: [..], videos: 1-10}}), verbs and buttons "
               "(string to string) and prompt_buttons (a list of strings)")
    if not isinstance(graph, Mapping) or not isinstance(graph.get("results"), Mapping):
        raise BadRequest(problem)
    for spec in graph["results"].values():
        if not isinstance(spec, Mapping) or not _strings(spec.get("buttons")):
            raise BadRequest(problem)
        videos = spec.get("videos", 1)
        if isinstance(videos, bool) or not isinstance(videos, int) or not 1 <= videos <= MAX_VIDEOS:
            raise BadRequest(problem)
    for name in ("verbs", "buttons"):
        table = graph.get(name)
        if not isinstance(table, Mapping) or not all(isinstance(v, str) for v in table.values()):
            raise BadRequest(problem)
    if not _strings(graph.get("prompt_buttons")):
        raise BadRequest(problem)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def fault_rule(fault: str, endpoint: str | None = None, token: str | None = None, count: int | None = 1,
               probability: float = 1.0) -> FaultRule:
    """A checked :class:`FaultRule` (``BadRequest`` says what is wrong); its ``id`` is set when queued."""
    try:
        parsed = parse_fault(fault)
    except FaultError as exc:
        raise BadRequest(str(exc)) from None
    if endpoint is not None and endpoint not in ENDPOINTS:
        raise BadRequest(f"endpoint must be one of {', '.join(ENDPOINTS)}")
    if parsed.shapes_job and endpoint not in (*SUBMIT_OPERATIONS, "submit"):
        raise BadRequest(f"fault {parsed.kind} needs endpoint {', '.join(SUBMIT_OPERATIONS)} or submit")
    if count is not None and count < 1:
        raise BadRequest("count must be at least 1 (or null: until cleared)")
    if not 0.0 < probability <= 1.0:
        raise BadRequest("probability must be in (0, 1]")
    return FaultRule(0, parsed, endpoint, digest(token) if token else None, count, probability)


def _kind(kind: str) -> str:
    if kind not in JOURNAL_KINDS:
        raise BadRequest("journal must be requests or callbacks")
    return kind


def _accept(filters: Mapping[str, Any]):
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise BadRequest(f"unknown filter {', '.join(sorted(unknown))}; filters: {', '.join(FILTERS)}")
    wanted = {k: v for k, v in filters.items() if v not in (None, "")}
    if "token" in wanted:
        wanted["tenant"] = digest(str(wanted.pop("token")))
    if "status" in wanted and str(wanted["status"]).isdigit():
        wanted["status"] = int(wanted["status"])
    if not wanted:
        return None

    def accept(entry: dict[str, Any]) -> bool:
        for key, value in wanted.items():
            if key == "path":
                if not str(entry.get("path", "")).startswith(str(value)):
                    return False
            elif key == "status" and isinstance(value, str) and value in STATUSES:
                if entry.get("jobStatus") != value:
                    return False
            elif entry.get(key) != value:
                return False
        return True

    return accept
