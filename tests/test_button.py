"""``POST /v1/pixverse/button``: the vendor page's rules and messages, parents, and the button graph.

Completed ``create``, ``create_single`` and ``animate`` parents (and an in-progress and a failed one)
come from ``fixtures/seed-jobs.yaml``; meme_face parents are made here on the manual clock.
"""

from __future__ import annotations

import re

import pytest
from helpers import ACCOUNT
from helpers import AUTH
from helpers import DEFAULT_CHANNEL
from helpers import DEFAULT_DISCORD
from helpers import FRESH
from helpers import GRID_BUTTONS
from helpers import SINGLE_BUTTONS
from helpers import TOKEN
from helpers import assert_error
from helpers import button_job
from helpers import complete
from helpers import completed_meme_face
from helpers import get_job
from helpers import masked
from helpers import meme_face_job
from helpers import press
from helpers import seed_job
from helpers import status_of
from helpers import submit_meme_face
from helpers import video_manifest

MISSING = "jobid or button value is missing"
TOO_LONG = "prompt, replyRef or replyUrl is too long"
MODERATED = (
    "Apologies! Our AI moderator thinks this prompt or images as potentially violating our "
    "[community guidelines](<https://discord.com/channels/1140860020586713128/1168473004498501652>)."
)
STARTED_CONTENT = re.compile(
    r"<@(\d+)>  Hi! We are remaking your videos\. We will notify you when it's done\. \(.*\) Author: <@\1>\)",
    re.DOTALL,
)
OVERRIDE = "override-discord-token-0123456789"
UNKNOWN_JOB = "j0101000000000000-u1-c1200000000000000001-bot:pixverse"


def not_supported(button: str) -> str:
    return f"button {button} not supported"


def not_completed(jobid: str, status: str) -> str:
    return f"Job {jobid} status is {status}, button requires a completed job"


def create_parent() -> str:
    return seed_job("pixverse-create")["jobid"]


def pressed(response) -> dict:
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# --- the documented 400 messages ------------------------------------------------------------------


def test_button_missing_jobid(client):
    assert_error(press(client, None, "U1"), 400, MISSING)


def test_button_missing_button(client):
    assert_error(press(client, create_parent(), None), 400, MISSING)


def test_button_empty_body(client):
    assert_error(client.post("/v1/pixverse/button", headers=AUTH), 400, MISSING)


@pytest.mark.parametrize("json", [False, True], ids=["multipart", "json"])
def test_button_empty_and_null_values_are_missing(client, json):
    assert_error(press(client, "", "U1", json=json), 400, MISSING)
    if json:
        response = client.post("/v1/pixverse/button", json={"jobid": create_parent(), "button": None},
                               headers=AUTH)
        assert_error(response, 400, MISSING)


@pytest.mark.parametrize("button", ["X1", "U5", "u1", "redo", "V0", "🔃"])
def test_button_unknown_button(client, button):
    assert_error(press(client, create_parent(), button), 400, not_supported(button))


@pytest.mark.parametrize("field, length", [("prompt", 513), ("replyRef", 1025), ("replyUrl", 1025)])
def test_button_too_long(client, field, length):
    assert_error(press(client, create_parent(), "V1", **{field: "x" * length}), 400, TOO_LONG)


@pytest.mark.parametrize("field, length", [("prompt", 512), ("replyRef", 1024), ("replyUrl", 1024)])
def test_button_longest_allowed_is_accepted(client, field, length):
    assert pressed(press(client, create_parent(), "V1", **{field: "x" * length}))[field] == "x" * length


@pytest.mark.parametrize("button", ["U1", "U2", "U3", "U4", "ReDo", "🔄"])
def test_button_does_not_support_prompt(client, button):
    assert_error(press(client, create_parent(), button, prompt="a new prompt"), 400,
                 f"button {button} does not support prompt")


@pytest.mark.parametrize("button", ["V1", "V2", "V3", "V4"])
def test_button_prompt_accepted_on_variations(client, button):
    body = pressed(press(client, create_parent(), button, prompt="a brand new prompt"))
    assert body["prompt"] == "a brand new prompt"
    assert "prompt: a brand new prompt" in body["content"]


def test_button_prompt_accepted_on_remix(client, mock):
    parent = completed_meme_face(client, mock)
    body = pressed(press(client, parent, "🔀", prompt="a brand new prompt"))
    assert (body["button"], body["prompt"]) == ("🔀", "a brand new prompt")


@pytest.mark.parametrize("json", [False, True], ids=["multipart", "json"])
def test_button_both_content_types(client, json):
    parent = create_parent()
    body = pressed(press(client, parent, "V2", json=json, prompt="a new prompt", replyRef="ref-7"))
    assert (body["button"], body["parentJobId"], body["prompt"], body["replyRef"]) == (
        "V2", parent, "a new prompt", "ref-7")


def test_button_json_null_prompt_is_absent(client):
    response = client.post("/v1/pixverse/button", json={"jobid": create_parent(), "button": "U1", "prompt": None},
                           headers=AUTH)
    assert pressed(response)["button"] == "U1"


def test_button_json_max_jobs_as_number(client):
    assert pressed(press(client, create_parent(), "U1", json=True, maxJobs=3))["maxJobs"] == 3


@pytest.mark.parametrize("value", ["0", "11", "x"])
def test_button_max_jobs_out_of_range(client, value):
    assert_error(press(client, create_parent(), "U1", maxJobs=value), 400, f"maxJobs {value} valid range 1-10")


# --- parents --------------------------------------------------------------------------------------


def test_button_unknown_parent(client):
    assert_error(press(client, UNKNOWN_JOB, "U1"), 404, f"Unable to locate job {UNKNOWN_JOB}")


def test_button_parent_started(client):
    parent = meme_face_job(client)
    assert_error(press(client, parent, "🔀"), 400, not_completed(parent, "started"))


def test_button_parent_in_progress(client, mock):
    parent = meme_face_job(client)
    mock.advance(1)
    assert_error(press(client, parent, "🔀"), 400, not_completed(parent, "progress"))


def test_button_seeded_parent_still_executing(client):
    parent = seed_job(None, ("created", "started", "progress"))["jobid"]
    status = status_of(client, parent)
    assert status in ("created", "started", "progress")
    assert_error(press(client, parent, "U1"), 400, not_completed(parent, status))


def test_button_seeded_parent_failed(client):
    parent = seed_job(None, ("failed",))["jobid"]
    assert status_of(client, parent) == "failed"
    assert_error(press(client, parent, "U1"), 400, not_completed(parent, "failed"))


def test_button_parent_cancelled(client):
    parent = meme_face_job(client)
    assert client.get("/v1/pixverse/jobs/cancel/", query_string={"jobid": parent}, headers=AUTH).status_code == 200
    assert_error(press(client, parent, "🔀"), 400, not_completed(parent, "cancelled"))


def test_button_parent_moderated(client):
    parent = submit_meme_face(client, prompt="nsfw").get_json()["jobid"]
    assert_error(press(client, parent, "🔀"), 400, not_completed(parent, "moderated"))


@pytest.mark.parametrize("button", ["U1", "U4", "V1", "🔄"])
def test_button_not_in_single_parent_buttons(client, mock, button):
    parent = completed_meme_face(client, mock)
    assert get_job(client, parent)["buttons"] == SINGLE_BUTTONS
    assert_error(press(client, parent, button), 400, not_supported(button))


@pytest.mark.parametrize("button", ["ReDo", "🔀"])
def test_button_not_in_grid_parent_buttons(client, button):
    assert_error(press(client, create_parent(), button), 400, not_supported(button))


def test_button_seeded_create_parent_offers_grid(client):
    job = get_job(client, create_parent())
    assert job["status"] == "completed"
    assert job["buttons"] == GRID_BUTTONS
    assert len(job["attachments"]) == 4


@pytest.mark.parametrize("verb", ["pixverse-create_single", "pixverse-animate"])
def test_button_seeded_single_parents_offer_single_buttons(client, verb):
    job = get_job(client, seed_job(verb)["jobid"])
    assert job["status"] == "completed"
    assert job["buttons"] == SINGLE_BUTTONS


# --- the 200 answer -------------------------------------------------------------------------------


@pytest.mark.parametrize("button", GRID_BUTTONS)
def test_button_every_grid_button_on_create_parent(client, button):
    parent = create_parent()
    body = pressed(press(client, parent, button))
    assert body["verb"] == "pixverse-button"
    assert body["status"] == "started"
    assert (body["button"], body["parentJobId"]) == (button, parent)
    assert body["jobid"] != parent
    assert body["code"] == 200
    assert STARTED_CONTENT.fullmatch(body["content"]), body["content"]
    for key in ("created", "updated", "discord", "server", "channel", "maxJobs", "messageId", "timestamp"):
        assert key in body, key


def test_button_content_echoes_parent_parameters(client):
    parent = seed_job("pixverse-create_single")
    content = pressed(press(client, parent["jobid"], "ReDo"))["content"]
    expected = " ".join(f"{label}: {parent[key]}" for key, label in (
        ("prompt", "prompt"), ("style", "style"), ("negative_prompt", "negative-prompt"),
        ("aspect_ratio", "aspect-ratio"), ("character", "character")) if parent.get(key))
    assert STARTED_CONTENT.fullmatch(content), content
    assert f"We will notify you when it's done. ({expected}) Author: <@" in content


def test_button_content_uses_new_prompt(client):
    parent = seed_job("pixverse-create")
    content = pressed(press(client, parent["jobid"], "V3", prompt="A foggy morning"))["content"]
    assert "(prompt: A foggy morning style: " in content
    assert parent["prompt"] not in content


def test_button_child_keeps_parent_aspect_ratio(client, mock):
    parent = seed_job("pixverse-create_single")
    child = button_job(client, parent["jobid"], "🔀")
    complete(mock)
    [attachment] = get_job(client, child)["attachments"]
    video = video_manifest()[parent["aspect_ratio"]]
    assert (attachment["width"], attachment["height"]) == (video["width"], video["height"])


def test_button_runs_in_parent_channel(client):
    parent = seed_job("pixverse-create")
    body = pressed(press(client, parent["jobid"], "U1"))
    assert body["channel"] == str(parent["channel"])
    assert body["server"] == str(parent["server"])


@pytest.mark.parametrize("verb, button", [
    ("pixverse-create_single", "🔀"), ("pixverse-create_single", "ReDo"),
    ("pixverse-animate", "🔀"), ("pixverse-animate", "ReDo"),
])
def test_button_on_seeded_single_parents(client, verb, button):
    parent = seed_job(verb)["jobid"]
    body = pressed(press(client, parent, button))
    assert (body["button"], body["parentJobId"], body["status"]) == (button, parent, "started")


@pytest.mark.parametrize("button", SINGLE_BUTTONS)
def test_button_on_meme_face_parent(client, mock, button):
    parent = completed_meme_face(client, mock)
    body = pressed(press(client, parent, button))
    assert (body["button"], body["parentJobId"]) == (button, parent)
    assert body["channel"] == DEFAULT_CHANNEL


GRAPH = [
    ("V1", GRID_BUTTONS, 4), ("V4", GRID_BUTTONS, 4), ("U1", SINGLE_BUTTONS, 1), ("U3", SINGLE_BUTTONS, 1),
    ("🔄", GRID_BUTTONS, 4),
]


@pytest.mark.parametrize("button, buttons, videos", GRAPH, ids=[g[0] for g in GRAPH])
def test_button_child_buttons_on_grid_parent(client, mock, button, buttons, videos):
    child = button_job(client, create_parent(), button)
    complete(mock)
    job = get_job(client, child)
    assert job["status"] == "completed"
    assert job["buttons"] == buttons
    assert len(job["attachments"]) == videos


@pytest.mark.parametrize("button", SINGLE_BUTTONS)
def test_button_child_buttons_on_single_parent(client, mock, button):
    child = button_job(client, completed_meme_face(client, mock), button)
    complete(mock)
    job = get_job(client, child)
    assert (job["status"], job["buttons"], len(job["attachments"])) == ("completed", SINGLE_BUTTONS, 1)


def test_button_completed_button_job_is_a_parent(client, mock):
    variation = button_job(client, create_parent(), "V1", prompt="first variation")
    complete(mock)
    upscale = button_job(client, variation, "U2")
    complete(mock)
    remix = button_job(client, upscale, "🔀", prompt="remixed")
    complete(mock)
    job = get_job(client, remix)
    assert (job["status"], job["parentJobId"], job["buttons"]) == ("completed", upscale, SINGLE_BUTTONS)


def test_button_child_is_not_a_parent_before_it_completes(client):
    child = button_job(client, create_parent(), "V1")
    assert_error(press(client, child, "U1"), 400, not_completed(child, "started"))


# --- discord, maxJobs, moderation -----------------------------------------------------------------


def test_button_discord_override_is_masked(client, mock):
    parent = completed_meme_face(client, mock)
    response = press(client, parent, "🔀", discord=OVERRIDE)
    body = pressed(response)
    assert body["discord"] == masked(OVERRIDE)
    text = response.get_data(as_text=True)
    assert OVERRIDE not in text and TOKEN not in text


def test_button_discord_override_masked_in_job(client, mock):
    child = button_job(client, completed_meme_face(client, mock), "🔀", discord=OVERRIDE)
    complete(mock)
    job = get_job(client, child)
    assert job["discord"] == masked(OVERRIDE)
    assert OVERRIDE not in str(job)


def test_button_uses_current_account_discord(client, mock):
    parent = completed_meme_face(client, mock)
    assert pressed(press(client, parent, "🔀"))["discord"] == masked(DEFAULT_DISCORD)
    new_discord = "rotated-discord-token-after-submit-987"
    account = {"discord": new_discord, "server": "1100000000000000001", "channel": DEFAULT_CHANNEL, "maxJobs": 10}
    response = client.post(f"{ACCOUNT}/{DEFAULT_CHANNEL}", json=account, headers=AUTH)
    assert response.status_code == 204
    assert pressed(press(client, parent, "ReDo"))["discord"] == masked(new_discord)


def test_button_max_jobs_inherited_from_parent(client, mock):
    parent = completed_meme_face(client, mock, maxJobs="1", **FRESH)
    first = button_job(client, parent, "🔀")
    body = assert_error(press(client, parent, "ReDo"), 429, "Maximum of 1 jobs executing in parallel supported",
                        keys={"executingJobs"})
    assert body["executingJobs"] == [first]


def test_button_max_jobs_explicit(client, mock):
    parent = completed_meme_face(client, mock, **FRESH)
    first = button_job(client, parent, "🔀", maxJobs="1")
    body = assert_error(press(client, parent, "ReDo", maxJobs="1"), 429,
                        "Maximum of 1 jobs executing in parallel supported", keys={"executingJobs"})
    assert body["executingJobs"] == [first]
    assert pressed(press(client, parent, "ReDo", maxJobs="2"))["maxJobs"] == 2


def test_button_max_jobs_slot_frees_when_child_completes(client, mock):
    parent = completed_meme_face(client, mock, maxJobs="1", **FRESH)
    button_job(client, parent, "🔀")
    assert press(client, parent, "ReDo").status_code == 429
    complete(mock)
    assert press(client, parent, "ReDo").status_code == 200


def test_button_moderated_prompt(client):
    body = assert_error(press(client, create_parent(), "V1", prompt="make it NSFW please"), 422, MODERATED,
                        keys={"jobid", "status"})
    assert body["status"] == "moderated"
    assert status_of(client, body["jobid"]) == "moderated"


# --- order of checks (README "Assumptions") -------------------------------------------------------


def test_button_order_missing_before_unknown_button(client):
    assert_error(press(client, None, "X1", prompt="x" * 600), 400, MISSING)


def test_button_order_unknown_button_before_too_long(client):
    assert_error(press(client, create_parent(), "X1", prompt="x" * 513), 400, not_supported("X1"))


def test_button_order_too_long_before_prompt_not_accepted(client):
    assert_error(press(client, create_parent(), "U1", prompt="x" * 513), 400, TOO_LONG)


def test_button_order_prompt_not_accepted_before_unknown_parent(client):
    assert_error(press(client, UNKNOWN_JOB, "U1", prompt="a prompt"), 400, "button U1 does not support prompt")


def test_button_order_parent_not_completed_before_button_not_in_parent(client):
    parent = meme_face_job(client)
    assert_error(press(client, parent, "U1"), 400, not_completed(parent, "started"))


def test_button_order_button_not_in_parent_before_max_jobs(client, mock):
    parent = completed_meme_face(client, mock, maxJobs="1", **FRESH)
    button_job(client, parent, "🔀")
    assert_error(press(client, parent, "U1"), 400, not_supported("U1"))


def test_button_order_max_jobs_before_moderation(client, mock):
    parent = completed_meme_face(client, mock, maxJobs="1", **FRESH)
    button_job(client, parent, "ReDo")
    assert_error(press(client, parent, "🔀", prompt="nsfw"), 429, keys={"executingJobs"})
