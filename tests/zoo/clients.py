"""Broken clients, each the reference client with the one thing a real developer gets wrong.

Every class names its mistake in its docstring and the property expected to catch it in
``expected`` (a name from :data:`contract_tests.properties.PROPERTIES` or
:data:`contract_tests.suite.CALLER_PROPERTIES`). ``ZOO`` lists them all, in the order of the table.
"""

from __future__ import annotations

import base64
import time
from typing import Any
from typing import ClassVar

from contract_tests.adapter import ApiCallError
from contract_tests.adapter import Sleep
from contract_tests.reference_client import FINAL_FAILURES
from contract_tests.reference_client import FINAL_STATUSES
from contract_tests.reference_client import JobFailed
from contract_tests.reference_client import ReferenceClient


class BrokenClient(ReferenceClient):
    """Base of the zoo: a reference client that says which property its mistake breaks."""

    expected: ClassVar[str]

    def _fetch(self, jobid: str) -> dict[str, Any]:
        """One ``GET jobs/`` with no pacing and no cache (what a naive client does on every poll)."""
        job = self._call("GET", "jobs/", params={"jobid": jobid})
        self._track(job)
        return job

    def _result_of(self, job: dict[str, Any], failures: tuple[str, ...] = FINAL_FAILURES) -> dict[str, Any]:
        status = job.get("status")
        if status in failures:
            raise JobFailed(422 if status == "moderated" else 500, job.get("error") or f"job {status}", job)
        return job


# --- authentication ------------------------------------------------------------------------------


class NoAuthHeader(BrokenClient):
    """Sends the token as ``X-API-Key`` (like many other APIs) and no ``Authorization`` header."""

    expected = "bearer_auth_on_every_request"

    def __init__(self, base_url: str, token: str, sleep: Sleep = time.sleep, **options: Any) -> None:
        super().__init__(base_url, token, sleep, **options)
        del self.session.headers["Authorization"]
        self.session.headers["X-API-Key"] = token


class BareTokenAuth(BrokenClient):
    """Sends ``Authorization: <token>`` without the ``Bearer`` scheme."""

    expected = "bearer_auth_on_every_request"

    def __init__(self, base_url: str, token: str, sleep: Sleep = time.sleep, **options: Any) -> None:
        super().__init__(base_url, token, sleep, **options)
        self.session.headers["Authorization"] = token


# --- how meme_face is sent -----------------------------------------------------------------------


class JsonToMemeFace(BrokenClient):
    """Posts meme_face as JSON with the face base64-encoded, like the button endpoint."""

    expected = "meme_face_is_multipart_with_file"

    def submit_meme_face(self, face: bytes, prompt: str, **fields: Any) -> dict[str, Any]:
        body = {**fields, "prompt": prompt, "face": base64.b64encode(face).decode()}
        return self._submit("meme_face", self._limit(fields.get("maxJobs")), json=body)


class FaceAsFormField(BrokenClient):
    """Multipart, but the face goes as a plain form field (``(None, data)``: no file name, so no file part)."""

    expected = "meme_face_is_multipart_with_file"

    def submit_meme_face(self, face: bytes, prompt: str, **fields: Any) -> dict[str, Any]:
        form = {name: (None, str(value)) for name, value in fields.items() if value is not None}
        form["prompt"] = (None, prompt)
        form["face"] = (None, base64.b64encode(face).decode())
        return self._submit("meme_face", self._limit(fields.get("maxJobs")), files=form)


# --- 429s and maxJobs ----------------------------------------------------------------------------


class RetriesImmediatelyOn429(BrokenClient):
    """Retries a 429 at once, in a tight loop, instead of waiting 10 s."""

    expected = "waits_after_429"

    def __init__(self, base_url: str, token: str, sleep: Sleep = time.sleep, **options: Any) -> None:
        super().__init__(base_url, token, sleep, **{"retry_wait": 0.0, **options})


class IgnoresMaxJobs(BrokenClient):
    """Does not count its own executing jobs: submits and lets the API's 429 say when maxJobs is full."""

    expected = "respects_max_jobs"

    def _wait_for_room(self, limit: int) -> None:
        return None


# --- polling -------------------------------------------------------------------------------------


class TightPollingLoop(BrokenClient):
    """Polls every 0.5 s ("to be responsive") instead of every 10 s."""

    expected = "polls_no_faster_than_10s"

    def __init__(self, base_url: str, token: str, sleep: Sleep = time.sleep, **options: Any) -> None:
        super().__init__(base_url, token, sleep, **{"poll_interval": 0.5, **options})


class PollsAfterCompletion(BrokenClient):
    """Checks the status of the previous answer after fetching the next: one poll too many after a final status."""

    expected = "stops_polling_at_terminal_status"

    def wait_for_result(self, jobid: str) -> dict[str, Any]:
        job = self._fetch(jobid)
        for _ in range(self.max_polls):
            finished = job.get("status") in FINAL_STATUSES
            self.sleep(self.poll_interval)
            job = self._fetch(jobid)
            if finished:
                return self._result_of(job)
        raise TimeoutError(jobid)


# --- what counts as a result ---------------------------------------------------------------------


class ModeratedIsSuccess(BrokenClient):
    """Reads ``moderated`` as "the moderator has seen it" and returns the job as a result."""

    expected = "final_failures_are_not_results"

    def wait_for_result(self, jobid: str) -> dict[str, Any]:
        for _ in range(self.max_polls):
            job = self.get_job(jobid)
            if job.get("status") in ("completed", "moderated"):
                return job
            if job.get("status") in FINAL_FAILURES:
                return self._result_of(job)
        raise TimeoutError(jobid)


class FinishedIsSuccess(BrokenClient):
    """Waits until the job stops executing and returns it, whatever the status (failed and cancelled too)."""

    expected = "final_failures_are_not_results"

    def wait_for_result(self, jobid: str) -> dict[str, Any]:
        for _ in range(self.max_polls):
            job = self.get_job(jobid)
            if job.get("status") in FINAL_STATUSES:
                return job
        raise TimeoutError(jobid)


class ReturnsOnProgress(BrokenClient):
    """Returns as soon as the job leaves ``started`` (reads ``progress`` as "done"): no video yet."""

    expected = "completed_results_reach_caller"

    def wait_for_result(self, jobid: str) -> dict[str, Any]:
        for _ in range(self.max_polls):
            job = self.get_job(jobid)
            if job.get("status") != "started":
                return self._result_of(job)
        raise TimeoutError(jobid)


class NeverDownloads(BrokenClient):
    """Hands the caller the attachment URL instead of the video: the video is never fetched."""

    expected = "downloads_completed_results"

    def download(self, url: str) -> bytes:
        return url.encode()


# --- buttons -------------------------------------------------------------------------------------


class PromptOnEveryButton(BrokenClient):
    """Re-sends the job's original prompt with every button press (ReDo, U1, 🔄 included)."""

    expected = "prompt_only_on_prompt_buttons"

    def submit_meme_face(self, face: bytes, prompt: str, **fields: Any) -> dict[str, Any]:
        self._prompt = prompt
        return super().submit_meme_face(face, prompt, **fields)

    def press_button(self, jobid: str, button: str, prompt: str | None = None, **fields: Any) -> dict[str, Any]:
        return super().press_button(jobid, button, prompt or getattr(self, "_prompt", None), **fields)


class PressesUnofferedButton(BrokenClient):
    """Always presses ``U1`` (copied from the /create example) whatever buttons the parent offers."""

    expected = "buttons_come_from_parent"

    def press_button(self, jobid: str, button: str, prompt: str | None = None, **fields: Any) -> dict[str, Any]:
        return super().press_button(jobid, "U1", None, **fields)


class StringifiesJsonNumbers(BrokenClient):
    """Sends every button field as a string, ``"maxJobs": "2"`` included, in a JSON body (the spec wants integers)."""

    expected = "requests_conform_to_spec"

    def press_button(self, jobid: str, button: str, prompt: str | None = None, **fields: Any) -> dict[str, Any]:
        body = {"jobid": jobid, "button": button, **{k: str(v) for k, v in fields.items() if v is not None}}
        if prompt is not None:
            body["prompt"] = prompt
        return self._submit("button", self._limit(fields.get("maxJobs")), json=body)


# --- errors --------------------------------------------------------------------------------------


class Swallows402(BrokenClient):
    """Treats 402 (subscription expired) as "nothing to do" and returns an empty job."""

    expected = "documented_errors_surface"

    def _answer(self, response: Any) -> dict[str, Any]:
        if response.status_code == 402:
            return {}
        return super()._answer(response)


class RaisesHttpError(BrokenClient):
    """Uses ``response.raise_for_status()``: errors reach the caller as ``HTTPError``, without code and message."""

    expected = "documented_errors_surface"

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.session.request(method, f"{self.base_url}/pixverse/{path}", timeout=self.timeout, **kwargs)
        response.raise_for_status()
        return response.json()

    def _submit(self, endpoint: str, limit: int, by_callback: bool = False, **body: Any) -> dict[str, Any]:
        self._wait_for_room(limit)
        job = self._call("POST", endpoint, **body)
        self._track(job)
        return job


class RetriesRejected400(BrokenClient):
    """A generic retry policy (400, 408, 429, 5xx, after 10 s): re-sends a request the API rejected as invalid."""

    expected = "no_retry_of_rejected_request"
    retried_statuses: ClassVar[frozenset[int]] = frozenset({400, 408, 429, 500, 502, 503, 504})


# --- buttons among other jobs, and 429s on buttons -----------------------------------------------------


class RetriesButton429AtOnce(BrokenClient):
    """Waits 10 s after a 429 on meme_face, but its button path retries a 429 at once."""

    expected = "waits_after_429"

    def _submit(self, endpoint: str, limit: int, by_callback: bool = False, **body: Any) -> dict[str, Any]:
        if endpoint != "button":
            return super()._submit(endpoint, limit, by_callback, **body)
        for _ in range(self.max_retries):
            try:
                job = self._call("POST", endpoint, **body)
            except ApiCallError as error:
                if error.code != 429:
                    raise
                continue
            self._track(job)
            return job
        raise TimeoutError("still throttled")


class IgnoresMaxJobsOnButtons(BrokenClient):
    """Counts its executing jobs before a meme_face, but presses buttons whatever else is executing."""

    expected = "respects_max_jobs"

    def _wait_for_room(self, limit: int) -> None:
        if not getattr(self, "_pressing", False):
            super()._wait_for_room(limit)

    def press_button(self, jobid: str, button: str, prompt: str | None = None, **fields: Any) -> dict[str, Any]:
        self._pressing = True
        try:
            return super().press_button(jobid, button, prompt, **fields)
        finally:
            self._pressing = False


class CircuitBreaker(BrokenClient):
    """Opens a circuit breaker at the first error: every later job fails locally, never sent ("fail fast")."""

    expected = "reports_every_job"

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        if getattr(self, "_open", False) and method == "POST":
            raise ApiCallError(503, "circuit open: not sent")
        try:
            return super()._call(method, path, **kwargs)
        except ApiCallError as error:
            if error.code != 429:
                self._open = True
            raise


# --- what was asked is what is sent ----------------------------------------------------------------


class DropsReplyRef(BrokenClient):
    """Builds the form from a fixed list of "known" fields that forgot ``replyRef``."""

    expected = "sends_what_was_asked"

    def submit_meme_face(self, face: bytes, prompt: str, **fields: Any) -> dict[str, Any]:
        fields.pop("replyRef", None)
        return super().submit_meme_face(face, prompt, **fields)


class CamelCaseNegativePrompt(BrokenClient):
    """Sends ``negativePrompt`` (the house style of its other APIs) instead of ``negative_prompt``."""

    expected = "sends_what_was_asked"

    def submit_meme_face(self, face: bytes, prompt: str, **fields: Any) -> dict[str, Any]:
        if "negative_prompt" in fields:
            fields["negativePrompt"] = fields.pop("negative_prompt")
        return super().submit_meme_face(face, prompt, **fields)


# --- always a verdict ------------------------------------------------------------------------------


class PollsCancelledForever(BrokenClient):
    """Waits for ``completed`` or ``failed`` only: a cancelled or moderated job is polled forever."""

    expected = "finishes_within_budget"

    def wait_for_result(self, jobid: str) -> dict[str, Any]:
        while True:
            job = self.get_job(jobid)  # paced, and cached once final: an endless wait, not a flood
            if job.get("status") in ("completed", "failed"):
                return self._result_of(job)
            self.sleep(self.poll_interval)


# --- callbacks -------------------------------------------------------------------------------------


class CallbackQueue(BrokenClient):
    """Takes callbacks from a FIFO: ``wait_for_result`` returns whichever callback came next, whatever its job."""

    expected = "callback_matched_to_job"

    def on_callback(self, job: dict[str, Any]) -> None:
        self.__dict__.setdefault("_queue", []).append(job)
        super().on_callback(job)

    def wait_for_result(self, jobid: str) -> dict[str, Any]:
        if jobid not in self._by_callback:
            return super().wait_for_result(jobid)
        queue = self.__dict__.setdefault("_queue", [])
        for _ in range(int(self.callback_grace / self.poll_interval)):
            if queue:
                return self._result_of(queue.pop(0))
            self._sleep(self.poll_interval)
        return super().wait_for_result(jobid)


class StrayCallbacksToOldest(BrokenClient):
    """Files a callback for a job it is not waiting on (a duplicate, an early one) as the oldest waiting job's."""

    expected = "result_reaches_caller_once"

    def on_callback(self, job: dict[str, Any]) -> None:
        waiting = [j for j in self._by_callback if j not in self._final]
        if job.get("jobid") not in waiting and waiting and job.get("status") in FINAL_STATUSES:
            self._final[waiting[0]] = job
            self._executing.pop(waiting[0], None)
            return
        super().on_callback(job)


class NoPollingFallback(BrokenClient):
    """Given a replyUrl, waits for the callback only; after 15 minutes it gives up without polling."""

    expected = "falls_back_to_polling"

    def wait_for_result(self, jobid: str) -> dict[str, Any]:
        if jobid not in self._by_callback:
            return super().wait_for_result(jobid)
        for _ in range(90):
            if jobid in self._final:
                return self._result_of(self._final[jobid])
            self._sleep(self.poll_interval)
        raise ApiCallError(504, f"no callback for {jobid}")


ZOO: tuple[type[BrokenClient], ...] = (
    NoAuthHeader,
    BareTokenAuth,
    JsonToMemeFace,
    FaceAsFormField,
    RetriesImmediatelyOn429,
    IgnoresMaxJobs,
    TightPollingLoop,
    PollsAfterCompletion,
    ModeratedIsSuccess,
    FinishedIsSuccess,
    ReturnsOnProgress,
    NeverDownloads,
    PromptOnEveryButton,
    PressesUnofferedButton,
    StringifiesJsonNumbers,
    Swallows402,
    RaisesHttpError,
    RetriesRejected400,
    RetriesButton429AtOnce,
    IgnoresMaxJobsOnButtons,
    CircuitBreaker,
    DropsReplyRef,
    CamelCaseNegativePrompt,
    PollsCancelledForever,
    CallbackQueue,
    StrayCallbacksToOldest,
    NoPollingFallback,
)
