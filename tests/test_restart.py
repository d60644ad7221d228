"""``mock_server.restart(app)``: the app gets back the state ``create_app`` gave it (the plugin's per-test reset)."""

from __future__ import annotations

import pytest
from conftest import AUTH
from helpers import meme_face_job

from mock_server import MockConfig
from mock_server import Scenario
from mock_server import create_app
from mock_server import mock_of
from mock_server import restart

SCENARIO_FAULT = {"fault": "discord429", "endpoint": "account", "count": 2}


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_restart_forgets_everything_the_config_does_not_describe(tmp_path, store):
    config = MockConfig(clock="manual", store="memory" if store == "memory" else f"sqlite:{tmp_path / 'mock.db'}")
    scenario = Scenario(name="one fault", description="", faults=(SCENARIO_FAULT,))
    app = create_app(config, scenario=scenario)
    client, before = app.test_client(), mock_of(app)
    pristine = before.settings_view()
    jobid = meme_face_job(client)
    before.set_moderation(["banana"])
    before.set_tokens(expired=["user:9-old"])
    before.add_fault("server_error", endpoint="jobs", count=None)

    after = restart(app)
    try:
        assert after is mock_of(app) and after is not before
        assert after.settings_view() == pristine
        assert after.journal("requests") == []
        rules = [(r["fault"], r["endpoint"], r["remaining"]) for r in after.fault_rules()]
        assert rules == [("discord429", "account", 2)]
        answer = client.get("/v1/pixverse/jobs/", query_string={"jobid": jobid}, headers=AUTH)
        assert answer.status_code == 404, answer.get_json()
    finally:
        after.close()
