"""``POST /v1/pixverse/create`` and ``/create_single``: every field rule and message, and their jobs.

The pages list fields and limits (facts sections 5.1, 5.2) but not their answers: the messages follow
the meme_face page's wording (README "Assumptions"). Strings are written out here, not imported.
"""

from __future__ import annotations

import pytest
from helpers import AUTH
from helpers import BASE
from helpers import DEFAULT_CHANNEL
from helpers import DEFAULT_DISCORD
from helpers import DISCORD_TIMESTAMP
from helpers import FAST_DONE
from helpers import FRESH
from helpers import GRID_BUTTONS
from helpers import ISO_MILLIS
from helpers import SINGLE_BUTTONS
from helpers import assert_error
from helpers import button_job
from helpers import complete
from helpers import get_job
from helpers import masked
from helpers import press
from helpers import status_of
from helpers import video_manifest

from mock_server import MockConfig

CREATE = f"{BASE}/create"
CREATE_SINGLE = f"{BASE}/create_single"
BOTH = pytest.mark.parametrize("path", [CREATE, CREATE_SINGLE], ids=["create", "create_single"])
BOTH_BODIES = pytest.mark.parametrize("as_json", [True, False], ids=["json", "multipart"])

MISSING = "prompt, style, discord, server or channel value is missing"
TOO_LONG = "prompt, negative_prompt, replyRef or replyUrl is too long"
STYLES = "Realistic, Anime, 3D Animation"
CHARACTERS = "kamisatoayaka, raidenshogun, yaemiko, hutao, ganyu, nahida, keqing, eula"
ASPECT_RATIOS = "16:9, 9:16, 1:1, 4:3, 3:4"
MODERATED = (
    "Apologies! Our AI moderator thinks this prompt or images as potentially violating our "
    "[community guidelines](<https://discord.com/channels/1140860020586713128/1168473004498501652>)."
)
PROMPT = "Sun breaking through clouds over the beautiful view of San Francisco"


def submit(client, path: str, *, as_json: bool = True, **fields):
    """POST create / create_single; ``None`` values are left out."""
    body = {"prompt": PROMPT, "style": "Realistic", **fields}
    body = {key: value for key, value in body.items() if value is not None}
    if as_json:
        return client.post(path, json=body, headers=AUTH)
    return client.post(path, data={k: str(v) for k, v in body.items()}, headers=AUTH,
                       content_type="multipart/form-data")


def accepted(client, path: str, **fields) -> dict:
    response = submit(client, path, **fields)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# --- 400: each rule, in both body types ----------------------------------------------------------


@BOTH
@BOTH_BODIES
@pytest.mark.parametrize("fields", [
    {"prompt": None}, {"style": None}, {"prompt": ""}, {"style": ""},
    {"discord": "my-discord"}, {"server": "1100000000000000001"},
    {"discord": "my-discord", "server": "1100000000000000001"},
], ids=["no-prompt", "no-style", "empty-prompt", "empty-style", "discord", "server", "discord+server"])
def test_missing_value(client, path, as_json, fields):
    assert_error(submit(client, path, as_json=as_json, **fields), 400, MISSING)


@BOTH
def test_missing_when_nothing_sent(client, path):
    assert_error(client.post(path, json={}, headers=AUTH), 400, MISSING)
    assert_error(client.post(path, headers=AUTH), 400, MISSING)


@BOTH
@pytest.mark.parametrize("field, length", [("prompt", 513), ("negative_prompt", 513), ("replyUrl", 1025),
                                           ("replyRef", 1025)])
def test_too_long(client, path, field, length):
    assert_error(submit(client, path, **{field: "x" * length}), 400, TOO_LONG)


@BOTH
def test_longest_values_are_accepted(client, path):
    job = accepted(client, path, prompt="p" * 512, negative_prompt="n" * 512, replyRef="r" * 1024)
    assert (len(job["prompt"]), len(job["negative_prompt"]), len(job["replyRef"])) == (512, 512, 1024)


@BOTH
@BOTH_BODIES
@pytest.mark.parametrize("style", ["Cartoon", "realistic", "3D-Animation", "3D  Animation"])
def test_style_not_supported(client, path, as_json, style):
    message = f"style {style} not supported, must be one of {STYLES}"
    assert_error(submit(client, path, as_json=as_json, style=style), 400, message)


@BOTH
@pytest.mark.parametrize("style", ["Realistic", "Anime", "3D Animation"])
def test_each_style_is_accepted_and_echoed(client, path, style):
    assert accepted(client, path, style=style)["style"] == style


@BOTH
def test_character_not_supported_with_anime(client, path):
    message = f"character nobody not supported, must be one of {CHARACTERS}"
    assert_error(submit(client, path, style="Anime", character="nobody"), 400, message)


@BOTH
def test_character_with_anime_is_echoed_and_shown_in_content(client, path):
    job = accepted(client, path, style="Anime", character="kamisatoayaka")
    assert job["character"] == "kamisatoayaka"
    assert "style: Anime" in job["content"] and "character: kamisatoayaka" in job["content"]


@BOTH
@pytest.mark.parametrize("style", ["Realistic", "3D Animation"])
def test_character_without_anime_is_ignored(client, path, style):
    job = accepted(client, path, style=style, character="nobody")
    assert "character" not in job and "character" not in job["content"]


@BOTH
@BOTH_BODIES
@pytest.mark.parametrize("ratio", ["2:1", "16x9", "16:10"])
def test_aspect_ratio_not_supported(client, path, as_json, ratio):
    message = f"aspect_ratio {ratio} not supported, must be one of {ASPECT_RATIOS}"
    assert_error(submit(client, path, as_json=as_json, aspect_ratio=ratio), 400, message)


@pytest.mark.parametrize("value", ["-1", "2147483648", "abc", "1.5"])
def test_create_single_seed_value_out_of_range(client, value):
    assert_error(submit(client, CREATE_SINGLE, as_json=False, seed_value=value), 400,
                 f"seed_value {value} valid range 0-2147483647")


@pytest.mark.parametrize("value", [0, 2147483647, "12345"])
def test_create_single_seed_value_is_accepted(client, value):
    assert accepted(client, CREATE_SINGLE, seed_value=value)["seed_value"] == int(value)


def test_create_has_no_seed_value(client):
    """Create makes four videos and has no seed field: a seed_value is ignored, even a bad one."""
    assert "seed_value" not in accepted(client, CREATE, seed_value="abc")


@BOTH
@pytest.mark.parametrize("value", ["0", "11", "ten"])
def test_max_jobs_out_of_range(client, path, value):
    assert_error(submit(client, path, maxJobs=value), 400, f"maxJobs {value} valid range 1-10")


@BOTH
def test_order_of_checks(client, path):
    """missing, too long, style, character, aspect_ratio, seed_value (create_single), maxJobs."""
    bad = {"negative_prompt": "n" * 513, "style": "Cartoon", "aspect_ratio": "2:1", "maxJobs": "0"}
    assert_error(submit(client, path, prompt=None, **bad), 400, MISSING)
    assert_error(submit(client, path, **bad), 400, TOO_LONG)
    bad.pop("negative_prompt")
    assert_error(submit(client, path, **bad), 400, f"style Cartoon not supported, must be one of {STYLES}")
    bad.update(style="Anime", character="nobody")
    assert_error(submit(client, path, **bad), 400, f"character nobody not supported, must be one of {CHARACTERS}")
    bad.pop("character")
    assert_error(submit(client, path, **bad), 400, f"aspect_ratio 2:1 not supported, must be one of {ASPECT_RATIOS}")
    bad.pop("aspect_ratio")
    if path == CREATE_SINGLE:
        assert_error(submit(client, path, seed_value=-1, **bad), 400, "seed_value -1 valid range 0-2147483647")
    assert_error(submit(client, path, **bad), 400, "maxJobs 0 valid range 1-10")


@pytest.mark.parametrize("config", [MockConfig(clock="manual", accounts=())], ids=["no-accounts"])
@BOTH
def test_no_account_is_the_missing_message(client, path):
    assert_error(submit(client, path), 400, MISSING)


@BOTH
def test_unknown_channel_alone_is_the_missing_message(client, path):
    assert_error(submit(client, path, channel="1299999999999999999"), 400, MISSING)


# --- 200: the job -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path, verb", [(CREATE, "pixverse-create"), (CREATE_SINGLE, "pixverse-create_single")])
def test_started_answer(client, path, verb):
    job = accepted(client, path, style="Anime", character="hutao", negative_prompt="rain", aspect_ratio="9:16",
                   replyRef="order-1", maxJobs=4)
    assert job["verb"] == verb and job["status"] == "started" and job["code"] == 200
    assert ISO_MILLIS.match(job["created"]) and DISCORD_TIMESTAMP.match(job["timestamp"])
    assert (job["prompt"], job["negative_prompt"], job["aspect_ratio"]) == (PROMPT, "rain", "9:16")
    assert (job["channel"], job["maxJobs"], job["replyRef"]) == (DEFAULT_CHANNEL, 4, "order-1")
    assert job["discord"] == masked(DEFAULT_DISCORD)
    user = job["jobid"].split("-u")[1].split("-")[0]
    assert job["content"] == (
        f"<@{user}> We are making videos. We will notify you when it's done. (prompt: {PROMPT} style: Anime "
        f"negative-prompt: rain aspect-ratio: 9:16 character: hutao) Author: <@{user}>)")


@pytest.mark.parametrize("path, buttons, videos", [(CREATE, GRID_BUTTONS, 4), (CREATE_SINGLE, SINGLE_BUTTONS, 1)],
                         ids=["create", "create_single"])
def test_completed_job_has_its_videos_and_buttons(client, mock, path, buttons, videos):
    jobid = accepted(client, path, aspect_ratio="4:3")["jobid"]
    mock.advance(FAST_DONE - 0.5)
    assert status_of(client, jobid) == "progress"
    mock.advance(0.5)
    job = get_job(client, jobid)
    assert job["status"] == "completed" and job["buttons"] == buttons
    assert len(job["attachments"]) == videos
    assert len({a["url"] for a in job["attachments"]}) == videos
    manifest = video_manifest()["4:3"]
    for attachment in job["attachments"]:
        assert (attachment["width"], attachment["height"]) == (manifest["width"], manifest["height"])
        video = client.get(attachment["url"].removeprefix("http://localhost"))
        assert video.status_code == 200 and video.mimetype == "video/mp4"
        assert video.data[4:8] == b"ftyp" and len(video.data) == attachment["size"]


def test_create_is_a_parent_of_every_grid_button(client, mock):
    parent = accepted(client, CREATE)["jobid"]
    complete(mock)
    children = {button: button_job(client, parent, button) for button in GRID_BUTTONS}
    children["V2"] = button_job(client, parent, "V2", prompt="the same, at night")
    complete(mock)
    for button, child in children.items():
        job = get_job(client, child)
        assert job["parentJobId"] == parent and job["button"] == button
        assert job["buttons"] == (SINGLE_BUTTONS if button.startswith("U") else GRID_BUTTONS), button
        assert len(job["attachments"]) == (1 if button.startswith("U") else 4)


def test_upscale_of_a_create_then_remix(client, mock):
    parent = accepted(client, CREATE, aspect_ratio="1:1")["jobid"]
    complete(mock)
    upscaled = button_job(client, parent, "U1")
    complete(mock)
    remix = button_job(client, upscaled, "🔀", prompt="a remix")
    complete(mock)
    job = get_job(client, remix)
    assert job["status"] == "completed" and job["buttons"] == SINGLE_BUTTONS
    assert job["attachments"][0]["width"] == video_manifest()["1:1"]["width"]


def test_create_single_takes_single_video_buttons_only(client, mock):
    parent = accepted(client, CREATE_SINGLE)["jobid"]
    complete(mock)
    assert_error(press(client, parent, "U1"), 400, "button U1 not supported")
    assert button_job(client, parent, "ReDo")


def test_executing_create_is_not_a_parent(client):
    parent = accepted(client, CREATE)["jobid"]
    assert_error(press(client, parent, "U1"), 400,
                 f"Job {parent} status is started, button requires a completed job")


# --- maxJobs, moderation, faults, callbacks ------------------------------------------------------------


@BOTH
def test_max_jobs_429_lists_the_executing_jobs(client, path):
    running = [accepted(client, path, maxJobs=2, **FRESH)["jobid"] for _ in range(2)]
    body = assert_error(submit(client, path, maxJobs=2, **FRESH), 429,
                        "Maximum of 2 jobs executing in parallel supported", keys={"executingJobs"})
    assert sorted(body["executingJobs"]) == sorted(running)


@BOTH
@pytest.mark.parametrize("field", ["prompt", "negative_prompt"])
def test_moderated_422_and_the_job_exists(client, path, field):
    body = assert_error(submit(client, path, **{field: "a nude statue"}), 422, MODERATED, keys={"jobid", "status"})
    job = get_job(client, body["jobid"])
    assert (job["status"], job["error"], job["code"]) == ("moderated", MODERATED, 422)


@BOTH
def test_prompt_markers_and_header_faults(client, mock, path):
    assert_error(submit(client, path, prompt="a cat [mock:discord429]"), 429,
                 "Discord /interactions failed with HTTP status 429", keys={"errorDetails"})
    response = client.post(path, json={"prompt": "a cat", "style": "Anime"},
                           headers={**AUTH, "X-Mock-Fault": "moderated"})
    assert_error(response, 422, MODERATED, keys={"jobid", "status"})
    failing = accepted(client, path, prompt="a cat [mock:fail:no credits]")["jobid"]
    complete(mock)
    assert get_job(client, failing)["error"] == "no credits"


@BOTH
def test_queued_fault_for_the_endpoint(client, mock, path):
    endpoint = path.rsplit("/", 1)[1]
    mock.add_fault("server_error:503", endpoint=endpoint)
    assert_error(submit(client, path), 503)
    assert submit(client, path).status_code == 200


@BOTH
def test_callback_at_the_final_status(client, mock, path):
    reply_url = "http://127.0.0.1:9/callback"  # the discard port: nothing leaves the machine
    jobid = accepted(client, path, replyUrl=reply_url, replyRef="ref-7")["jobid"]
    complete(mock)
    entry = mock.wait_for("callbacks", timeout=5, jobid=jobid)
    assert entry is not None and entry["url"] == reply_url


@BOTH
def test_journal_names_the_operation(client, mock, path):
    accepted(client, path)
    entry = mock.journal("requests", operation=path.rsplit("/", 1)[1])[-1]
    assert entry["status"] == 200 and entry["violations"] == []
