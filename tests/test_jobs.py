"""``GET jobs/?jobid=`` and ``GET jobs/cancel/?jobid=``: the lifecycle on the manual clock, attachments, cancel."""

from __future__ import annotations

import uuid
from datetime import datetime
from datetime import timedelta

import pytest
from helpers import AUTH
from helpers import DISCORD_TIMESTAMP
from helpers import ISO_MILLIS
from helpers import SINGLE_BUTTONS
from helpers import assert_error
from helpers import complete
from helpers import fresh_mock
from helpers import get_job
from helpers import meme_face_job
from helpers import seed_job
from helpers import status_of
from helpers import submit_meme_face
from helpers import video_manifest
from hypothesis import given
from hypothesis import strategies as st

from mock_server import MockConfig
from mock_server.resources import fixtures_dir

JOBS_PATHS = ["/v1/pixverse/jobs/", "/v1/pixverse/jobs"]
CANCEL_PATHS = ["/v1/pixverse/jobs/cancel/", "/v1/pixverse/jobs/cancel"]
ORDER = {"started": 0, "progress": 1, "completed": 2, "cancelled": 2, "failed": 2, "moderated": 2}
ATTACHMENT_KEYS = {"id", "filename", "size", "url", "proxy_url", "content_type", "width", "height"}
UNKNOWN = "j0101000000000000-u1-c1200000000000000001-bot:pixverse"


def cancel(client, jobid: str, path: str = CANCEL_PATHS[0]):
    return client.get(path, query_string={"jobid": jobid}, headers=AUTH)


def instant(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


# --- lifecycle ------------------------------------------------------------------------------------


def test_jobs_started_right_after_submit(client):
    submitted = submit_meme_face(client).get_json()
    job = get_job(client, submitted["jobid"])
    assert job["status"] == "started"
    assert job["created"] == submitted["created"]
    assert job["updated"] == job["created"]
    assert "buttons" not in job and "attachments" not in job
    assert job["code"] == 200


def test_jobs_progress_after_one_second(client, mock):
    jobid = meme_face_job(client)
    mock.advance(1)
    job = get_job(client, jobid)
    assert job["status"] == "progress"
    assert "buttons" not in job and "attachments" not in job


def test_jobs_completed_after_three_seconds(client, mock):
    jobid = meme_face_job(client)
    mock.advance(1)
    mock.advance(2)
    job = get_job(client, jobid)
    assert job["status"] == "completed"
    assert job["buttons"] == SINGLE_BUTTONS
    assert len(job["attachments"]) == 1


def test_jobs_not_completed_before_three_seconds(client, mock):
    jobid = meme_face_job(client)
    mock.advance(2.9)
    assert status_of(client, jobid) == "progress"


def test_jobs_updated_moves_with_status(client, mock):
    jobid = meme_face_job(client)
    seen = {}
    for step in (0, 1, 2):
        mock.advance(step)
        job = get_job(client, jobid)
        assert ISO_MILLIS.match(job["updated"]) and DISCORD_TIMESTAMP.match(job["timestamp"])
        seen[job["status"]] = instant(job["updated"])
    created = instant(job["created"])
    assert seen == {"started": created, "progress": created + timedelta(seconds=1),
                    "completed": created + timedelta(seconds=3)}


def test_jobs_updated_stays_after_completion(client, mock):
    jobid = meme_face_job(client)
    complete(mock)
    before = get_job(client, jobid)
    mock.advance(60)
    after = get_job(client, jobid)
    assert (after["status"], after["updated"], after["timestamp"]) == (
        "completed", before["updated"], before["timestamp"])


def test_jobs_kept_for_31_days(client, mock):
    jobid = meme_face_job(client)
    mock.advance(31 * 24 * 3600)
    job = get_job(client, jobid)
    assert job["status"] == "completed" and len(job["attachments"]) == 1


def test_jobs_keeps_submit_fields(client, mock):
    submitted = submit_meme_face(client, negative_prompt="sad face", replyRef="ref-1").get_json()
    complete(mock)
    job = get_job(client, submitted["jobid"])
    for key in ("jobid", "verb", "created", "face", "prompt", "negative_prompt", "discord", "server",
                "channel", "maxJobs", "replyRef", "messageId"):
        assert job[key] == submitted[key], key


# --- attachments ----------------------------------------------------------------------------------


@pytest.mark.parametrize("aspect_ratio", ["4:3", "9:16", "1:1", "16:9", "3:4"])
def test_jobs_attachment_fields(client, mock, aspect_ratio):
    jobid = meme_face_job(client, aspect_ratio=aspect_ratio)
    complete(mock)
    [attachment] = get_job(client, jobid)["attachments"]
    video = video_manifest()[aspect_ratio]
    assert set(attachment) == ATTACHMENT_KEYS
    assert attachment["content_type"] == "video/mp4"
    assert (attachment["width"], attachment["height"]) == (video["width"], video["height"])
    assert attachment["size"] == (fixtures_dir() / "videos" / video["file"]).stat().st_size
    assert attachment["filename"].endswith(".mp4")
    assert attachment["id"].isdigit()


def test_jobs_attachment_default_aspect_ratio(client, mock):
    jobid = meme_face_job(client)
    complete(mock)
    [attachment] = get_job(client, jobid)["attachments"]
    video = video_manifest()["16:9"]
    assert (attachment["width"], attachment["height"]) == (video["width"], video["height"])


@pytest.mark.parametrize("key", ["url", "proxy_url"])
@pytest.mark.parametrize("aspect_ratio", ["16:9", "3:4"])
def test_jobs_attachment_downloads(client, mock, key, aspect_ratio):
    jobid = meme_face_job(client, aspect_ratio=aspect_ratio)
    complete(mock)
    [attachment] = get_job(client, jobid)["attachments"]
    response = client.get(attachment[key])
    try:
        assert response.status_code == 200
        assert response.mimetype == "video/mp4"
        expected = (fixtures_dir() / "videos" / video_manifest()[aspect_ratio]["file"]).read_bytes()
        assert response.get_data() == expected
    finally:
        response.close()


def test_jobs_attachment_downloads_without_auth(client, mock):
    jobid = meme_face_job(client)
    complete(mock)
    [attachment] = get_job(client, jobid)["attachments"]
    response = client.get(attachment["url"], headers={})
    try:
        assert response.status_code == 200
    finally:
        response.close()


def test_jobs_attachment_ids_differ_between_jobs(client, mock):
    first, second = meme_face_job(client), meme_face_job(client)
    complete(mock)
    assert get_job(client, first)["attachments"][0]["id"] != get_job(client, second)["attachments"][0]["id"]


# --- errors, paths --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", JOBS_PATHS + CANCEL_PATHS)
def test_jobs_missing_jobid(client, path):
    assert_error(client.get(path, headers=AUTH), 400, "Query param jobid not provided")


@pytest.mark.parametrize("path", JOBS_PATHS + CANCEL_PATHS)
def test_jobs_empty_jobid(client, path):
    assert_error(client.get(path, query_string={"jobid": ""}, headers=AUTH), 400, "Query param jobid not provided")


@pytest.mark.parametrize("path", JOBS_PATHS + CANCEL_PATHS)
def test_jobs_unknown_jobid(client, path):
    response = client.get(path, query_string={"jobid": UNKNOWN}, headers=AUTH)
    assert_error(response, 404, f"Unable to locate job {UNKNOWN}")


@pytest.mark.parametrize("path", JOBS_PATHS)
def test_jobs_with_and_without_trailing_slash(client, path):
    jobid = meme_face_job(client)
    response = client.get(path, query_string={"jobid": jobid}, headers=AUTH)
    assert response.status_code == 200
    assert response.get_json()["jobid"] == jobid


@pytest.mark.parametrize("path", CANCEL_PATHS)
def test_jobs_cancel_with_and_without_trailing_slash(client, path):
    jobid = meme_face_job(client)
    response = cancel(client, jobid, path)
    assert response.status_code == 200
    assert response.get_json() == {"jobid": jobid, "status": "cancelled", "code": 200}


# --- cancel ---------------------------------------------------------------------------------------


def test_jobs_cancel_started_job(client):
    jobid = meme_face_job(client)
    assert cancel(client, jobid).get_json() == {"jobid": jobid, "status": "cancelled", "code": 200}
    assert status_of(client, jobid) == "cancelled"


def test_jobs_cancel_job_in_progress(client, mock):
    jobid = meme_face_job(client)
    mock.advance(1)
    assert cancel(client, jobid).get_json() == {"jobid": jobid, "status": "cancelled", "code": 200}


def test_jobs_cancelled_forever(client, mock):
    jobid = meme_face_job(client)
    cancel(client, jobid)
    mock.advance(100)
    job = get_job(client, jobid)
    assert job["status"] == "cancelled"
    assert "attachments" not in job and "buttons" not in job


def test_jobs_cancel_twice_stays_cancelled(client, mock):
    jobid = meme_face_job(client)
    cancel(client, jobid)
    mock.advance(5)
    assert cancel(client, jobid).get_json() == {"jobid": jobid, "status": "cancelled", "code": 200}


def test_jobs_cancel_completed_job_keeps_completed(client, mock):
    jobid = meme_face_job(client)
    complete(mock)
    assert cancel(client, jobid).get_json() == {"jobid": jobid, "status": "completed", "code": 200}
    mock.advance(100)
    job = get_job(client, jobid)
    assert job["status"] == "completed" and len(job["attachments"]) == 1


def test_jobs_cancel_moderated_job_keeps_moderated(client):
    jobid = submit_meme_face(client, prompt="nsfw").get_json()["jobid"]
    assert cancel(client, jobid).get_json() == {"jobid": jobid, "status": "moderated", "code": 200}


def test_jobs_seeded_failed_job_carries_error(client):
    job = get_job(client, seed_job(None, ("failed",))["jobid"])
    assert job["status"] == "failed"
    assert isinstance(job.get("error"), str) and job["error"]


def test_jobs_seeded_executing_job_stays_executing(client, mock):
    jobid = seed_job(None, ("created", "started", "progress"))["jobid"]
    before = status_of(client, jobid)
    mock.advance(3600)
    assert status_of(client, jobid) == before


def test_jobs_cancel_seeded_failed_job_keeps_failed(client):
    jobid = seed_job(None, ("failed",))["jobid"]
    assert cancel(client, jobid).get_json() == {"jobid": jobid, "status": "failed", "code": 200}


@pytest.fixture(scope="module")
def shared_mock():
    """One mock for every hypothesis example; each example is its own tenant (a fresh token)."""
    with fresh_mock(MockConfig(clock="manual")) as (client, mock):
        yield client, mock


@given(
    steps=st.lists(st.sampled_from([0.0, 0.4, 0.5, 1.0, 1.5, 2.0, 3.0, 10.0]), min_size=1, max_size=8),
    cancel_at=st.one_of(st.none(), st.integers(min_value=0, max_value=7)),
)
def test_jobs_status_never_goes_backwards(shared_mock, steps, cancel_at):
    client, mock = shared_mock
    headers = {"Authorization": f"Bearer user:{uuid.uuid4().hex}"}
    submitted = submit_meme_face(client, headers=headers)
    assert submitted.status_code == 200, submitted.get_json()
    jobid = submitted.get_json()["jobid"]
    seen = [get_job(client, jobid, headers)["status"]]
    for index, step in enumerate(steps):
        if index == cancel_at:
            response = client.get(CANCEL_PATHS[0], query_string={"jobid": jobid}, headers=headers)
            assert response.status_code == 200
        mock.advance(step)
        seen.append(get_job(client, jobid, headers)["status"])
    ranks = [ORDER[s] for s in seen]
    assert ranks == sorted(ranks), seen
    assert len({s for s in seen if ORDER[s] == 2}) <= 1, seen
