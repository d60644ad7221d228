"""The request validator: journal entries checked against ``openapi/pixverse-v1.yaml``.

Entries are built by hand in the shape ``mock_server/http/journaling.py`` records; one test goes
end to end through the app and its request journal.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest

from mock_server.control.validation import RequestValidator
from mock_server.resources import fixtures_dir
from mock_server.resources import vendor_spec_path

BASE = "/v1/pixverse"
CHANNEL = "1151023045728383026"
FACE_PART = {"name": "face", "filename": "face.png", "size": 1234, "type": "image/png"}


@pytest.fixture(scope="module")
def validator() -> RequestValidator:
    return RequestValidator(vendor_spec_path())


def entry(method: str = "GET", path: str = f"{BASE}/jobs/", *, operation: str = "jobs", auth: str = "bearer",
          query: dict[str, str] | None = None, content_type: str | None = None, json: bool | None = None,
          fields: dict[str, Any] | None = None, files: list[dict[str, Any]] | None = None,
          **extra: Any) -> dict[str, Any]:
    """A request journal entry as a reader gets it (``request_entry.rendered``)."""
    record: dict[str, Any] = {
        "time": "2023-09-09T02:04:49.667Z", "tenant": "t", "token": "use…secured…Def", "auth": auth,
        "method": method, "path": path, "query": query or {}, "operation": operation,
        "contentType": content_type, "status": 200, "durationMs": 1.0,
    }
    if json is not None:
        record["json"] = json
        record["fields"] = fields or {}
        if not json:
            record["files"] = files or []
    record.update(extra)
    return record


def meme_face(fields: dict[str, Any] | None = None, files: list[dict[str, Any]] | None = None,
              **kwargs: Any) -> dict[str, Any]:
    """A multipart meme_face entry: a face file part and a prompt unless told otherwise."""
    return entry("POST", f"{BASE}/meme_face", operation="meme_face", content_type="multipart/form-data",
                 json=False, fields={"prompt": "A girl laughing by the seaside"} if fields is None else fields,
                 files=[FACE_PART] if files is None else files, **kwargs)


def button(fields: dict[str, Any], *, as_json: bool = True) -> dict[str, Any]:
    return entry("POST", f"{BASE}/button", operation="button",
                 content_type="application/json" if as_json else "multipart/form-data",
                 json=as_json, fields=fields)


def account(method: str, fields: dict[str, Any] | None = None, channel: str = CHANNEL) -> dict[str, Any]:
    if fields is None:
        return entry(method, f"{BASE}/account/{channel}", operation="account")
    return entry(method, f"{BASE}/account/{channel}", operation="account", content_type="application/json",
                 json=True, fields=fields)


def only(violations: list[str], *words: str) -> str:
    """The single violation, checked to mention every word."""
    assert len(violations) == 1, violations
    for word in words:
        assert word in violations[0], violations
    return violations[0]


# --- meme_face ---------------------------------------------------------------------------------


def test_valid_meme_face_has_no_violations(validator):
    assert validator.violations(meme_face()) == []


def test_valid_meme_face_with_every_field_has_no_violations(validator):
    fields = {"prompt": "A girl laughing", "negative_prompt": "sad face", "seed_value": "12345",
              "aspect_ratio": "4:3", "discord": "MTA…secured…Gk8", "server": "1149991234567890123",
              "channel": CHANNEL, "maxJobs": "10", "replyUrl": "https://webhook.site/abc", "replyRef": "order-42"}
    assert validator.violations(meme_face(fields)) == []


def test_unknown_extra_fields_are_allowed(validator):
    assert validator.violations(meme_face({"prompt": "hi", "style": "Anime"})) == []


def test_meme_face_as_json_is_a_content_type_violation(validator):
    record = entry("POST", f"{BASE}/meme_face", operation="meme_face", content_type="application/json",
                   json=True, fields={"prompt": "hi", "face": "face.png"})
    assert only(validator.violations(record)) == "meme_face accepts multipart/form-data only, got application/json"


def test_meme_face_urlencoded_is_a_content_type_violation(validator):
    record = entry("POST", f"{BASE}/meme_face", operation="meme_face",
                   content_type="application/x-www-form-urlencoded", json=False, fields={"prompt": "hi"})
    only(validator.violations(record), "meme_face", "multipart/form-data", "application/x-www-form-urlencoded")


def test_meme_face_without_a_body(validator):
    record = entry("POST", f"{BASE}/meme_face", operation="meme_face")
    only(validator.violations(record), "meme_face", "requires a request body")


def test_meme_face_body_that_could_not_be_parsed(validator):
    record = entry("POST", f"{BASE}/meme_face", operation="meme_face", content_type="multipart/form-data",
                   bodyError="RequestEntityTooLarge")
    only(validator.violations(record), "could not be parsed", "RequestEntityTooLarge")


def test_meme_face_missing_face(validator):
    assert only(validator.violations(meme_face(files=[]))) == "face is missing (required file part)"


def test_meme_face_missing_face_and_prompt_names_both(validator):
    violations = validator.violations(meme_face({}, files=[]))
    assert sorted(violations) == ["face is missing (required file part)", "prompt is missing (required)"]


def test_meme_face_face_as_text_field(validator):
    record = meme_face({"prompt": "hi", "face": "data:image/png;base64,iVBORw0KGgo="}, files=[])
    assert only(validator.violations(record)) == "face must be a file part (File or Blob), got a text field"


def test_meme_face_prompt_as_file_part(validator):
    prompt_file = {"name": "prompt", "filename": "prompt.txt", "size": 5, "type": "text/plain"}
    assert only(validator.violations(meme_face({}, files=[FACE_PART, prompt_file]))) == (
        "prompt must be a text field, got a file part")


def test_meme_face_prompt_513_chars_plain(validator):
    violation = only(validator.violations(meme_face({"prompt": "x" * 513})), "prompt", "513", "512")
    assert violation == "prompt is too long: 513 characters, max 512"


def test_meme_face_prompt_truncated_in_the_journal_uses_its_length(validator):
    truncated = {"truncated": "x" * 4096, "length": 5000}
    only(validator.violations(meme_face({"prompt": truncated})), "prompt", "5000", "512")


def test_meme_face_prompt_512_chars_is_fine(validator):
    assert validator.violations(meme_face({"prompt": "é" * 512})) == []


@pytest.mark.parametrize("name, limit", [("negative_prompt", 512), ("replyUrl", 1024), ("replyRef", 1024)])
def test_meme_face_other_text_limits(validator, name, limit):
    fields = {"prompt": "hi", name: "y" * (limit + 1)}
    only(validator.violations(meme_face(fields)), name, str(limit + 1), str(limit))


def test_meme_face_aspect_ratio_not_in_enum(validator):
    violation = only(validator.violations(meme_face({"prompt": "hi", "aspect_ratio": "2:1"})), "aspect_ratio")
    assert violation == "aspect_ratio '2:1' is not one of 16:9, 9:16, 1:1, 4:3, 3:4"


def test_meme_face_seed_value_not_a_number(validator):
    violation = only(validator.violations(meme_face({"prompt": "hi", "seed_value": "abc"})))
    assert violation == "seed_value must be an integer, got 'abc'"


@pytest.mark.parametrize("seed", ["-1", "2147483648"])
def test_meme_face_seed_value_out_of_range(validator, seed):
    violation = only(validator.violations(meme_face({"prompt": "hi", "seed_value": seed})))
    assert violation == f"seed_value must be between 0 and 2147483647, got {int(seed)}"


@pytest.mark.parametrize("seed", ["0", "2147483647", "42"])
def test_meme_face_seed_value_in_range(validator, seed):
    assert validator.violations(meme_face({"prompt": "hi", "seed_value": seed})) == []


def test_meme_face_seed_value_decimal_is_not_an_integer(validator):
    only(validator.violations(meme_face({"prompt": "hi", "seed_value": "1.5"})), "seed_value", "integer", "'1.5'")


@pytest.mark.parametrize("max_jobs", ["11", "0"])
def test_meme_face_max_jobs_out_of_range(validator, max_jobs):
    violation = only(validator.violations(meme_face({"prompt": "hi", "maxJobs": max_jobs})))
    assert violation == f"maxJobs must be between 1 and 10, got {max_jobs}"


def test_meme_face_several_problems_are_all_reported(validator):
    fields = {"prompt": "x" * 600, "aspect_ratio": "2:1", "seed_value": "abc", "maxJobs": "11"}
    violations = validator.violations(meme_face(fields, auth="missing"))
    assert len(violations) == 5, violations
    for name in ("Authorization", "prompt", "aspect_ratio", "seed_value", "maxJobs"):
        assert any(name in v for v in violations), (name, violations)


# --- button ------------------------------------------------------------------------------------


def test_button_json_valid(validator):
    assert validator.violations(button({"jobid": "j1", "button": "🔀", "prompt": "rain", "maxJobs": 3})) == []


def test_button_multipart_valid(validator):
    assert validator.violations(button({"jobid": "j1", "button": "U1", "maxJobs": "3"}, as_json=False)) == []


def test_button_trailing_slash_path_is_the_same_operation(validator):
    record = button({"jobid": "j1", "button": "V2"})
    record["path"] = f"{BASE}/button/"
    assert validator.violations(record) == []


@pytest.mark.parametrize("as_json", [True, False])
def test_button_unknown_button(validator, as_json):
    violation = only(validator.violations(button({"jobid": "j1", "button": "X1"}, as_json=as_json)), "button", "X1")
    assert "V1" in violation and "ReDo" in violation


def test_button_missing_jobid_and_button(validator):
    violations = validator.violations(button({}))
    assert sorted(violations) == ["button is missing (required)", "jobid is missing (required)"]


def test_button_json_values_are_validated_as_sent(validator):
    violation = only(validator.violations(button({"jobid": "j1", "button": "U1", "maxJobs": "5"})))
    assert violation == "maxJobs must be an integer, got '5'"


@pytest.mark.parametrize("body, kind", [(None, "null or malformed JSON"), ([1, 2], "an array")])
def test_button_json_body_not_an_object(validator, body, kind):
    violation = only(validator.violations(button({"<body>": body})))
    assert violation == f"request body must be a JSON object, got {kind}"


def test_button_xml_is_a_content_type_violation(validator):
    record = entry("POST", f"{BASE}/button", operation="button", content_type="application/xml", json=False)
    assert only(validator.violations(record)) == (
        "button accepts multipart/form-data or application/json, got application/xml")


# --- jobs, cancel ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [f"{BASE}/jobs/", f"{BASE}/jobs", f"{BASE}/jobs/cancel/", f"{BASE}/jobs/cancel"])
def test_jobs_without_jobid(validator, path):
    only(validator.violations(entry("GET", path)), "query parameter jobid", "missing")


@pytest.mark.parametrize("path", [f"{BASE}/jobs/", f"{BASE}/jobs", f"{BASE}/jobs/cancel/"])
def test_jobs_with_jobid(validator, path):
    assert validator.violations(entry("GET", path, query={"jobid": "j0909020449667-u1"})) == []


def test_jobs_with_empty_jobid(validator):
    assert only(validator.violations(entry(query={"jobid": ""}))) == "query parameter jobid must not be empty"


def test_jobs_post_is_not_in_the_spec(validator):
    only(validator.violations(entry("POST", query={"jobid": "j1"})), "POST", "method not in the spec", "GET")


# --- auth --------------------------------------------------------------------------------------


def test_missing_auth(validator):
    violation = only(validator.violations(entry(auth="missing", query={"jobid": "j1"})))
    assert violation == "Authorization: Bearer <token> header missing (every operation requires bearerAuth)"


def test_malformed_auth(validator):
    only(validator.violations(entry(auth="malformed", query={"jobid": "j1"})), "Authorization", "Bearer")


def test_auth_is_checked_on_every_operation(validator):
    for record in (meme_face(), button({"jobid": "j1", "button": "U1"}), account("DELETE")):
        record["auth"] = "missing"
        only(validator.violations(record), "Authorization")


# --- account -----------------------------------------------------------------------------------

ACCOUNT = {"discord": "MTA.discord-token.Gk8", "server": "1149991234567890123", "channel": CHANNEL, "maxJobs": 10}


def test_account_post_valid(validator):
    assert validator.violations(account("POST", ACCOUNT)) == []


def test_account_post_channel_pattern(validator):
    violation = only(validator.violations(account("POST", {**ACCOUNT, "channel": "abc"}, channel="abc")))
    assert violation == "channel 'abc' does not match ^[0-9]{17,20}$"


def test_account_post_missing_and_out_of_range(validator):
    violations = validator.violations(account("POST", {"discord": "", "channel": CHANNEL, "maxJobs": 11}))
    assert sorted(violations) == ["discord must not be empty", "maxJobs must be between 1 and 10, got 11",
                                  "server is missing (required)"]


def test_account_post_multipart_is_a_content_type_violation(validator):
    record = account("POST", ACCOUNT)
    record.update(contentType="multipart/form-data", json=False, files=[])
    assert only(validator.violations(record)) == (
        "account/{channel} accepts application/json only, got multipart/form-data")


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_account_get_and_delete_valid(validator, method):
    assert validator.violations(account(method)) == []


def test_account_list_valid_with_and_without_slash(validator):
    for path in (f"{BASE}/account", f"{BASE}/account/"):
        assert validator.violations(entry("GET", path, operation="account")) == []


def test_account_put_is_not_in_the_spec(validator):
    only(validator.violations(account("PUT", ACCOUNT)), "PUT", "method not in the spec", "POST", "DELETE")


# --- not vendor operations ---------------------------------------------------------------------


def test_unknown_vendor_path(validator):
    record = entry("POST", f"{BASE}/imagine", operation="unknown", content_type="application/json", json=True,
                   fields={"prompt": "hi"})
    only(validator.violations(record), "/v1/pixverse/imagine", "not an operation")


def test_path_outside_v1(validator):
    only(validator.violations(entry("GET", "/favicon.ico", operation="unknown", auth="missing")), "/favicon.ico")


def test_attachment_is_not_checked(validator):
    record = entry("GET", f"/attachments/{CHANNEL}/1149812513456789012/pixverse_256x144_1.mp4",
                   operation="attachment", auth="missing")
    assert validator.violations(record) == []


def test_validators_are_cached(validator):
    validator.violations(meme_face())
    operations, _ = validator._match(f"{BASE}/meme_face")
    body = operations["post"].bodies["multipart/form-data"]
    first = body.validator
    validator.violations(meme_face({"prompt": "again"}))
    assert first is not None and body.validator is first


# --- end to end --------------------------------------------------------------------------------


def test_journal_entries_carry_violations():
    from mock_server import MockConfig
    from mock_server import create_app
    from mock_server import mock_of

    app = create_app(MockConfig(clock="manual"))
    try:
        client = app.test_client()
        headers = {"Authorization": "Bearer t"}
        bad = client.post(f"{BASE}/meme_face", json={"prompt": "A girl laughing"}, headers=headers)
        face = (fixtures_dir() / "faces" / "face.png").read_bytes()
        good = client.post(f"{BASE}/meme_face", headers=headers, content_type="multipart/form-data",
                           data={"prompt": "A girl laughing", "face": (BytesIO(face), "face.png", "image/png")})
        assert bad.status_code == 400 and good.status_code == 200, (bad.get_json(), good.get_json())
        entries = mock_of(app).journal("requests")
        assert [e["operation"] for e in entries] == ["meme_face", "meme_face"]
        assert entries[0]["violations"] == ["meme_face accepts multipart/form-data only, got application/json"]
        assert entries[1]["violations"] == []
    finally:
        mock_of(app).close()
