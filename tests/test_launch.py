"""``pixverse-mock`` starts without the cyclic collector and serves with it on."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import granian.server
import pytest

from mock_server import cli
from mock_server import launch
from mock_server.config import MockConfig
from mock_server.serve import serve_wsgi


@pytest.fixture
def collector():
    """The collector's state is put back as it was, whatever the test did to it."""
    was = gc.isenabled()
    yield
    gc.unfreeze()
    (gc.enable if was else gc.disable)()


def test_the_command_line_runs_with_the_collector_off(collector, monkeypatch):
    seen = []
    monkeypatch.setattr(cli, "main", lambda: seen.append(gc.isenabled()))
    gc.enable()
    launch.main()
    assert seen == [False]


def test_the_server_freezes_what_start_up_built_and_turns_the_collector_back_on(collector, monkeypatch):
    seen = []
    monkeypatch.setattr(granian.server.Server, "serve",
                        lambda self, **_: seen.append((gc.isenabled(), gc.get_freeze_count() > 0)))
    gc.disable()
    gc.unfreeze()
    serve_wsgi(MockConfig(port=0), lambda: (None, None))
    assert seen == [(True, True)]


def test_the_command_line_is_the_installed_command_else_the_launch_module(monkeypatch, tmp_path):
    installed = launch.command_line()
    assert installed == [str(Path(sys.executable).with_name("pixverse-mock"))]
    assert subprocess.run([*installed, "--version"], capture_output=True, timeout=60).returncode == 0
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    assert launch.command_line() == [str(tmp_path / "python"), "-m", "mock_server.launch"]


def test_the_launch_module_runs_the_command():
    ran = subprocess.run([sys.executable, "-m", "mock_server.launch", "--version"],
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0 and ran.stdout.startswith("pixverse-mock "), ran
