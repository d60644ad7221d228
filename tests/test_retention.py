"""Retention: jobs are kept 31 days of mock time (configurable) and a number per tenant, then answer 404.

The vendor keeps jobs "at least 31 days"; a forgotten job answers ``404 Unable to locate job <jobid>``.
"""

from __future__ import annotations

import pytest
from helpers import FAST_DONE
from helpers import FRESH
from helpers import JOBS
from helpers import assert_error
from helpers import get_job
from helpers import meme_face_job

from mock_server import MockConfig
from mock_server.config import ConfigError

DAY = 86_400


def _gone(client, jobid: str) -> None:
    response = client.get(JOBS, query_string={"jobid": jobid}, headers={"Authorization": "Bearer " + TOKEN})
    assert_error(response, 404, f"Unable to locate job {jobid}")


TOKEN = "user:1234-testtokenAbCdEf"


def test_a_job_is_kept_31_days_then_answers_404(client, mock):
    jobid = meme_face_job(client, **FRESH)
    mock.advance(FAST_DONE + 31 * DAY - 1)
    assert get_job(client, jobid)["status"] == "completed"
    mock.advance(2)
    _gone(client, jobid)


@pytest.mark.parametrize("config", [MockConfig(clock="manual", retention_jobs=3, retention_days=2, seed_jobs=None)])
def test_beyond_the_count_per_tenant_the_oldest_go_first(client, mock):
    jobids = []
    for _ in range(5):
        jobids.append(meme_face_job(client, **FRESH))
        mock.advance(FAST_DONE)
    assert mock.evict_expired() == 0  # the first two went on the advances already
    for jobid in jobids[:2]:
        _gone(client, jobid)
    assert [get_job(client, jobid)["status"] for jobid in jobids[2:]] == ["completed"] * 3
    mock.advance(2 * DAY + 1)
    for jobid in jobids:
        _gone(client, jobid)


@pytest.mark.parametrize("values", [{"retention_days": 0}, {"retention_jobs": 0}])
def test_retention_must_keep_something(values):
    with pytest.raises(ConfigError, match="retention"):
        MockConfig(**values)


def test_retention_from_a_config_mapping():
    config = MockConfig.from_mapping({"retention_days": "7", "retention-jobs": "500"})
    assert (config.retention_days, config.retention_jobs) == (7.0, 500)
