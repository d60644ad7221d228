"""The client contract, judged from traffic: what a correct PixVerse client never does on the wire.

:func:`judge` reads the mock's request journal (entries as ``GET /__mock/journal/requests`` returns
them; mock time in ``at``) and returns every :class:`Violation`, each named after the property it
breaks. The same judge serves the Python property suite and ``pixverse-contract verify``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

SUBMITS = ("meme_face", "button")
TERMINAL = frozenset({"completed", "failed", "moderated", "cancelled"})
PROMPT_BUTTONS = frozenset({"V1", "V2", "V3", "V4", "🔀"})
MIN_RETRY_WAIT = 10.0
MIN_POLL_INTERVAL = 10.0
REJECTIONS = (400, 401, 402, 404, 422)

PROPERTIES: dict[str, str] = {
    "requests_conform_to_spec": "every request validates against openapi/pixverse-v1.yaml",
    "bearer_auth_on_every_request": "every request carries Authorization: Bearer <token>",
    "meme_face_is_multipart_with_file": "meme_face is sent as multipart/form-data with a face file part",
    "buttons_come_from_parent": "a button is one of its parent job's buttons",
    "prompt_only_on_prompt_buttons": "a prompt is sent only with V1, V2, V3, V4 and 🔀",
    "waits_after_429": f"after a 429 the next submit comes at least {MIN_RETRY_WAIT:g} s later",
    "respects_max_jobs": "the client never asks for more than maxJobs executing jobs of its own",
    "polls_no_faster_than_10s": f"the same job is polled at most once every {MIN_POLL_INTERVAL:g} s",
    "stops_polling_at_terminal_status": "a job is not polled again once a final status was seen",
    "no_retry_of_rejected_request": "a request rejected with 400/401/402/404/422 is not sent again unchanged",
    "downloads_completed_results": "a completed job's video is downloaded from its attachment url",
}


@dataclass(frozen=True)
class Violation:
    """One broken property, with the journal entry (``seq``) that shows it."""

    property: str
    message: str
    seq: int | None = None

    def __str__(self) -> str:
        where = f" (request #{self.seq})" if self.seq is not None else ""
        return f"{self.property}: {self.message}{where}"


Entry = dict[str, Any]
Check = Callable[[list[Entry]], Iterable[Violation]]


def judge(entries: Iterable[Entry], *, only: Iterable[str] | None = None) -> list[Violation]:
    """Every violation in ``entries`` (one or many tokens; each token is judged on its own traffic).

    Requests sent without a usable bearer token have no tenant: they are judged together, as one more
    client. Attachment downloads need no token (the videos are public, like Discord's CDN): one made
    without a token counts for every tenant.
    """
    by_tenant: dict[Any, list[Entry]] = defaultdict(list)
    shared: list[Entry] = []
    for entry in sorted(entries, key=lambda e: e.get("seq", 0)):
        if entry.get("tenant") is None and entry.get("operation") == "attachment":
            shared.append(entry)
        else:
            by_tenant[entry.get("tenant")].append(entry)
    wanted = set(only) if only is not None else set(PROPERTIES)
    found: list[Violation] = []
    for traffic in by_tenant.values():
        if shared:
            traffic = sorted(traffic + shared, key=lambda e: e.get("seq", 0))
        for name, check in CHECKS.items():
            if name in wanted:
                found.extend(check(traffic))
    return sorted(found, key=lambda v: (v.seq or 0, v.property))


def _requests_conform(traffic: list[Entry]) -> Iterable[Violation]:
    for e in traffic:
        for problem in e.get("violations") or ():
            yield Violation("requests_conform_to_spec", f"{e['method']} {e['path']}: {problem}", e.get("seq"))


def _bearer(traffic: list[Entry]) -> Iterable[Violation]:
    for e in traffic:
        if e.get("operation") != "attachment" and e.get("auth") != "bearer":
            yield Violation("bearer_auth_on_every_request",
                            f"{e['method']} {e['path']} sent with Authorization {e.get('auth')}", e.get("seq"))


def _multipart(traffic: list[Entry]) -> Iterable[Violation]:
    for e in _of(traffic, "meme_face"):
        files = {f.get("name") for f in e.get("files") or ()}
        if e.get("contentType") != "multipart/form-data" or "face" not in files:
            yield Violation("meme_face_is_multipart_with_file",
                            f"meme_face sent as {e.get('contentType')} with file parts {sorted(files)}", e.get("seq"))


def _buttons(traffic: list[Entry]) -> Iterable[Violation]:
    known: dict[str, list[str]] = {}
    for e in traffic:
        if e.get("operation") == "button":
            fields = e.get("fields") or {}
            parent, button = fields.get("jobid"), fields.get("button")
            offered = known.get(str(parent))
            not_offered = offered is not None and button not in offered
            if not_offered or str(e.get("error", "")).startswith(f"button {button} not supported"):
                yield Violation("buttons_come_from_parent",
                                f"pressed {button!r} on {parent}, whose buttons are {offered}", e.get("seq"))
        if e.get("buttons") and e.get("jobid"):
            known[e["jobid"]] = list(e["buttons"])


def _prompt_buttons(traffic: list[Entry]) -> Iterable[Violation]:
    for e in _of(traffic, "button"):
        fields = e.get("fields") or {}
        if fields.get("prompt") not in (None, "") and fields.get("button") not in PROMPT_BUTTONS:
            yield Violation("prompt_only_on_prompt_buttons",
                            f"sent a prompt with button {fields.get('button')!r}", e.get("seq"))


def _waits_after_429(traffic: list[Entry]) -> Iterable[Violation]:
    last_429: Entry | None = None
    for e in _of(traffic, *SUBMITS):
        if last_429 is not None and not _launched_together(e, last_429):
            waited = e["at"] - last_429["at"]
            if waited < MIN_RETRY_WAIT:
                yield Violation("waits_after_429",
                                f"submitted {waited:g} s after a 429 (request #{last_429.get('seq')})", e.get("seq"))
        if e.get("status") == 429:
            last_429 = e
        elif last_429 is not None and e["at"] - last_429["at"] >= MIN_RETRY_WAIT:
            last_429 = None


def _launched_together(e: Entry, throttled: Entry) -> bool:
    """Another job's submit at the very moment of the 429: sent alongside it, not in answer to it."""
    return e["at"] == throttled["at"] and _request_key(e) != _request_key(throttled)


def _max_jobs(traffic: list[Entry]) -> Iterable[Violation]:
    own: set[str] = set()
    for e in traffic:
        if e.get("operation") in SUBMITS and e.get("status") == 200 and e.get("jobid"):
            own.add(e["jobid"])
        injected = "maxjobs429" in (e.get("faults") or ())
        if e.get("status") == 429 and str(e.get("error", "")).startswith("Maximum of") and not injected:
            executing = set(e.get("executingJobs") or ())
            if executing and executing <= own:
                yield Violation("respects_max_jobs",
                                f"submitted while its own {len(executing)} jobs filled maxJobs", e.get("seq"))


def _poll_interval(traffic: list[Entry]) -> Iterable[Violation]:
    last: dict[str, Entry] = {}
    for e in _of(traffic, "jobs"):
        jobid = (e.get("query") or {}).get("jobid")
        if not jobid:
            continue
        previous = last.get(jobid)
        if previous is not None and e["at"] - previous["at"] < MIN_POLL_INTERVAL:
            yield Violation("polls_no_faster_than_10s",
                            f"polled {jobid} {e['at'] - previous['at']:g} s after the previous poll", e.get("seq"))
        last[jobid] = e


def _stops_at_terminal(traffic: list[Entry]) -> Iterable[Violation]:
    finished: dict[str, str] = {}
    for e in traffic:
        jobid = (e.get("query") or {}).get("jobid") if e.get("operation") == "jobs" else None
        if jobid and jobid in finished:
            yield Violation("stops_polling_at_terminal_status",
                            f"polled {jobid} again after seeing it {finished[jobid]}", e.get("seq"))
        if e.get("jobid") and e.get("jobStatus") in TERMINAL:
            finished.setdefault(e["jobid"], e["jobStatus"])


def _no_retry_of_rejected(traffic: list[Entry]) -> Iterable[Violation]:
    rejected: dict[tuple, Entry] = {}
    for e in _of(traffic, *SUBMITS):
        key = _request_key(e)
        if key in rejected:
            first = rejected[key]
            yield Violation("no_retry_of_rejected_request",
                            f"re-sent the request rejected with {first.get('status')} "
                            f"({first.get('error')}) as request #{first.get('seq')}", e.get("seq"))
        if e.get("status") in REJECTIONS and not e.get("faults"):
            rejected[key] = e


def _downloads(traffic: list[Entry]) -> Iterable[Violation]:
    completed: dict[str, Entry] = {}
    fetched: set[str] = set()
    for e in traffic:
        if e.get("jobStatus") == "completed" and e.get("jobid"):
            completed.setdefault(e["jobid"], e)
        if e.get("operation") == "attachment" and e.get("status") in (200, 206, 304):
            fetched.add(e.get("path", ""))
    if completed and not fetched:
        for jobid, e in completed.items():
            yield Violation("downloads_completed_results", f"{jobid} completed but no video was downloaded",
                            e.get("seq"))


def _of(traffic: list[Entry], *operations: str) -> list[Entry]:
    return [e for e in traffic if e.get("operation") in operations]


def _request_key(e: Entry) -> tuple:
    fields = e.get("fields") or {}
    files = tuple(sorted((f.get("name"), f.get("size")) for f in e.get("files") or ()))
    return (e.get("operation"), e.get("contentType"), e.get("auth"), repr(sorted(fields.items(), key=str)), files)


CHECKS: dict[str, Check] = {
    "requests_conform_to_spec": _requests_conform,
    "bearer_auth_on_every_request": _bearer,
    "meme_face_is_multipart_with_file": _multipart,
    "buttons_come_from_parent": _buttons,
    "prompt_only_on_prompt_buttons": _prompt_buttons,
    "waits_after_429": _waits_after_429,
    "respects_max_jobs": _max_jobs,
    "polls_no_faster_than_10s": _poll_interval,
    "stops_polling_at_terminal_status": _stops_at_terminal,
    "no_retry_of_rejected_request": _no_retry_of_rejected,
    "downloads_completed_results": _downloads,
}
