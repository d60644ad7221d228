"""run_command: the protocol's files and variables, faketime, budgets that always end a run, the report's checks.

The commands are small Python one-liners (this interpreter), so each test is bounded and fast; the one
that needs a mock starts a threaded mock on 127.0.0.1 and stops it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from contract_tests.drivers.command import run_command
from contract_tests.drivers.command_protocol import read_report

TOKEN = "user:1-secret-token"


def task(tmp_path: Path, **overrides: object) -> dict:
    return {"protocol": 1, "base_url": "http://127.0.0.1:9/v1", "token": TOKEN, "time_scale": 1,
            "download_dir": str(tmp_path / "downloads"), "callbacks": None,
            "jobs": [{"id": "a", "endpoint": "meme_face", "face": "/face.png", "prompt": "hi", "fields": {}}],
            **overrides}


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def run(tmp_path: Path, code: str, **options: object):
    options = {"env": dict(os.environ), "time_scale": 10, "wall_budget": 20, "faketime": False,
               "workdir": tmp_path / "work", **options}
    return run_command(python(code), task(tmp_path), **options)


WRITE_REPORT = ("import json, os; json.dump({'results': [{'job': 'a', 'outcome': 'error', 'code': 429, "
                "'message': 'busy'}]}, open(os.environ['PIXVERSE_REPORT'], 'w'))")


def test_the_protocol_variables_and_task_file(tmp_path):
    code = ("import json, os; t = json.load(open(os.environ['PIXVERSE_TASK'])); "
            "print(json.dumps({k: v for k, v in os.environ.items() if k.startswith('PIXVERSE_')})); "
            "print(json.dumps(t))")
    done = run(tmp_path, code)
    variables, seen_task = (json.loads(line) for line in done.stdout.splitlines())
    assert variables["PIXVERSE_BASE_URL"] == "http://127.0.0.1:9/v1"
    assert variables["PIXVERSE_TIME_SCALE"] == "10"
    assert variables["PIXVERSE_WAIT_SCALE"] == "10"  # no faketime: the client scales its own waits
    assert Path(variables["PIXVERSE_REPORT"]).parent == tmp_path / "work"
    assert seen_task["time_scale"] == 10 and seen_task["jobs"][0]["id"] == "a"
    assert (tmp_path / "downloads").is_dir()
    # The token reaches the client, never the captured output.
    assert TOKEN not in done.stdout and "use…secured…ken" in done.stdout
    assert done.exit_code == 0 and not done.cut_off


def test_a_valid_report_is_read(tmp_path):
    done = run(tmp_path, WRITE_REPORT)
    assert done.problem is None
    assert done.report == {"results": [{"job": "a", "outcome": "error", "code": 429, "message": "busy"}]}


@pytest.mark.parametrize(("code", "problem"), [
    ("pass", "no report"),
    ("import os; open(os.environ['PIXVERSE_REPORT'], 'w').write('{not json')", "not JSON"),
    ("import os; open(os.environ['PIXVERSE_REPORT'], 'w').write('{\"results\": [{\"job\": \"a\", "
     "\"outcome\": \"completed\"}]}')", "results[0]: 'jobid' is a required property"),
    ("import os; open(os.environ['PIXVERSE_REPORT'], 'w').write('{\"results\": [{\"job\": \"a\", "
     "\"outcome\": \"done\"}]}')", "results[0].outcome: 'done' is not one of"),
])
def test_a_missing_or_invalid_report_is_a_problem_not_an_exception(tmp_path, code, problem):
    done = run(tmp_path, code)
    assert done.report is None
    assert problem in done.problem


def test_the_wall_budget_kills_the_whole_process_group(tmp_path):
    # The command starts a grandchild that would outlive it, then hangs; both must be gone.
    pid_file = tmp_path / "grandchild.pid"
    code = (f"import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; "
            f"time.sleep(600)']); open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(600)")
    started = time.monotonic()
    done = run(tmp_path, code, wall_budget=1.5)
    assert done.timed_out and done.exit_code is None and done.report is None
    assert time.monotonic() - started < 10
    grandchild = int(pid_file.read_text())
    assert not _alive(grandchild)


def test_a_child_left_behind_is_killed_when_the_command_exits(tmp_path):
    pid_file = tmp_path / "listener.pid"
    code = (f"import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', 'import time; "
            f"time.sleep(600)']); open({str(pid_file)!r}, 'w').write(str(p.pid)); {WRITE_REPORT}")
    done = run(tmp_path, code)
    assert done.exit_code == 0 and done.report is not None
    assert not _alive(int(pid_file.read_text()))


def test_stop_when_cuts_a_run_off_with_its_reason(tmp_path):
    calls = []

    def over() -> str | None:
        calls.append(1)
        return "sent more than 3 requests" if len(calls) >= 3 else None

    done = run(tmp_path, "import time; time.sleep(600)", stop_when=over)
    assert done.stopped == "sent more than 3 requests" and not done.timed_out
    assert done.wall_seconds < 5


def test_a_command_that_cannot_start_is_a_problem(tmp_path):
    done = run_command([str(tmp_path / "no-such-client")], task(tmp_path), env=dict(os.environ), time_scale=1,
                       wall_budget=5, faketime=False, workdir=tmp_path / "work")
    assert done.report is None and "could not be started" in done.problem


def test_faketime_accelerates_sleep_and_leaves_no_shared_memory(tmp_path):
    # 20 s of the client's own time in about 0.2 s of wall time at x100; it measures 20 s itself.
    code = ("import time, os; t = time.time(); time.sleep(20); "
            "print(round(time.time() - t), os.environ['PIXVERSE_WAIT_SCALE'])")
    done = run(tmp_path, code, faketime=True, time_scale=100)
    assert done.exit_code == 0, done.stderr
    measured, wait_scale = done.stdout.split()
    assert int(measured) >= 20 and wait_scale == "1"
    assert done.wall_seconds < 10  # 20 s unaccelerated; the rest is interpreter start-up on a busy machine
    hung = run(tmp_path, "import time; time.sleep(6000)", faketime=True, time_scale=100, wall_budget=1)
    assert hung.timed_out
    assert hung.pid is not None
    assert not list(Path("/dev/shm").glob(f"*faketime_s*_{hung.pid}"))


def test_read_report_accepts_a_second_entry_for_one_job(tmp_path):
    # Valid for the protocol; the judge calls it a second result (result_reaches_caller_once).
    path = tmp_path / "report.json"
    entry = {"job": "a", "outcome": "completed", "jobid": "j1", "files": ["/x.mp4"]}
    path.write_text(json.dumps({"results": [entry, entry]}))
    assert read_report(path).report == {"results": [entry, entry]}


def _alive(pid: int, grace: float = 3.0) -> bool:
    """Whether ``pid`` still runs ``grace`` seconds on (a SIGKILL takes effect asynchronously)."""
    deadline = time.monotonic() + grace
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return False
        if state == "Z":
            return False
        if time.monotonic() > deadline:
            os.kill(pid, 9)  # ours: do not leave it behind, but the test fails
            return True
        time.sleep(0.02)

