"""``pixverse-mock serve`` option parsing and precedence: flag > environment > config file > default.

Nothing listens here: ``mock_server.serve.run`` is replaced by a function that keeps the config.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from mock_server import serve as serve_module
from mock_server.cli import main
from mock_server.config import MockConfig

ENV_NAMES = ("HOST", "PORT", "CONFIG", "STORE", "CLOCK", "SEED", "WORKERS", "SCENARIO", "TIME_SCALE",
             "JOURNAL_LIMIT")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """The caller's own PIXVERSE_MOCK_* variables must not leak into these tests."""
    for name in ENV_NAMES:
        monkeypatch.delenv(f"PIXVERSE_MOCK_{name}", raising=False)


@pytest.fixture
def started(monkeypatch) -> list[MockConfig]:
    """The configs ``serve`` would have started with (nothing listens)."""
    configs: list[MockConfig] = []
    monkeypatch.setattr(serve_module, "run", lambda config, scenario=None: configs.append(config))
    return configs


@pytest.fixture
def scenarios(monkeypatch) -> list:
    """The scenarios ``serve`` would have started with."""
    loaded: list = []
    monkeypatch.setattr(serve_module, "run", lambda config, scenario=None: loaded.append((config, scenario)))
    return loaded


def test_scenario_by_name_lays_its_config_under_the_flags(scenarios):
    assert invoke("serve", "--scenario", "all-accounts-busy", "--port", "9001").exit_code == 0
    [(config, scenario)] = scenarios
    assert scenario.name == "all accounts busy"
    assert [a["maxJobs"] for a in config.accounts] == [1, 1] and len(config.jobs) == 2
    assert config.port == 9001 and config.clock == "fast"


def test_scenario_beats_the_config_file(scenarios, tmp_path):
    result = invoke("serve", "--config", write_config(tmp_path, "clock: manual\nport: 9100\n"),
                    "--scenario", "discord-throttling")
    assert result.exit_code == 0
    [(config, scenario)] = scenarios
    assert (config.clock, config.port) == ("fast", 9100)
    assert [f["fault"] for f in scenario.faults] == ["discord429", "discord429"]


def test_unknown_scenario_is_a_one_line_error(scenarios):
    result = invoke("serve", "--scenario", "no-such-scenario")
    assert result.exit_code == 2 and result.output.startswith("Error: cannot read scenario no-such-scenario")
    assert not scenarios


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def write_config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "mock.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_defaults(started):
    result = invoke("serve")
    assert result.exit_code == 0, result.output
    [config] = started
    assert config == MockConfig()
    assert (config.host, config.port, config.store, config.clock, config.seed, config.workers) == (
        "127.0.0.1", 8080, "memory", "fast", 0, 1)


def test_flags(started):
    result = invoke("serve", "--host", "0.0.0.0", "--port", "9001", "--clock", "manual", "--seed", "7",
                    "--workers", "3", "--journal-limit", "0")
    assert result.exit_code == 0, result.output
    [config] = started
    assert (config.host, config.port, config.clock, config.seed, config.workers, config.journal_limit) == (
        "0.0.0.0", 9001, "manual", 7, 3, 0)


def test_environment(started, tmp_path):
    env = {"PIXVERSE_MOCK_HOST": "127.0.0.2", "PIXVERSE_MOCK_PORT": "9002",
           "PIXVERSE_MOCK_STORE": f"sqlite:{tmp_path / 'env.db'}", "PIXVERSE_MOCK_CLOCK": "realistic",
           "PIXVERSE_MOCK_SEED": "11", "PIXVERSE_MOCK_WORKERS": "2", "PIXVERSE_MOCK_JOURNAL_LIMIT": "5"}
    result = invoke("serve", env=env)
    assert result.exit_code == 0, result.output
    [config] = started
    assert (config.host, config.port, config.clock, config.seed, config.workers, config.journal_limit) == (
        "127.0.0.2", 9002, "realistic", 11, 2, 5)
    assert config.sqlite_path == str(tmp_path / "env.db")


def test_config_file(started, tmp_path):
    path = write_config(tmp_path, "host: 127.0.0.3\nport: 9003\nclock: manual\nseed: 5\nworkers: 2\n"
                                  "moderation:\n  words: [forbidden]\n"
                                  "tokens:\n  accepted: [good-token]\n  expired: [old-token]\n")
    result = invoke("serve", "--config", path)
    assert result.exit_code == 0, result.output
    [config] = started
    assert (config.host, config.port, config.clock, config.seed, config.workers) == (
        "127.0.0.3", 9003, "manual", 5, 2)
    assert config.moderation_words == ("forbidden",)
    assert config.accepted_tokens == ("good-token",)
    assert config.expired_tokens == ("old-token",)


def test_config_file_from_environment(started, tmp_path):
    path = write_config(tmp_path, "port: 9004\n")
    result = invoke("serve", env={"PIXVERSE_MOCK_CONFIG": path})
    assert result.exit_code == 0, result.output
    assert started[0].port == 9004


def test_flag_beats_environment_beats_file(started, tmp_path):
    path = write_config(tmp_path, "port: 9005\nseed: 1\nclock: manual\nworkers: 2\n")
    env = {"PIXVERSE_MOCK_PORT": "9006", "PIXVERSE_MOCK_SEED": "2"}
    result = invoke("serve", "--config", path, "--port", "9007", env=env)
    assert result.exit_code == 0, result.output
    [config] = started
    assert config.port == 9007  # flag over environment and file
    assert config.seed == 2  # environment over file
    assert config.clock == "manual"  # file over default
    assert config.workers == 2  # file over default
    assert config.host == "127.0.0.1"  # default


def test_explicit_flag_equal_to_default_still_beats_file(started, tmp_path):
    path = write_config(tmp_path, "port: 9008\nclock: manual\n")
    result = invoke("serve", "--config", path, "--port", "8080", "--clock", "fast")
    assert result.exit_code == 0, result.output
    assert (started[0].port, started[0].clock) == (8080, "fast")


def test_sqlite_store(started, tmp_path):
    db = tmp_path / "state.db"
    result = invoke("serve", "--store", f"sqlite:{db}")
    assert result.exit_code == 0, result.output
    [config] = started
    assert config.store == f"sqlite:{db}"
    assert config.sqlite_path == str(db)


def test_bad_clock_flag(started):
    result = invoke("serve", "--clock", "slow")
    assert result.exit_code == 2
    assert "--clock" in result.output and "'slow'" in result.output
    assert "fast" in result.output and "manual" in result.output
    assert not started


def test_bad_clock_in_environment(started):
    result = invoke("serve", env={"PIXVERSE_MOCK_CLOCK": "slow"})
    assert result.exit_code == 2
    assert "'slow'" in result.output
    assert not started


def test_bad_clock_in_config_file(started, tmp_path):
    result = invoke("serve", "--config", write_config(tmp_path, "clock: slow\n"))
    assert result.exit_code == 2
    assert result.output.strip() == "Error: clock must be one of fast, realistic, manual, not 'slow'"
    assert not started


def test_unknown_config_key(started, tmp_path):
    result = invoke("serve", "--config", write_config(tmp_path, "port: 9009\nthreads: 8\n"))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "'threads'" in lines[0] and "Traceback" not in result.output
    assert not started


@pytest.mark.parametrize("store", ["redis", "sqlite", "memory:"])
def test_bad_store(started, store):
    result = invoke("serve", "--store", store)
    assert result.exit_code == 2
    assert result.output.strip() == ("Error: store must be 'memory', 'sqlite:PATH' or 'redis://HOST:PORT/DB',"
                                     f" not {store!r}")
    assert not started


def test_missing_config_file(started, tmp_path):
    result = invoke("serve", "--config", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "nope.yaml" in result.output
    assert not started


@pytest.mark.parametrize(("args", "option"), [
    (["--port", "http"], "--port"), (["--port", "70000"], "--port"), (["--workers", "0"], "--workers"),
    (["--seed", "x"], "--seed"), (["--journal-limit", "-1"], "--journal-limit"),
])
def test_bad_numbers(started, args, option):
    result = invoke("serve", *args)
    assert result.exit_code == 2
    assert option in result.output
    assert not started


def test_bad_number_in_config_file(started, tmp_path):
    result = invoke("serve", "--config", write_config(tmp_path, "port: eighty\n"))
    assert result.exit_code == 2
    assert result.output.strip() == "Error: port must be a whole number, not 'eighty'"


@pytest.mark.parametrize(("text", "message"), [
    ("accounts: 5\n", "accounts must be a list of {discord, server, channel, maxJobs} mappings"),
    ("clock_start: soon\n", "clock_start must be a number, not 'soon'"),
])
def test_malformed_config_value(started, tmp_path, text, message):
    result = invoke("serve", "--config", write_config(tmp_path, text))
    assert result.exit_code == 2
    assert result.output.strip() == f"Error: {message}"
    assert not started


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.startswith("pixverse-mock ")


def test_help_lists_options_and_variables():
    result = invoke("serve", "--help")
    assert result.exit_code == 0
    for option in ("--host", "--port", "--config", "--store", "--clock", "--seed", "--workers", "--journal-limit"):
        assert option in result.output
    for name in ENV_NAMES:
        assert f"PIXVERSE_MOCK_{name}" in result.output


def test_layout_memory_is_one_process_answering_the_vendor_routes_on_its_event_loop():
    config = MockConfig(workers=2)
    assert serve_module.layout(config) == serve_module.Layout(processes=1, threads=8,
                                                              inline_prefixes=("/v1/pixverse/",))
    assert serve_module.server_options(config, 8080)["workers"] == 1


def test_layout_sqlite_is_one_process_per_worker_every_request_on_a_thread(tmp_path):
    config = MockConfig(store=f"sqlite:{tmp_path / 's.db'}", workers=4)
    assert serve_module.layout(config) == serve_module.Layout(processes=4, threads=4)
    assert serve_module.server_options(config, 8080)["workers"] == 4


def test_access_line_holds_only_the_request_line_facts():
    line = serve_module.access_line("GET", "/v1/pixverse/jobs/?jobid=j1", 200, 1034, 3)
    assert re.fullmatch(r'\[[^\]]+\] "GET /v1/pixverse/jobs/\?jobid=j1" 200 1034 3ms', line), line
    assert serve_module.access_line("GET", "/x", 444, None, 0).endswith('"GET /x" 444 - 0ms')
    assert serve_module.bind_address("::1", 1) == "[::1]:1"


def test_time_scale_from_the_flag_or_the_environment(started):
    assert invoke("serve", "--time-scale", "20").exit_code == 0
    assert invoke("serve", env={"PIXVERSE_MOCK_TIME_SCALE": "30"}).exit_code == 0
    assert [config.time_scale for config in started] == [20.0, 30.0]
    refused = invoke("serve", "--time-scale", "0")
    assert refused.exit_code == 2 and "--time-scale" in refused.output


def test_serve_gives_every_worker_one_origin_for_a_scaled_clock(monkeypatch):
    launched: list[MockConfig] = []
    monkeypatch.setattr(serve_module, "serve_wsgi", lambda config, *_, **__: launched.append(config))
    serve_module.run(MockConfig(time_scale=20))
    assert launched[0].time_origin is not None
