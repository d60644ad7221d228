"""No full token (API or Discord) in a journal entry or an access log line, whatever the request's shape.

The journal is read back as JSON text and searched for the full secrets; masks must be there instead.
"""

from __future__ import annotations

import json

import pytest
from helpers import face_bytes
from helpers import face_part

from mock_server.redaction import Redactor
from mock_server.redaction import may_name_secret
from mock_server.redaction import redact_log_text
from mock_server.redaction import redact_target

API_TOKEN = "user:77-journal-secret-api-token"
DISCORD = "MTIz.discord-secret-token.XyZ987"
OTHER_DISCORD = "other-discord-secret-token-654"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
ACCOUNT = "/v1/pixverse/account/1200000000000000002"
TRIPLE = {"server": "1100000000000000001", "channel": "1200000000000000002", "maxJobs": 2}


def journal_text(mock, *, violations: bool = False) -> str:
    """The request journal as JSON text; with the spec ``violations`` (slower: loads the validator) if asked."""
    entries = mock.journal("requests") if violations else mock.control.entries("requests")
    return json.dumps(entries, ensure_ascii=False)


def assert_no_secret(text: str) -> None:
    for secret in (API_TOKEN, DISCORD, OTHER_DISCORD):
        assert secret not in text, f"{secret} in {text[:2000]}"


@pytest.mark.parametrize("body", [
    {"discord": [DISCORD], **TRIPLE},
    {"discord": [DISCORD, [OTHER_DISCORD]], **TRIPLE},
    {"Discord": DISCORD, **TRIPLE},
    {"DISCORD": DISCORD, "discord": OTHER_DISCORD, **TRIPLE},
    {"discord": {"token": DISCORD}, **TRIPLE},
    {"discord": DISCORD, "prompt": f"copy of {DISCORD} and {API_TOKEN}", **TRIPLE},
    {"settings": {"discord_token": DISCORD}, "replyRef": OTHER_DISCORD, "discord": OTHER_DISCORD, **TRIPLE},
    [{"discord": DISCORD}],
], ids=["array", "nested-array", "Discord", "two-spellings", "object", "echoed-in-prompt", "nested-name",
        "top-level-array"])
def test_json_bodies_of_any_shape(client, mock, body):
    client.post(ACCOUNT, json=body, headers=AUTH)
    text = journal_text(mock)
    assert_no_secret(text)
    assert "…secured…" in text


def test_multipart_fields_query_path_error_and_fault_header(client, mock):
    data = {"face": face_part(face_bytes()), "prompt": f"a cat {API_TOKEN}", "Discord": DISCORD,
            "discord_token": OTHER_DISCORD, "server": "1", "channel": "2"}
    client.post("/v1/pixverse/meme_face", data=data, headers=AUTH)
    client.get(f"/v1/pixverse/jobs/?jobid={API_TOKEN}&token={API_TOKEN}&Discord={DISCORD}", headers=AUTH)
    client.get(f"/v1/pixverse/account/{API_TOKEN}", headers=AUTH)
    client.get("/v1/pixverse/account", headers={**AUTH, "X-Mock-Fault": f"server_error:{API_TOKEN}"})
    client.post("/v1/pixverse/meme_face", data={"face": face_part(face_bytes()), "prompt": "x",
                                                "discord": DISCORD, "server": "1", "channel": "2"},
                headers={**AUTH, "X-Mock-Fault": f"fail:leaked {DISCORD}"})
    entries = mock.journal("requests")
    assert len(entries) == 5
    assert_no_secret(journal_text(mock, violations=True))
    assert entries[1]["query"]["token"] == "use…secured…ken"
    assert entries[0]["fields"]["prompt"] == "a cat use…secured…ken"


def test_an_unmasked_journal_would_be_caught(client, mock):
    """The search itself works: the test's own secrets are found where they are not masked."""
    client.post(ACCOUNT, json={"discord": DISCORD, "note": DISCORD[::-1], **TRIPLE}, headers=AUTH)
    assert DISCORD[::-1] in journal_text(mock)
    with pytest.raises(AssertionError):
        assert_no_secret(journal_text(mock) + DISCORD)


@pytest.mark.parametrize("target, authorization, expected", [
    ("/__mock/journal/requests?since=0&token=user%3A1-abcdef-xyz", None,
     "/__mock/journal/requests?since=0&token=use…secured…xyz"),
    ("/__mock/wait/requests?Token=abcdefghij&timeout=5", None, "/__mock/wait/requests?Token=abc…secured…hij&timeout=5"),
    ("/__mock/faults?access_token=abcdefghij&x=abcdefghij", None,
     "/__mock/faults?access_token=abc…secured…hij&x=abc…secured…hij"),
    ("/v1/pixverse/jobs/?jobid=user:1-bearer", "Bearer user:1-bearer", "/v1/pixverse/jobs/?jobid=use…secured…rer"),
    ("/v1/pixverse/account/user:1-bearer", "bearer user:1-bearer", "/v1/pixverse/account/use…secured…rer"),
    ("/v1/pixverse/jobs/?jobid=user%3A1-bearer", "Bearer user:1-bearer", "/v1/pixverse/jobs/?jobid=use…secured…rer"),
    ("/v1/pixverse/jobs/?jobid=abc", "Bearer user:1-bearer", "/v1/pixverse/jobs/?jobid=abc"),
    ("/v1/pixverse/account", None, "/v1/pixverse/account"),
    ("/v1/pixverse/jobs/?%74oken=abcdefgh12&jobid=x", None, "/v1/pixverse/jobs/?%74oken=abc…secured…h12&jobid=x"),
    ("/v1/pixverse/jobs/?jobid=a%3Ab-token", None, "/v1/pixverse/jobs/?jobid=a%3Ab-token"),
])
def test_access_log_target(target, authorization, expected):
    assert redact_target(target, authorization) == expected


@pytest.mark.parametrize("query, named", [
    ("a=1&%74oken=x", True), ("%64iscord=1", True), ("Discord_Token=1", True), ("x=token", True),
    ("jobid=x%3Ay", False), ("a=b&c=%74oken", False), ("a=b", False), ("", False),
])
def test_a_query_that_may_name_a_secret(query, named):
    """The cheap test that decides whether a query's parameters are read for secrets (log line, journal)."""
    assert may_name_secret(query) is named


def test_redactor_masks_secret_names_whatever_the_shape():
    redactor = Redactor([DISCORD])
    assert redactor.value({"Discord": 12345678, "x": [{"API-Token": ["abcdefgh"]}], "n": DISCORD}) == {
        "Discord": "123…secured…678", "x": [{"API-Token": ["abc…secured…fgh"]}], "n": "MTI…secured…987"}


def test_free_log_text_masks_secret_pairs_and_bearer_tokens():
    line = ("Invalid HTTP request line: 'GET /__mock/wait/requests?since=3&token=user%3A1-abcdefgh&x=1 HTTP/1.1' "
            "Authorization: Bearer user:1-abcdefgh; Discord=abcdefghijk")
    assert redact_log_text(line) == (
        "Invalid HTTP request line: 'GET /__mock/wait/requests?since=3&token=use…secured…fgh&x=1 HTTP/1.1' "
        "Authorization: Bearer use…secured…fgh; Discord=abc…secured…ijk")
    assert redact_log_text("Booting worker with pid: 42") == "Booting worker with pid: 42"
