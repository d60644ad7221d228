"""A reference asyncio PixVerse v1 client (httpx) that keeps every property with several jobs in flight.

The async twin of :mod:`contract_tests.reference_client`; copy it as a starting point. What it adds
for concurrency: a submit first reserves a slot under the ``maxJobs`` it carries (check and reserve
with no ``await`` between, so two tasks never take the last slot), and waits by sleeping until its
own executing jobs leave room, never by polling a job another task already polls. The first 429
closes a gate for every task until ``retry_wait`` has passed. Each job is
polled only by the task that waits for it, at most every ``poll_interval`` seconds. Given a
``replyUrl``, it takes the result from the callback (``on_callback``, keyed by jobid) and polls
when none came within ``callback_grace`` seconds.
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any

import httpx

from contract_tests.adapter import ApiCallError
from contract_tests.reference_client import FINAL_FAILURES
from contract_tests.reference_client import FINAL_STATUSES
from contract_tests.reference_client import JobFailed
from contract_tests.reference_client import OwnJobs

AsyncSleep = Callable[[float], Awaitable[None]]


class AsyncReferenceClient(OwnJobs):
    """The reference implementation of :class:`~contract_tests.adapter.AsyncPixverseClientAdapter`."""

    retried_statuses = frozenset({429})

    def __init__(self, base_url: str, token: str, sleep: AsyncSleep, *, poll_interval: float = 10.0,
                 retry_wait: float = 10.0, max_retries: int = 30, max_polls: int = 200, max_jobs: int = 10,
                 timeout: float = 30.0, callback_grace: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.sleep = sleep
        self.poll_interval = poll_interval
        self.retry_wait = retry_wait
        self.max_retries = max_retries
        self.max_polls = max_polls
        self.max_jobs = max_jobs
        self.callback_grace = callback_grace
        self.room_wait = 5.0
        """Seconds between looks for room under maxJobs (or for the end of another task's 429 wait)."""
        self.http = httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=timeout)
        self._executing: dict[str, str] = {}
        """Own jobs last seen executing."""
        self._reserved = 0
        self._final: dict[str, dict[str, Any]] = {}
        self._by_callback: set[str] = set()
        self._throttled = False
        """A task is waiting out a 429: no task submits meanwhile (the API throttles the account, not a job)."""

    @classmethod
    def make(cls, base_url: str, token: str, sleep: AsyncSleep) -> AsyncReferenceClient:
        return cls(base_url, token, sleep)

    # --- the async adapter protocol ------------------------------------------------------------

    async def submit_meme_face(self, face: bytes, prompt: str, **fields: Any) -> dict[str, Any]:
        data = {name: str(value) for name, value in fields.items() if value is not None}
        data["prompt"] = prompt
        return await self._submit("meme_face", fields, data=data, files={"face": ("face.png", face, "image/png")})

    async def press_button(self, jobid: str, button: str, prompt: str | None = None, **fields: Any) -> dict[str, Any]:
        body = {"jobid": jobid, "button": button, **{k: v for k, v in fields.items() if v is not None}}
        if prompt is not None:
            body["prompt"] = prompt
        if "maxJobs" not in fields and jobid in self._final:
            fields = {**fields, "maxJobs": self._final[jobid].get("maxJobs")}  # the parent's, like the API
        return await self._submit("button", fields, json=body)

    async def get_job(self, jobid: str) -> dict[str, Any]:
        if jobid in self._final:
            return self._final[jobid]
        job = await self._call("GET", "jobs/", params={"jobid": jobid})
        self._track(job)
        return job

    async def wait_for_result(self, jobid: str) -> dict[str, Any]:
        waited = 0.0
        while jobid in self._by_callback and jobid not in self._final and waited < self.callback_grace:
            await self.sleep(self.poll_interval)
            waited += self.poll_interval
        for attempt in range(self.max_polls):
            if attempt:
                await self.sleep(self.poll_interval)
            job = await self.get_job(jobid)
            status = job.get("status")
            if status == "completed":
                return job
            if status in FINAL_FAILURES:
                raise JobFailed(422 if status == "moderated" else 500, job.get("error") or f"job {status}", job)
        raise TimeoutError(f"job {jobid} did not finish after {self.max_polls} polls")

    async def download(self, url: str) -> bytes:
        response = await self.http.get(url)
        response.raise_for_status()
        return response.content

    async def on_callback(self, job: dict[str, Any]) -> None:
        """A job record POSTed to the ``replyUrl`` (call it from your webhook handler)."""
        if job.get("jobid") and job.get("status") in FINAL_STATUSES:
            self._track(job)

    async def aclose(self) -> None:
        await self.http.aclose()

    # --- internals -----------------------------------------------------------------------------

    async def _submit(self, endpoint: str, fields: dict[str, Any], **body: Any) -> dict[str, Any]:
        limit = self._limit(fields.get("maxJobs"))
        for attempt in range(self.max_retries + 1):
            while self._throttled or len(self._executing) + self._reserved >= limit:
                await self.sleep(self.room_wait)  # the jobs' own waiters see them end; the 429 wait passes
            self._reserved += 1
            try:
                job = await self._call("POST", endpoint, **body)
            except ApiCallError as error:
                if error.code not in self.retried_statuses or attempt == self.max_retries:
                    raise
                job = None
            finally:
                self._reserved -= 1
            if job is None:
                if not self._throttled:  # the first 429 closes the gate for every task, for retry_wait
                    self._throttled = True
                    try:
                        await self.sleep(self.retry_wait)
                    finally:
                        self._throttled = False
                continue
            if fields.get("replyUrl") and job.get("jobid"):
                self._by_callback.add(job["jobid"])
            self._track(job)
            return job
        raise AssertionError("unreachable")

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.http.request(method, f"{self.base_url}/pixverse/{path}", **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if response.status_code != 200:
            raise ApiCallError(response.status_code, str(body.get("error") or response.reason_phrase), body)
        return body
