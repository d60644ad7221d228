"""The pytest plugin (``pytest11`` entry point ``pixverse_mock``), exercised by inner pytest sessions.

Each test writes a small test project with ``pytester`` and runs it in this process (or, for
``-n 4`` and shadowed packages, in a child pytest). The plugin is loaded the way a user gets it: from
the installed entry point when the installed metadata has it, else with ``-p pytest_pixverse_mock``
(an editable install made before the entry point changed does not list it until ``pip install -e .``
runs again).
"""

from __future__ import annotations

import os
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

PLUGIN = "pytest_pixverse_mock"
ROOT = Path(__file__).resolve().parents[1]


def _installed() -> bool:
    return any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))


def _plugin_args() -> list[str]:
    autoload = not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    return [] if autoload and _installed() else ["-p", PLUGIN]


LEAN = ("-p", "no:cacheprovider", "-p", "no:schemathesis")
"""For inner pytest processes: schemathesis's own plugin takes seconds to import and none of them uses it."""


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(*_plugin_args(), "-p", "no:cacheprovider", *args)


ROUND_TRIP = '''
import requests

from mock_server.resources import fixtures_dir


def submit(mock, prompt="A girl laughing by the seaside"):
    face = (fixtures_dir() / "faces" / "face.png").read_bytes()
    return requests.post(f"{mock.base_url}/pixverse/meme_face", headers=mock.headers, timeout=10,
                         files={"face": ("face.png", face, "image/png")}, data={"prompt": prompt})


def poll(mock, jobid):
    return requests.get(f"{mock.base_url}/pixverse/jobs/", params={"jobid": jobid}, headers=mock.headers,
                        timeout=10)


def test_submit_advance_poll(pixverse_mock):
    answer = submit(pixverse_mock)
    assert answer.status_code == 200, answer.text
    jobid = answer.json()["jobid"]
    assert poll(pixverse_mock, jobid).json()["status"] == "started"
    pixverse_mock.sleep(10)
    job = poll(pixverse_mock, jobid).json()
    assert job["status"] == "completed", job
    # With the token: MockHandle.requests() (and so violations()) only sees requests that carry it.
    video = requests.get(job["attachments"][0]["url"], headers=pixverse_mock.headers, timeout=10)
    assert video.status_code == 200 and video.content
    assert [e["operation"] for e in pixverse_mock.requests()] == ["meme_face", "jobs", "jobs", "attachment"]
    assert pixverse_mock.violations() == []


def test_each_test_gets_a_reset_mock(pixverse_mock):
    assert pixverse_mock.requests() == []
    assert poll(pixverse_mock, "j0101000000000001-u1-c1-bot:pixverse").status_code == 404


def test_the_handle_judges_traffic(pixverse_mock):
    answer = submit(pixverse_mock)
    jobid = answer.json()["jobid"]
    poll(pixverse_mock, jobid)
    poll(pixverse_mock, jobid)
    assert {v.property for v in pixverse_mock.violations()} == {"polls_no_faster_than_10s"}
'''


def test_plugin_is_declared_as_a_pytest11_entry_point() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["entry-points"]["pytest11"] == {"pixverse_mock": PLUGIN}


def test_installed_entry_point_loads_the_plugin(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _installed(), "the installed metadata lacks the pytest11 entry point: run `pip install -e .` again"
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    pytester.makepyfile(test_fixture="def test_it(pixverse_mock):\n    assert pixverse_mock.base_url\n")
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_pixverse_mock_serves_a_reset_mock_for_each_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_round_trip=ROUND_TRIP)
    result = _run(pytester)
    result.assert_outcomes(passed=3)


def test_conftest_overrides_of_config_and_token_are_honoured(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('''
import pytest

from mock_server import MockConfig


@pytest.fixture(scope="session")
def pixverse_mock_config():
    return MockConfig(clock="manual", expired_tokens=("user:9-expired",))


@pytest.fixture(scope="session")
def pixverse_mock_token():
    return "user:9-expired"
''')
    pytester.makepyfile(test_expired='''
import requests


def test_the_expired_token_gets_402(pixverse_mock):
    assert pixverse_mock.token == "user:9-expired"
    answer = requests.get(f"{pixverse_mock.base_url}/pixverse/account", headers=pixverse_mock.headers, timeout=10)
    assert answer.status_code == 402
    assert answer.json()["error"] == "Account has no subscription or subscription expired"


def test_another_token_is_served(pixverse_mock):
    answer = requests.get(f"{pixverse_mock.base_url}/pixverse/account",
                          headers={"Authorization": "Bearer user:1-fine"}, timeout=10)
    assert answer.status_code == 200
''')
    _run(pytester).assert_outcomes(passed=2)


def test_client_contract_passes_the_reference_and_fails_a_broken_client(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('''
from hypothesis import settings

settings.register_profile("inner", max_examples=40, derandomize=True, database=None)
settings.load_profile("inner")
''')
    pytester.makepyfile(test_contract='''
from contract_tests import ClientContract
from contract_tests.reference_client import ReferenceClient


class TestReference(ClientContract):
    make_client = staticmethod(ReferenceClient.make)


class PollsInATightLoop(ReferenceClient):
    """Polls every half second."""

    @classmethod
    def make(cls, base_url, token, sleep):
        return cls(base_url, token, sleep, poll_interval=0.5)


class TestBroken(ClientContract):
    make_client = staticmethod(PollsInATightLoop.make)
''')
    result = _run(pytester, "-q")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*TestBroken*test_client_contract*", "*polls_no_faster_than_10s*"])
    assert "TestReference::test_client_contract" not in "\n".join(
        line for line in result.outlines if line.startswith("FAILED"))


def test_an_error_inside_the_mock_is_raised_again_at_teardown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_broken_mock='''
import requests


def test_the_mock_raises(pixverse_mock, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("kaboom inside the mock")

    monkeypatch.setattr(pixverse_mock.control.service, "get_job", boom)
    answer = requests.get(f"{pixverse_mock.base_url}/pixverse/jobs/", params={"jobid": "j1"},
                          headers=pixverse_mock.headers, timeout=10)
    assert answer.status_code == 500


def test_the_next_test_starts_clean(pixverse_mock):
    answer = requests.get(f"{pixverse_mock.base_url}/pixverse/account", headers=pixverse_mock.headers, timeout=10)
    assert answer.status_code == 200
''')
    result = _run(pytester)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_the_mock_raises*",
        "*MockServerError*kaboom inside the mock*",
    ])


# --- every test starts from its config's state ---------------------------------------------------

CHANGE_THEN_CHECK = '''
import os
from pathlib import Path

import requests

from mock_server import MockConfig
from mock_server import create_app
from mock_server import mock_of

START = "2026-01-01T00:00:00.000Z"


def _record(pixverse_mock):
    seen = os.environ.get("SEEN_DIR")
    if seen:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        with open(Path(seen) / f"{worker}.txt", "a", encoding="utf-8") as out:
            out.write(pixverse_mock.url + "\\n")


def test_a_changes_everything(pixverse_mock):
    _record(pixverse_mock)
    control = pixverse_mock.control
    control.set_tokens(accepted=["user:1-only-this"], expired=[pixverse_mock.token])
    control.set_moderation(["banana"])
    graph = control.settings_view()["button_graph"]
    graph["prompt_buttons"] = ["V1"]
    control.set_button_graph(graph)
    control.set_accounts([{"discord": "another-discord-token-1", "server": "1100000000000000009",
                           "channel": "1200000000000000009", "maxJobs": 1}])
    control.add_fault("discord429", count=None)
    control.advance(3600)
    control.reseed(99)
    answer = requests.get(f"{pixverse_mock.base_url}/pixverse/account", headers=pixverse_mock.headers, timeout=10)
    assert answer.status_code == 402
    assert control.settings_view()["moderation_words"] == ["banana"]


def test_b_finds_the_state_its_config_describes(pixverse_mock, pixverse_mock_config):
    _record(pixverse_mock)
    control = pixverse_mock.control
    pristine = mock_of(create_app(pixverse_mock_config))
    try:
        assert control.settings_view() == pristine.settings_view()
    finally:
        pristine.close()
    assert control.clock_view()["iso"] == START
    assert control.fault_rules() == [] and pixverse_mock.requests() == []
    answer = requests.get(f"{pixverse_mock.base_url}/pixverse/account", headers=pixverse_mock.headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert list(answer.json()) == ["1200000000000000001"]
'''


def test_each_test_starts_from_the_state_its_config_describes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_isolation=CHANGE_THEN_CHECK)
    _run(pytester, "-p", "no:randomly").assert_outcomes(passed=2)


def test_under_xdist_every_worker_has_its_own_mock(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(**{f"test_isolation_{n}": CHANGE_THEN_CHECK for n in range(8)})
    seen = tmp_path / "seen"
    seen.mkdir()
    pytester._monkeypatch.setenv("SEEN_DIR", str(seen))
    result = pytester.runpytest_subprocess(*_plugin_args(), *LEAN, "-n", "4", "--dist", "loadfile")
    result.assert_outcomes(passed=16)
    urls = {path.stem: set(path.read_text(encoding="utf-8").split()) for path in seen.glob("*.txt")}
    assert sorted(urls) == ["gw0", "gw1", "gw2", "gw3"], urls
    assert all(len(mine) == 1 for mine in urls.values()), urls  # one server per worker, kept between tests
    assert len(set().union(*urls.values())) == 4, urls  # and no two workers share one


def test_config_overrides_work_per_directory_and_at_any_scope(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('''
import pytest

from mock_server import MockConfig


@pytest.fixture(scope="session")
def pixverse_mock_config():
    return MockConfig(clock="manual", moderation_words=("banana",))
''')
    check = '''
def test_config_in_force(pixverse_mock):
    view = pixverse_mock.control.settings_view()
    assert (view["moderation_words"], pixverse_mock.control.clock_view()["iso"]) == {expected!r}
'''
    pytester.makepyfile(test_1_root=check.format(expected=(["banana"], "2026-01-01T00:00:00.000Z")))
    for name, scope, words, start in (("a_session", "session", "kiwi", 1800000000), ("b_function", "function",
                                                                                       "plum", 1900000000)):
        sub = pytester.mkpydir(name)
        (sub / "conftest.py").write_text(f'''
import pytest

from mock_server import MockConfig


@pytest.fixture(scope="{scope}")
def pixverse_mock_config():
    return MockConfig(clock="manual", moderation_words=("{words}",), clock_start={start})
''', encoding="utf-8")
        from mock_server.clock import iso_millis

        (sub / f"test_{name}.py").write_text(check.format(expected=([words], iso_millis(start))), encoding="utf-8")
    pytester.makepyfile(test_9_root_again=check.format(expected=(["banana"], "2026-01-01T00:00:00.000Z")))
    _run(pytester, "-p", "no:randomly").assert_outcomes(passed=4)


def test_every_fixture_has_a_docstring(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = _run(pytester, "--fixtures")
    text = result.stdout.str()
    for name in ("pixverse_mock", "pixverse_mock_config", "pixverse_mock_token", "pixverse_mock_server",
                 "pixverse_mock_servers"):
        block = text.split(f"\n{name} ", 1)[1].split("\n\n", 1)[0] if f"\n{name} " in text else ""
        assert block and "no docstring available" not in block, (name, text[-3000:])


def test_a_project_shadowing_our_packages_still_runs_and_is_told_what_shadows_what(pytester: pytest.Pytester) -> None:
    shadows = {"contract_tests": pytester.path / "contract_tests" / "__init__.py",
               "mock_server": pytester.path / "mock_server.py"}
    for path in shadows.values():
        path.parent.mkdir(exist_ok=True)
        path.write_text("MINE = True\n", encoding="utf-8")
    pytester.makepyfile(test_mine='''
def test_without_the_mock():
    import contract_tests
    import mock_server

    assert contract_tests.MINE and mock_server.MINE  # the project's own modules, untouched by the plugin


def test_with_the_mock(pixverse_mock):
    pass
''')
    result = pytester.runpytest_subprocess(*_plugin_args(), *LEAN)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([
        f"*pixverse-mock cannot start its mock: {shadows['mock_server']} shadows pixverse-mock's package "
        f"'mock_server' ({ROOT / 'mock_server'})*{shadows['contract_tests']} shadows pixverse-mock's package "
        f"'contract_tests' ({ROOT / 'contract_tests'})*"])


def test_wait_for_async_leaves_the_event_loop_running() -> None:
    import asyncio

    import requests

    from contract_tests import MockHandle
    from contract_tests import ThreadedMockServer
    from mock_server import MockConfig

    with ThreadedMockServer(MockConfig(clock="manual")) as server:
        handle = MockHandle(server, "user:1-async")

        async def wait_while_a_request_is_sent() -> dict | None:
            waiting = asyncio.create_task(handle.wait_for_async("requests", timeout=3, operation="account"))
            await asyncio.sleep(0)  # the wait starts first: a wait that blocked the loop would time out here
            await asyncio.to_thread(requests.get, f"{handle.base_url}/pixverse/account", headers=handle.headers,
                                    timeout=10)
            return await waiting

        entry = asyncio.run(wait_while_a_request_is_sent())
    assert entry is not None and entry["operation"] == "account"
