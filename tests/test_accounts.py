"""``/v1/pixverse/account``: list, get, create/update (every documented 400 in order), delete, tenants."""

from __future__ import annotations

import pytest
from helpers import ACCOUNT
from helpers import AUTH
from helpers import DEFAULT_CHANNEL
from helpers import DEFAULT_DISCORD
from helpers import DEFAULT_SERVER
from helpers import FRESH
from helpers import TOKEN
from helpers import assert_error
from helpers import get_job
from helpers import masked
from helpers import meme_face_job
from helpers import submit_meme_face

OTHER = {"Authorization": "Bearer user:5678-anotherTenantToken"}
CHANNEL = "1200000000000000077"
DISCORD = "a-new-discord-token-for-channel-77"
NOT_FOUND = "Configuration not found. To create configuration use pixverse/account/<channel>."
DELETE_NOT_FOUND = "Configuration not found for provided channel"


def body(**changes):
    account = {"discord": DISCORD, "server": DEFAULT_SERVER, "channel": CHANNEL, "maxJobs": 3}
    account.update(changes)
    return {k: v for k, v in account.items() if v is not None}


def post(client, path: str = CHANNEL, headers=None, **changes):
    """``POST account/<path>`` with the valid body, changed by ``changes`` (``None`` leaves a field out)."""
    return client.post(f"{ACCOUNT}/{path}", json=body(**changes), headers=AUTH if headers is None else headers)


def default_view() -> dict:
    return {"discord": masked(DEFAULT_DISCORD), "server": DEFAULT_SERVER, "channel": DEFAULT_CHANNEL, "maxJobs": 10}


# --- GET ------------------------------------------------------------------------------------------


def test_account_list_has_default_account(client):
    response = client.get(ACCOUNT, headers=AUTH)
    assert response.status_code == 200
    assert response.get_json() == {DEFAULT_CHANNEL: default_view()}


@pytest.mark.parametrize("path", [
    ACCOUNT, f"{ACCOUNT}/", f"{ACCOUNT}/{DEFAULT_CHANNEL}", f"{ACCOUNT}/{DEFAULT_CHANNEL}/",
])
def test_account_get_discord_masked(client, path):
    response = client.get(path, headers=AUTH)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert masked(DEFAULT_DISCORD) in text
    assert DEFAULT_DISCORD not in text and TOKEN not in text


def test_account_get_one(client):
    response = client.get(f"{ACCOUNT}/{DEFAULT_CHANNEL}", headers=AUTH)
    assert response.status_code == 200
    assert response.get_json() == default_view()


def test_account_get_unknown_channel(client):
    assert_error(client.get(f"{ACCOUNT}/{CHANNEL}", headers=AUTH), 404, NOT_FOUND)


# --- POST -----------------------------------------------------------------------------------------


def test_account_post_creates(client):
    response = post(client)
    assert response.status_code == 204
    assert response.get_data() == b""
    view = client.get(f"{ACCOUNT}/{CHANNEL}", headers=AUTH).get_json()
    assert view == {"discord": masked(DISCORD), "server": DEFAULT_SERVER, "channel": CHANNEL, "maxJobs": 3}
    assert set(client.get(ACCOUNT, headers=AUTH).get_json()) == {DEFAULT_CHANNEL, CHANNEL}


def test_account_post_multipart_creates(client):
    response = client.post(f"{ACCOUNT}/{CHANNEL}", data=body(maxJobs="4"), headers=AUTH)
    assert response.status_code == 204
    assert client.get(f"{ACCOUNT}/{CHANNEL}", headers=AUTH).get_json()["maxJobs"] == 4


def test_account_post_updates_existing(client):
    assert post(client).status_code == 204
    assert post(client, discord="a-rotated-discord-token-77", maxJobs=7).status_code == 204
    view = client.get(f"{ACCOUNT}/{CHANNEL}", headers=AUTH).get_json()
    assert (view["discord"], view["maxJobs"]) == (masked("a-rotated-discord-token-77"), 7)


def test_account_post_updates_default_with_its_own_discord(client):
    response = post(client, DEFAULT_CHANNEL, discord=DEFAULT_DISCORD, channel=DEFAULT_CHANNEL, maxJobs=2)
    assert response.status_code == 204
    assert client.get(f"{ACCOUNT}/{DEFAULT_CHANNEL}", headers=AUTH).get_json()["maxJobs"] == 2


def test_account_post_used_by_meme_face(client):
    assert post(client, maxJobs=1).status_code == 204
    first = submit_meme_face(client, channel=CHANNEL)
    assert first.status_code == 200
    assert (first.get_json()["discord"], first.get_json()["maxJobs"]) == (masked(DISCORD), 1)
    assert submit_meme_face(client, channel=CHANNEL).status_code == 429


@pytest.mark.parametrize("name", ["discord", "server", "channel", "maxJobs"])
def test_account_post_missing(client, name):
    assert_error(post(client, **{name: None}), 400, f"Required param {name} is missing or empty")


@pytest.mark.parametrize("name", ["discord", "server", "channel", "maxJobs"])
def test_account_post_empty_is_missing(client, name):
    assert_error(post(client, **{name: ""}), 400, f"Required param {name} is missing or empty")


@pytest.mark.parametrize("value", [{}, [], {"id": "1100000000000000001"}, ["1100000000000000001"]],
                         ids=["empty-object", "empty-array", "object", "array"])
@pytest.mark.parametrize("name", ["discord", "server", "channel", "maxJobs"])
def test_account_post_object_or_array_is_missing(client, name, value):
    """An object or array is no text value: the field is missing, and nothing is saved."""
    assert_error(post(client, **{name: value}), 400, f"Required param {name} is missing or empty")
    assert client.get(f"{ACCOUNT}/{CHANNEL}", headers=AUTH).status_code == 404


@pytest.mark.parametrize("channel", ["1234567890123456", "123456789012345678901", "12000000000000000a7", "abc"])
def test_account_post_channel_not_valid(client, channel):
    assert_error(post(client, channel, channel=channel), 400,
                 f"Required param channel ({channel}) is not valid Discord channel id")


@pytest.mark.parametrize("channel", ["12345678901234567", "12345678901234567890"])
def test_account_post_channel_length_bounds_accepted(client, channel):
    assert post(client, channel, channel=channel).status_code == 204


def test_account_post_channel_not_matching_path(client):
    other = "1200000000000000078"
    assert_error(post(client, other, channel=CHANNEL), 400,
                 f"Required param channel ({CHANNEL}) not matching to /pixverse/account/{other}")


def test_account_post_max_jobs_too_many(client):
    assert_error(post(client, maxJobs=11), 400, "Required param maxJobs 11 can't be more that 10")


@pytest.mark.parametrize("value", [0, -1, "0", "abc", "2.5"])
def test_account_post_max_jobs_not_valid(client, value):
    assert_error(post(client, maxJobs=value), 400,
                 f"Required param maxJobs ({value}) must be a number between 1 and 10")


@pytest.mark.parametrize("value", [1, 10, "5"])
def test_account_post_max_jobs_bounds_accepted(client, value):
    assert post(client, maxJobs=value).status_code == 204
    assert client.get(f"{ACCOUNT}/{CHANNEL}", headers=AUTH).get_json()["maxJobs"] == int(value)


def test_account_post_same_discord_as_other_channel(client):
    assert_error(post(client, discord=DEFAULT_DISCORD), 400,
                 f"Channel {DEFAULT_CHANNEL} configuration has same discord value")


ORDER = [
    ("discord-before-server", {"discord": None, "server": None}, "Required param discord is missing or empty"),
    ("server-before-channel", {"server": None, "channel": None}, "Required param server is missing or empty"),
    ("channel-before-max-jobs", {"channel": None, "maxJobs": None}, "Required param channel is missing or empty"),
    ("missing-before-not-valid", {"discord": None, "channel": "abc"}, "Required param discord is missing or empty"),
    ("not-valid-before-not-matching", {"channel": "abc"},
     "Required param channel (abc) is not valid Discord channel id"),
    ("not-matching-before-max-jobs-missing", {"channel": "1200000000000000078", "maxJobs": None},
     f"Required param channel (1200000000000000078) not matching to /pixverse/account/{CHANNEL}"),
    ("not-matching-before-too-many", {"channel": "1200000000000000078", "maxJobs": 11},
     f"Required param channel (1200000000000000078) not matching to /pixverse/account/{CHANNEL}"),
    ("too-many-before-same-discord", {"maxJobs": 11, "discord": DEFAULT_DISCORD},
     "Required param maxJobs 11 can't be more that 10"),
    ("not-a-number-before-same-discord", {"maxJobs": 0, "discord": DEFAULT_DISCORD},
     "Required param maxJobs (0) must be a number between 1 and 10"),
]


@pytest.mark.parametrize("changes, message", [c[1:] for c in ORDER], ids=[c[0] for c in ORDER])
def test_account_post_order_of_checks(client, changes, message):
    assert_error(post(client, **changes), 400, message)


def test_account_post_rejected_changes_nothing(client):
    assert post(client, maxJobs=11).status_code == 400
    assert_error(client.get(f"{ACCOUNT}/{CHANNEL}", headers=AUTH), 404, NOT_FOUND)


# --- DELETE ---------------------------------------------------------------------------------------


def test_account_delete(client):
    assert post(client).status_code == 204
    response = client.delete(f"{ACCOUNT}/{CHANNEL}", headers=AUTH)
    assert response.status_code == 204 and response.get_data() == b""
    assert_error(client.get(f"{ACCOUNT}/{CHANNEL}", headers=AUTH), 404, NOT_FOUND)


def test_account_delete_unknown(client):
    assert_error(client.delete(f"{ACCOUNT}/{CHANNEL}", headers=AUTH), 404, DELETE_NOT_FOUND)


def test_account_delete_twice(client):
    assert client.delete(f"{ACCOUNT}/{DEFAULT_CHANNEL}", headers=AUTH).status_code == 204
    assert_error(client.delete(f"{ACCOUNT}/{DEFAULT_CHANNEL}", headers=AUTH), 404, DELETE_NOT_FOUND)


def test_account_list_empty(client):
    assert client.delete(f"{ACCOUNT}/{DEFAULT_CHANNEL}", headers=AUTH).status_code == 204
    assert_error(client.get(ACCOUNT, headers=AUTH), 404, NOT_FOUND)


def test_account_deleted_is_not_used_by_meme_face(client):
    assert client.delete(f"{ACCOUNT}/{DEFAULT_CHANNEL}", headers=AUTH).status_code == 204
    assert_error(submit_meme_face(client), 400, "face, prompt, discord, server or channel value is missing")


def test_account_delete_keeps_jobs(client):
    jobid = meme_face_job(client)
    assert client.delete(f"{ACCOUNT}/{DEFAULT_CHANNEL}", headers=AUTH).status_code == 204
    assert get_job(client, jobid)["jobid"] == jobid


# --- tenants --------------------------------------------------------------------------------------


def test_account_tenant_cannot_see_other_tenant_job(client):
    jobid = meme_face_job(client)
    response = client.get("/v1/pixverse/jobs/", query_string={"jobid": jobid}, headers=OTHER)
    assert_error(response, 404, f"Unable to locate job {jobid}")


def test_account_tenant_cannot_cancel_other_tenant_job(client):
    jobid = meme_face_job(client)
    response = client.get("/v1/pixverse/jobs/cancel/", query_string={"jobid": jobid}, headers=OTHER)
    assert_error(response, 404, f"Unable to locate job {jobid}")
    assert get_job(client, jobid)["status"] == "started"


def test_account_tenant_cannot_press_other_tenant_job(client, mock):
    jobid = meme_face_job(client)
    mock.advance(3)
    response = client.post("/v1/pixverse/button", json={"jobid": jobid, "button": "🔀"}, headers=OTHER)
    assert_error(response, 404, f"Unable to locate job {jobid}")


def test_account_tenant_cannot_see_other_tenant_account(client):
    assert post(client).status_code == 204
    assert_error(client.get(f"{ACCOUNT}/{CHANNEL}", headers=OTHER), 404, NOT_FOUND)
    assert CHANNEL not in client.get(ACCOUNT, headers=OTHER).get_json()


def test_account_tenant_delete_is_its_own(client):
    assert client.delete(f"{ACCOUNT}/{DEFAULT_CHANNEL}", headers=OTHER).status_code == 204
    assert client.get(ACCOUNT, headers=AUTH).get_json() == {DEFAULT_CHANNEL: default_view()}


def test_account_tenant_same_discord_is_per_tenant(client):
    assert post(client).status_code == 204
    assert post(client, headers=OTHER).status_code == 204


def test_account_tenant_max_jobs_is_per_tenant(client):
    assert submit_meme_face(client, maxJobs="1", **FRESH).status_code == 200
    assert submit_meme_face(client, maxJobs="1", **FRESH).status_code == 429
    assert submit_meme_face(client, maxJobs="1", headers=OTHER, **FRESH).status_code == 200
