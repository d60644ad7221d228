"""The judge: every property of the client contract, named, in one place.

It reads what the mock recorded (the request journal, in mock time), what staging gave each job
(:attr:`Stage.accepted`), what the callback relay handed the client, and the client's report (the JSON
of the command protocol, whichever driver produced it), and returns every :class:`Violation`.
The journal-only properties live in :mod:`contract_tests.properties` (``verify`` uses them alone);
:data:`ALL_PROPERTIES` is the whole list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from contract_tests.example import OUTCOMES
from contract_tests.example import SUBMIT_ENDPOINTS
from contract_tests.example import Example
from contract_tests.example import JobSpec
from contract_tests.example import Outcome
from contract_tests.properties import PROPERTIES
from contract_tests.properties import Violation
from contract_tests.properties import judge as judge_traffic

REPORT_PROPERTIES: dict[str, str] = {
    "documented_errors_surface": "every documented error reaches the caller as an error with its code and message",
    "final_failures_are_not_results": "moderated, failed and cancelled jobs are failures, never results",
    "completed_results_reach_caller": "a completed job's videos reach the caller",
    "reports_every_job": "every job of the task is done (or skipped when its parent did not complete) and "
                         "reported once, in a valid report",
    "result_reaches_caller_once": "each job's result reaches the caller exactly once (a duplicate callback is "
                                  "not a second result)",
    "callback_matched_to_job": "a result is the job's own (its jobid), never another job's",
    "falls_back_to_polling": "when a job's callback never comes, the client polls GET jobs for it",
    "sends_what_was_asked": "every field the caller asked for (replyRef, negative_prompt, seed_value, "
                            "aspect_ratio, maxJobs, replyUrl...) is sent as given and echoed by the job",
    "finishes_within_budget": "the client finishes each task within its budget of mock time, requests and "
                              "wall time (no endless polling, unbounded retries or hangs)",
}
ALL_PROPERTIES: dict[str, str] = {**PROPERTIES, **REPORT_PROPERTIES}


@dataclass
class Evidence:
    """Everything the judge reads for one example."""

    example: Example
    traffic: list[dict[str, Any]]
    report: Mapping[str, Any] | None
    accepted: Mapping[str, Outcome] = field(default_factory=dict)
    records: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """The job record the mock keeps for each accepted jobid (what the job echoes)."""
    reply_url: str | None = None
    callbacks_delivered: Mapping[str, int] = field(default_factory=dict)
    problem: str | None = None
    over_budget: str | None = None


def judge_example(evidence: Evidence) -> list[Violation]:
    """Every violation of :data:`ALL_PROPERTIES` in one example."""
    wanted = set(PROPERTIES)
    if evidence.example.invalid_input:
        wanted.discard("requests_conform_to_spec")  # the example itself asked for an invalid request
    found = judge_traffic(evidence.traffic, only=wanted)
    if evidence.over_budget:
        found.append(Violation("finishes_within_budget", evidence.over_budget))
    found += _judge_report(evidence)
    return sorted(found, key=lambda v: (v.seq or 0, v.property))


# --- attribution: which requests were which job's ------------------------------------------------


@dataclass
class Attempts:
    """The submit requests of one task job, and the jobid the API gave it (if any)."""

    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def accepted(self) -> dict[str, Any] | None:
        return next((e for e in self.requests if e.get("status") == 200 and e.get("jobid")), None)

    @property
    def last(self) -> dict[str, Any] | None:
        return self.requests[-1] if self.requests else None


def attribute(example: Example, traffic: Iterable[dict[str, Any]]) -> dict[str, Attempts]:
    """Submit requests per task job.

    meme_face by its prompt (unique per task), a button by its parent's jobid and its button (or by
    the parent alone when only one job of the task presses on it).
    """
    attempts = {job.id: Attempts() for job in example.jobs}
    jobids: dict[str, str] = {}
    for entry in traffic:
        if entry.get("operation") not in SUBMIT_ENDPOINTS:
            continue
        fields = entry.get("fields") or {}
        job = _job_of(example, entry["operation"], fields, jobids)
        if job is None:
            continue
        attempts[job.id].requests.append(entry)
        if entry.get("status") == 200 and entry.get("jobid"):
            jobids.setdefault(job.id, str(entry["jobid"]))
    return attempts


def _job_of(example: Example, operation: str, fields: Mapping[str, Any], jobids: Mapping[str, str]) -> JobSpec | None:
    if operation == "meme_face":
        prompt = _text(fields.get("prompt"))
        return next((j for j in example.jobs if j.endpoint == "meme_face" and j.prompt == prompt), None)
    parent_of = {jobid: job_id for job_id, jobid in jobids.items()}
    parent = parent_of.get(str(fields.get("jobid")))
    candidates = [j for j in example.jobs if j.endpoint == operation and j.parent == parent]
    exact = [j for j in candidates if j.button == fields.get("button")]
    return exact[0] if exact else candidates[0] if len(candidates) == 1 else None


# --- the report -----------------------------------------------------------------------------------


def _judge_report(ev: Evidence) -> list[Violation]:
    results, found = _results(ev)
    if results is None:
        return found
    attempts = attribute(ev.example, ev.traffic)
    completed: set[str] = set()
    for job in ev.example.jobs:  # task order: a parent is judged before its buttons
        found += _judge_job(ev, job, attempts[job.id], results.get(job.id, []), completed)
    found += _reported_twice(results)
    found += _asked_is_sent(ev, attempts)
    if ev.example.callbacks:
        found += _falls_back(ev, attempts)
    return found


def _results(ev: Evidence) -> tuple[dict[str, list[dict[str, Any]]] | None, list[Violation]]:
    if ev.report is None:
        if ev.over_budget:
            return None, []  # the budget verdict says it all
        return None, [Violation("reports_every_job", f"no report: {ev.problem or 'the client wrote none'}")]
    entries = ev.report.get("results") if isinstance(ev.report, Mapping) else None
    if not isinstance(entries, list):
        return None, [Violation("reports_every_job", "the report has no 'results' list")]
    ids = {job.id for job in ev.example.jobs}
    results: dict[str, list[dict[str, Any]]] = {}
    found: list[Violation] = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("job") not in ids or entry.get("outcome") not in OUTCOMES:
            found.append(Violation("reports_every_job", f"invalid report entry {entry!r}"[:300]))
            continue
        results.setdefault(entry["job"], []).append(entry)
    return results, found


def _judge_job(ev: Evidence, job: JobSpec, attempts: Attempts, entries: list[dict[str, Any]],
               completed: set[str]) -> list[Violation]:
    accepted, last = attempts.accepted, attempts.last
    if not entries:
        if ev.over_budget:
            return []
        return [Violation("reports_every_job", f"job {job.id} is missing from the report")]
    result = entries[0]
    outcome = result["outcome"]
    if accepted is not None:
        jobid = str(accepted["jobid"])
        fate = ev.accepted.get(jobid, Outcome())
        if fate.status == "completed":
            completed.add(job.id)
        return _judge_accepted(job, jobid, fate, result)
    if last is None:
        runnable = job.parent is None or job.parent in completed
        if runnable and outcome != "skipped" and not ev.over_budget:
            return [Violation("reports_every_job", f"job {job.id} was reported {outcome} but never submitted")]
        if runnable and not ev.over_budget:
            return [Violation("reports_every_job", f"job {job.id} could run but was skipped")]
        if not runnable and outcome == "completed":
            return [Violation("final_failures_are_not_results",
                              f"job {job.id} reported completed though its parent {job.parent} did not complete")]
        return []
    return _judge_rejected(job, last, result)


def _judge_accepted(job: JobSpec, jobid: str, fate: Outcome, result: dict[str, Any]) -> list[Violation]:
    outcome = result["outcome"]
    found: list[Violation] = []
    reported = result.get("jobid")
    if reported is not None and str(reported) != jobid:
        found.append(Violation("callback_matched_to_job",
                               f"job {job.id} ({jobid}) was given the result of {reported}"))
    if fate.status == "completed":
        if outcome != "completed" or not result.get("files"):
            found.append(Violation("completed_results_reach_caller",
                                   f"job {job.id} ({jobid}) completed, but the caller got {_show(result)}"))
        return found
    if outcome == "completed":
        found.append(Violation("final_failures_are_not_results",
                               f"job {job.id} ({jobid}) ended {fate.status} but was returned as a result: "
                               f"{_show(result)}"))
    elif outcome == "job_failed" and not (isinstance(result.get("message"), str) or result.get("status")):
        found.append(Violation("documented_errors_surface",
                               f"the {fate.status} job {job.id} failed without a status or message: {_show(result)}"))
    elif outcome == "error" and not _has_code_and_message(result):
        found.append(Violation("documented_errors_surface",
                               f"the {fate.status} job {job.id} surfaced without code and message: {_show(result)}"))
    elif outcome == "skipped":
        found.append(Violation("reports_every_job", f"job {job.id} ({jobid}) was submitted but reported skipped"))
    return found


def _judge_rejected(job: JobSpec, last: dict[str, Any], result: dict[str, Any]) -> list[Violation]:
    """The API's last answer to the job was an error: the caller must get it with its code and message."""
    status, message = last.get("status"), last.get("error")
    shown = f"{status} {message!r}"
    if result["outcome"] in ("completed", "job_failed", "skipped"):
        return [Violation("documented_errors_surface",
                          f"job {job.id}: the answer {shown} reached the caller as {_show(result)}", last.get("seq"))]
    if not _has_code_and_message(result):
        return [Violation("documented_errors_surface",
                          f"job {job.id}: the answer {shown} surfaced without code and message: {_show(result)}",
                          last.get("seq"))]
    if isinstance(status, int) and status < 500 and (result.get("code"), result.get("message")) != (status, message):
        return [Violation("documented_errors_surface",
                          f"job {job.id}: the answer {shown} surfaced as {result.get('code')} "
                          f"{result.get('message')!r}", last.get("seq"))]
    return []


def _reported_twice(results: Mapping[str, list[dict[str, Any]]]) -> list[Violation]:
    found = [Violation("result_reaches_caller_once", f"job {job_id} was reported {len(entries)} times")
             for job_id, entries in results.items() if len(entries) > 1]
    jobids = Counter(str(e["jobid"]) for entries in results.values() for e in entries[:1]
                     if e.get("jobid") and e["outcome"] in ("completed", "job_failed"))
    found += [Violation("result_reaches_caller_once", f"the result of {jobid} was given to {count} jobs")
              for jobid, count in jobids.items() if count > 1]
    return found


def _asked_is_sent(ev: Evidence, attempts: Mapping[str, Attempts]) -> list[Violation]:
    found: list[Violation] = []
    for job in ev.example.jobs:
        asked = dict(job.fields)
        if job.prompt is not None:
            asked["prompt"] = job.prompt
        if ev.reply_url:
            asked["replyUrl"] = ev.reply_url
        for entry in attempts[job.id].requests:
            sent = entry.get("fields") or {}
            for name, value in asked.items():
                if _text(sent.get(name)) != _text(value):
                    found.append(Violation("sends_what_was_asked",
                                           f"job {job.id} asked for {name}={value!r} but sent "
                                           f"{sent.get(name)!r}", entry.get("seq")))
        accepted = attempts[job.id].accepted
        record = ev.records.get(str(accepted["jobid"])) if accepted else None
        if record is not None:
            for name, value in asked.items():
                if name != "prompt" and name in _ECHOED and _text(record.get(name)) != _text(value):
                    found.append(Violation("sends_what_was_asked",
                                           f"job {job.id} asked for {name}={value!r}; the job echoes "
                                           f"{record.get(name)!r}", accepted.get("seq")))
    return found


_ECHOED = ("replyRef", "negative_prompt", "seed_value", "aspect_ratio", "maxJobs", "replyUrl")


def _falls_back(ev: Evidence, attempts: Mapping[str, Attempts]) -> list[Violation]:
    polled = {(e.get("query") or {}).get("jobid") for e in ev.traffic if e.get("operation") == "jobs"}
    found = []
    for job in ev.example.jobs:
        accepted = attempts[job.id].accepted
        if accepted is None:
            continue
        jobid = str(accepted["jobid"])
        if not ev.callbacks_delivered.get(jobid) and jobid not in polled:
            found.append(Violation("falls_back_to_polling",
                                   f"the callback of job {job.id} ({jobid}) never came and it was never polled"))
    return found


def _has_code_and_message(result: Mapping[str, Any]) -> bool:
    return isinstance(result.get("code"), int) and isinstance(result.get("message"), str)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _show(result: Mapping[str, Any]) -> str:
    return repr({k: v for k, v in result.items() if k != "job"})[:200]


__all__ = ["ALL_PROPERTIES", "REPORT_PROPERTIES", "Evidence", "Violation", "judge_example"]
