"""The asyncio driver: a Python client behind the async adapter protocol, several jobs in flight.

The async adapter protocol (:mod:`contract_tests.adapter`, :class:`AsyncPixverseClientAdapter`) has the
same calls as the sync one, as coroutines, and an injected ``async sleep``. Every job of the task
runs as its own asyncio task at once (a button task waits for its parent's result), so the client
decides how to keep ``maxJobs`` with several jobs in flight.

Time is virtual and deterministic: the mock's manual clock moves only when every job task is asleep
in the injected sleep (or waiting for its parent), to the earliest wake-up, and wakes the tasks due
then. A client that blocks on its own primitives (a lock held across a sleep) still advances after a
short wall-clock grace with no request. Over budget, the sleeping tasks get
:class:`~contract_tests.drivers.BudgetExceeded`; a client that never yields is abandoned.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from contract_tests.drivers import Budget
from contract_tests.drivers import BudgetExceeded
from contract_tests.drivers import DriverRun
from contract_tests.drivers.sync import error_result
from contract_tests.drivers.sync import failed_result
from contract_tests.example import Example
from contract_tests.example import JobSpec
from contract_tests.example import face_bytes
from contract_tests.staging import Stage
from mock_server import MockConfig

GRACE = 0.2
"""Wall seconds without a request after which sleeping tasks are woken though others are blocked."""
DELIVERY_WAIT = 5.0


class AsyncDriver:
    """Runs ``make_client(base_url, token, sleep)`` clients whose methods are coroutines."""

    name = "asyncio"

    def __init__(self, make_client: Callable[..., Any]) -> None:
        self.make_client = make_client

    def mock_config(self, base: MockConfig) -> MockConfig:
        return base.with_overrides(clock="manual")

    def run(self, example: Example, stage: Stage, budget: Budget) -> DriverRun:
        flow = AsyncTaskFlow(example, stage, budget, self.make_client)
        thread = threading.Thread(target=flow.run, name="pixverse-contract-asyncio", daemon=True)
        thread.start()
        deadline = time.monotonic() + budget.wall_seconds
        while thread.is_alive():
            thread.join(0.02)
            if flow.over_budget is None and stage.over_requests.is_set():
                flow.stop(f"sent more than {budget.requests} requests")
            elif flow.over_budget is None and time.monotonic() > deadline:
                flow.stop(f"still running after {budget.wall_seconds:g} s of wall time")
            if flow.over_budget is not None and time.monotonic() > deadline + 2.0:
                break  # a client that never yields: abandoned
        return flow.result()


class AsyncTaskFlow:
    """One example on one event loop: the job tasks, the virtual clock, the report."""

    def __init__(self, example: Example, stage: Stage, budget: Budget, make_client: Callable[..., Any]) -> None:
        self.example = example
        self.stage = stage
        self.budget = budget
        self.make_client = make_client
        self.results: dict[str, dict[str, Any]] = {}
        self.over_budget: str | None = None
        self.problem: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread_id: int | None = None
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._active = 0
        self._parked = 0
        self._changed: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._callbacks: list[dict[str, Any]] = []
        self._started_at = stage.control.now()
        self._client: Any = None
        self._jobids: dict[str, str] = {}

    # --- the injected sleep and the virtual clock ----------------------------------------------

    async def sleep(self, seconds: float) -> None:
        if self.over_budget is not None:
            raise BudgetExceeded(self.over_budget)
        assert self._loop is not None
        wake = self._loop.create_future()
        heapq.heappush(self._sleepers, (self.stage.control.now() + max(0.0, float(seconds)), next(self._order), wake))
        self._poke()
        await wake

    def _poke(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def _all_waiting(self) -> bool:
        return self._active > 0 and len(self._sleepers) + self._parked >= self._active

    async def _clock(self) -> None:
        """Advance the mock's clock whenever every job task waits; wake the earliest sleepers."""
        assert self._changed is not None
        seen = self.stage.requests_seen
        while self._active > 0:
            try:
                await asyncio.wait_for(self._changed.wait(), GRACE)
            except TimeoutError:
                stalled = self.stage.requests_seen == seen
                seen = self.stage.requests_seen
                if not (stalled and self._sleepers):
                    continue  # a request is on its way, or nothing sleeps yet
            else:
                self._changed.clear()
                for _ in range(3):
                    await asyncio.sleep(0)  # let woken tasks run up to their next wait
                if not (self._all_waiting() and self._sleepers):
                    continue
            await self._wake_earliest()

    async def _wake_earliest(self) -> None:
        at = self._sleepers[0][0]
        if at - self._started_at > self.budget.mock_seconds:
            self.stop(f"still waiting after {self.budget.mock_seconds:g} s of mock time")
            return
        now = self.stage.control.now()
        if at > now:
            self.stage.advance(at - now)  # callbacks that fell due reach _receive
        await self._deliver_callbacks()
        while self._sleepers and self._sleepers[0][0] <= at:
            _, _, wake = heapq.heappop(self._sleepers)
            if not wake.done():
                wake.set_result(None)

    def stop(self, why: str) -> None:
        """Over budget: every sleeping task gets :class:`BudgetExceeded` (from any thread)."""
        self.over_budget = self.over_budget or why
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        def fail_all() -> None:
            for _, _, wake in self._sleepers:
                if not wake.done():
                    wake.set_exception(BudgetExceeded(why))
            self._sleepers.clear()
            for task in self._tasks:
                task.cancel()

        if threading.get_ident() == self._thread_id:
            fail_all()
        else:
            loop.call_soon_threadsafe(fail_all)

    # --- callbacks -------------------------------------------------------------------------------

    def _receive(self, body: dict[str, Any]) -> None:
        """The relay's receiver: queued on the loop's thread, delivered at once from another (early)."""
        if threading.get_ident() == self._thread_id or self._loop is None:
            self._callbacks.append(body)
            return
        asyncio.run_coroutine_threadsafe(self._call_on_callback(body), self._loop).result(DELIVERY_WAIT)

    async def _deliver_callbacks(self) -> None:
        while self._callbacks:
            await self._call_on_callback(self._callbacks.pop(0))

    async def _call_on_callback(self, body: dict[str, Any]) -> None:
        handler = getattr(self._client, "on_callback", None)
        if handler is None:
            return
        outcome = handler(body)
        if inspect.isawaitable(outcome):
            await outcome

    # --- the task ------------------------------------------------------------------------------

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 (whatever the client did, the driver reports)
            if self.over_budget is None:
                self.problem = f"the client raised {exc!r}"

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread_id = threading.get_ident()
        self._changed = asyncio.Event()
        self._client = client = self.make_client(self.stage.base_url, self.stage.token, self.sleep)
        relay = self.stage.relay
        if self.example.callbacks:
            relay.receiver = self._receive
        done: dict[str, asyncio.Future[None]] = {job.id: self._loop.create_future() for job in self.example.jobs}
        self._active = len(self.example.jobs)
        try:
            self._tasks = [asyncio.create_task(self._job(client, job, done)) for job in self.example.jobs]
            clock = asyncio.create_task(self._clock())
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._active = 0
            self._poke()
            await clock
        finally:
            relay.receiver = None
            closing = getattr(client, "aclose", None)
            if closing is not None:
                await closing()

    async def _job(self, client: Any, job: JobSpec, done: dict[str, asyncio.Future[None]]) -> None:
        try:
            await self._do_job(client, job, done)
        except (BudgetExceeded, asyncio.CancelledError):
            pass
        finally:
            if not done[job.id].done():
                done[job.id].set_result(None)
            self._active -= 1
            self._poke()

    async def _do_job(self, client: Any, job: JobSpec, done: dict[str, asyncio.Future[None]]) -> None:
        fields = dict(job.fields)
        if self.stage.reply_url:
            fields["replyUrl"] = self.stage.reply_url
        if job.parent is not None:
            self._parked += 1
            self._poke()
            try:
                await done[job.parent]
            finally:
                self._parked -= 1
            if self.results.get(job.parent, {}).get("outcome") != "completed":
                self.results[job.id] = {"job": job.id, "outcome": "skipped"}
                return
        try:
            if job.endpoint == "meme_face":
                answer = await client.submit_meme_face(face_bytes(), job.prompt, **fields)
            else:
                answer = await client.press_button(self._jobids[str(job.parent)], job.button, job.prompt, **fields)
        except Exception as exc:
            self.results[job.id] = error_result(job.id, exc)
            return
        if not isinstance(answer, dict) or not answer.get("jobid"):
            self.results[job.id] = {"job": job.id, "outcome": "error", "code": None,
                                    "message": f"the submit returned {answer!r}"[:200]}
            return
        jobid = self._jobids[job.id] = str(answer["jobid"])
        try:
            finished = await client.wait_for_result(jobid)
        except Exception as exc:
            self.results[job.id] = failed_result(job.id, jobid, exc)
            return
        finished = finished if isinstance(finished, dict) else {}
        files = []
        for attachment in finished.get("attachments") or []:
            try:
                video = await client.download(attachment["url"])
            except Exception:
                continue
            if video:
                files.append(f"{attachment.get('url')} ({len(video)} bytes)")
        self.results[job.id] = {"job": job.id, "outcome": "completed", "jobid": finished.get("jobid"), "files": files}

    def result(self) -> DriverRun:
        report = None if self.problem else {"results": [self.results[j.id] for j in self.example.jobs
                                                        if j.id in self.results]}
        return DriverRun(report=report, problem=self.problem, over_budget=self.over_budget)
