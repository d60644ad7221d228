"""The shipped fixtures are parsed once per content and kept on disk; a user's own files never are."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mock_server import datafiles
from mock_server.resources import fixtures_dir


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty cache folder, and a fresh in-memory cache in front of it."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("PIXVERSE_MOCK_CACHE_DIR", str(folder))
    datafiles._parse.cache_clear()
    yield folder
    datafiles._parse.cache_clear()


@pytest.fixture
def shipped(tmp_path, monkeypatch) -> Path:
    """A fixtures folder the test may write to, standing in for the one that ships."""
    folder = tmp_path / "fixtures"
    folder.mkdir()
    monkeypatch.setattr(datafiles, "fixtures_dir", lambda: folder)
    return folder


def test_a_shipped_fixture_is_read_back_without_pyyaml_in_a_new_process(cache):
    seeds = fixtures_dir() / "seed-jobs.yaml"
    expected = yaml.safe_load(seeds.read_text(encoding="utf-8"))
    assert datafiles.load_yaml(seeds) == expected
    assert len(list(cache.glob("*.json"))) == 1
    probe = ("import sys; from pathlib import Path; from mock_server.datafiles import load_yaml; "
             f"value = load_yaml(Path({str(seeds)!r})); print('yaml' in sys.modules, value == {expected!r})")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True,
                          env={"PIXVERSE_MOCK_CACHE_DIR": str(cache), "PATH": ""})
    assert done.stdout.split() == ["False", "True"]


def test_a_changed_fixture_is_parsed_again(cache, shipped):
    path = shipped / "graph.yaml"
    path.write_text("a: 1\n", encoding="utf-8")
    assert datafiles.load_yaml(path) == {"a": 1}
    path.write_text("a: 2 # now two\n", encoding="utf-8")
    assert datafiles.load_yaml(path) == {"a": 2}
    assert len(list(cache.glob("*.json"))) == 2


def test_a_damaged_cache_entry_is_parsed_again_and_replaced(cache, shipped):
    path = shipped / "graph.yaml"
    path.write_text("a: [1, 2]\n", encoding="utf-8")
    datafiles.load_yaml(path)
    [entry] = cache.glob("*.json")
    entry.write_bytes(b'{"a": [1,')
    datafiles._parse.cache_clear()
    assert datafiles.load_yaml(path) == {"a": [1, 2]}
    assert entry.read_bytes() == b'{"a":[1,2]}'


def test_what_json_cannot_hold_exactly_is_parsed_each_time(cache, shipped):
    path = shipped / "dates.yaml"
    path.write_text("day: 2026-01-01\n", encoding="utf-8")
    value = datafiles.load_yaml(path)
    assert str(value["day"]) == "2026-01-01" and not isinstance(value["day"], str)
    assert not cache.exists() or not list(cache.iterdir())


def test_a_users_own_file_is_never_copied(cache, tmp_path):
    path = tmp_path / "my-seeds.yaml"
    path.write_text("- {jobid: mine, token: user:1-secret}\n", encoding="utf-8")
    assert datafiles.load_yaml(path) == [{"jobid": "mine", "token": "user:1-secret"}]
    assert not cache.exists()


def test_a_cache_folder_that_cannot_be_written_only_costs_the_parse(tmp_path, monkeypatch, shipped):
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("PIXVERSE_MOCK_CACHE_DIR", str(blocker / "cache"))
    datafiles._parse.cache_clear()
    path = shipped / "graph.yaml"
    path.write_text("a: 1\n", encoding="utf-8")
    assert datafiles.load_yaml(path) == {"a": 1}


def test_the_default_cache_folder_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("PIXVERSE_MOCK_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert datafiles.cache_dir() == tmp_path / "pixverse-mock"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert datafiles.cache_dir() == Path.home() / ".cache" / "pixverse-mock"
