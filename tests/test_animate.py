"""``POST /v1/pixverse/animate``: image to video, multipart only; every field rule and message, and the job.

Fields and limits are the page's (facts section 5.3); its answers were not published, so the messages
follow the meme_face page's wording (README "Assumptions"). Strings are written out here.
"""

from __future__ import annotations

import struct
from io import BytesIO

import pytest
from helpers import AUTH
from helpers import BASE
from helpers import FAST_DONE
from helpers import SINGLE_BUTTONS
from helpers import assert_error
from helpers import button_job
from helpers import complete
from helpers import face_bytes
from helpers import fresh_mock
from helpers import get_job
from helpers import status_of
from helpers import video_manifest

from mock_server import MockConfig

ANIMATE = f"{BASE}/animate"
MISSING = "image, discord, server or channel value is missing"
NOT_FILE = "image is not File or Blob"
TOO_LONG = "prompt, replyRef or replyUrl is too long"
NOT_IMAGE = "image is not a jpg/png/jpeg image"
MODERATED = (
    "Apologies! Our AI moderator thinks this prompt or images as potentially violating our "
    "[community guidelines](<https://discord.com/channels/1140860020586713128/1168473004498501652>)."
)


def png_of(width: int, height: int) -> bytes:
    """The start of a PNG of that size: enough for the mock to read its dimensions."""
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I4sII", 13, b"IHDR", width, height) + b"\x08\x02\x00\x00\x00"


def submit(client, *, image: bytes | str | None = b"", filename: str = "beach.png", content_type: str = "image/png",
           headers: dict[str, str] | None = None, **fields):
    """POST animate as multipart; ``image=b""`` sends face.png, a ``str`` sends a text field, ``None`` nothing."""
    data = {key: str(value) for key, value in fields.items() if value is not None}
    if isinstance(image, bytes):
        data["image"] = (BytesIO(image or face_bytes()), filename, content_type)
    elif isinstance(image, str):
        data["image"] = image
    return client.post(ANIMATE, data=data, headers=AUTH if headers is None else headers,
                       content_type="multipart/form-data")


def accepted(client, **fields) -> dict:
    response = submit(client, **fields)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# --- 400 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fields", [
    {"image": None}, {"discord": "my-discord"}, {"server": "1100000000000000001"},
    {"discord": "my-discord", "channel": "1200000000000000001"},
], ids=["no-image", "discord", "server", "discord+channel"])
def test_missing_value(client, fields):
    assert_error(submit(client, **fields), 400, MISSING)


def test_image_as_text_field_is_not_file(client):
    assert_error(submit(client, image="beach.png"), 400, NOT_FILE)


@pytest.mark.parametrize("body, message", [({"prompt": "a cat"}, MISSING), ({"image": "data:image/png;base64,AA"},
                                                                                NOT_FILE)],
                         ids=["no-image", "image-as-text"])
def test_json_body(client, body, message):
    assert_error(client.post(ANIMATE, json=body, headers=AUTH), 400, message)


@pytest.mark.parametrize("field, length", [("prompt", 513), ("replyUrl", 1025), ("replyRef", 1025)])
def test_too_long(client, field, length):
    assert_error(submit(client, **{field: "x" * length}), 400, TOO_LONG)


def test_prompt_is_optional_and_512_characters_fit(client):
    assert "prompt" not in accepted(client)
    assert len(accepted(client, prompt="p" * 512)["prompt"]) == 512


@pytest.mark.parametrize("value", ["0", "11", "-3", "five", "2.5"])
def test_motion_out_of_range(client, value):
    assert_error(submit(client, motion=value), 400, f"motion {value} valid range 1-10")


@pytest.mark.parametrize("value, echoed", [(None, 5), ("1", 1), ("10", 10), ("7", 7)])
def test_motion_default_5_and_range(client, value, echoed):
    job = accepted(client, motion=value)
    assert job["motion"] == echoed and f"motion: {echoed}" in job["content"]


@pytest.mark.parametrize("value", ["-1", "2147483648", "x"])
def test_seed_value_out_of_range(client, value):
    assert_error(submit(client, seed_value=value), 400, f"seed_value {value} valid range 0-2147483647")


@pytest.mark.parametrize("value", ["yes", "HD", "true", "1"])
def test_hd_quality_not_supported(client, value):
    assert_error(submit(client, hd_quality=value), 400, f"hd_quality {value} not supported, must be one of Yes, No")


@pytest.mark.parametrize("value", ["Yes", "No"])
def test_hd_quality_echoed(client, value):
    assert accepted(client, hd_quality=value)["hd_quality"] == value


@pytest.mark.parametrize("value", ["0", "11"])
def test_max_jobs_out_of_range(client, value):
    assert_error(submit(client, maxJobs=value), 400, f"maxJobs {value} valid range 1-10")


@pytest.mark.parametrize("data", [b"%PDF-1.4 not an image", b"\x00" * 64], ids=["pdf", "zeros"])
def test_image_bytes_not_an_image(client, data):
    assert_error(submit(client, image=data), 400, NOT_IMAGE)


def test_empty_image_is_not_an_image(client):
    response = client.post(ANIMATE, data={"image": (BytesIO(b""), "empty.png", "image/png")}, headers=AUTH,
                           content_type="multipart/form-data")
    assert_error(response, 400, NOT_IMAGE)


def test_order_of_checks(client):
    """missing, not a file, too long, motion, seed_value, hd_quality, maxJobs, image bytes."""
    bad = {"prompt": "x" * 513, "motion": "0", "seed_value": "-1", "hd_quality": "HD", "maxJobs": "0"}
    assert_error(submit(client, image=None, **bad), 400, MISSING)
    assert_error(submit(client, image="text", **bad), 400, NOT_FILE)
    assert_error(submit(client, image=b"%PDF", **bad), 400, TOO_LONG)
    bad.pop("prompt")
    assert_error(submit(client, image=b"%PDF", **bad), 400, "motion 0 valid range 1-10")
    bad.pop("motion")
    assert_error(submit(client, image=b"%PDF", **bad), 400, "seed_value -1 valid range 0-2147483647")
    bad.pop("seed_value")
    assert_error(submit(client, image=b"%PDF", **bad), 400, "hd_quality HD not supported, must be one of Yes, No")
    bad.pop("hd_quality")
    assert_error(submit(client, image=b"%PDF", **bad), 400, "maxJobs 0 valid range 1-10")
    assert_error(submit(client, image=b"%PDF"), 400, NOT_IMAGE)


# --- the job ----------------------------------------------------------------------------------------------


def test_started_answer_echoes_the_image_and_fields(client):
    job = accepted(client, prompt="The waves roll in", motion=3, seed_value=42, hd_quality="No", replyRef="r1",
                   filename="beach.png", content_type="image/png")
    assert job["verb"] == "pixverse-animate" and job["status"] == "started" and job["code"] == 200
    assert job["image"] == {"size": len(face_bytes()), "type": "image/png"}
    assert (job["prompt"], job["motion"], job["seed_value"], job["hd_quality"]) == ("The waves roll in", 3, 42, "No")
    assert "aspect_ratio" not in job and "style" not in job
    user = job["jobid"].split("-u")[1].split("-")[0]
    image_url = f"https://cdn.discordapp.com/ephemeral-attachments/{job['server']}/{job['messageId']}/beach.png"
    assert job["content"] == (f"<@{user}> We are making videos. We will notify you when it's done. "
                              f"([image attached](<{image_url}>) prompt: The waves roll in motion: 3) "
                              f"Author: <@{user}>)")


@pytest.mark.parametrize("size, ratio", [((128, 128), "1:1"), ((1920, 1080), "16:9"), ((1080, 1920), "9:16"),
                                         ((1024, 768), "4:3"), ((768, 1024), "3:4"), ((3000, 1000), "16:9")])
def test_video_follows_the_image(client, mock, size, ratio):
    jobid = accepted(client, image=png_of(*size))["jobid"]
    complete(mock)
    job = get_job(client, jobid)
    assert job["buttons"] == SINGLE_BUTTONS and len(job["attachments"]) == 1
    expected = video_manifest()[ratio]
    assert (job["attachments"][0]["width"], job["attachments"][0]["height"]) == (expected["width"], expected["height"])


def test_jpeg_dimensions_are_read(client, mock):
    jobid = accepted(client, image=face_bytes("face.jpg"), content_type="image/jpeg")["jobid"]
    complete(mock)
    assert get_job(client, jobid)["attachments"][0]["width"] == video_manifest()["1:1"]["width"]


def test_unreadable_dimensions_give_16_9(client, mock):
    webp = b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 32
    jobid = accepted(client, image=webp, content_type="image/webp")["jobid"]
    complete(mock)
    assert get_job(client, jobid)["attachments"][0]["height"] == video_manifest()["16:9"]["height"]


def test_generation_options_are_data(tmp_path):
    """Animate's ratio and the hd_quality slowdown come from the ``generation`` file (here: 3:4, 2x)."""
    path = tmp_path / "generation.yaml"
    path.write_text("anime_characters: [kamisatoayaka]\nhd_quality_duration_factor: 2\nanimate_aspect_ratio: '3:4'\n")
    with fresh_mock(MockConfig(clock="manual", generation=path)) as (client, mock):
        jobid = accepted(client, image=png_of(1920, 1080), hd_quality="Yes")["jobid"]
        mock.advance(FAST_DONE * 2 - 0.5)
        assert status_of(client, jobid) == "progress"
        mock.advance(0.5)
        assert get_job(client, jobid)["attachments"][0]["width"] == video_manifest()["3:4"]["width"]


def test_hd_quality_yes_takes_one_and_a_half_times_longer(client, mock):
    hd = accepted(client, hd_quality="Yes")["jobid"]
    plain = accepted(client, hd_quality="No")["jobid"]
    mock.advance(FAST_DONE)
    assert (status_of(client, plain), status_of(client, hd)) == ("completed", "progress")
    mock.advance(FAST_DONE * 0.5)
    assert status_of(client, hd) == "completed"


def test_animate_is_a_parent_of_remix_and_redo(client, mock):
    parent = accepted(client, image=png_of(1080, 1920))["jobid"]
    complete(mock)
    remix = button_job(client, parent, "🔀", prompt="now at night")
    redo = button_job(client, parent, "ReDo")
    complete(mock)
    for child in (remix, redo):
        job = get_job(client, child)
        assert job["buttons"] == SINGLE_BUTTONS
        assert job["attachments"][0]["height"] == video_manifest()["9:16"]["height"]  # the parent's ratio


def test_moderated_prompt(client):
    body = assert_error(submit(client, prompt="a gore scene"), 422, MODERATED, keys={"jobid", "status"})
    assert get_job(client, body["jobid"])["status"] == "moderated"


def test_max_jobs_429(client):
    first = accepted(client, maxJobs=1)["jobid"]
    body = assert_error(submit(client, maxJobs=1), 429, "Maximum of 1 jobs executing in parallel supported",
                        keys={"executingJobs"})
    assert body["executingJobs"] == [first]


def test_prompt_marker_and_header_fault(client, mock):
    assert_error(submit(client, prompt="[mock:expired]"), 402, "Account has no subscription or subscription expired")
    jobid = accepted(client, headers={**AUTH, "X-Mock-Fault": "fail"})["jobid"]
    complete(mock)
    assert get_job(client, jobid)["error"] == "PixVerse failed to generate the video"
