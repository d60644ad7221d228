"""``POST /v1/pixverse/meme_face``: every rule and message of the vendor page, and the mock's decisions.

The vendor page (shared/seeds/pixverse-meme_face.txt) is the contract; where it is silent the README
"Assumptions" decide (order of checks, input tolerance, accounts, maxJobs, moderation).
"""

from __future__ import annotations

import re

import pytest
from helpers import AUTH
from helpers import DEFAULT_CHANNEL
from helpers import DEFAULT_DISCORD
from helpers import DEFAULT_SERVER
from helpers import DISCORD_TIMESTAMP
from helpers import FRESH
from helpers import ISO_MILLIS
from helpers import MEME_FACE
from helpers import TOKEN
from helpers import assert_error
from helpers import complete
from helpers import face_bytes
from helpers import face_part
from helpers import fresh_mock
from helpers import get_job
from helpers import masked
from helpers import meme_face_job
from helpers import status_of
from helpers import submit_meme_face

from mock_server import MockConfig

MISSING = "face, prompt, discord, server or channel value is missing"
TOO_LONG = "prompt, negative_prompt, replyRef or replyUrl is too long"
NOT_FILE = "face is not File or Blob"
NOT_IMAGE = "face is not a jpg/png/jpeg image"
MODERATED = (
    "Apologies! Our AI moderator thinks this prompt or images as potentially violating our "
    "[community guidelines](<https://discord.com/channels/1140860020586713128/1168473004498501652>)."
)

# The seed page's own example request.
PAGE_EXAMPLE = {
    "prompt": "A girl laughing by the seaside",
    "negative_prompt": "sad face",
    "seed_value": "12345",
    "aspect_ratio": "4:3",
    "maxJobs": "10",
    "replyUrl": "https://webhook.site/abc",
    "replyRef": "my-ref-42",
}
PAGE_KEYS = [
    "jobid", "verb", "status", "created", "updated", "face", "prompt", "negative_prompt", "seed_value",
    "aspect_ratio", "discord", "server", "channel", "maxJobs", "replyUrl", "replyRef", "messageId",
    "content", "timestamp", "code",
]

SERVER = "1100000000000000001"
CHANNEL_A = "1200000000000000011"
CHANNEL_B = "1200000000000000012"
ACCOUNT_A = {"discord": "discord-token-of-account-A-aaa", "server": SERVER, "channel": CHANNEL_A, "maxJobs": 10}
ACCOUNT_B = {"discord": "discord-token-of-account-B-bbb", "server": SERVER, "channel": CHANNEL_B, "maxJobs": 10}
TWO_ACCOUNTS = MockConfig(clock="manual", accounts=(ACCOUNT_A, ACCOUNT_B))
NO_ACCOUNTS = MockConfig(clock="manual", accounts=())
OWN_DISCORD = "my-own-discord-token-0123456789xyz"


def channel_of(response) -> str:
    assert response.status_code == 200, response.get_json()
    return response.get_json()["channel"]


# --- the five documented 400 messages ------------------------------------------------------------


def test_meme_face_missing_face(client):
    assert_error(submit_meme_face(client, face=None), 400, MISSING)


def test_meme_face_missing_prompt(client):
    assert_error(submit_meme_face(client, prompt=None), 400, MISSING)


@pytest.mark.parametrize("triple", [
    {"discord": OWN_DISCORD},
    {"server": SERVER},
    {"discord": OWN_DISCORD, "server": SERVER},
    {"discord": OWN_DISCORD, "channel": CHANNEL_A},
    {"server": SERVER, "channel": CHANNEL_A},
], ids=["discord", "server", "discord+server", "discord+channel", "server+channel"])
def test_meme_face_partial_account_triple_is_missing(client, triple):
    assert_error(submit_meme_face(client, **triple), 400, MISSING)


def test_meme_face_face_as_text_field_is_not_file(client):
    assert_error(submit_meme_face(client, face="face.png"), 400, NOT_FILE)


def test_meme_face_json_body_with_face_is_not_file(client):
    body = {"face": "data:image/png;base64,iVBORw0KGgo=", "prompt": "A girl laughing by the seaside"}
    assert_error(client.post(MEME_FACE, json=body, headers=AUTH), 400, NOT_FILE)


@pytest.mark.parametrize("body", [{"prompt": "A girl"}, {"prompt": "A girl", "face": None}, {}],
                         ids=["no-face", "null-face", "empty"])
def test_meme_face_json_body_without_face_is_missing(client, body):
    assert_error(client.post(MEME_FACE, json=body, headers=AUTH), 400, MISSING)


@pytest.mark.parametrize("field, length", [
    ("prompt", 513), ("negative_prompt", 513), ("replyUrl", 1025), ("replyRef", 1025),
])
def test_meme_face_too_long(client, field, length):
    assert_error(submit_meme_face(client, **{field: "x" * length}), 400, TOO_LONG)


@pytest.mark.parametrize("field, length", [
    ("prompt", 512), ("negative_prompt", 512), ("replyUrl", 1024), ("replyRef", 1024),
])
def test_meme_face_longest_allowed_is_accepted(client, field, length):
    response = submit_meme_face(client, **{field: "x" * length})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()[field] == "x" * length


def test_meme_face_aspect_ratio_not_supported(client):
    assert_error(submit_meme_face(client, aspect_ratio="2:1"), 400,
                 "aspect_ratio 2:1 not supported, must be one of 16:9, 9:16, 1:1, 4:3, 3:4")


@pytest.mark.parametrize("aspect_ratio", ["16:9", "9:16", "1:1", "4:3", "3:4"])
def test_meme_face_aspect_ratio_supported(client, aspect_ratio):
    response = submit_meme_face(client, aspect_ratio=aspect_ratio)
    assert response.status_code == 200
    assert response.get_json()["aspect_ratio"] == aspect_ratio


@pytest.mark.parametrize("seed_value", ["-1", "2147483648", "abc", "1.5"])
def test_meme_face_seed_value_out_of_range(client, seed_value):
    assert_error(submit_meme_face(client, seed_value=seed_value), 400,
                 f"seed_value {seed_value} valid range 0-2147483647")


@pytest.mark.parametrize("seed_value, number", [("0", 0), ("2147483647", 2147483647), ("12345", 12345)])
def test_meme_face_seed_value_accepted_and_echoed_as_number(client, seed_value, number):
    response = submit_meme_face(client, seed_value=seed_value)
    assert response.status_code == 200, response.get_json()
    echoed = response.get_json()["seed_value"]
    assert echoed == number and type(echoed) is int


# --- order of checks (README "Assumptions") --------------------------------------------------------

NOT_AN_IMAGE = "<not an image>"
"""Stands for a face part whose bytes are plain text (built fresh in each test)."""
ORDER = [
    ("missing-before-not-file", {"prompt": None, "face": "text"}, MISSING),
    ("partial-triple-before-not-file", {"discord": OWN_DISCORD, "face": "text"}, MISSING),
    ("not-file-before-too-long", {"face": "text", "prompt": "x" * 513}, NOT_FILE),
    ("too-long-before-aspect-ratio", {"prompt": "x" * 513, "aspect_ratio": "2:1"}, TOO_LONG),
    ("aspect-ratio-before-seed", {"aspect_ratio": "2:1", "seed_value": "-1"},
     "aspect_ratio 2:1 not supported, must be one of 16:9, 9:16, 1:1, 4:3, 3:4"),
    ("seed-before-max-jobs", {"seed_value": "-1", "maxJobs": "0"}, "seed_value -1 valid range 0-2147483647"),
    ("max-jobs-before-not-image", {"maxJobs": "0", "face": NOT_AN_IMAGE}, "maxJobs 0 valid range 1-10"),
    ("not-image-before-account", {"face": NOT_AN_IMAGE, "channel": "1299999999999999999"}, NOT_IMAGE),
    ("account-before-moderation", {"channel": "1299999999999999999", "prompt": "a nsfw scene"}, MISSING),
]


@pytest.mark.parametrize("fields, message", [case[1:] for case in ORDER], ids=[case[0] for case in ORDER])
def test_meme_face_order_of_checks(client, fields, message):
    fields = dict(fields)
    if fields.get("face") == NOT_AN_IMAGE:
        fields["face"] = face_part(b"this is plain text, not an image", "face.png", "image/png")
    assert_error(submit_meme_face(client, **fields), 400, message)


def test_meme_face_order_max_jobs_before_moderation(client):
    meme_face_job(client, maxJobs="1", **FRESH)
    response = submit_meme_face(client, maxJobs="1", prompt="a nsfw scene", **FRESH)
    assert_error(response, 429, "Maximum of 1 jobs executing in parallel supported", keys={"executingJobs"})


def test_meme_face_order_auth_before_validation(client):
    assert_error(submit_meme_face(client, face=None, prompt=None, headers={}), 401, "Unauthorized")


# --- input tolerance ------------------------------------------------------------------------------


def test_meme_face_empty_strings_count_as_absent(client):
    empty = {name: "" for name in ("negative_prompt", "seed_value", "aspect_ratio", "discord", "server",
                                    "channel", "maxJobs", "replyUrl", "replyRef")}
    response = submit_meme_face(client, **empty)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["channel"] == DEFAULT_CHANNEL
    assert body["maxJobs"] == 10
    for name in ("negative_prompt", "seed_value", "aspect_ratio", "replyUrl", "replyRef"):
        assert body.get(name) in (None, ""), name


def test_meme_face_empty_prompt_is_missing(client):
    assert_error(submit_meme_face(client, prompt=""), 400, MISSING)


def test_meme_face_numbers_as_strings(client):
    response = submit_meme_face(client, seed_value="42", maxJobs="3")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["seed_value"], body["maxJobs"]) == (42, 3)


@pytest.mark.parametrize("filename, content_type", [
    ("", "image/png"),
    ("blob", "image/png"),
    ("/home/me/Pictures/2024/face.png", "image/png"),
    ("C:\\Users\\me\\face.png", "image/png"),
    ("face", "image/png"),
    ("face.png", "application/octet-stream"),
    ("blob", "application/octet-stream"),
], ids=["no-filename", "blob", "posix-path", "windows-path", "no-extension", "octet-stream",
        "blob-octet-stream"])
def test_meme_face_face_part_any_name_and_type(client, filename, content_type):
    data = face_bytes()
    response = submit_meme_face(client, face=face_part(data, filename, content_type))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["face"] == {"size": len(data), "type": content_type}


def test_meme_face_jpeg_face(client):
    data = face_bytes("face.jpg")
    response = submit_meme_face(client, face=face_part(data, "face.jpg", "image/jpeg"))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["face"] == {"size": len(data), "type": "image/jpeg"}


@pytest.mark.parametrize("data", [b"", b"hello, I am not an image", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"],
                         ids=["empty", "text", "pdf"])
def test_meme_face_face_not_an_image(client, data):
    assert_error(submit_meme_face(client, face=face_part(data, "face.png", "image/png")), 400, NOT_IMAGE)


# --- the 200 answer -------------------------------------------------------------------------------


def page_example(client):
    response = submit_meme_face(client, **PAGE_EXAMPLE)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_meme_face_answer_shape(client):
    body = page_example(client)
    assert set(body) == set(PAGE_KEYS)
    assert body["verb"] == "pixverse-meme_face"
    assert body["status"] == "started"
    assert isinstance(body["jobid"], str) and body["jobid"]
    assert ISO_MILLIS.match(body["created"]) and ISO_MILLIS.match(body["updated"])
    assert DISCORD_TIMESTAMP.match(body["timestamp"])
    assert body["face"] == {"size": len(face_bytes()), "type": "image/png"}
    assert (body["prompt"], body["negative_prompt"]) == ("A girl laughing by the seaside", "sad face")
    assert body["seed_value"] == 12345 and type(body["seed_value"]) is int
    assert body["aspect_ratio"] == "4:3"
    assert (body["server"], body["channel"]) == (DEFAULT_SERVER, DEFAULT_CHANNEL)
    assert body["maxJobs"] == 10 and type(body["maxJobs"]) is int
    assert (body["replyUrl"], body["replyRef"]) == ("https://webhook.site/abc", "my-ref-42")
    assert re.fullmatch(r"\d+", body["messageId"])
    assert body["code"] == 200


def test_meme_face_answer_keys_in_page_order(client):
    assert list(page_example(client)) == PAGE_KEYS


def test_meme_face_content_matches_seed_example(client):
    content = page_example(client)["content"]
    assert re.fullmatch(
        r"<@(\d+)> We are making videos\. We will notify you when it's done\. "
        r"\(\[image attached\]\(<https://cdn\.discordapp\.com/ephemeral-attachments/[^>]+>\) "
        r"prompt: A girl laughing by the seaside negative-prompt: sad face aspect-ratio: 4:3\) "
        r"Author: <@\1>\)",
        content,
    ), content


def test_meme_face_content_without_optional_parameters(client):
    content = submit_meme_face(client, prompt="a cat").get_json()["content"]
    assert re.fullmatch(
        r"<@(\d+)> We are making videos\. We will notify you when it's done\. "
        r"\(\[image attached\]\(<https://cdn\.discordapp\.com/ephemeral-attachments/[^>]+>\) "
        r"prompt: a cat(?: aspect-ratio: 16:9)?\) Author: <@\1>\)",
        content,
    ), content


def test_meme_face_discord_masked(client):
    body = page_example(client)
    assert body["discord"] == masked(DEFAULT_DISCORD)
    assert body["discord"] == DEFAULT_DISCORD[:3] + "…secured…" + DEFAULT_DISCORD[-3:]


def test_meme_face_full_tokens_never_in_answer(client):
    response = submit_meme_face(client, discord=OWN_DISCORD, server=SERVER, channel=CHANNEL_A)
    assert response.status_code == 200, response.get_json()
    text = response.get_data(as_text=True)
    assert response.get_json()["discord"] == masked(OWN_DISCORD)
    assert OWN_DISCORD not in text and TOKEN not in text and DEFAULT_DISCORD not in text


def test_meme_face_full_token_never_in_job(client, mock):
    jobid = meme_face_job(client, discord=OWN_DISCORD, server=SERVER, channel=CHANNEL_A)
    for step in (0, 1, 2):
        mock.advance(step)
        job = get_job(client, jobid)
        assert job["discord"] == masked(OWN_DISCORD)
        assert OWN_DISCORD not in str(job)


# --- accounts -------------------------------------------------------------------------------------


def test_meme_face_no_account_fields_uses_configured_account(client):
    body = submit_meme_face(client).get_json()
    assert (body["channel"], body["server"], body["discord"]) == (
        DEFAULT_CHANNEL, DEFAULT_SERVER, masked(DEFAULT_DISCORD))


@pytest.mark.parametrize("config", [TWO_ACCOUNTS], ids=["two-accounts"])
@pytest.mark.parametrize("account", [ACCOUNT_A, ACCOUNT_B], ids=["A", "B"])
def test_meme_face_channel_alone_picks_that_account(client, account):
    for _ in range(5):
        body = submit_meme_face(client, channel=account["channel"]).get_json()
        assert (body["channel"], body["discord"]) == (account["channel"], masked(account["discord"]))


def test_meme_face_unconfigured_channel_alone_is_missing(client):
    assert_error(submit_meme_face(client, channel="1299999999999999999"), 400, MISSING)


@pytest.mark.parametrize("config", [NO_ACCOUNTS], ids=["no-accounts"])
def test_meme_face_explicit_triple_without_configured_account(client):
    response = submit_meme_face(client, discord=OWN_DISCORD, server=SERVER, channel=CHANNEL_A)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["discord"], body["server"], body["channel"], body["maxJobs"]) == (
        masked(OWN_DISCORD), SERVER, CHANNEL_A, 10)


@pytest.mark.parametrize("config", [NO_ACCOUNTS], ids=["no-accounts"])
def test_meme_face_no_account_configured_and_none_given_is_missing(client):
    assert_error(submit_meme_face(client), 400, MISSING)


def channel_sequence(seed: int, count: int = 12) -> list[str]:
    with fresh_mock(MockConfig(clock="manual", seed=seed, accounts=(ACCOUNT_A, ACCOUNT_B))) as (client, mock):
        channels = []
        for _ in range(count):
            channels.append(channel_of(submit_meme_face(client)))
            complete(mock)
        return channels


def test_meme_face_random_account_choice_is_seeded():
    assert channel_sequence(7) == channel_sequence(7)


@pytest.mark.parametrize("config", [TWO_ACCOUNTS], ids=["two-accounts"])
def test_meme_face_random_account_choice_uses_every_account(client, mock):
    channels = set()
    for _ in range(20):
        channels.add(channel_of(submit_meme_face(client)))
        complete(mock)
    assert channels == {CHANNEL_A, CHANNEL_B}


@pytest.mark.parametrize("config", [MockConfig(clock="manual", accounts=({**ACCOUNT_A, "maxJobs": 1}, ACCOUNT_B))],
                         ids=["A-holds-one"])
def test_meme_face_random_account_choice_skips_full_accounts(client):
    assert channel_of(submit_meme_face(client, channel=CHANNEL_A)) == CHANNEL_A
    for _ in range(9):
        assert channel_of(submit_meme_face(client)) == CHANNEL_B


@pytest.mark.parametrize("config", [MockConfig(clock="manual", accounts=(
    {**ACCOUNT_A, "maxJobs": 1}, {**ACCOUNT_B, "maxJobs": 1}))], ids=["both-hold-one"])
def test_meme_face_every_account_full_is_429(client):
    first = meme_face_job(client, channel=CHANNEL_A)
    second = meme_face_job(client, channel=CHANNEL_B)
    body = assert_error(submit_meme_face(client), 429, keys={"executingJobs"})
    assert body["error"] == "Maximum of 1 jobs executing in parallel supported"
    assert sorted(body["executingJobs"]) == sorted([first, second])


# --- maxJobs --------------------------------------------------------------------------------------


def test_meme_face_max_jobs_full_is_429(client):
    jobs = [meme_face_job(client, maxJobs="2", **FRESH) for _ in range(2)]
    body = assert_error(submit_meme_face(client, maxJobs="2", **FRESH), 429,
                        "Maximum of 2 jobs executing in parallel supported", keys={"executingJobs"})
    assert sorted(body["executingJobs"]) == sorted(jobs)


def test_meme_face_max_jobs_slot_frees_when_jobs_complete(client, mock):
    for _ in range(2):
        meme_face_job(client, maxJobs="2", **FRESH)
    assert submit_meme_face(client, maxJobs="2", **FRESH).status_code == 429
    complete(mock)
    assert submit_meme_face(client, maxJobs="2", **FRESH).status_code == 200


def test_meme_face_max_jobs_slot_frees_on_cancel(client):
    first = meme_face_job(client, maxJobs="2", **FRESH)
    meme_face_job(client, maxJobs="2", **FRESH)
    assert submit_meme_face(client, maxJobs="2", **FRESH).status_code == 429
    assert client.get("/v1/pixverse/jobs/cancel/", query_string={"jobid": first}, headers=AUTH).status_code == 200
    assert submit_meme_face(client, maxJobs="2", **FRESH).status_code == 200


@pytest.mark.parametrize("value", ["0", "11", "x", "-3", "2.5"])
def test_meme_face_max_jobs_out_of_range(client, value):
    assert_error(submit_meme_face(client, maxJobs=value), 400, f"maxJobs {value} valid range 1-10")


@pytest.mark.parametrize("value", ["1", "10"])
def test_meme_face_max_jobs_bounds_accepted(client, value):
    response = submit_meme_face(client, maxJobs=value, **FRESH)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["maxJobs"] == int(value)


@pytest.mark.parametrize("config", [MockConfig(clock="manual", accounts=({**ACCOUNT_A, "maxJobs": 1},))],
                         ids=["account-holds-one"])
def test_meme_face_max_jobs_from_account(client):
    first = submit_meme_face(client)
    assert first.status_code == 200 and first.get_json()["maxJobs"] == 1
    body = assert_error(submit_meme_face(client), 429, "Maximum of 1 jobs executing in parallel supported",
                        keys={"executingJobs"})
    assert body["executingJobs"] == [first.get_json()["jobid"]]


# --- moderation -----------------------------------------------------------------------------------


def assert_moderated(response) -> str:
    body = assert_error(response, 422, MODERATED, keys={"jobid", "status"})
    assert body["status"] == "moderated"
    return body["jobid"]


def test_meme_face_moderated_prompt(client):
    assert_moderated(submit_meme_face(client, prompt="a nsfw scene"))


def test_meme_face_moderated_job_is_kept_as_moderated(client, mock):
    jobid = assert_moderated(submit_meme_face(client, prompt="a nsfw scene"))
    assert status_of(client, jobid) == "moderated"
    mock.advance(100)
    assert status_of(client, jobid) == "moderated"


def test_meme_face_moderated_negative_prompt(client):
    assert_moderated(submit_meme_face(client, prompt="a calm lake", negative_prompt="gore"))


@pytest.mark.parametrize("prompt", ["a Nsfw scene", "NSFW", "very NuDe.", "(naked)"])
def test_meme_face_moderation_ignores_case(client, prompt):
    assert_moderated(submit_meme_face(client, prompt=prompt))


@pytest.mark.parametrize("prompt", ["a nsfwx scene", "gorempire", "denuded trees"])
def test_meme_face_moderation_whole_words_only(client, prompt):
    assert submit_meme_face(client, prompt=prompt).status_code == 200


@pytest.mark.parametrize("config", [MockConfig(clock="manual", moderation_words=("banana",))], ids=["banana"])
def test_meme_face_moderation_list_from_config(client):
    assert_moderated(submit_meme_face(client, prompt="a Banana on a beach"))
    assert submit_meme_face(client, prompt="a nsfw scene").status_code == 200


def test_meme_face_moderated_job_does_not_hold_a_slot(client):
    assert_moderated(submit_meme_face(client, prompt="nsfw", maxJobs="1", **FRESH))
    assert submit_meme_face(client, maxJobs="1", **FRESH).status_code == 200

