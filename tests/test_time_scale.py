"""The mock's time scale: a system clock R times faster than wall time, for clients run under faketime."""

from __future__ import annotations

import socket
import time
from datetime import datetime

import pytest
from conftest import AUTH
from helpers import submit_meme_face

from mock_server import MockConfig
from mock_server import create_app
from mock_server import mock_of
from mock_server.clock import ScaledClock
from mock_server.clock import SystemClock
from mock_server.config import ConfigError
from mock_server.runtime import callback_poll_interval


def test_scaled_clock_runs_r_times_faster_from_its_origin(monkeypatch):
    wall = [1_000.0]
    monkeypatch.setattr(time, "time", lambda: wall[0])
    clock = ScaledClock(50, origin=1_000.0)
    assert clock.now() == 1_000.0
    wall[0] += 0.2
    assert clock.now() == pytest.approx(1_010.0)


def test_time_scale_is_a_config_key():
    assert MockConfig.from_mapping({"time_scale": "20"}).time_scale == 20.0
    for bad in (0, -1, None):
        with pytest.raises(ConfigError, match="time_scale"):
            MockConfig(time_scale=bad)
    with pytest.raises(ConfigError, match="manual clock"):
        MockConfig(clock="manual", time_scale=10)


def test_scale_one_keeps_the_plain_system_clock():
    runtime = mock_of(create_app(MockConfig()))
    try:
        assert isinstance(runtime.clock, SystemClock)
    finally:
        runtime.close()


def test_the_callback_scheduler_looks_often_enough_on_a_fast_clock():
    assert callback_poll_interval(1) == 0.1
    assert callback_poll_interval(50) * 50 <= 0.5  # at most half a mock second late
    assert callback_poll_interval(1000) == 0.01  # never a busy loop


def test_jobs_and_callbacks_follow_the_scaled_clock():
    # The fast profile ends a job 3 mock seconds after its submit: at x100 that is 0.03 s of wall time,
    # and the callback journal shows it at least 3 mock seconds after "created", and never more mock
    # seconds than 100 times the wall time that passed.
    with socket.socket() as probe:  # a port nobody listens on: the attempt is journaled with its error
        probe.bind(("127.0.0.1", 0))
        reply_url = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
    app = create_app(MockConfig(time_scale=100))
    runtime = mock_of(app)
    try:
        started = time.monotonic()
        job = submit_meme_face(app.test_client(), headers=AUTH, replyUrl=reply_url).get_json()
        callback = runtime.wait_for("callbacks", timeout=10, jobid=job["jobid"])
        waited = time.monotonic() - started
        assert callback is not None
        ended_after = _epoch(callback["time"]) - _epoch(job["created"])
        assert 3.0 <= ended_after <= 100 * waited + 0.01
        assert waited < 1.5  # on the plain system clock this takes 3 s
    finally:
        runtime.close()


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
