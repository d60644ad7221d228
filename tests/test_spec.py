"""The vendor spec ``openapi/pixverse-v1.yaml`` is valid, lint-clean and says what the seed pages say.

The expected strings below are copied from the vendor pages (``pixverse-meme_face`` and
``pixverse-button``), not imported from ``mock_server.messages``, so that these tests check the
spec independently of the mock's own constants.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator
from openapi_spec_validator import validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from mock_server.resources import vendor_spec_path

REPO_ROOT = Path(__file__).resolve().parents[1]
REDOCLY = REPO_ROOT / "node_modules" / ".bin" / "redocly"
SPEC_URI = "urn:pixverse-mock:openapi:pixverse-v1"

MEME_FACE = ("/v1/pixverse/meme_face", "post")
BUTTON = ("/v1/pixverse/button", "post")
CREATE = ("/v1/pixverse/create", "post")
CREATE_SINGLE = ("/v1/pixverse/create_single", "post")
ANIMATE = ("/v1/pixverse/animate", "post")
SUBMITS = pytest.mark.parametrize("operation", [CREATE, CREATE_SINGLE, ANIMATE, MEME_FACE, BUTTON],
                                  ids=["create", "create_single", "animate", "meme_face", "button"])

# Copied from the seed pages. `<identifier>` is a placeholder; `<https://...>` is literal text.
SEED_BUTTONS = ["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "ReDo", "🔄", "🔀"]
SEED_ASPECT_RATIOS = ["16:9", "9:16", "1:1", "4:3", "3:4"]
UNAUTHORIZED = "Unauthorized"
SUBSCRIPTION = "Account has no subscription or subscription expired"
MODERATED = (
    "Apologies! Our AI moderator thinks this prompt or images as potentially violating our "
    "[community guidelines](<https://discord.com/channels/1140860020586713128/1168473004498501652>)."
)
MAX_JOBS = "Maximum of <maxJobs> jobs executing in parallel supported"
DISCORD_429 = "Discord /interactions failed with HTTP status 429"
DISCORD_ERROR_DETAILS = json.loads(
    r'"{\"global\":true,\"message\":\"You are being rate limited.\",\"retry_after\":10}"'
)
ASPECT_RATIO = "aspect_ratio <aspect_ratio> not supported, must be one of " + ", ".join(SEED_ASPECT_RATIOS)

MEME_FACE_400 = [
    "face, prompt, discord, server or channel value is missing",
    "prompt, negative_prompt, replyRef or replyUrl is too long",
    "face is not File or Blob",
    ASPECT_RATIO,
    "seed_value <seed_value> valid range 0-2147483647",
]
BUTTON_400 = [
    "jobid or button value is missing",
    "button <button> not supported",
    "prompt, replyRef or replyUrl is too long",
    "button <button> does not support prompt",
]
SEED_MESSAGES = (
    [(MEME_FACE, "400", text) for text in MEME_FACE_400]
    + [(MEME_FACE, "401", UNAUTHORIZED), (MEME_FACE, "402", SUBSCRIPTION), (MEME_FACE, "422", MODERATED)]
    + [(MEME_FACE, "429", MAX_JOBS), (MEME_FACE, "429", DISCORD_429)]
    + [(BUTTON, "400", text) for text in BUTTON_400]
    + [(BUTTON, "401", UNAUTHORIZED), (BUTTON, "402", SUBSCRIPTION)]
    + [(BUTTON, "429", MAX_JOBS), (BUTTON, "429", DISCORD_429)]
)

SEED_MEME_FACE_FIELDS = {
    "face", "prompt", "negative_prompt", "seed_value", "aspect_ratio",
    "discord", "server", "channel", "maxJobs", "replyUrl", "replyRef",
}
SEED_BUTTON_FIELDS = {"jobid", "button", "prompt", "discord", "maxJobs", "replyUrl", "replyRef"}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _template(text: str) -> str:
    """A full-match regex for a page message: each ``<identifier>`` stands for one value (no spaces)."""
    parts = re.split(r"(<[A-Za-z_]+>)", text)
    return "".join(r"(\S+)" if re.fullmatch(r"<[A-Za-z_]+>", part) else re.escape(part) for part in parts)


@cache
def _spec() -> dict[str, Any]:
    return yaml.safe_load(vendor_spec_path().read_text(encoding="utf-8"))


def _resolve(node: Any) -> Any:
    """Follow local ``$ref`` chains (``#/...``) to the node they point at."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = _spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _operation(path: str, method: str) -> dict[str, Any]:
    return _spec()["paths"][path][method]


def _operations() -> list[tuple[str, str]]:
    paths = _spec()["paths"]
    return [(path, method) for path, item in paths.items() for method in item if method in HTTP_METHODS]


def _named_examples(path: str, method: str, status: str) -> dict[str, Any]:
    """``name -> value`` of the JSON examples of one response."""
    response = _resolve(_operation(path, method)["responses"][status])
    examples = response["content"]["application/json"].get("examples", {})
    return {name: _resolve(example)["value"] for name, example in examples.items()}


def _example_with_error(path: str, method: str, status: str, text: str) -> dict[str, Any]:
    for value in _named_examples(path, method, status).values():
        if re.fullmatch(_template(text), value.get("error", "")):
            return value
    raise AssertionError(f"no {status} example of {method.upper()} {path} has the error {text!r}")


def _media_examples(node: Any, parts: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str, Any]]:
    """(location of a media type object, example name, example value) for every named example."""
    if not isinstance(node, dict):
        return
    if parts[-2:-1] == ("content",) and "schema" in node:
        for name, example in node.get("examples", {}).items():
            yield parts, name, _resolve(example)["value"]
    for key, child in node.items():
        yield from _media_examples(child, (*parts, key))


ALL_EXAMPLES = list(_media_examples(_spec()))


@cache
def _registry() -> Registry:
    return Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(_spec()))


def _schema_validator(location: tuple[str, ...]) -> Draft202012Validator:
    """A validator for the ``schema`` of the media type object at ``location`` (refs resolved in the spec)."""
    escaped = (part.replace("~", "~0").replace("/", "~1") for part in (*location, "schema"))
    pointer = "".join("/" + quote(part, safe="") for part in escaped)
    return Draft202012Validator(
        {"$ref": f"{SPEC_URI}#{pointer}"},
        registry=_registry(),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def test_spec_path_points_at_the_openapi_folder():
    assert vendor_spec_path() == REPO_ROOT / "openapi" / "pixverse-v1.yaml"


def test_spec_validates_as_openapi_3_1():
    assert _spec()["openapi"].startswith("3.1.")
    validate(_spec(), cls=OpenAPIV31SpecValidator)


def test_spec_redocly_lint_reports_no_errors():
    quiet = {"REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true", "NO_COLOR": "1"}
    env = {**os.environ, **quiet}
    result = subprocess.run(
        [str(REDOCLY), "lint", "openapi/pixverse-v1.yaml", "--format=json"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    report = json.loads(result.stdout)
    assert report["totals"]["errors"] == 0, json.dumps(report["problems"], indent=2, ensure_ascii=False)


@pytest.mark.parametrize(
    ("operation", "status", "text"),
    SEED_MESSAGES,
    ids=[f"{op[0].rsplit('/', 1)[-1]}-{status}-{text[:50]}" for op, status, text in SEED_MESSAGES],
)
def test_seed_message_has_named_example(operation, status, text):
    example = _example_with_error(*operation, status, text)
    assert example["code"] == int(status)


@pytest.mark.parametrize(
    ("operation", "messages"), [(MEME_FACE, MEME_FACE_400), (BUTTON, BUTTON_400)], ids=["meme_face", "button"]
)
def test_submit_400_examples_are_the_seed_messages_and_marked_mock_choices(operation, messages):
    response = _resolve(_operation(*operation)["responses"]["400"])
    examples = [_resolve(example) for example in response["content"]["application/json"]["examples"].values()]
    matched = [[text for text in messages if re.fullmatch(_template(text), ex["value"]["error"])] for ex in examples]
    assert sorted(texts[0] for texts in matched if len(texts) == 1) == sorted(messages)
    others = [ex for ex, texts in zip(examples, matched, strict=True) if not texts]
    assert len(others) == len(examples) - len(messages)
    assert all("mock choice" in ex["summary"] for ex in others), [ex["summary"] for ex in others]


@SUBMITS
def test_max_jobs_429_example_lists_executing_jobs(operation):
    example = _example_with_error(*operation, "429", MAX_JOBS)
    assert isinstance(example["executingJobs"], list)
    assert all(isinstance(jobid, str) for jobid in example["executingJobs"])


@SUBMITS
def test_discord_429_example_has_page_error_details(operation):
    example = _example_with_error(*operation, "429", DISCORD_429)
    assert example["errorDetails"] == DISCORD_ERROR_DETAILS


@SUBMITS
def test_moderated_422_example_has_jobid_and_status(operation):
    example = _example_with_error(*operation, "422", MODERATED)
    assert example["jobid"]
    assert example["status"] == "moderated"


def test_examples_are_found_in_responses_and_requests():
    locations = {location[0] for location, _, _ in ALL_EXAMPLES}
    assert len(ALL_EXAMPLES) >= 30
    assert {"paths", "components"} <= locations
    assert any("requestBody" in location for location, _, _ in ALL_EXAMPLES)


@pytest.mark.parametrize(
    ("location", "name", "value"),
    ALL_EXAMPLES,
    ids=["/".join((*location, name)) for location, name, _ in ALL_EXAMPLES],
)
def test_example_validates_against_its_schema(location, name, value):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in _schema_validator(location).iter_errors(value)]
    assert not errors, errors


def test_example_validation_rejects_a_wrong_value():
    location, _, value = next(item for item in ALL_EXAMPLES if item[1] == "completedMemeFace")
    broken = {**value, "status": "finished", "created": "2023-09-09 02:04:49", "buttons": ["X1"]}
    failing = {e.absolute_path[0] for e in _schema_validator(location).iter_errors(broken)}
    assert failing == {"status", "created", "buttons"}


def test_meme_face_request_has_exactly_the_seed_fields():
    content = _operation(*MEME_FACE)["requestBody"]["content"]
    assert set(content) == {"multipart/form-data"}
    schema = _resolve(content["multipart/form-data"]["schema"])
    assert set(schema["properties"]) == SEED_MEME_FACE_FIELDS
    assert set(schema["required"]) == {"face", "prompt"}


def test_meme_face_request_has_the_seed_limits():
    content = _operation(*MEME_FACE)["requestBody"]["content"]["multipart/form-data"]
    props = _resolve(content["schema"])["properties"]
    assert props["face"]["format"] == "binary"
    assert [props[name]["maxLength"] for name in ("prompt", "negative_prompt")] == [512, 512]
    assert [props[name]["maxLength"] for name in ("replyUrl", "replyRef")] == [1024, 1024]
    seed = props["seed_value"]
    assert (seed["type"], seed["minimum"], seed["maximum"]) == ("integer", 0, 2147483647)
    assert _resolve(props["aspect_ratio"])["enum"] == SEED_ASPECT_RATIOS
    assert (props["maxJobs"]["minimum"], props["maxJobs"]["maximum"]) == (1, 10)


def test_meme_face_face_part_accepts_png_and_jpeg():
    encoding = _operation(*MEME_FACE)["requestBody"]["content"]["multipart/form-data"]["encoding"]
    assert {t.strip() for t in encoding["face"]["contentType"].split(",")} == {"image/png", "image/jpeg"}


def test_button_request_accepts_form_and_json_with_the_seed_fields():
    content = _operation(*BUTTON)["requestBody"]["content"]
    assert set(content) == {"multipart/form-data", "application/json"}
    for media in content.values():
        schema = _resolve(media["schema"])
        assert set(schema["properties"]) == SEED_BUTTON_FIELDS
        assert set(schema["required"]) == {"jobid", "button"}
        assert schema["properties"]["prompt"]["maxLength"] == 512
        assert [schema["properties"][name]["maxLength"] for name in ("replyUrl", "replyRef")] == [1024, 1024]


def test_button_enum_is_exactly_the_eleven_buttons():
    assert _spec()["components"]["schemas"]["Button"]["enum"] == SEED_BUTTONS


def test_job_button_field_also_allows_empty_string():
    assert _spec()["components"]["schemas"]["Job"]["properties"]["button"]["enum"] == [*SEED_BUTTONS, ""]


@SUBMITS
def test_submit_has_job_result_callback_on_reply_url(operation):
    callback = _operation(*operation)["callbacks"]["jobResult"]
    assert set(callback) == {"{$request.body#/replyUrl}"}
    path_item = _resolve(callback["{$request.body#/replyUrl}"])
    body = path_item["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/Job"}


def test_no_control_plane_path_in_vendor_spec():
    assert not [path for path in _spec()["paths"] if path.startswith("/__mock")]


def test_only_the_documented_job_paths_end_with_a_slash():
    slashed = sorted(path for path in _spec()["paths"] if path.endswith("/"))
    assert slashed == ["/v1/pixverse/jobs/", "/v1/pixverse/jobs/cancel/"]


@pytest.mark.parametrize(
    ("path", "method"), _operations(), ids=[f"{m.upper()} {p}" for p, m in _operations()]
)
def test_operation_documents_401_and_402(path, method):
    assert {"401", "402"} <= set(_operation(path, method)["responses"])
    assert [v["error"] for v in _named_examples(path, method, "401").values()] == [UNAUTHORIZED]
    assert [v["error"] for v in _named_examples(path, method, "402").values()] == [SUBSCRIPTION]


def test_operation_ids_are_unique():
    ids = [_operation(path, method)["operationId"] for path, method in _operations()]
    assert len(ids) == len(set(ids))


def test_operations_inherit_the_global_bearer_security():
    scheme = _spec()["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert _spec()["security"] == [{"bearerAuth": []}]
    assert not [(path, method) for path, method in _operations() if "security" in _operation(path, method)]


# --- create, create_single, animate (their pages publish fields, not answers) -------------------

CREATE_FIELDS = {"prompt", "style", "negative_prompt", "aspect_ratio", "character",
                 "discord", "server", "channel", "maxJobs", "replyUrl", "replyRef"}
ANIMATE_FIELDS = {"image", "prompt", "motion", "seed_value", "hd_quality",
                  "discord", "server", "channel", "maxJobs", "replyUrl", "replyRef"}


def _body_schema(operation: tuple[str, str], media_type: str) -> dict[str, Any]:
    return _resolve(_operation(*operation)["requestBody"]["content"][media_type]["schema"])


@pytest.mark.parametrize(("operation", "fields"),
                         [(CREATE, CREATE_FIELDS), (CREATE_SINGLE, CREATE_FIELDS | {"seed_value"})],
                         ids=["create", "create_single"])
def test_create_bodies_have_the_documented_fields_in_both_body_types(operation, fields):
    for media_type in ("application/json", "multipart/form-data"):
        schema = _body_schema(operation, media_type)
        assert set(schema["properties"]) == fields
        assert schema["required"] == ["prompt", "style"]
        assert _resolve(schema["properties"]["style"])["enum"] == ["Realistic", "Anime", "3D Animation"]
        assert [schema["properties"][name]["maxLength"] for name in ("prompt", "negative_prompt")] == [512, 512]
    assert _body_schema(operation, "application/json") is not _body_schema(operation, "multipart/form-data")


def test_animate_body_is_multipart_with_an_image_file_and_motion_default_5():
    assert set(_operation(*ANIMATE)["requestBody"]["content"]) == {"multipart/form-data"}
    schema = _body_schema(ANIMATE, "multipart/form-data")
    assert set(schema["properties"]) == ANIMATE_FIELDS and schema["required"] == ["image"]
    assert schema["properties"]["image"]["format"] == "binary"
    motion = schema["properties"]["motion"]
    assert (motion["minimum"], motion["maximum"], motion["default"]) == (1, 10, 5)
    assert _resolve(schema["properties"]["hd_quality"])["enum"] == ["Yes", "No"]


# --- what code generators and validating proxies need -------------------------------------------


def test_title_is_short():
    assert len(_spec()["info"]["title"]) <= 20, _spec()["info"]["title"]


def test_each_path_is_listed_in_one_spelling_only():
    spellings = [path.rstrip("/") for path in _spec()["paths"]]
    assert len(spellings) == len(set(spellings)), sorted(spellings)


def _enums(node: Any, where: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if "enum" in node:
            yield where, node
        for key, value in node.items():
            yield from _enums(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _enums(value, f"{where}[{index}]")


def _nameless(value: Any) -> bool:
    """A value a generator cannot make a readable name of: no letter in it (emoji, ``16:9``, ``""``)."""
    return isinstance(value, str) and not re.search("[A-Za-z]", value)


@pytest.mark.parametrize("where", [w for w, node in _enums(_spec()) if any(map(_nameless, node["enum"]))])
def test_enum_with_a_nameless_value_has_readable_varnames(where):
    node = dict(_enums(_spec()))[where]
    names = node.get("x-enum-varnames")
    assert names and len(names) == len(node["enum"]), node
    assert all(name.isidentifier() for name in names) and len(set(names)) == len(names), names


def test_emoji_buttons_have_names():
    button = _spec()["components"]["schemas"]["Button"]
    named = dict(zip(button["enum"], button["x-enum-varnames"], strict=True))
    assert (named["🔄"], named["🔀"], named["ReDo"]) == ("REPEAT", "REMIX", "REDO")


@pytest.mark.parametrize(("path", "method"), _operations(), ids=[f"{m.upper()} {p}" for p, m in _operations()])
def test_operation_declares_every_status_the_mock_can_answer(path, method):
    """Besides its own: 400 (an unusable fault), 405, 429 and 5XX (faults); 413 where there is a body."""
    declared = set(_operation(path, method)["responses"])
    expected = {"400", "401", "402", "405", "429", "5XX"} | ({"413"} if method == "post" else set())
    assert expected <= declared, expected - declared
    allow = _resolve(_operation(path, method)["responses"]["405"])["headers"]["Allow"]
    assert allow["schema"]["type"] == "string"
