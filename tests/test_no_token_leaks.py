"""A full run of ``pixverse-mock serve`` leaves no full token anywhere it writes.

One server process (SQLite store, journals on, a control token, on 127.0.0.1) gets a client's
traffic with tokens in every shape (``discord`` as an array, spelled ``Discord``, ``?token=`` on
vendor, journal, wait and faults URLs; a prompt is the job's content, kept as sent, so none there);
``pixverse-contract verify`` writes its JUnit, Markdown and saved journal; then every byte written
(the log, the SQLite files, the reports, every answer) is searched for the full API, Discord and
control tokens, as sent and percent-encoded. The same server shows that a body shorter than its
``Content-Length`` and deeply nested JSON get a 400 under the real server too.
"""

from __future__ import annotations

import json
import socket
from urllib.parse import quote
from urllib.parse import quote_plus

import pytest
import requests
from click.testing import CliRunner
from test_serve_process import Server

from contract_tests.cli import main as contract_main
from mock_server.resources import fixtures_dir

pytestmark = pytest.mark.slow

API_TOKEN = "user:9090-leakcheck-api-token-Q7w8E9"
DISCORD = "MTk4NjIy.leakcheck-discord-token.Gx7_Zk"
DISCORD_2 = "second-leakcheck-discord-token-Kp3"
CONTROL = "leakcheck-control-token-Vb6Nm1"
SECRETS = (API_TOKEN, DISCORD, DISCORD_2, CONTROL)
AUTH = {"Authorization": f"Bearer {API_TOKEN}", "Connection": "close"}
GUARD = {"X-Mock-Control-Token": CONTROL, "Connection": "close"}
CHANNEL = "1200000000000000077"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("leaks")
    started = Server(root / "server.log", "--store", f"sqlite:{root / 'state.sqlite'}", "--clock", "manual",
                     "--control-token", CONTROL)
    try:
        started.wait_ready()
        yield started, root
    finally:
        started.cleanup()


def test_a_short_body_and_deep_json_under_the_real_server(server):
    proc, _root = server
    host, port = "127.0.0.1", proc.port
    boundary = "leakcheckboundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\na cat\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="face"; filename="f.png"\r\n'
            f"Content-Type: image/png\r\n\r\n").encode() + (fixtures_dir() / "faces" / "face.png").read_bytes() + (
        f"\r\n--{boundary}--\r\n").encode()
    head = (f"POST /v1/pixverse/meme_face HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {API_TOKEN}\r\n"
            f"Connection: close\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(body) + 100}\r\n\r\n").encode()
    before = journal_count(proc.url)
    answer = raw_exchange(port, head + body)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"request body ended before its Content-Length" in answer
    entries = requests.get(f"{proc.url}/__mock/journal/requests", headers=GUARD, timeout=10,
                           params={"since": before}).json()["entries"]
    assert [(e["status"], e.get("jobid")) for e in entries] == [(400, None)]
    deep = requests.post(f"{proc.url}/v1/pixverse/button", data="[" * 1000 + "]" * 1000, timeout=10,
                         headers={**AUTH, "Content-Type": "application/json"})
    assert (deep.status_code, deep.json()["error"]) == (
        400, "Malformed request: JSON body nested deeper than 32 levels")


def test_no_full_token_in_any_output(server):
    """Runs last: it stops the server to read every file it wrote."""
    proc, root = server
    url, answers = proc.url, []

    def call(method: str, path: str, **kwargs) -> requests.Response:
        response = requests.request(method, f"{url}{path}", timeout=10, **kwargs)
        answers.append(response.text)
        return response

    face = (fixtures_dir() / "faces" / "face.png").read_bytes()
    triple = {"server": "1100000000000000001", "channel": CHANNEL, "maxJobs": 3}
    for body in ({"discord": [DISCORD], **triple}, {"Discord": DISCORD_2, "discord": DISCORD, **triple}):
        assert call("POST", f"/v1/pixverse/account/{CHANNEL}", headers=AUTH, json=body).status_code in (204, 400)
    submitted = call("POST", "/v1/pixverse/meme_face/", headers=AUTH,
                     files={"face": ("face.png", face, "image/png")},
                     data={"prompt": "a cat", "discord": DISCORD, "server": "1100000000000000001",
                           "channel": CHANNEL, "Discord": DISCORD_2})
    assert submitted.status_code == 200, submitted.text
    jobid = submitted.json()["jobid"]
    assert call("POST", "/__mock/clock/advance", headers=GUARD, json={"seconds": 5}).status_code == 200
    assert call("GET", "/v1/pixverse/jobs/", headers=AUTH, params={"jobid": jobid, "token": API_TOKEN}).json()[
        "status"] == "completed"

    # the control plane with ?token= (as verify and the docs do); the journal answers that token without the guard
    assert call("GET", "/__mock/journal/requests", params={"token": API_TOKEN}).status_code == 200
    assert call("GET", "/__mock/wait/requests", params={"token": API_TOKEN, "timeout": 1}).status_code == 200
    assert call("GET", "/__mock/journal/requests").status_code == 401
    assert call("POST", "/__mock/faults", headers=GUARD, json={"fault": "expired", "token": API_TOKEN,
                                                                "count": 3}).status_code == 201
    assert call("DELETE", "/__mock/faults", headers=GUARD, params={"token": API_TOKEN}).status_code == 200

    # An invalid request line is quoted whole in the server's log. (gunicorn's own 400 page echoes it
    # back to the one client that sent it: that answer is left out of the search.)
    invalid = raw_exchange(proc.port, f"GET /__mock/journal/requests?token={quote(API_TOKEN)}&x=\x01 "
                                      f"HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert invalid.startswith(b"HTTP/1.1 400"), invalid

    reports = {name: root / name for name in ("contract.xml", "contract.md", "journal.json")}
    verified = CliRunner().invoke(contract_main, [
        "verify", "--from", url, "--token", API_TOKEN, "--control-token", CONTROL,
        "--junit", str(reports["contract.xml"]), "--markdown", str(reports["contract.md"]),
        "--save", str(reports["journal.json"])])
    assert verified.exit_code in (0, 1), verified.output
    assert json.loads(reports["journal.json"].read_text(encoding="utf-8"))["entries"]

    assert proc.stop() == 0
    outputs = {"answers": "\n".join(answers).encode(), "verify output": verified.output.encode()}
    outputs.update({path.name: path.read_bytes() for path in root.iterdir()})
    assert {"server.log", "state.sqlite", "contract.xml", "contract.md", "journal.json"} <= set(outputs)
    found = {(name, spelling) for name, data in outputs.items() for secret in SECRETS
             for spelling in spellings(secret) if spelling.encode() in data}
    assert found == set(), f"full tokens found: {sorted(found)}"
    assert "token=use…secured…".encode() in outputs["server.log"]  # the ?token= lines were logged, masked
    assert b"Invalid HTTP request line" in outputs["server.log"]


def raw_exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` as is on a new connection to 127.0.0.1, half-close, and read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        return b"".join(iter(lambda: sock.recv(65536), b""))


def spellings(secret: str) -> set[str]:
    """The secret as sent and as it looks in a URL (``user%3A...``, ``+`` for spaces)."""
    return {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}


def journal_count(url: str) -> int:
    return requests.get(f"{url}/__mock/journal/requests", headers=GUARD, timeout=10).json()["last"]
