"""The sync driver: a Python client behind the adapter protocol, on the mock's manual clock.

The adapter protocol is :mod:`contract_tests.adapter`. The driver does the task as a caller would:
jobs in task order, each submitted as soon as it may be (a button once its parent's result is in,
so buttons are pressed while other jobs still execute), then every result waited for and
downloaded. The client's injected ``sleep`` moves the mock's clock and, for a callback-driven
client, hands it the callbacks that fell due (``on_callback``). What the calls return or raise
becomes the report of the command protocol. A client that runs over its budget gets
:class:`~contract_tests.drivers.BudgetExceeded` raised inside it (from ``sleep``, or into its thread
when it never sleeps) and is abandoned if it still does not stop.
"""

from __future__ import annotations

import ctypes
import threading
import time
from typing import Any

from contract_tests.adapter import ClientFactory
from contract_tests.drivers import Budget
from contract_tests.drivers import BudgetExceeded
from contract_tests.drivers import DriverRun
from contract_tests.example import Example
from contract_tests.example import JobSpec
from contract_tests.example import face_bytes
from contract_tests.staging import Stage
from mock_server import MockConfig

ABANDON_AFTER = 2.0
"""Wall seconds a client gets to stop once its budget is exceeded before its thread is abandoned."""


class SyncDriver:
    """Runs ``make_client(base_url, token, sleep)`` clients."""

    name = "sync"

    def __init__(self, make_client: ClientFactory) -> None:
        self.make_client = make_client

    def mock_config(self, base: MockConfig) -> MockConfig:
        return base.with_overrides(clock="manual")

    def run(self, example: Example, stage: Stage, budget: Budget) -> DriverRun:
        flow = TaskFlow(example, stage, budget)
        thread = threading.Thread(target=flow.run, args=(self.make_client,), name="pixverse-contract-client",
                                  daemon=True)
        thread.start()
        deadline = time.monotonic() + budget.wall_seconds
        while thread.is_alive():
            thread.join(0.02)
            if stage.over_requests.is_set() and flow.over_budget is None:
                flow.over_budget = f"sent more than {budget.requests} requests"
            elif time.monotonic() > deadline and flow.over_budget is None:
                flow.over_budget = f"still running after {budget.wall_seconds:g} s of wall time"
            if flow.over_budget is not None and thread.is_alive():
                stop_thread(thread, ABANDON_AFTER)
                break
        return flow.result()


class TaskFlow:
    """The task done through a sync adapter; results collected in the report's shape."""

    def __init__(self, example: Example, stage: Stage, budget: Budget) -> None:
        self.example = example
        self.stage = stage
        self.budget = budget
        self.results: dict[str, dict[str, Any]] = {}
        self.jobids: dict[str, str] = {}
        self.over_budget: str | None = None
        self.problem: str | None = None
        self._started_at = stage.control.now()

    def sleep(self, seconds: float) -> None:
        """The client's sleep: mock time, within the budget."""
        if self.over_budget is not None:
            raise BudgetExceeded(self.over_budget)
        seconds = max(0.0, float(seconds))
        if self.stage.control.now() + seconds - self._started_at > self.budget.mock_seconds:
            self.over_budget = f"still waiting after {self.budget.mock_seconds:g} s of mock time"
            raise BudgetExceeded(self.over_budget)
        self.stage.advance(seconds)

    def run(self, make_client: ClientFactory) -> None:
        try:
            client = make_client(self.stage.base_url, self.stage.token, self.sleep)
            if self.example.callbacks:
                self.stage.relay.receiver = getattr(client, "on_callback", None)
            for job in self.example.jobs:
                if job.parent is not None and not self._parent_completed(client, job):
                    self.results[job.id] = {"job": job.id, "outcome": "skipped"}
                    continue
                self._submit(client, job)
            for job in self.example.jobs:
                if job.id in self.jobids and job.id not in self.results:
                    self._wait(client, job)
        except BudgetExceeded as exc:
            self.over_budget = self.over_budget or str(exc)
        except Exception as exc:  # the client's constructor, or a bug it provoked: no report
            self.problem = f"the client raised {exc!r}"
        finally:
            self.stage.relay.receiver = None

    def result(self) -> DriverRun:
        report = None if self.problem else {"results": list(self.results.values())}
        return DriverRun(report=report, problem=self.problem, over_budget=self.over_budget)

    def fields(self, job: JobSpec) -> dict[str, Any]:
        fields = dict(job.fields)
        if self.stage.reply_url:
            fields["replyUrl"] = self.stage.reply_url
        return fields

    def _parent_completed(self, client: Any, job: JobSpec) -> bool:
        parent = str(job.parent)
        if parent in self.jobids and parent not in self.results:
            self._wait(client, self.example.job(parent))
        return self.results.get(parent, {}).get("outcome") == "completed"

    def _submit(self, client: Any, job: JobSpec) -> None:
        try:
            if job.endpoint == "meme_face":
                answer = client.submit_meme_face(face_bytes(), job.prompt, **self.fields(job))
            else:
                answer = client.press_button(self.jobids[str(job.parent)], job.button, job.prompt, **self.fields(job))
        except Exception as exc:
            self.results[job.id] = error_result(job.id, exc)
            return
        if isinstance(answer, dict) and answer.get("jobid"):
            self.jobids[job.id] = str(answer["jobid"])
        else:
            self.results[job.id] = {"job": job.id, "outcome": "error", "code": None,
                                    "message": f"the submit returned {answer!r}"[:200]}

    def _wait(self, client: Any, job: JobSpec) -> None:
        jobid = self.jobids[job.id]
        try:
            done = client.wait_for_result(jobid)
        except Exception as exc:
            self.results[job.id] = failed_result(job.id, jobid, exc)
            return
        done = done if isinstance(done, dict) else {}
        self.results[job.id] = {"job": job.id, "outcome": "completed", "jobid": done.get("jobid"),
                                "files": download_all(client, done)}


def error_result(job_id: str, exc: BaseException) -> dict[str, Any]:
    """A raised error as the report's ``error`` entry (code and message when the client gave them)."""
    code, message = getattr(exc, "code", None), getattr(exc, "message", None)
    return {"job": job_id, "outcome": "error", "code": code if isinstance(code, int) else None,
            "message": message if isinstance(message, str) else repr(exc)[:200],
            **({} if isinstance(message, str) else {"surfaced_as": type(exc).__name__})}


def failed_result(job_id: str, jobid: str, exc: BaseException) -> dict[str, Any]:
    """Waiting raised: a ``job_failed`` entry when it says why (code and message), else an ``error``.

    Its jobid is the failed job's the error carries (``exc.body``), if any: the job the client saw fail.
    """
    body = getattr(exc, "body", None)
    seen = body.get("jobid") if isinstance(body, dict) and body.get("jobid") else jobid
    result = {**error_result(job_id, exc), "jobid": seen}
    if isinstance(getattr(exc, "message", None), str):
        result["outcome"] = "job_failed"
    return result


def download_all(client: Any, job: dict[str, Any]) -> list[str]:
    """Fetch every attachment through the adapter; one entry per non-empty video that reached the caller."""
    files = []
    for attachment in job.get("attachments") or []:
        try:
            video = client.download(attachment["url"])
        except Exception:
            continue
        if video:
            files.append(f"{attachment.get('url')} ({len(video)} bytes)")
    return files


def stop_thread(thread: threading.Thread, wait: float) -> None:
    """Raise :class:`BudgetExceeded` inside ``thread`` (at its next Python instruction); wait a little."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident or 0), ctypes.py_object(BudgetExceeded))
    thread.join(wait)
