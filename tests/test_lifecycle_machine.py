"""Job lifecycles under random interleavings: a hypothesis state machine over the in-process mock.

Two tenants (two API tokens) share one fresh mock per example, on the manual clock; each tenant
has two accounts with small ``maxJobs`` (2 and 3) and the fixture's seed jobs (button parents of
every verb). Rules submit ``create``, ``create_single``, ``animate`` and ``meme_face`` jobs (with or
without ``channel`` / ``maxJobs``, sometimes a moderated word), press any of the 11 buttons on known
jobs (sometimes with a prompt), poll, cancel, probe unknown job ids, use the other tenant's token
and move the clock by 0-5 s. A model keeps, for every acknowledged job, the last status seen, and
predicts every answer (200, 400, 404, 422 or 429, with its exact message) from it.

Invariants, after every step:

(a) a job's status never goes backwards (started < progress < terminal) and never leaves a
    terminal status;
(b) the jobs executing on an account (channel) never exceed the ``maxJobs`` limit in force, i.e.
    the limit used by the latest admission on that channel (only an admission adds a job);
(c) every acknowledged job reads back with its own token and is 404 for the other token;
(d) every answer is JSON, never 5xx, errors in the vendor envelope ``{"error", "code"}``.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from dataclasses import field
from functools import cache
from typing import Any

import yaml
from hypothesis import assume
from hypothesis import event
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle
from hypothesis.stateful import RuleBasedStateMachine
from hypothesis.stateful import initialize
from hypothesis.stateful import invariant
from hypothesis.stateful import multiple
from hypothesis.stateful import precondition
from hypothesis.stateful import rule

from mock_server import MockConfig
from mock_server import create_app
from mock_server import mock_of
from mock_server.resources import fixtures_dir

# --- the world the machine runs in ---------------------------------------------------------------

OWNER = "user:1-lifecycle-alpha"
OTHER = "user:2-lifecycle-beta"
TOKENS = (OWNER, OTHER)

CHANNEL_A = "1200000000000000001"
CHANNEL_B = "1200000000000000002"
UNCONFIGURED_CHANNEL = "1299999999999999999"
ACCOUNT_LIMITS = {CHANNEL_A: 2, CHANNEL_B: 3}
ACCOUNTS = (
    {"discord": "lifecycle-discord-token-aaaaaaaaaaaaaaaa", "server": "1100000000000000001",
     "channel": CHANNEL_A, "maxJobs": ACCOUNT_LIMITS[CHANNEL_A]},
    {"discord": "lifecycle-discord-token-bbbbbbbbbbbbbbbb", "server": "1100000000000000001",
     "channel": CHANNEL_B, "maxJobs": ACCOUNT_LIMITS[CHANNEL_B]},
)
MODERATED_WORDS = ("nsfw", "gore")

# From the vendor pages (copied, not imported, so the mock's constants are checked too).
BUTTONS = ("U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "ReDo", "🔄", "🔀")
PROMPT_BUTTONS = frozenset({"V1", "V2", "V3", "V4", "🔀"})
EXECUTING = frozenset({"created", "started", "progress"})
TERMINAL = frozenset({"completed", "failed", "moderated", "cancelled"})
RANK = {"created": 0, "started": 1, "progress": 2, **dict.fromkeys(TERMINAL, 3)}
DEFAULT_MAX_JOBS = 10

MISSING = {
    "meme_face": "face, prompt, discord, server or channel value is missing",
    "create": "prompt, style, discord, server or channel value is missing",
    "create_single": "prompt, style, discord, server or channel value is missing",
    "animate": "image, discord, server or channel value is missing",
}
SUBMITS = tuple(MISSING)
MAX_JOBS_EXECUTING = "Maximum of {limit} jobs executing in parallel supported"
MODERATED = (
    "Apologies! Our AI moderator thinks this prompt or images as potentially violating our "
    "[community guidelines](<https://discord.com/channels/1140860020586713128/1168473004498501652>)."
)
JOB_NOT_FOUND = "Unable to locate job {jobid}"
BUTTON_NOT_SUPPORTED = "button {button} not supported"
BUTTON_NO_PROMPT = "button {button} does not support prompt"
# Mock choices (README "Assumptions").
MAX_JOBS_RANGE = "maxJobs {raw} valid range 1-10"
PARENT_NOT_COMPLETED = "Job {jobid} status is {status}, button requires a completed job"

FACE = (fixtures_dir() / "faces" / "face.png").read_bytes()


@cache
def seed_job_ids() -> tuple[str, ...]:
    """Job ids every tenant starts with (``fixtures/seed-jobs.yaml``): button parents."""
    path = MockConfig().seed_jobs
    if path is None or not path.is_file():
        return ()
    return tuple(str(record["jobid"]) for record in yaml.safe_load(path.read_text(encoding="utf-8")) or [])


# --- strategies --------------------------------------------------------------------------------

tokens = st.sampled_from((OWNER, OWNER, OWNER, OTHER))
"""Mostly the first token; sometimes the second tenant."""

as_other_tenant = st.sampled_from((False, False, False, True))
"""Whether a rule on a known job uses the token that does *not* own it."""

benign_words = st.sampled_from(("girl", "laughing", "by", "the", "seaside", "cat", "rain", "ünïcode", "✨"))


@st.composite
def prompts(draw: st.DrawFn) -> str:
    """A short prompt; about one in eight holds a moderated word (any case)."""
    words = draw(st.lists(benign_words, min_size=1, max_size=6))
    if draw(st.integers(0, 7)) == 0:
        word = draw(st.sampled_from(MODERATED_WORDS))
        word = word.upper() if draw(st.booleans()) else word
        words.insert(draw(st.integers(0, len(words))), word)
    return " ".join(words)


@st.composite
def max_jobs_values(draw: st.DrawFn) -> int | str | None:
    """The optional per-submit ``maxJobs``: mostly absent or small, sometimes a string or invalid."""
    kind = draw(st.integers(0, 9))
    if kind < 4:
        return None
    if kind < 6:
        return draw(st.integers(1, 3))  # small limits, reached within a few steps
    if kind < 8:
        return draw(st.integers(1, 10))
    if kind < 9:
        return str(draw(st.integers(1, 10)))  # numbers may arrive as strings
    return draw(st.sampled_from((0, 11, "many")))  # out of range: the documented 400


@st.composite
def submit_forms(draw: st.DrawFn) -> dict[str, Any]:
    """A submit of one of the four verbs (``kind``): with or without ``channel``, ``maxJobs``, ``negative_prompt``."""
    form: dict[str, Any] = {"kind": draw(st.sampled_from(SUBMITS)), "prompt": draw(prompts())}
    channel = draw(st.sampled_from((None, None, None, CHANNEL_A, CHANNEL_A, CHANNEL_B, CHANNEL_B,
                                    UNCONFIGURED_CHANNEL)))
    if channel is not None:
        form["channel"] = channel
    max_jobs = draw(max_jobs_values())
    if max_jobs is not None:
        form["maxJobs"] = max_jobs
    if draw(st.integers(0, 4)) == 0:
        form["negative_prompt"] = draw(prompts())
    return form


@st.composite
def button_forms(draw: st.DrawFn) -> dict[str, Any]:
    """A button press (without ``jobid``): any of the 11 buttons, sometimes a prompt or ``maxJobs``."""
    form: dict[str, Any] = {"button": draw(st.sampled_from(BUTTONS))}
    if draw(st.integers(0, 2)) == 0:
        form["prompt"] = draw(prompts())
    max_jobs = draw(max_jobs_values())
    if max_jobs is not None:
        form["maxJobs"] = max_jobs
    return form


unknown_job_ids = st.builds(
    "j{:013d}-u{:d}-c{}-bot:pixverse".format,
    st.integers(0, 10**13 - 1),
    st.integers(1, 10**18),
    st.sampled_from((CHANNEL_A, CHANNEL_B, UNCONFIGURED_CHANNEL)),
)
"""Ids shaped like the vendor's, that no tenant has."""

clock_steps = st.one_of(st.integers(0, 1500), st.integers(0, 5000)).map(lambda ms: ms / 1000)
"""Seconds to move the manual clock: 0 to 5, often under 1.5 (``progress`` after 1 s, done after 3 s)."""


# --- the model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobRef:
    """A job as acknowledged to one tenant (seed job ids exist once per tenant)."""

    owner: str
    jobid: str


@dataclass
class SeenJob:
    channel: str
    status: str
    buttons: tuple[str, ...] = ()
    seeded: bool = False
    max_jobs: int = 10


@dataclass
class Answer:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


def other(token: str) -> str:
    return OTHER if token == OWNER else OWNER


def parse_max_jobs(value: Any) -> tuple[bool, int | None]:
    """``(valid, number)`` for a ``maxJobs`` field as the mock reads it (numeric strings allowed)."""
    if value is None:
        return True, None
    if isinstance(value, int):
        return 1 <= value <= 10, value
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        number = int(value)
        return 1 <= number <= 10, number
    return False, None


class LifecycleMachine(RuleBasedStateMachine):
    jobs = Bundle("jobs")

    def __init__(self) -> None:
        super().__init__()
        self.app = create_app(MockConfig(
            clock="manual", accounts=ACCOUNTS, moderation_words=MODERATED_WORDS, seed=20240909,
        ))
        self.runtime = mock_of(self.app)
        self.client = self.app.test_client()
        self.seen: dict[JobRef, SeenJob] = {}
        # Finished seed jobs: seen once at start, and polled like any other job from the first rule
        # that uses them (until then nothing can change them).
        self.dormant: dict[JobRef, SeenJob] = {}
        # (tenant, channel) -> the maxJobs limit of the latest admission on that channel
        self.limit_in_force: dict[tuple[str, str], int] = {}
        self.fresh = False

    # --- preconditions (plain functions, defined before the rules that name them) -------------

    def has_busy_account(self) -> bool:
        return bool(self.busy_accounts())

    def has_completed_parent(self) -> bool:
        return bool(self.completed_parents())

    def has_executing_job(self) -> bool:
        return any(job.status in EXECUTING for job in self.seen.values())

    # --- HTTP with invariant (d) on every answer ---------------------------------------------

    def call(self, method: str, path: str, token: str | None, **kwargs: Any) -> Answer:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.client.open(path, method=method, headers=headers, **kwargs)
        where = f"{method} {path} -> {response.status_code}: {response.get_data(as_text=True)[:500]}"
        assert response.status_code < 500, f"server error: {where}"
        assert response.is_json, f"not JSON: {where}"
        body = response.get_json()
        assert isinstance(body, dict), where
        if response.status_code >= 400:
            assert isinstance(body.get("error"), str) and body["error"], f"no vendor envelope: {where}"
            assert body.get("code") == response.status_code, f"code does not mirror the status: {where}"
        return Answer(response.status_code, body)

    def get_job(self, token: str, jobid: str) -> Answer:
        return self.call("GET", "/v1/pixverse/jobs/", token, query_string={"jobid": jobid})

    def expect_error(self, answer: Answer, status: int, message: str) -> None:
        assert (answer.status, answer.body.get("error")) == (status, message), (answer, status, message)

    # --- model helpers ------------------------------------------------------------------------

    def observe(self, ref: JobRef, status: str, where: str) -> None:
        """Invariant (a): record a status seen for ``ref``, which must not move backwards."""
        job = self.seen[ref]
        before = job.status
        assert status in RANK, f"{where}: unknown status {status!r} for {ref.jobid}"
        if before in TERMINAL:
            assert status == before, f"{where}: {ref.jobid} left terminal status {before} for {status}"
        assert RANK[status] >= RANK[before], f"{where}: {ref.jobid} went back from {before} to {status}"
        job.status = status

    def refresh(self) -> None:
        """Poll every acknowledged job with its own token (once per step) and update the model."""
        if self.fresh:
            return
        for ref, job in self.seen.items():
            answer = self.get_job(ref.owner, ref.jobid)
            assert answer.status == 200, f"(c) acknowledged job {ref.jobid} is gone: {answer}"
            assert answer.body.get("jobid") == ref.jobid
            assert answer.body.get("channel") == job.channel, answer.body
            self.observe(ref, answer.body["status"], "poll")
            if job.status == "completed":
                job.buttons = tuple(answer.body.get("buttons") or ())
        self.fresh = True

    def executing_on(self, tenant: str, channel: str) -> set[str]:
        return {ref.jobid for ref, job in self.seen.items()
                if ref.owner == tenant and job.channel == channel and job.status in EXECUTING}

    def acknowledge(self, token: str, answer: Answer, channel: str, limit: int) -> JobRef:
        """A job the mock admitted (200, or 422 with ``jobid``): read it back and add it to the model."""
        jobid = answer.body["jobid"]
        ref = JobRef(token, jobid)
        assert ref not in self.seen, f"job id {jobid} handed out twice"
        readback = self.get_job(token, jobid)
        assert readback.status == 200, f"(c) acknowledged job {jobid} cannot be read back: {readback}"
        assert readback.body.get("channel") == channel, (readback.body, channel)
        assert readback.body.get("maxJobs") == limit, f"limit in force {limit}, job says {readback.body}"
        first_status = answer.body["status"]
        self.seen[ref] = SeenJob(channel=channel, status=first_status, max_jobs=limit)
        self.observe(ref, readback.body["status"], "read back")
        self.limit_in_force[(token, channel)] = limit
        return ref

    def check_max_jobs_answer(self, token: str, answer: Answer, candidates: dict[str, int]) -> None:
        """A 429: the message names the limit, and ``executingJobs`` are really executing there."""
        assert answer.status == 429, f"every candidate is full {candidates}, got {answer}"
        limit = max(candidates.values())
        assert answer.body["error"] == MAX_JOBS_EXECUTING.format(limit=limit), answer.body
        listed = answer.body.get("executingJobs")
        assert isinstance(listed, list), answer.body
        expected = set().union(*(self.executing_on(token, channel) for channel in candidates))
        assert set(listed) == expected, f"executingJobs {listed}, the model says {sorted(expected)}"
        assert len(listed) == len(set(listed)), f"duplicates in executingJobs {listed}"
        for jobid in listed:
            readback = self.get_job(token, jobid)
            assert readback.status == 200 and readback.body["status"] in EXECUTING, (jobid, readback)
            assert readback.body["channel"] in candidates, (jobid, readback.body, candidates)

    # --- rules ----------------------------------------------------------------------------------

    @initialize(target=jobs)
    def tenants_start_with_seed_jobs(self) -> Any:
        """Every tenant starts with the fixture's seed jobs; the first tenant's join the bundle."""
        for token in TOKENS:
            for jobid in seed_job_ids():
                answer = self.get_job(token, jobid)
                assert answer.status == 200, f"seed job {jobid} missing for a fresh tenant: {answer}"
                job = SeenJob(channel=str(answer.body.get("channel", "")), status=answer.body["status"],
                              buttons=tuple(answer.body.get("buttons") or ()), seeded=True,
                              max_jobs=int(answer.body.get("maxJobs", DEFAULT_MAX_JOBS)))
                ref = JobRef(token, jobid)
                if job.status in EXECUTING:
                    self.seen[ref] = job
                else:
                    self.dormant[ref] = job
        return multiple(*(JobRef(OWNER, jobid) for jobid in seed_job_ids()))

    def target(self, token: str, jobid: str) -> JobRef:
        """The job ``token`` addresses as ``jobid`` (a dormant seed copy joins the model now)."""
        ref = JobRef(token, jobid)
        if ref in self.dormant:
            self.seen[ref] = self.dormant.pop(ref)
        return ref

    @rule(target=jobs, token=tokens, form=submit_forms())
    def submit_a_job(self, token: str, form: dict[str, Any]) -> Any:
        return self.submit(token, form)

    @precondition(has_busy_account)
    @rule(target=jobs, token=tokens, form=submit_forms())
    def submit_to_a_busy_account(self, token: str, form: dict[str, Any]) -> Any:
        """Aim at the token's busiest account, so that ``maxJobs`` is reached often."""
        channel = max(sorted(ACCOUNT_LIMITS), key=lambda c: len(self.executing_on(token, c)))
        return self.submit(token, {**form, "channel": channel})

    def busy_accounts(self) -> list[tuple[str, str]]:
        """(token, channel) of configured accounts that run jobs (as far as the model knows)."""
        return sorted({(ref.owner, job.channel) for ref, job in self.seen.items()
                       if job.status in EXECUTING and job.channel in ACCOUNT_LIMITS})

    def submit(self, token: str, form: dict[str, Any]) -> Any:
        self.refresh()
        self.fresh = False
        kind = form["kind"]
        fields = {key: value for key, value in form.items() if key != "kind"}
        path = f"/v1/pixverse/{kind}"
        if kind.startswith("create"):
            answer = self.call("POST", path, token, json={**fields, "style": "Realistic"})
        else:
            upload = "face" if kind == "meme_face" else "image"
            data = {**fields, upload: (io.BytesIO(FACE), "face.png", "image/png")}
            answer = self.call("POST", path, token, data=data, content_type="multipart/form-data")
        event(f"{kind} {answer.status}")

        valid, max_jobs = parse_max_jobs(form.get("maxJobs"))
        if not valid:
            self.expect_error(answer, 400, MAX_JOBS_RANGE.format(raw=form["maxJobs"]))
            return multiple()
        channel = form.get("channel")
        if channel == UNCONFIGURED_CHANNEL:
            self.expect_error(answer, 400, MISSING[kind])
            return multiple()
        chosen = [channel] if channel else list(ACCOUNT_LIMITS)
        candidates = {c: max_jobs or ACCOUNT_LIMITS[c] for c in chosen}
        with_room = {c for c, limit in candidates.items() if len(self.executing_on(token, c)) < limit}
        if not with_room:
            self.check_max_jobs_answer(token, answer, candidates)
            return multiple()

        texts = ("prompt",) if kind == "animate" else ("prompt", "negative_prompt")  # animate has no negative
        moderated = any(re.search(rf"(?<!\w){w}(?!\w)", form.get(key) or "", re.IGNORECASE)
                        for w in MODERATED_WORDS for key in texts)
        if moderated:
            self.expect_error(answer, 422, MODERATED)
            assert answer.body.get("status") == "moderated" and answer.body.get("jobid"), answer.body
            readback = self.get_job(token, answer.body["jobid"])
            used = readback.body.get("channel")
        else:
            assert answer.status == 200, f"expected 200 (room on {sorted(with_room)}), got {answer}"
            assert answer.body["status"] == "started", answer.body
            assert answer.body["verb"] == f"pixverse-{kind}", answer.body
            used = answer.body.get("channel")
        assert used in with_room, f"admitted on {used}, but only {sorted(with_room)} had room"
        ref = self.acknowledge(token, answer, used, candidates[used])
        if moderated:
            assert self.seen[ref].status == "moderated", self.seen[ref]
        return ref

    @rule(target=jobs, parent=jobs, as_other=as_other_tenant, form=button_forms())
    def press_button(self, parent: JobRef, as_other: bool, form: dict[str, Any]) -> Any:
        self.refresh()
        return self.press(other(parent.owner) if as_other else parent.owner, parent, form)

    def completed_parents(self) -> list[JobRef]:
        """Completed jobs that offer buttons (as far as the model knows), seed jobs included."""
        jobs = {**self.dormant, **self.seen}
        return sorted((ref for ref, job in jobs.items() if job.status == "completed" and job.buttons),
                      key=lambda ref: (ref.owner, ref.jobid))

    @precondition(has_completed_parent)
    @rule(target=jobs, parent=jobs, pick=st.integers(0, 10), prompt=st.one_of(st.none(), prompts()),
          max_jobs=st.one_of(st.none(), st.sampled_from(("full", "last slot")), max_jobs_values()))
    def press_an_offered_button(self, parent: JobRef, pick: int, prompt: str | None, max_jobs: Any) -> Any:
        """Press a button a completed job offers (``parent`` if it is one, else the ``pick``-th).

        ``maxJobs``: absent, any, or right at the limit ("full": the jobs executing there, a 429;
        "last slot": one more, the last free slot).
        """
        self.refresh()
        offered = self.completed_parents()
        if parent not in offered:
            parent = offered[pick % len(offered)]
        seen = self.seen[self.target(parent.owner, parent.jobid)]
        form: dict[str, Any] = {"button": seen.buttons[pick % len(seen.buttons)]}
        if prompt is not None and form["button"] in PROMPT_BUTTONS:
            form["prompt"] = prompt
        if max_jobs in ("full", "last slot"):
            running = len(self.executing_on(parent.owner, seen.channel)) + (max_jobs == "last slot")
            max_jobs = min(max(running, 1), 10)
        if max_jobs is not None:
            form["maxJobs"] = max_jobs
        return self.press(parent.owner, parent, form)

    def press(self, token: str, parent: JobRef, form: dict[str, Any]) -> Any:
        self.fresh = False
        answer = self.call("POST", "/v1/pixverse/button", token, json={**form, "jobid": parent.jobid})
        event(f"button {answer.status}")

        button, prompt = form["button"], form.get("prompt")
        valid, max_jobs = parse_max_jobs(form.get("maxJobs"))
        if prompt is not None and button not in PROMPT_BUTTONS:
            self.expect_error(answer, 400, BUTTON_NO_PROMPT.format(button=button))
            return multiple()
        if not valid:
            self.expect_error(answer, 400, MAX_JOBS_RANGE.format(raw=form["maxJobs"]))
            return multiple()
        seen = self.seen.get(self.target(token, parent.jobid))
        if seen is None:
            self.expect_error(answer, 404, JOB_NOT_FOUND.format(jobid=parent.jobid))
            return multiple()
        if seen.status != "completed":
            self.expect_error(answer, 400, PARENT_NOT_COMPLETED.format(jobid=parent.jobid, status=seen.status))
            return multiple()
        if button not in seen.buttons:
            self.expect_error(answer, 400, BUTTON_NOT_SUPPORTED.format(button=button))
            return multiple()
        # Button page: "maxJobs is optional, if provided will override maxJobs value of referenced
        # above jobid, if not provided defaulted to 10." The mock's reading (README, Assumptions):
        # the request's value, else the parent job's.
        limit = max_jobs or seen.max_jobs
        if len(self.executing_on(token, seen.channel)) >= limit:
            self.check_max_jobs_answer(token, answer, {seen.channel: limit})
            return multiple()
        moderated = prompt is not None and any(
            re.search(rf"(?<!\w){w}(?!\w)", prompt, re.IGNORECASE) for w in MODERATED_WORDS)
        if moderated:
            self.expect_error(answer, 422, MODERATED)
            assert answer.body.get("status") == "moderated" and answer.body.get("jobid"), answer.body
        else:
            assert answer.status == 200, f"expected 200, got {answer}"
            assert answer.body["status"] == "started", answer.body
            assert (answer.body["verb"], answer.body["button"]) == ("pixverse-button", button), answer.body
            assert answer.body["parentJobId"] == parent.jobid, answer.body
        return self.acknowledge(token, answer, seen.channel, limit)

    @rule(ref=jobs, as_other=as_other_tenant)
    def poll(self, ref: JobRef, as_other: bool) -> None:
        self.refresh()
        token = other(ref.owner) if as_other else ref.owner
        target = self.target(token, ref.jobid)
        answer = self.get_job(token, ref.jobid)
        if target not in self.seen:
            self.expect_error(answer, 404, JOB_NOT_FOUND.format(jobid=ref.jobid))
            return
        assert answer.status == 200, answer
        self.observe(target, answer.body["status"], "poll rule")

    @rule(ref=jobs, as_other=as_other_tenant)
    def cancel(self, ref: JobRef, as_other: bool) -> None:
        self.refresh()
        self.fresh = False
        token = other(ref.owner) if as_other else ref.owner
        target = self.target(token, ref.jobid)
        answer = self.call("GET", "/v1/pixverse/jobs/cancel/", token, query_string={"jobid": ref.jobid})
        event(f"cancel {answer.status} {answer.body.get('status', '')}")
        if target not in self.seen:
            self.expect_error(answer, 404, JOB_NOT_FOUND.format(jobid=ref.jobid))
            return
        before = self.seen[target].status
        expected = "cancelled" if before in EXECUTING else before
        assert answer.status == 200, answer
        assert (answer.body.get("jobid"), answer.body.get("status")) == (ref.jobid, expected), (before, answer)
        self.observe(target, answer.body["status"], "cancel")

    @rule(token=tokens, jobid=unknown_job_ids, cancel=st.booleans())
    def unknown_job(self, token: str, jobid: str, cancel: bool) -> None:
        assume(all(ref.jobid != jobid for ref in [*self.seen, *self.dormant]))
        path = "/v1/pixverse/jobs/cancel/" if cancel else "/v1/pixverse/jobs/"
        answer = self.call("GET", path, token, query_string={"jobid": jobid})
        self.expect_error(answer, 404, JOB_NOT_FOUND.format(jobid=jobid))

    @precondition(has_executing_job)
    @rule(seconds=clock_steps)
    def advance_clock(self, seconds: float) -> None:
        """Move the manual clock (only useful while some job executes)."""
        self.runtime.advance(seconds)
        self.fresh = False

    # --- invariants -------------------------------------------------------------------------------

    @invariant()
    def statuses_only_move_forward(self) -> None:
        """(a) and the first half of (c): every acknowledged job reads back with its own token."""
        self.refresh()

    @invariant()
    def executing_jobs_within_limit_in_force(self) -> None:
        """(b) per tenant and channel, executing jobs <= the limit of the latest admission there."""
        self.refresh()
        for (tenant, channel), limit in self.limit_in_force.items():
            running = self.executing_on(tenant, channel)
            assert len(running) <= limit, f"{len(running)} jobs executing on {channel}, limit {limit}: {running}"

    @invariant()
    def jobs_invisible_to_the_other_token(self) -> None:
        """(c) a job a tenant submitted is 404 for the other token (seed job ids exist in both)."""
        for ref, job in self.seen.items():
            if job.seeded:
                continue
            answer = self.get_job(other(ref.owner), ref.jobid)
            self.expect_error(answer, 404, JOB_NOT_FOUND.format(jobid=ref.jobid))

    def teardown(self) -> None:
        self.runtime.close()
        assert not self.runtime.errors, f"the mock raised unexpectedly: {self.runtime.errors!r}"


LifecycleMachine.TestCase.settings = settings(stateful_step_count=30, deadline=None, report_multiple_bugs=False)
TestLifecycle = LifecycleMachine.TestCase
