"""A reference PixVerse v1 client (requests) that keeps every property of the client contract.

Copy it as a starting point. What it does right, in order of how often clients get it wrong:
it sends ``Authorization: Bearer`` on every call, meme_face as multipart with a file part, waits at
least 10 s (``retry_wait``) after a 429 before it retries, keeps fewer than ``maxJobs`` of its own
jobs executing before it submits another (the ``maxJobs`` field of the submit, else the parent's
for a button, else ``max_jobs``), polls a job at most every 10 s and never again once it is final,
treats moderated/failed/cancelled as failures, surfaces every other error with its code and
message, and never re-sends a rejected request. Given a ``replyUrl``, it waits for the callback
(``on_callback``, your webhook handler), keyed by jobid, so a duplicate or early callback changes
nothing, and polls at the usual pace when none came within ``callback_grace`` seconds.
"""

from __future__ import annotations

import time
from typing import Any
from typing import ClassVar

import requests

from contract_tests.adapter import ApiCallError
from contract_tests.adapter import Sleep

FINAL_FAILURES = ("moderated", "failed", "cancelled")
EXECUTING = ("created", "started", "progress")
FINAL_STATUSES = ("completed", *FINAL_FAILURES)


class JobFailed(ApiCallError):
    """The job ended moderated, failed or cancelled: a final failure, not a result."""


class OwnJobs:
    """What a client keeps of its own jobs: those executing (for ``maxJobs``) and the final ones.

    A final job is never polled again. Needs ``max_jobs``, ``_executing`` and ``_final``.
    """

    max_jobs: int
    _executing: dict[str, str]
    _final: dict[str, dict[str, Any]]

    def _limit(self, max_jobs: Any) -> int:
        """The ``maxJobs`` a submit carries, as a number (else the client's default)."""
        try:
            return max(1, int(max_jobs)) if max_jobs is not None else self.max_jobs
        except (TypeError, ValueError):
            return self.max_jobs

    def _track(self, job: dict[str, Any]) -> None:
        jobid, status = job.get("jobid"), job.get("status")
        if not jobid or jobid in self._final:
            return  # unknown, or already final (a callback may come before the submit answer)
        if status in EXECUTING:
            self._executing[jobid] = status
        else:
            self._executing.pop(jobid, None)
            if status in FINAL_STATUSES:
                self._final[jobid] = job


class ReferenceClient(OwnJobs):
    """The reference implementation of :class:`~contract_tests.adapter.PixverseClientAdapter`.

    Time is only ever spent through ``sleep``, and the client counts what it slept: a job is polled
    again only once ``poll_interval`` seconds of its own sleeping have passed since the last poll
    (real time passes at least as fast), whoever asks for it. A job seen in a final status is never
    polled again: its last answer is kept and given back.
    """

    retried_statuses: ClassVar[frozenset[int]] = frozenset({429})
    """Answers worth the same request again after ``retry_wait``: only the two 429s."""

    def __init__(self, base_url: str, token: str, sleep: Sleep = time.sleep, *, poll_interval: float = 10.0,
                 retry_wait: float = 10.0, max_retries: int = 30, max_polls: int = 200, max_jobs: int = 10,
                 timeout: float = 30.0, callback_grace: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.sleep = sleep
        self.poll_interval = poll_interval
        self.retry_wait = retry_wait
        self.max_retries = max_retries
        self.max_polls = max_polls
        self.max_jobs = max_jobs
        self.timeout = timeout
        self.callback_grace = callback_grace
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self._executing: dict[str, str] = {}
        """Own jobs last seen executing, oldest first."""
        self._final: dict[str, dict[str, Any]] = {}
        """Own jobs seen in a final status: their last answer."""
        self._polled_at: dict[str, float] = {}
        self._by_callback: dict[str, float] = {}
        """Own jobs submitted with a ``replyUrl``: when (in slept seconds) they were submitted."""
        self._slept = 0.0

    @classmethod
    def make(cls, base_url: str, token: str, sleep: Sleep) -> ReferenceClient:
        return cls(base_url, token, sleep)

    # --- the adapter protocol -----------------------------------------------------------------

    def submit_meme_face(self, face: bytes, prompt: str, **fields: Any) -> dict[str, Any]:
        form = {name: (None, str(value)) for name, value in fields.items() if value is not None}
        form["prompt"] = (None, prompt)
        form["face"] = ("face.png", face, "image/png")
        limit = self._limit(fields.get("maxJobs"))
        return self._submit("meme_face", limit, bool(fields.get("replyUrl")), files=form)

    def press_button(self, jobid: str, button: str, prompt: str | None = None, **fields: Any) -> dict[str, Any]:
        body = {"jobid": jobid, "button": button, **{k: v for k, v in fields.items() if v is not None}}
        if prompt is not None:
            body["prompt"] = prompt
        # A button job runs on the parent's channel, with the parent's maxJobs unless told otherwise.
        parent_limit = self._final.get(jobid, {}).get("maxJobs")
        limit = self._limit(fields.get("maxJobs") or parent_limit)
        return self._submit("button", limit, bool(fields.get("replyUrl")), json=body)

    def get_job(self, jobid: str) -> dict[str, Any]:
        if jobid in self._final:
            return self._final[jobid]
        last = self._polled_at.get(jobid)
        if last is not None and self._slept - last < self.poll_interval:
            self._sleep(self.poll_interval - (self._slept - last))
        self._polled_at[jobid] = self._slept
        job = self._call("GET", "jobs/", params={"jobid": jobid})
        self._track(job)
        return job

    def wait_for_result(self, jobid: str) -> dict[str, Any]:
        if jobid in self._by_callback:
            while jobid not in self._final and self._slept - self._by_callback[jobid] < self.callback_grace:
                self._sleep(self.poll_interval)  # the callback arrives while we sleep
        for _ in range(self.max_polls):
            job = self.get_job(jobid)  # paces itself: at most one poll per poll_interval
            status = job.get("status")
            if status == "completed":
                return job
            if status in FINAL_FAILURES:
                raise JobFailed(422 if status == "moderated" else 500, job.get("error") or f"job {status}", job)
        raise TimeoutError(f"job {jobid} did not finish after {self.max_polls} polls")

    def download(self, url: str) -> bytes:
        response = self.session.get(url, timeout=self.timeout)
        response.raise_for_status()
        return response.content

    def on_callback(self, job: dict[str, Any]) -> None:
        """A job record POSTed to the ``replyUrl`` (call it from your webhook handler)."""
        if job.get("jobid") and job.get("status") in FINAL_STATUSES:
            self._track(job)

    # --- internals -----------------------------------------------------------------------------

    def _submit(self, endpoint: str, limit: int, by_callback: bool = False, **body: Any) -> dict[str, Any]:
        for attempt in range(self.max_retries + 1):
            self._wait_for_room(limit)
            try:
                job = self._call("POST", endpoint, **body)
            except ApiCallError as error:
                if error.code not in self.retried_statuses or attempt == self.max_retries:
                    raise
                self._sleep(self.retry_wait)
                continue
            if by_callback and job.get("jobid"):
                self._by_callback[job["jobid"]] = self._slept
            self._track(job)
            return job
        raise AssertionError("unreachable")

    def _wait_for_room(self, limit: int) -> None:
        """Keep fewer than ``limit`` own jobs executing before a submit: poll the oldest until one ends."""
        for _ in range(self.max_polls):
            if len(self._executing) < limit:
                return
            self.get_job(next(iter(self._executing)))
        raise TimeoutError(f"{len(self._executing)} jobs still executing after {self.max_polls} polls")

    def _sleep(self, seconds: float) -> None:
        self.sleep(seconds)
        self._slept += seconds

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.session.request(method, f"{self.base_url}/pixverse/{path}", timeout=self.timeout, **kwargs)
        return self._answer(response)

    def _answer(self, response: requests.Response) -> dict[str, Any]:
        """The JSON body of a 200; any other status raises :class:`ApiCallError` with its code and message."""
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if response.status_code != 200:
            raise ApiCallError(response.status_code, str(body.get("error") or response.reason), body)
        return body
