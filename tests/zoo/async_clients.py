"""Broken asyncio clients: the async reference client with one mistake each, several jobs in flight.

As in :mod:`zoo.clients`, every class names its mistake in its docstring and the property expected
to catch it in ``expected``; ``ASYNC_ZOO`` lists them.
"""

from __future__ import annotations

from typing import Any
from typing import ClassVar

from contract_tests.adapter import ApiCallError
from contract_tests.reference_async_client import AsyncReferenceClient
from contract_tests.reference_client import FINAL_FAILURES
from contract_tests.reference_client import FINAL_STATUSES
from contract_tests.reference_client import JobFailed


class AsyncBrokenClient(AsyncReferenceClient):
    """Base of the async zoo."""

    expected: ClassVar[str]


class RacesMaxJobs(AsyncBrokenClient):
    """Checks for room under maxJobs, but does not reserve the slot: concurrent tasks all see room and submit."""

    expected = "respects_max_jobs"

    async def _submit(self, endpoint: str, fields: dict[str, Any], **body: Any) -> dict[str, Any]:
        limit = self._limit(fields.get("maxJobs"))
        for attempt in range(self.max_retries + 1):
            while len(self._executing) >= limit:
                await self.sleep(self.room_wait)
            try:
                job = await self._call("POST", endpoint, **body)
            except ApiCallError as error:
                if error.code != 429 or attempt == self.max_retries:
                    raise
                await self.sleep(self.retry_wait)
                continue
            self._track(job)
            return job
        raise AssertionError("unreachable")


class AsyncRetriesButton429AtOnce(AsyncBrokenClient):
    """Its button path retries a 429 at once (the meme_face path waits 10 s)."""

    expected = "waits_after_429"

    async def _submit(self, endpoint: str, fields: dict[str, Any], **body: Any) -> dict[str, Any]:
        if endpoint != "button":
            return await super()._submit(endpoint, fields, **body)
        for _ in range(self.max_retries):
            try:
                job = await self._call("POST", endpoint, **body)
            except ApiCallError as error:
                if error.code != 429:
                    raise
                continue
            self._track(job)
            return job
        raise TimeoutError("still throttled")


class AsyncDropsReplyRef(AsyncBrokenClient):
    """Builds the form from a fixed list of "known" fields that forgot ``replyRef``."""

    expected = "sends_what_was_asked"

    async def submit_meme_face(self, face: bytes, prompt: str, **fields: Any) -> dict[str, Any]:
        fields.pop("replyRef", None)
        return await super().submit_meme_face(face, prompt, **fields)


class AsyncPollsCancelledForever(AsyncBrokenClient):
    """Waits for ``completed`` or ``failed`` only: a cancelled or moderated job is waited on forever."""

    expected = "finishes_within_budget"

    async def wait_for_result(self, jobid: str) -> dict[str, Any]:
        while True:
            job = await self.get_job(jobid)
            if job.get("status") == "completed":
                return job
            if job.get("status") == "failed":
                raise ApiCallError(500, job.get("error") or "failed", job)
            await self.sleep(self.poll_interval)


class AsyncCallbackQueue(AsyncBrokenClient):
    """Takes callbacks from a FIFO: a job's wait returns whichever callback came next, whatever its job."""

    expected = "callback_matched_to_job"

    async def on_callback(self, job: dict[str, Any]) -> None:
        self.__dict__.setdefault("_queue", []).append(job)
        await super().on_callback(job)

    async def wait_for_result(self, jobid: str) -> dict[str, Any]:
        if jobid not in self._by_callback:
            return await super().wait_for_result(jobid)
        queue = self.__dict__.setdefault("_queue", [])
        for _ in range(int(self.callback_grace / self.poll_interval)):
            if queue:
                job = queue.pop(0)
                if job.get("status") in FINAL_FAILURES:
                    raise JobFailed(500, job.get("error") or f"job {job.get('status')}", job)
                return job
            await self.sleep(self.poll_interval)
        return await super().wait_for_result(jobid)


class AsyncStrayCallbacks(AsyncBrokenClient):
    """Files a callback for a job it is not waiting on (a duplicate, an early one) as the oldest waiting job's."""

    expected = "result_reaches_caller_once"

    async def on_callback(self, job: dict[str, Any]) -> None:
        waiting = [j for j in self._by_callback if j not in self._final]
        if job.get("jobid") not in waiting and waiting and job.get("status") in FINAL_STATUSES:
            self._final[waiting[0]] = job
            self._executing.pop(waiting[0], None)
            return
        await super().on_callback(job)


class AsyncNoPollingFallback(AsyncBrokenClient):
    """Given a replyUrl, waits for the callback only; after 15 minutes it gives up without polling."""

    expected = "falls_back_to_polling"

    async def wait_for_result(self, jobid: str) -> dict[str, Any]:
        if jobid not in self._by_callback:
            return await super().wait_for_result(jobid)
        for _ in range(90):
            if jobid in self._final:
                return await super().wait_for_result(jobid)
            await self.sleep(self.poll_interval)
        raise ApiCallError(504, f"no callback for {jobid}")


class AsyncCircuitBreaker(AsyncBrokenClient):
    """Opens a circuit breaker at the first error: every later job fails locally, never sent ("fail fast")."""

    expected = "reports_every_job"

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        if getattr(self, "_open", False) and method == "POST":
            raise ApiCallError(503, "circuit open: not sent")
        try:
            return await super()._call(method, path, **kwargs)
        except ApiCallError as error:
            if error.code != 429:
                self._open = True
            raise


ASYNC_ZOO: tuple[type[AsyncBrokenClient], ...] = (
    RacesMaxJobs,
    AsyncRetriesButton429AtOnce,
    AsyncDropsReplyRef,
    AsyncPollsCancelledForever,
    AsyncCallbackQueue,
    AsyncStrayCallbacks,
    AsyncNoPollingFallback,
    AsyncCircuitBreaker,
)
