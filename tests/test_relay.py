"""The callback relay applies each generated callback behaviour (in mock time) and counts what reached the client."""

from __future__ import annotations

import requests

from contract_tests.example import LATE_BY
from contract_tests.relay import CallbackRelay


class Clock:
    now = 1000.0


def test_each_mode_reaches_the_receiver_as_generated() -> None:
    clock = Clock()
    got: list[str] = []
    relay = CallbackRelay(lambda: clock.now).start()
    try:
        relay.receiver = lambda body: got.append(body["jobid"])
        for jobid, mode in [("on", "on_time"), ("late", "late"), ("dup", "duplicated"), ("never", "never"),
                            ("early", "early")]:
            relay.plan(jobid, mode)
            assert requests.post(relay.url, json={"jobid": jobid, "status": "completed"}, timeout=5).status_code == 200
        assert got == ["early"]  # handed over before the mock's POST is answered
        relay.pump(clock.now)
        assert sorted(got) == ["dup", "dup", "early", "on"]
        clock.now += LATE_BY
        relay.pump(clock.now)
        assert got.count("late") == 1 and "never" not in got
        assert relay.received["never"] == 1 and relay.delivered["never"] == 0
        assert relay.delivered["dup"] == 2 and not relay.pending()
    finally:
        relay.stop()
