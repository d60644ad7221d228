"""The command driver: a client in any language, run once per example, in accelerated time, never hanging.

:class:`CommandDriver` fits the runner (:mod:`contract_tests.runner`); :func:`run_command` is the
mechanics of one run.

The command runs in its own process group (a new session) with the protocol's environment
(:mod:`contract_tests.drivers.command_protocol`), under ``faketime -f '+0 xR'`` (libfaketime) so
that its sleeps and timers run R times faster, like the mock's clock (``MockConfig.time_scale``).
The group is killed at the wall budget, or as soon as ``stop_when`` names a reason (a request
budget, checked every 50 ms), and once more when the command exits, so a child it left behind
(a forgotten callback listener) cannot outlive the example.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract_tests.drivers import Budget
from contract_tests.drivers import DriverRun
from contract_tests.drivers.command_protocol import protocol_environment
from contract_tests.drivers.command_protocol import read_report
from contract_tests.drivers.command_protocol import task_problems
from contract_tests.example import FACE
from contract_tests.example import Example
from contract_tests.staging import Stage
from mock_server import MockConfig
from mock_server.accounts import mask_secret
from mock_server.redaction import url_spellings

CHECK_INTERVAL = 0.05
"""Wall seconds between looks at the process, the wall budget and ``stop_when``."""
TAIL_CHARS = 4000
"""How much of the end of stdout and stderr a run keeps."""
SHM_DIR = Path("/dev/shm")
LISTEN_HOST = "127.0.0.1"
DEFAULT_TIME_SCALE = 20.0
"""Chosen by measurement (``bench/RESULTS.md``, "Time scale"): each wall millisecond of latency is R mock
milliseconds, and on a busy 2-core machine an immediate retry took up to 0.3 s of wall time, which
at x50 already looked like the 10 s wait it skipped (4 times in 9); at x20 it never did (at most 5 s)."""


class FaketimeMissing(RuntimeError):
    """``faketime`` is not installed, and the run was not told to do without it."""


@dataclass(frozen=True)
class CommandRun:
    """What one run of a client command came to."""

    report: dict[str, Any] | None
    """The validated report, or ``None`` (then :attr:`problem` says why)."""
    problem: str | None
    exit_code: int | None
    """The command's exit status (negative: killed by that signal); ``None`` if it was cut off."""
    timed_out: bool
    """Killed at the wall budget."""
    stopped: str | None
    """The reason ``stop_when`` gave for cutting the run off, if it did."""
    stdout: str
    """The end of the command's stdout, the token masked (so are :attr:`stderr` and :attr:`problem`)."""
    stderr: str
    wall_seconds: float
    pid: int | None = None
    """The process id of the command (of the ``faketime`` wrapper under faketime); also its group id."""

    @property
    def cut_off(self) -> bool:
        """The kit ended the run (wall budget or ``stop_when``) instead of the client finishing."""
        return self.timed_out or self.stopped is not None

    def summary(self) -> str:
        """How the command ended and the end of its stderr, for a report."""
        ended = ("cut off" if self.cut_off else f"exit status {self.exit_code}") + f" after {self.wall_seconds:.2f} s"
        tail = self.stderr.strip()[-600:]
        return f"client {ended}" + (f"; stderr: {tail}" if tail else "")


class CommandDriver:
    """Runs ``command`` (a program in any language) on each example through the command protocol.

    The mock runs a system clock ``time_scale`` times faster than wall time, and the command runs
    under ``faketime -f '+0 x<time_scale>'`` unless ``faketime`` is False (then the client divides
    its waits by ``PIXVERSE_WAIT_SCALE`` itself). ``env`` (default: this process's environment) is
    extended with the ``PIXVERSE_*`` variables; the command runs in ``cwd`` (default: here).
    """

    name = "command"

    def __init__(self, command: str | list[str], *, time_scale: float = DEFAULT_TIME_SCALE, faketime: bool = True,
                 env: Mapping[str, str] | None = None, cwd: Path | None = None) -> None:
        self.command = command
        self.time_scale = time_scale
        self.faketime = faketime
        self.env = env
        self.cwd = cwd
        if faketime:
            _faketime_binary()  # fail now, not at the first example

    def mock_config(self, base: MockConfig) -> MockConfig:
        return base.with_overrides(clock="fast", time_scale=self.time_scale)

    def wall_budget(self, budget: Budget) -> float:
        """Wall seconds a run may take: the budget's own (start-up, work) plus its mock seconds at this scale.

        The mock-seconds budget is watched on its own (every 50 ms); the wall budget only catches what
        it cannot, and must never cut off a client that is within its mock time.
        """
        return budget.wall_seconds + budget.mock_seconds / self.time_scale

    def run(self, example: Example, stage: Stage, budget: Budget) -> DriverRun:
        with tempfile.TemporaryDirectory(prefix="pixverse-contract-") as scratch:
            workdir = Path(scratch)
            callbacks = None
            if stage.reply_url is not None:
                port = free_port()
                callbacks = {"reply_url": stage.reply_url, "listen_host": LISTEN_HOST, "listen_port": port}
                stage.relay.forward_to(f"http://{LISTEN_HOST}:{port}/")
            task = example.task_json(base_url=stage.base_url, token=stage.token, face=str(FACE),
                                     download_dir=str(workdir / "downloads"), time_scale=self.time_scale,
                                     callbacks=callbacks)
            try:
                run = run_command(self.command, task, env=os.environ if self.env is None else self.env,
                                  time_scale=self.time_scale, wall_budget=self.wall_budget(budget),
                                  faketime=self.faketime, workdir=workdir, cwd=self.cwd,
                                  stop_when=_budget_watch(stage, budget))
            finally:
                stage.relay.receiver = None
        over_budget = run.stopped
        if run.timed_out:
            over_budget = f"still running after {self.wall_budget(budget):g} s of wall time"
        return DriverRun(report=run.report, problem=run.problem, over_budget=over_budget, details=run.summary())


def _budget_watch(stage: Stage, budget: Budget) -> Callable[[], str | None]:
    started = stage.control.now()

    def over() -> str | None:
        if stage.over_requests.is_set():
            return f"sent more than {budget.requests} requests"
        if stage.control.now() - started > budget.mock_seconds:
            return f"still running after {budget.mock_seconds:g} s of mock time"
        return None

    return over


def free_port(host: str = LISTEN_HOST) -> int:
    """A port nothing listens on now (for the client's callback listener)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def run_command(
    command: str | list[str],
    task: dict[str, Any],
    *,
    env: Mapping[str, str],
    time_scale: float,
    wall_budget: float,
    faketime: bool = True,
    workdir: Path,
    cwd: Path | None = None,
    stop_when: Callable[[], str | None] | None = None,
) -> CommandRun:
    """Run ``command`` on ``task`` and read its report.

    ``command`` is an argument list, or a string split like a shell command line (``shlex``; it is not
    run by a shell: use ``sh -c '...'`` for pipes). ``env`` is the environment to extend (usually
    ``os.environ``) with the ``PIXVERSE_*`` variables; ``task["time_scale"]`` is set to ``time_scale``.
    The task and report files, and the output captures, live in ``workdir``; the command runs in
    ``cwd`` (default: the current directory). ``stop_when`` is called every 50 ms and cuts the run off
    when it returns a reason.
    """
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    if not argv:
        raise ValueError("the client command is empty")
    task = {**task, "time_scale": time_scale}
    problems = task_problems(task)
    if problems:
        raise ValueError(f"not a protocol task: {'; '.join(problems)}")
    if faketime:
        argv = [_faketime_binary(), "-f", f"+0 x{time_scale:g}", *argv]
    workdir.mkdir(parents=True, exist_ok=True)
    Path(task["download_dir"]).mkdir(parents=True, exist_ok=True)
    task_path, report_path = workdir / "task.json", workdir / "report.json"
    task_path.write_text(json.dumps(task, ensure_ascii=False, indent=1), encoding="utf-8")
    report_path.unlink(missing_ok=True)
    environment = {**env, **protocol_environment(task, task_path, report_path, faketime=faketime)}
    out_path, err_path = workdir / "stdout.txt", workdir / "stderr.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.monotonic()
        try:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=environment,
                                       cwd=cwd, start_new_session=True)
        except OSError as exc:
            return _unstartable(argv, exc, time.monotonic() - started)
        timed_out, stopped = _supervise(process, started, wall_budget, stop_when)
        exit_code = process.wait()
        wall = time.monotonic() - started
    if faketime:
        _remove_faketime_segments(process.pid)
    secret = task["token"]
    reading = read_report(report_path)
    return CommandRun(
        report=reading.report,
        problem=_masked(reading.problem, secret) if reading.problem else None,
        exit_code=None if timed_out or stopped else exit_code,
        timed_out=timed_out,
        stopped=stopped,
        stdout=_masked(_tail(out_path), secret),
        stderr=_masked(_tail(err_path), secret),
        wall_seconds=wall,
        pid=process.pid,
    )


def _supervise(process: subprocess.Popen[bytes], started: float, wall_budget: float,
               stop_when: Callable[[], str | None] | None) -> tuple[bool, str | None]:
    """Wait for the leader to exit or be cut off; kill its group either way. Returns (timed out, stop reason).

    The leader is only observed (``WNOWAIT``), not reaped, until its group is killed: while it is an
    unreaped zombie its pid, which is the group id, cannot be reused by an unrelated process.
    """
    timed_out, stopped = False, None
    while True:
        if os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            break
        if time.monotonic() - started >= wall_budget:
            timed_out = True
            break
        stopped = stop_when() if stop_when is not None else None
        if stopped:
            break
        time.sleep(CHECK_INTERVAL)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return timed_out, stopped


def _faketime_binary() -> str:
    found = shutil.which("faketime")
    if found is None:
        raise FaketimeMissing(
            "faketime (libfaketime) is not installed: install the Debian package 'faketime' "
            "(tools/system-packages.txt), or run without it (--no-faketime) with a client that divides its own "
            "waits by PIXVERSE_TIME_SCALE")
    return found


def _remove_faketime_segments(wrapper_pid: int) -> None:
    """The shared clock the ``faketime`` wrapper made; it removes them itself only when not killed."""
    for name in (f"faketime_shm_{wrapper_pid}", f"sem.faketime_sem_{wrapper_pid}"):
        (SHM_DIR / name).unlink(missing_ok=True)


def _unstartable(argv: list[str], exc: OSError, wall: float) -> CommandRun:
    message = f"the client command could not be started ({shlex.join(argv)}): {exc}"
    return CommandRun(None, message, None, False, None, "", message, wall)


def _tail(path: Path) -> str:
    with path.open("rb") as file:
        size = file.seek(0, os.SEEK_END)
        file.seek(max(0, size - TAIL_CHARS))
        return file.read().decode("utf-8", "replace")


def _masked(text: str, secret: str) -> str:
    """``text`` with every plain or URL-encoded copy of the token replaced by its masked form."""
    if not secret:
        return text
    for form in url_spellings(secret):
        text = text.replace(form, mask_secret(secret))
    return text
