"""The control plane's guard: open on loopback, the control token everywhere else.

Nothing here listens beyond loopback: a mock "bound to 0.0.0.0" is an app built with that host and
driven by Flask's test client; the kit's checks run a threaded mock on 127.0.0.1 given a control token.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from helpers import assert_error

from contract_tests.cli import main as contract_main
from contract_tests.handle import MockHandle
from contract_tests.server import ThreadedMockServer
from mock_server import MockConfig
from mock_server import create_app
from mock_server import mock_of
from mock_server import serve as serve_module
from mock_server.cli import main as mock_main
from mock_server.control.access import is_loopback
from mock_server.control.access import with_control_token

CONTROL = "control-secret-0123456789"
HEADER = {"X-Mock-Control-Token": CONTROL}
MINE, THEIRS = "user:1-mine-api-token", "user:2-their-api-token"
ROUTES = [
    ("POST", "/__mock/reset", {}), ("POST", "/__mock/seed", {"seed": 1}), ("GET", "/__mock/clock", None),
    ("PUT", "/__mock/clock", {}), ("POST", "/__mock/clock/advance", {"seconds": 1}),
    ("POST", "/__mock/jobs/j1/outcome", {"token": MINE, "outcome": "completed"}),
    ("GET", "/__mock/faults", None), ("POST", "/__mock/faults", {"fault": "expired"}),
    ("DELETE", "/__mock/faults", None),
    ("GET", "/__mock/settings", None), ("PUT", "/__mock/tokens", {"accepted": ["attacker"]}),
    ("PUT", "/__mock/accounts", {"accounts": []}), ("PUT", "/__mock/moderation", {"words": []}),
    ("PUT", "/__mock/button-graph", {}), ("GET", "/__mock/journal/requests", None),
    ("GET", "/__mock/journal/callbacks", None), ("GET", "/__mock/wait/requests?timeout=0", None),
    ("GET", "/__mock/", None), ("GET", "/__mock/overview", None),  # the dashboard shows every tenant
]


@pytest.fixture(params=[
    MockConfig(clock="manual", host="0.0.0.0", control_token=CONTROL),
    MockConfig(clock="manual", host="127.0.0.1", control_token=CONTROL),
], ids=["all-interfaces", "loopback-with-token"])
def config(request):
    return request.param


def traffic(client) -> None:
    for token in (MINE, THEIRS):
        assert client.get("/v1/pixverse/account", headers={"Authorization": f"Bearer {token}"}).status_code == 200


@pytest.mark.parametrize("method, path, body", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_every_route_needs_the_control_token(client, mock, method, path, body):
    for headers in ({}, {"X-Mock-Control-Token": "wrong"}, {"Authorization": f"Bearer {CONTROL}"}):
        response = client.open(path, method=method, json=body, headers=headers)
        assert assert_error(response, 401)["error"].startswith("Unauthorized: /__mock/ needs the X-Mock-Control-Token")
    assert mock.settings_view()["accepted_tokens"] == []
    assert client.open(path, method=method, json=body, headers=HEADER).status_code in (200, 201, 400, 404, 408)


def test_health_stays_open(client):
    assert client.get("/__mock/health").status_code == 200


def test_the_journal_answers_one_token_without_the_control_token(client, mock):
    traffic(client)
    for kind in ("journal", "wait"):
        entries = client.get(f"/__mock/{kind}/requests", query_string={"token": MINE, "timeout": 0}).get_json()
        entries = entries["entries"] if kind == "journal" else [entries]
        assert {e["token"] for e in entries} == {"use…secured…ken"}
        assert {e["tenant"] for e in entries} == {mock.control.entries("requests")[0]["tenant"]}
    everything = client.get("/__mock/journal/requests", headers=HEADER).get_json()["entries"]
    assert len(everything) == 2


@pytest.mark.parametrize("config", [MockConfig(clock="manual")], ids=["loopback"])
def test_loopback_without_a_token_stays_open(client):
    traffic(client)
    assert len(client.get("/__mock/journal/requests").get_json()["entries"]) == 2
    assert client.put("/__mock/moderation", json={"words": ["x"]}).status_code == 200


@pytest.mark.parametrize("config", [MockConfig(clock="manual", host="0.0.0.0")], ids=["no-token-configured"])
def test_off_loopback_without_any_token_refuses_everything_but_health(client):
    assert "has no control token" in assert_error(client.post("/__mock/reset"), 401)["error"]
    assert client.get("/__mock/health").status_code == 200


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True),
                                            ("::1", True), ("[::1]", True), ("0.0.0.0", False), ("::", False),
                                            ("10.1.2.3", False), ("mock.example", False)])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


# --- start-up: flag, environment, config file; generated and printed once ------------------------------


@pytest.fixture
def started(monkeypatch) -> list[MockConfig]:
    configs: list[MockConfig] = []
    monkeypatch.setattr(serve_module, "run", lambda config, scenario=None: configs.append(config))
    monkeypatch.delenv("PIXVERSE_MOCK_CONTROL_TOKEN", raising=False)
    monkeypatch.delenv("PIXVERSE_MOCK_HOST", raising=False)
    return configs


def test_off_loopback_a_token_is_generated_and_printed_once(started):
    result = CliRunner().invoke(mock_main, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    [config] = started
    assert config.control_token and len(config.control_token) >= 24
    assert "WARNING: listening on 0.0.0.0, not loopback" in result.output
    assert result.output.count(config.control_token) == 1
    assert CONTROL not in repr(config)


@pytest.mark.parametrize("how", ["flag", "env", "file"])
def test_the_control_token_from_flag_env_or_file(started, monkeypatch, tmp_path, how):
    args = ["serve", "--host", "0.0.0.0"]
    if how == "flag":
        args += ["--control-token", CONTROL]
    elif how == "env":
        monkeypatch.setenv("PIXVERSE_MOCK_CONTROL_TOKEN", CONTROL)
    else:
        (tmp_path / "mock.yaml").write_text(f"control_token: {CONTROL}\n", encoding="utf-8")
        args += ["--config", str(tmp_path / "mock.yaml")]
    result = CliRunner().invoke(mock_main, args)
    assert result.exit_code == 0, result.output
    assert started[0].control_token == CONTROL
    assert "your --control-token" in result.output and CONTROL not in result.output


def test_loopback_generates_nothing(started):
    assert CliRunner().invoke(mock_main, ["serve"]).output == ""
    assert started[0].control_token is None


# --- the kit passes the control token -------------------------------------------------------------------


def test_the_handle_and_verify_pass_the_control_token(tmp_path):
    guarded = MockConfig(clock="manual", control_token=CONTROL)
    with ThreadedMockServer(guarded) as server:
        handle = MockHandle(server, MINE)
        assert handle.control_headers == HEADER
        for token in (MINE, None):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            server.app.test_client().get("/v1/pixverse/account", headers=headers)  # one tokenless request
        base = ["verify", "--from", server.url, "--token", MINE]
        without = CliRunner().invoke(contract_main, base)
        assert "requests without a token not read" in without.output, without.output
        with_token = CliRunner().invoke(contract_main, [*base, "--control-token", CONTROL])
        assert "requests without a token not read" not in with_token.output
        assert "(1 without a token)" in with_token.output, with_token.output
        refused = CliRunner().invoke(contract_main, ["verify", "--from", server.url])
        assert refused.exit_code == 2 and "HTTP 401" in refused.output
        assert CliRunner().invoke(contract_main, ["verify", "--from", server.url],
                                  env={"PIXVERSE_MOCK_CONTROL_TOKEN": CONTROL}).exit_code in (0, 1)


def test_a_threaded_mock_off_loopback_gets_a_token():
    config, generated = with_control_token(MockConfig(host="0.0.0.0"))
    assert config.control_token == generated and generated
    assert with_control_token(MockConfig()) == (MockConfig(), None)
    app = create_app(config)
    try:
        assert app.test_client().get("/__mock/settings", headers={"X-Mock-Control-Token": generated}).status_code == 200
    finally:
        mock_of(app).close()
