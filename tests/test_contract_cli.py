"""``pixverse-contract``: ``verify`` judges clients in other languages, ``conformance`` checks a server.

``verify`` reads a real mock's journal (a :class:`ThreadedMockServer` on 127.0.0.1, manual clock)
after a Node client (plain fetch and FormData) or a sequence of curl commands ran against it; the
clients wait by advancing the mock's clock through its control plane, so nothing here sleeps.
``conformance`` runs against the same kind of mock (never the real API): clean read-only and with
writes, and failing on a deliberately drifted copy of the spec.

Every subprocess has a timeout (``subprocess.run`` kills it when it passes); every server started
here is stopped at teardown.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests
import yaml
from click.testing import CliRunner
from click.testing import Result

from contract_tests import cli
from contract_tests.cli import main
from contract_tests.properties import PROPERTIES
from contract_tests.server import ThreadedMockServer
from mock_server.resources import fixtures_dir
from mock_server.resources import vendor_spec_path

TOKEN = "user:7070-contractCliAbCdEf"
AUTH_HEADER = f"Authorization: Bearer {TOKEN}"
NODE_CLIENTS = Path(__file__).resolve().parent / "clients" / "node"
FACE = fixtures_dir() / "faces" / "face.png"
SUBPROCESS_TIMEOUT = 60
BAD_CLIENT_PROPERTIES = {
    "bearer_auth_on_every_request",
    "polls_no_faster_than_10s",
    "prompt_only_on_prompt_buttons",
    "meme_face_is_multipart_with_file",
    "requests_conform_to_spec",
}
READ_ONLY_IDS = ("listAccounts", "getAccount", "getJob")


@pytest.fixture
def server(config):
    """A real mock on 127.0.0.1 (manual clock, from ``conftest.config``), stopped after the test."""
    mock = ThreadedMockServer(config).start()
    yield mock
    try:
        mock.check()
    finally:
        mock.stop()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def verify(runner: CliRunner, *args: str) -> Result:
    result = runner.invoke(main, ["verify", *args])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.output
    return result


def failed_properties(output: str) -> set[str]:
    return {line.split()[1] for line in output.splitlines() if line.startswith("FAIL  ")}


def violation_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("  - ")]


def junit_failures(path: Path) -> dict[str, str]:
    """``{testcase name: failure text}`` for the failed test cases; asserts the document's shape."""
    root = ET.parse(path).getroot()
    suites = root.findall("testsuite")
    assert root.tag == "testsuites" and len(suites) == 1
    cases = suites[0].findall("testcase")
    failures = {case.get("name"): case.find("failure").text for case in cases if case.find("failure") is not None}
    assert suites[0].get("tests") == str(len(cases))
    assert suites[0].get("failures") == str(len(failures))
    return failures


# --- clients: Node and curl -------------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a client process: no proxy settings, so loopback stays loopback."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    return {**env, **extra}


def run_node(script: str, server: ThreadedMockServer) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node, "node (v20+) is part of the base image and these tests need it: install Node.js 20 or newer"
    env = clean_env(BASE_URL=f"{server.url}/v1", TOKEN=TOKEN, FACE=str(FACE), MOCK_CONTROL=server.url)
    process = subprocess.run([node, str(NODE_CLIENTS / script)], env=env, capture_output=True, text=True,
                             timeout=SUBPROCESS_TIMEOUT)
    assert process.returncode == 0, f"{script} failed:\n{process.stdout}\n{process.stderr}"
    return process


def curl(*args: str) -> str:
    """One curl command (loopback only, bounded); its stdout."""
    binary = shutil.which("curl")
    assert binary, "curl is part of the base image and these tests need it"
    process = subprocess.run([binary, "-sS", "--noproxy", "*", "--max-time", "10", *args], env=clean_env(),
                             capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
    assert process.returncode == 0, process.stderr
    return process.stdout


def curl_meme_face(server: ThreadedMockServer, *, auth: bool = True) -> dict:
    headers = ["-H", AUTH_HEADER] if auth else []
    return json.loads(curl(*headers, "-F", f"face=@{FACE};type=image/png", "-F", "prompt=A girl laughing",
                           f"{server.url}/v1/pixverse/meme_face"))


def curl_poll(server: ThreadedMockServer, jobid: str) -> dict:
    return json.loads(curl("-G", "-H", AUTH_HEADER, "--data-urlencode", f"jobid={jobid}",
                           f"{server.url}/v1/pixverse/jobs/"))


def curl_advance(server: ThreadedMockServer, seconds: float) -> None:
    """The control plane's clock advance: what stands in for the client's real ``sleep 10``."""
    curl("-X", "POST", "-H", "Content-Type: application/json", "-d", json.dumps({"seconds": seconds}),
         f"{server.url}/__mock/clock/advance")


def test_good_node_client_passes(server, runner, tmp_path):
    run_node("client.mjs", server)
    junit, markdown = tmp_path / "contract.xml", tmp_path / "contract.md"

    result = verify(runner, "--from", server.url, "--token", TOKEN, "--junit", str(junit), "--markdown",
                    str(markdown))

    assert result.exit_code == 0, result.output
    assert failed_properties(result.output) == set()
    assert sum(line.startswith("PASS  ") for line in result.output.splitlines()) == len(PROPERTIES)
    assert junit_failures(junit) == {}
    assert len(ET.parse(junit).getroot().find("testsuite").findall("testcase")) == len(PROPERTIES)
    assert ET.parse(junit).getroot().find("testsuite").get("name") == "pixverse-contract"
    report = markdown.read_text(encoding="utf-8")
    assert "| property | result | violations |" in report
    assert all(f"| `{name}` | ✅ PASS | 0 |" in report for name in PROPERTIES)


def test_bad_node_client_fails_with_each_mistake_named(server, runner, tmp_path):
    run_node("bad-client.mjs", server)
    junit, markdown = tmp_path / "contract.xml", tmp_path / "contract.md"

    result = verify(runner, "--from", server.url, "--token", TOKEN, "--junit", str(junit), "--markdown",
                    str(markdown))

    assert result.exit_code == 1, result.output
    assert BAD_CLIENT_PROPERTIES <= failed_properties(result.output), result.output
    assert all(any(line.startswith(f"  - {name}: ") for line in violation_lines(result.output))
               for name in BAD_CLIENT_PROPERTIES)
    failures = junit_failures(junit)
    assert BAD_CLIENT_PROPERTIES <= set(failures)
    assert "<token>" in failures["requests_conform_to_spec"]  # escaped in the file, intact once parsed
    report = markdown.read_text(encoding="utf-8")
    assert "| `prompt_only_on_prompt_buttons` | ❌ FAIL | 1 |" in report
    assert "### `polls_no_faster_than_10s`" in report


def test_only_judges_the_named_properties(server, runner):
    run_node("bad-client.mjs", server)

    result = verify(runner, "--from", server.url, "--only", "waits_after_429", "--only", "respects_max_jobs")

    assert result.exit_code == 0, result.output
    verdicts = [line for line in result.output.splitlines() if line.startswith(("PASS  ", "FAIL  "))]
    assert [line.split()[1] for line in verdicts] == ["waits_after_429", "respects_max_jobs"]


def test_correct_curl_session_passes(server, runner, tmp_path):
    job = curl_meme_face(server)
    assert job["status"] in ("created", "started"), job
    for _ in range(10):
        curl_advance(server, 10)
        job = curl_poll(server, job["jobid"])
        if job["status"] == "completed":
            break
    assert job["status"] == "completed", job
    video = tmp_path / "video.mp4"
    status = curl("-o", str(video), "-w", "%{http_code}", job["attachments"][0]["url"])
    assert status == "200" and video.stat().st_size > 0

    result = verify(runner, "--from", server.url, "--token", TOKEN)

    assert result.exit_code == 0, result.output
    assert failed_properties(result.output) == set()


def test_wrong_curl_session_fails(server, runner):
    curl_meme_face(server, auth=False)  # no Authorization header: 401
    jobid = curl_meme_face(server)["jobid"]
    curl_poll(server, jobid)
    curl_poll(server, jobid)  # again at once: no wait between the polls

    result = verify(runner, "--from", server.url, "--token", TOKEN)

    assert result.exit_code == 1, result.output
    assert failed_properties(result.output) == {"bearer_auth_on_every_request", "polls_no_faster_than_10s",
                                                "requests_conform_to_spec"}, result.output


# --- saved journals and errors ----------------------------------------------------------------------


def test_saved_journal_gives_the_same_verdict(server, runner, tmp_path, monkeypatch):
    run_node("bad-client.mjs", server)
    saved = tmp_path / "journal.json"
    monkeypatch.setattr(cli, "PAGE_SIZE", 3)  # several pages through since/last

    live = verify(runner, "--from", f"{server.url}/v1", "--token", TOKEN, "--save", str(saved))
    entries = json.loads(saved.read_text(encoding="utf-8"))["entries"]
    assert [e["seq"] for e in entries] == [e["seq"] for e in server.runtime.journal("requests")]
    from_file = verify(runner, "--from", str(saved), "--token", TOKEN)
    all_tokens = verify(runner, "--from", str(saved))
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(json.loads(saved.read_text(encoding="utf-8"))["entries"]), encoding="utf-8")
    from_list = verify(runner, "--from", str(bare))

    assert live.exit_code == from_file.exit_code == all_tokens.exit_code == from_list.exit_code == 1
    for result in (from_file, all_tokens, from_list):
        assert failed_properties(result.output) == failed_properties(live.output)
        assert violation_lines(result.output) == violation_lines(live.output)


def test_journal_endpoint_answer_saved_by_hand_is_read(server, runner, tmp_path):
    run_node("client.mjs", server)
    saved = tmp_path / "journal.json"
    saved.write_text(requests.get(f"{server.url}/__mock/journal/requests", timeout=10).text, encoding="utf-8")

    result = verify(runner, "--from", str(saved), "--token", TOKEN)

    assert result.exit_code == 0, result.output


def test_junit_holds_any_message(tmp_path):
    path = tmp_path / "odd.xml"
    cli.write_junit(str(path), "pixverse-contract", [("a", ['<&"\x00\x1b> 🔀 ]]>']), ("b", [])])

    assert junit_failures(path) == {"a": '<&"\\x00\\x1b> 🔀 ]]>'}


def one_line_error(result: Result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def test_missing_file_is_exit_2_with_one_line(runner, tmp_path):
    line = one_line_error(verify(runner, "--from", str(tmp_path / "nope.json")))
    assert "nope.json" in line


def test_unreadable_inputs_are_exit_2(runner, tmp_path):
    not_json = tmp_path / "junk.json"
    not_json.write_text("{not json", encoding="utf-8")
    wrong_shape = tmp_path / "shape.json"
    wrong_shape.write_text('{"entries": 3}', encoding="utf-8")
    with socket.socket() as sock:  # a loopback port with nothing listening
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"

    assert "not JSON" in one_line_error(verify(runner, "--from", str(not_json)))
    assert "neither" in one_line_error(verify(runner, "--from", str(wrong_shape)))
    assert "cannot read the journal" in one_line_error(verify(runner, "--from", closed))


def test_empty_journal_and_unknown_property_are_usage_errors(server, runner):
    assert "no requests to judge" in one_line_error(verify(runner, "--from", server.url, "--token", TOKEN))
    unknown = verify(runner, "--from", server.url, "--only", "no_such_property")
    assert unknown.exit_code == 2 and "no_such_property" in unknown.output


# --- conformance: the mock against the spec, never the real API -----------------------------------


def conformance(runner: CliRunner, server: ThreadedMockServer, *args: str, **env: str | None) -> Result:
    assert server.url.startswith("http://127.0.0.1:")
    result = runner.invoke(main, ["conformance", "--base-url", server.url, *args], env=env)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.output
    return result


def test_conformance_read_only_passes(server, runner, tmp_path):
    junit = tmp_path / "conformance.xml"

    result = conformance(runner, server, "--junit", str(junit), PIXVERSE_TOKEN=TOKEN)  # token from the env

    assert result.exit_code == 0, result.output
    checked = [line for line in result.output.splitlines() if line.startswith(("PASS  ", "FAIL  "))]
    assert sorted(re.search(r"\((\w+)\):", line).group(1) for line in checked) == sorted(READ_ONLY_IDS)
    assert all(line.startswith("PASS  ") for line in checked)
    assert junit_failures(junit) == {}
    served = server.runtime.journal("requests", token=TOKEN)
    assert served and {e["method"] for e in served} == {"GET"}
    assert not any("/cancel" in e["path"] for e in served)


def test_conformance_reads_back_a_given_job(server, runner):
    job = curl_meme_face(server)

    result = conformance(runner, server, "--token", TOKEN, "--jobid", job["jobid"], "--max-examples", "5")

    assert result.exit_code == 0, result.output
    polls = server.runtime.journal("requests", token=TOKEN, operation="jobs", status=200)
    assert {e["query"]["jobid"] for e in polls} == {job["jobid"]}


def test_conformance_with_writes_passes(server, runner):
    result = conformance(runner, server, "--token", TOKEN, "--include-writes")

    assert result.exit_code == 0, result.output
    assert "11 operations: 11 passed, 0 failed" in result.output
    methods = {e["method"] for e in server.runtime.journal("requests", token=TOKEN)}
    assert methods == {"GET", "POST", "DELETE"}


def drifted_spec(tmp_path: Path, change) -> Path:
    spec = yaml.safe_load(vendor_spec_path().read_text(encoding="utf-8"))
    change(spec["components"]["schemas"])
    path = tmp_path / "drifted.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_drift_in_a_read_only_answer_fails(server, runner, tmp_path):
    spec = drifted_spec(tmp_path, lambda schemas: schemas["Account"]["required"].append("createdAt"))
    junit = tmp_path / "conformance.xml"

    result = conformance(runner, server, "--token", TOKEN, "--spec", str(spec), "--junit", str(junit))

    assert result.exit_code == 1, result.output
    assert "FAIL  GET /v1/pixverse/account (listAccounts)" in result.output
    assert '"createdAt" is a required property' in result.output
    assert TOKEN not in result.output
    assert "GET /v1/pixverse/account" in junit_failures(junit)


def test_drift_in_the_job_status_enum_fails(server, runner, tmp_path):
    spec = drifted_spec(tmp_path, lambda schemas: schemas["JobStatus"]["enum"].remove("started"))

    result = conformance(runner, server, "--token", TOKEN, "--spec", str(spec), "--include-writes",
                         "--max-examples", "10")

    assert result.exit_code == 1, result.output
    assert "FAIL  POST /v1/pixverse/meme_face (postMemeFace)" in result.output
    assert "FAIL  GET /v1/pixverse/jobs/ (getJob)" in result.output  # read back by the jobid it handed out


def test_conformance_usage_errors(server, runner, tmp_path):
    assert "--token" in conformance(runner, server, PIXVERSE_TOKEN=None).output
    assert conformance(runner, server, PIXVERSE_TOKEN=None).exit_code == 2
    assert "cannot read spec" in one_line_error(
        conformance(runner, server, "--token", TOKEN, "--spec", str(tmp_path / "missing.yaml")))


def test_version(runner):
    from importlib.metadata import version

    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"pixverse-contract {version('pixverse-mock')}"  # as pixverse-mock --version


def test_tokenless_requests_count_once_not_against_every_token(runner, tmp_path):
    def entry(seq, tenant, operation, path, violations=()):
        return {"seq": seq, "tenant": tenant, "auth": "bearer" if tenant else "missing", "method": "GET",
                "path": path, "operation": operation, "status": 200, "query": {}, "violations": list(violations)}

    journal = tmp_path / "journal.json"
    journal.write_text(json.dumps({"entries": [
        entry(1, "tenant-a", "account", "/v1/pixverse/account"),
        entry(2, "tenant-b", "account", "/v1/pixverse/account"),
        entry(3, None, "attachment", "/attachments/nothing.mp4", ["GET /attachments/nothing.mp4: unknown"]),
    ]}), encoding="utf-8")
    result = runner.invoke(main, ["verify", "--from", str(journal), "--only", "requests_conform_to_spec"])
    assert result.exit_code == 1, result.output
    assert result.output.count("unknown") == 1, result.output
