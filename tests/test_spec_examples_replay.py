"""The spec's own examples, replayed against a fresh in-process mock, get the documented answers.

Every named example of an error response (4xx) under every vendor operation has a request
builder in ``ERROR_BUILDERS`` that triggers it; the mock must answer the example's status and the
same ``error`` string. Where an example carries a concrete value in its message (an aspect ratio,
a seed value, a button, a job id, a channel, a ``maxJobs``), that value is read out of the
example's message and sent, so the comparison is exact. Examples that cannot be triggered yet are
listed in ``NOT_YET_TRIGGERABLE``, and a test keeps that list equal to the examples without a
builder, so nothing is skipped silently.

Every 2xx example has a builder in ``SUCCESS_BUILDERS`` too: the mock's answer must have at least
the example's keys (recursively), with values of the same JSON type.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from mock_server import MockConfig
from mock_server import MockRuntime
from mock_server.resources import vendor_spec_path

TOKEN = "user:1234-replaytokenAbCdEf"
EXPIRED = "user:9999-expiredtokenXyZ"
MODERATED_WORD = "nsfw"
DEFAULT_CHANNEL = "1200000000000000001"
UNKNOWN_CHANNEL = "1299999999999999999"
REPLY_URL = "http://127.0.0.1:9/callback"  # the discard port: no callback ever leaves the machine
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def config() -> MockConfig:
    return MockConfig(clock="manual", expired_tokens=(EXPIRED,), moderation_words=(MODERATED_WORD,))


# --- the spec's examples ------------------------------------------------------------------------


@cache
def spec() -> dict[str, Any]:
    return yaml.safe_load(vendor_spec_path().read_text(encoding="utf-8"))


def resolve(node: Any) -> Any:
    """Follow local ``$ref`` pointers (``#/components/...``) until a node without one."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


@cache
def operations() -> dict[str, tuple[str, str]]:
    """Every vendor operation: ``operationId`` -> (method, path)."""
    found = {}
    for path, item in spec()["paths"].items():
        for method in METHODS:
            if method in item:
                found[item[method]["operationId"]] = (method.upper(), path)
    return found


@cache
def examples() -> dict[str, tuple[int, Any]]:
    """``operationId/status/exampleName`` -> (status, example value), for every response example."""
    found = {}
    for item in spec()["paths"].values():
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            for status, response in operation.get("responses", {}).items():
                media = resolve(response).get("content", {}).get("application/json", {})
                for name, example in media.get("examples", {}).items():
                    key = f"{operation['operationId']}/{status}/{name}"
                    value = resolve(example)["value"]
                    # a range ("5XX"): the example's code is the status it shows
                    found[key] = (int(status) if status.isdigit() else value["code"], value)
    return found


def error_examples() -> dict[str, tuple[int, Any]]:
    return {key: value for key, value in examples().items() if value[0] >= 400}


def success_examples() -> dict[str, tuple[int, Any]]:
    return {key: value for key, value in examples().items() if value[0] < 400}


def placeholder(message: str, pattern: str) -> tuple[str, ...]:
    """The concrete values an example's message carries, read with ``pattern``."""
    match = re.fullmatch(pattern, message)
    assert match, f"the example message {message!r} no longer matches {pattern!r}"
    return match.groups()


# --- requests -----------------------------------------------------------------------------------


@dataclass
class Replay:
    """A fresh mock and the requests the builders need."""

    client: FlaskClient
    mock: MockRuntime
    face: bytes
    fault: str | None = None
    """Sent as ``X-Mock-Fault`` with every request when set."""

    def send(self, operation_id: str, *, token: str | None = TOKEN, channel: str = DEFAULT_CHANNEL,
             **kwargs: Any) -> TestResponse:
        method, path = operations()[operation_id]
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        if self.fault:
            headers["X-Mock-Fault"] = self.fault
        return self.client.open(path.replace("{channel}", channel), method=method, headers=headers, **kwargs)

    def create(self, operation_id: str, body: dict[str, Any], **kwargs: Any) -> TestResponse:
        return self.send(operation_id, json=body, **kwargs)

    def animate(self, form: dict[str, Any], *, with_image: bool = True, **kwargs: Any) -> TestResponse:
        data = dict(form)
        if with_image:
            data["image"] = (io.BytesIO(self.face), "image.png", "image/png")
        return self.send("postAnimate", data=data, content_type="multipart/form-data", **kwargs)

    def meme_face(self, form: dict[str, Any], *, with_face: bool = True, **kwargs: Any) -> TestResponse:
        data = dict(form)
        if with_face:
            data["face"] = (io.BytesIO(self.face), "face.png", "image/png")
        return self.send("postMemeFace", data=data, content_type="multipart/form-data", **kwargs)

    def button(self, body: dict[str, Any], **kwargs: Any) -> TestResponse:
        return self.send("postButton", json=body, **kwargs)

    def job(self, operation_id: str, jobid: str) -> TestResponse:
        return self.send(operation_id, query_string={"jobid": jobid})

    def account(self, channel: str, body: dict[str, Any]) -> TestResponse:
        return self.send("postAccount", channel=channel, json=body)

    def submit(self, **form: Any) -> str:
        response = self.meme_face({"prompt": "A girl laughing by the seaside", **form})
        assert response.status_code == 200, response.get_json()
        return response.get_json()["jobid"]

    def completed_meme_face(self, **form: Any) -> str:
        jobid = self.submit(**form)
        self.mock.advance(3600)
        status = self.job("getJob", jobid).get_json()["status"]
        assert status == "completed", f"a meme_face job is {status} an hour after submit"
        return jobid


def account_body(channel: str, **changes: Any) -> dict[str, Any]:
    body = {"discord": f"discord-token-for-{channel}", "server": "1149991234567890123",
            "channel": channel, "maxJobs": 3}
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


# A request each operation accepts when the token is good (so only auth can fail it).
VALID_REQUEST: dict[str, Callable[[Replay, str | None], TestResponse]] = {
    "postMemeFace": lambda r, token: r.meme_face({"prompt": "A girl laughing by the seaside"}, token=token),
    "postButton": lambda r, token: r.button({"jobid": "j0909015512345-u1-c1-bot:pixverse", "button": "U1"},
                                            token=token),
    "postCreate": lambda r, token: r.create("postCreate", {"prompt": "a cat", "style": "Realistic"}, token=token),
    "postCreateSingle": lambda r, token: r.create("postCreateSingle", {"prompt": "a cat", "style": "Anime"},
                                                  token=token),
    "postAnimate": lambda r, token: r.animate({}, token=token),
    "getJob": lambda r, token: r.send("getJob", token=token, query_string={"jobid": "j1"}),
    "cancelJob": lambda r, token: r.send("cancelJob", token=token, query_string={"jobid": "j1"}),
    "listAccounts": lambda r, token: r.send("listAccounts", token=token),
    "getAccount": lambda r, token: r.send("getAccount", token=token),
    "postAccount": lambda r, token: r.send("postAccount", token=token, json=account_body(DEFAULT_CHANNEL)),
    "deleteAccount": lambda r, token: r.send("deleteAccount", token=token),
}
JOB_OPERATIONS = ("getJob", "cancelJob")
CREATES = ("postCreate", "postCreateSingle")
POSTS = ("postCreate", "postCreateSingle", "postAnimate", "postMemeFace", "postButton", "postAccount")
BODY_LIMIT = MockConfig().max_upload_bytes

Builder = Callable[[Replay, Any], TestResponse]


def max_jobs_reached(replay: Replay, example: dict[str, Any], press: Callable[[int], TestResponse]) -> TestResponse:
    """``press(limit)`` up to the example's limit (each accepted), then once more."""
    (limit,) = placeholder(example["error"], r"Maximum of (\d+) jobs executing in parallel supported")
    for _ in range(int(limit)):
        accepted = press(int(limit))
        assert accepted.status_code == 200, accepted.get_json()
    return press(int(limit))


def meme_face_max_jobs(r: Replay, example: dict[str, Any]) -> TestResponse:
    return max_jobs_reached(r, example, lambda limit: r.meme_face({"prompt": "a cat", "maxJobs": limit}))


def button_max_jobs(r: Replay, example: dict[str, Any]) -> TestResponse:
    parent = r.completed_meme_face()
    return max_jobs_reached(r, example, lambda limit: r.button({"jobid": parent, "button": "🔀", "maxJobs": limit}))


def create_max_jobs(operation_id: str) -> Builder:
    def build(r: Replay, example: dict[str, Any]) -> TestResponse:
        return max_jobs_reached(r, example, lambda limit: r.create(
            operation_id, {"prompt": "a cat", "style": "Realistic", "maxJobs": limit}))
    return build


def animate_max_jobs(r: Replay, example: dict[str, Any]) -> TestResponse:
    return max_jobs_reached(r, example, lambda limit: r.animate({"maxJobs": limit}))


def with_fault(fault: str, operation_id: str, before: Callable[[Replay], Any] = lambda r: None) -> Builder:
    """The operation's valid request with ``X-Mock-Fault: fault`` (after ``before`` set the stage)."""
    def build(r: Replay, example: dict[str, Any]) -> TestResponse:
        before(r)
        r.fault = fault
        return VALID_REQUEST[operation_id](r, TOKEN)
    return build


def executing_jobs(count: int) -> Callable[[Replay], Any]:
    def submit(r: Replay) -> None:
        for _ in range(count):
            r.submit()
    return submit


def method_not_allowed(r: Replay, example: dict[str, Any]) -> TestResponse:
    method, path = placeholder(example["error"], r"Method (\S+) not allowed for (\S+)")
    return r.client.open(path, method=method, headers={"Authorization": f"Bearer {TOKEN}"})


def too_large(operation_id: str) -> Builder:
    def build(r: Replay, example: dict[str, Any]) -> TestResponse:
        (limit,) = placeholder(example["error"], r"Request body larger than (\d+) bytes")
        assert int(limit) == BODY_LIMIT
        return r.send(operation_id, data=b" " * (BODY_LIMIT + 1), content_type="application/json")
    return build


def button_moderated(r: Replay, example: dict[str, Any]) -> TestResponse:
    parent = r.completed_meme_face()
    return r.button({"jobid": parent, "button": "🔀", "prompt": f"a {MODERATED_WORD} remix"})


def job_not_found(operation_id: str) -> Builder:
    def build(r: Replay, example: dict[str, Any]) -> TestResponse:
        (jobid,) = placeholder(example["error"], r"Unable to locate job (\S+)")
        return r.job(operation_id, jobid)
    return build


def same_discord(r: Replay, example: dict[str, Any]) -> TestResponse:
    (configured,) = placeholder(example["error"], r"Channel (\d+) configuration has same discord value")
    other = "1151023045728383026" if configured != "1151023045728383026" else "1151023045728383027"
    saved = r.account(configured, account_body(configured, discord="the-same-discord-token"))
    assert saved.status_code == 204, saved.get_json()
    return r.account(other, account_body(other, discord="the-same-discord-token"))


def channel_mismatch(r: Replay, example: dict[str, Any]) -> TestResponse:
    body_channel, path_channel = placeholder(
        example["error"], r"Required param channel \((\d+)\) not matching to /pixverse/account/(\d+)")
    return r.account(path_channel, account_body(body_channel))


def channel_invalid(r: Replay, example: dict[str, Any]) -> TestResponse:
    (channel,) = placeholder(example["error"], r"Required param channel \((.*)\) is not valid Discord channel id")
    return r.account(channel, account_body(channel))


def account_max_jobs(pattern: str) -> Builder:
    def build(r: Replay, example: dict[str, Any]) -> TestResponse:
        (value,) = placeholder(example["error"], pattern)
        return r.account(UNKNOWN_CHANNEL, account_body(UNKNOWN_CHANNEL, maxJobs=int(value)))
    return build


def account_param_missing(name: str) -> Builder:
    def build(r: Replay, example: dict[str, Any]) -> TestResponse:
        return r.account(UNKNOWN_CHANNEL, {k: v for k, v in account_body(UNKNOWN_CHANNEL).items() if k != name})
    return build


def no_accounts_left(r: Replay, example: dict[str, Any]) -> TestResponse:
    deleted = r.send("deleteAccount", channel=DEFAULT_CHANNEL)
    assert deleted.status_code == 204, deleted.get_json()
    return r.send("listAccounts")


ERROR_BUILDERS: dict[str, Builder] = {
    # Every operation: no Authorization header; a token the config marks expired.
    **{f"{op}/401/unauthorized": (lambda r, ex, op=op: VALID_REQUEST[op](r, None)) for op in VALID_REQUEST},
    **{f"{op}/402/subscriptionExpired": (lambda r, ex, op=op: VALID_REQUEST[op](r, EXPIRED))
       for op in VALID_REQUEST},
    # meme_face
    "postMemeFace/400/missingValue": lambda r, ex: r.meme_face({}),
    "postMemeFace/400/tooLong": lambda r, ex: r.meme_face({"prompt": "a" * 513}),
    "postMemeFace/400/faceNotFile": lambda r, ex: r.meme_face({"prompt": "a cat", "face": "face.png"},
                                                              with_face=False),
    "postMemeFace/400/aspectRatioNotSupported": lambda r, ex: r.meme_face({
        "prompt": "a cat",
        "aspect_ratio": placeholder(ex["error"], r"aspect_ratio (\S+) not supported, must be one of .*")[0]}),
    "postMemeFace/400/seedValueOutOfRange": lambda r, ex: r.meme_face({
        "prompt": "a cat", "seed_value": placeholder(ex["error"], r"seed_value (\S+) valid range 0-2147483647")[0]}),
    "postMemeFace/422/moderated": lambda r, ex: r.meme_face({"prompt": f"a {MODERATED_WORD} cat"}),
    "postMemeFace/429/maxJobs": meme_face_max_jobs,
    # button
    "postButton/400/missingValue": lambda r, ex: r.button({"button": "U1"}),
    "postButton/400/buttonNotSupported": lambda r, ex: r.button({
        "jobid": "j1", "button": placeholder(ex["error"], r"button (\S+) not supported")[0]}),
    "postButton/400/tooLong": lambda r, ex: r.button({"jobid": "j1", "button": "V1", "prompt": "a" * 513}),
    "postButton/400/buttonNoPrompt": lambda r, ex: r.button({
        "jobid": "j1", "button": placeholder(ex["error"], r"button (\S+) does not support prompt")[0],
        "prompt": "a cat"}),
    "postButton/404/jobNotFound": lambda r, ex: r.button({
        "jobid": placeholder(ex["error"], r"Unable to locate job (\S+)")[0], "button": "U1"}),
    "postButton/422/moderated": button_moderated,
    # Discord's own 429 only happens on the real service: reproduced with the prompt-marker fault.
    "postMemeFace/429/discordThrottled": lambda r, ex: r.meme_face({"prompt": "a cat [mock:discord429]"}),
    "postButton/429/discordThrottled": lambda r, ex: r.button(
        {"jobid": r.completed_meme_face(), "button": "🔀", "prompt": "a remix [mock:discord429]"}),
    "postButton/429/maxJobs": button_max_jobs,
    # create, create_single
    **{f"{op}/400/missingValue": (lambda r, ex, op=op: r.create(op, {"prompt": "a cat"})) for op in CREATES},
    **{f"{op}/400/tooLong": (lambda r, ex, op=op: r.create(op, {"prompt": "a", "style": "Anime",
                                                                "negative_prompt": "n" * 513}))
       for op in CREATES},
    **{f"{op}/400/styleNotSupported": (lambda r, ex, op=op: r.create(op, {
        "prompt": "a cat", "style": placeholder(ex["error"], r"style (\S+) not supported, must be one of .*")[0]}))
       for op in CREATES},
    **{f"{op}/400/characterNotSupported": (lambda r, ex, op=op: r.create(op, {
        "prompt": "a cat", "style": "Anime",
        "character": placeholder(ex["error"], r"character (\S+) not supported, must be one of .*")[0]}))
       for op in CREATES},
    **{f"{op}/400/aspectRatioNotSupported": (lambda r, ex, op=op: r.create(op, {
        "prompt": "a cat", "style": "Anime",
        "aspect_ratio": placeholder(ex["error"], r"aspect_ratio (\S+) not supported, must be one of .*")[0]}))
       for op in CREATES},
    **{f"{op}/400/maxJobsOutOfRange": (lambda r, ex, op=op: r.create(op, {
        "prompt": "a cat", "style": "Anime",
        "maxJobs": placeholder(ex["error"], r"maxJobs (\S+) valid range 1-10")[0]}))
       for op in CREATES},
    "postCreateSingle/400/seedValueOutOfRange": lambda r, ex: r.create("postCreateSingle", {
        "prompt": "a cat", "style": "Anime",
        "seed_value": placeholder(ex["error"], r"seed_value (\S+) valid range 0-2147483647")[0]}),
    **{f"{op}/422/moderated": (lambda r, ex, op=op: r.create(op, {"prompt": f"a {MODERATED_WORD} cat",
                                                                  "style": "Realistic"}))
       for op in CREATES},
    **{f"{op}/429/maxJobs": create_max_jobs(op) for op in CREATES},
    **{f"{op}/429/discordThrottled": (lambda r, ex, op=op: r.create(op, {"prompt": "a cat [mock:discord429]",
                                                                         "style": "Realistic"}))
       for op in CREATES},
    # animate
    "postAnimate/400/missingValue": lambda r, ex: r.animate({"prompt": "a cat"}, with_image=False),
    "postAnimate/400/imageNotFile": lambda r, ex: r.animate({"image": "image.png"}, with_image=False),
    "postAnimate/400/tooLong": lambda r, ex: r.animate({"prompt": "a" * 513}),
    "postAnimate/400/motionOutOfRange": lambda r, ex: r.animate({
        "motion": placeholder(ex["error"], r"motion (\S+) valid range 1-10")[0]}),
    "postAnimate/400/seedValueOutOfRange": lambda r, ex: r.animate({
        "seed_value": placeholder(ex["error"], r"seed_value (\S+) valid range 0-2147483647")[0]}),
    "postAnimate/400/hdQualityNotSupported": lambda r, ex: r.animate({
        "hd_quality": placeholder(ex["error"], r"hd_quality (\S+) not supported, must be one of Yes, No")[0]}),
    "postAnimate/400/maxJobsOutOfRange": lambda r, ex: r.animate({
        "maxJobs": placeholder(ex["error"], r"maxJobs (\S+) valid range 1-10")[0]}),
    "postAnimate/400/imageNotAnImage": lambda r, ex: r.send("postAnimate", content_type="multipart/form-data",
                                                            data={"image": (io.BytesIO(b"%PDF-1.4"), "a.png")}),
    "postAnimate/422/moderated": lambda r, ex: r.animate({"prompt": f"a {MODERATED_WORD} cat"}),
    "postAnimate/429/maxJobs": animate_max_jobs,
    "postAnimate/429/discordThrottled": lambda r, ex: r.animate({"prompt": "a cat [mock:discord429]"}),
    # mock choices on meme_face and button
    "postMemeFace/400/maxJobsOutOfRange": lambda r, ex: r.meme_face({
        "prompt": "a cat", "maxJobs": placeholder(ex["error"], r"maxJobs (\S+) valid range 1-10")[0]}),
    "postMemeFace/400/faceNotAnImage": lambda r, ex: r.send("postMemeFace", content_type="multipart/form-data",
                                                            data={"prompt": "a cat",
                                                                  "face": (io.BytesIO(b"%PDF-1.4"), "a.png")}),
    "postButton/400/parentNotCompleted": lambda r, ex: r.button({
        "jobid": placeholder(ex["error"], r"Job (\S+) status is progress, button requires a completed job")[0],
        "button": "U1"}),
    "postButton/400/maxJobsOutOfRange": lambda r, ex: r.button({
        "jobid": "j1", "button": "U1", "maxJobs": placeholder(ex["error"], r"maxJobs (\S+) valid range 1-10")[0]}),
    # every operation: what faults and the HTTP layer answer
    **{f"{op}/405/methodNotAllowed": method_not_allowed for op in VALID_REQUEST},
    **{f"{op}/413/payloadTooLarge": too_large(op) for op in POSTS},
    **{f"{op}/5XX/serverError": with_fault("server_error", op) for op in VALID_REQUEST},
    **{f"{op}/429/discordThrottled": with_fault("discord429", op)
       for op in (*JOB_OPERATIONS, "listAccounts", "getAccount", "postAccount", "deleteAccount")},
    **{f"{op}/429/maxJobs": with_fault("maxjobs429", op, executing_jobs(10))
       for op in (*JOB_OPERATIONS, "listAccounts", "getAccount", "postAccount", "deleteAccount")},
    **{f"{op}/400/faultNotUsable": with_fault("nosuch", op) for op in ("listAccounts", "getAccount", "deleteAccount")},
    # jobs and jobs/cancel
    **{f"{op}/400/jobidMissing": (lambda r, ex, op=op: r.send(op)) for op in JOB_OPERATIONS},
    **{f"{op}/404/jobNotFound": job_not_found(op) for op in JOB_OPERATIONS},
    # account
    "listAccounts/404/notConfigured": no_accounts_left,
    "getAccount/404/notConfigured": lambda r, ex: r.send("getAccount", channel=UNKNOWN_CHANNEL),
    "deleteAccount/404/notFound": lambda r, ex: r.send("deleteAccount", channel=UNKNOWN_CHANNEL),
    "postAccount/400/discordMissing": account_param_missing("discord"),
    "postAccount/400/serverMissing": account_param_missing("server"),
    "postAccount/400/channelMissing": account_param_missing("channel"),
    "postAccount/400/maxJobsMissing": account_param_missing("maxJobs"),
    "postAccount/400/channelInvalid": channel_invalid,
    "postAccount/400/channelMismatch": channel_mismatch,
    "postAccount/400/maxJobsTooMany": account_max_jobs(r"Required param maxJobs (\S+) can't be more that 10"),
    "postAccount/400/maxJobsNotANumber": account_max_jobs(
        r"Required param maxJobs \((\S+)\) must be a number between 1 and 10"),
    "postAccount/400/sameDiscord": same_discord,
}

# Discord answering 429 to /interactions needs fault injection, which does not exist yet.
NOT_YET_TRIGGERABLE: set[str] = set()


@pytest.fixture
def replay(client: FlaskClient, mock: MockRuntime, face_png: bytes) -> Replay:
    return Replay(client, mock, face_png)


def test_every_error_example_has_a_builder_or_is_listed_as_not_yet_triggerable():
    without_builder = set(error_examples()) - set(ERROR_BUILDERS)
    assert without_builder == NOT_YET_TRIGGERABLE
    assert not set(ERROR_BUILDERS) - set(error_examples()), "builders for examples the spec no longer has"


@pytest.mark.parametrize("key", sorted(set(error_examples()) & set(ERROR_BUILDERS)))
def test_error_example_is_the_mock_answer(replay: Replay, key: str):
    status, example = error_examples()[key]
    response = ERROR_BUILDERS[key](replay, example)
    body = response.get_json()
    assert response.is_json, response.get_data(as_text=True)
    assert (response.status_code, body.get("error")) == (status, example["error"]), body
    assert body.get("code") == example["code"] == status
    if "executingJobs" in example:
        assert len(body.get("executingJobs") or []) == len(example["executingJobs"]), body
    if "jobid" in example:
        assert body.get("jobid") and body.get("status") == example["status"], body
        readback = replay.job("getJob", body["jobid"]).get_json()
        assert readback.get("status") == example["status"], readback


# --- 2xx examples: the shape -------------------------------------------------------------------


def started_meme_face_form(example: dict[str, Any]) -> dict[str, Any]:
    keys = ("prompt", "negative_prompt", "seed_value", "aspect_ratio", "replyRef")
    return {**{key: example[key] for key in keys}, "replyUrl": REPLY_URL}


def started_button(r: Replay, example: dict[str, Any]) -> TestResponse:
    parent = r.completed_meme_face()
    return r.button({"jobid": parent, "button": "🔀", "prompt": example["prompt"],
                     "replyUrl": REPLY_URL, "replyRef": example["replyRef"]})


def completed_meme_face(operation_id: str) -> Builder:
    def build(r: Replay, example: dict[str, Any]) -> TestResponse:
        jobid = r.completed_meme_face(**started_meme_face_form(example))
        return r.job(operation_id, jobid)
    return build


def seeded_job(operation_id: str, verb: str) -> Builder:
    def build(r: Replay, example: dict[str, Any]) -> TestResponse:
        seeds = yaml.safe_load(MockConfig().seed_jobs.read_text(encoding="utf-8"))
        jobid = next(s["jobid"] for s in seeds if s["verb"] == verb and s["status"] == example["status"])
        return r.job(operation_id, jobid)
    return build


def cancelled(operation_id: str) -> Builder:
    def build(r: Replay, example: dict[str, Any]) -> TestResponse:
        return r.job(operation_id, r.submit())
    return build


def already_completed(operation_id: str) -> Builder:
    def build(r: Replay, example: dict[str, Any]) -> TestResponse:
        return r.job(operation_id, r.completed_meme_face())
    return build


def configured_as_example(r: Replay, example: dict[str, Any]) -> TestResponse:
    """The example's accounts, configured under the example's channels (the only ones)."""
    for channel, account in example.items():
        saved = r.account(channel, account_body(channel, server=account["server"], maxJobs=account["maxJobs"]))
        assert saved.status_code == 204, saved.get_json()
    if DEFAULT_CHANNEL not in example:
        r.send("deleteAccount", channel=DEFAULT_CHANNEL)
    return r.send("listAccounts")


def started_create(operation_id: str, keys: tuple[str, ...]) -> Builder:
    def build(r: Replay, example: dict[str, Any]) -> TestResponse:
        return r.create(operation_id, {**{key: example[key] for key in keys}, "replyUrl": REPLY_URL})
    return build


SUCCESS_BUILDERS: dict[str, Builder] = {
    "postCreate/200/started": started_create("postCreate", ("prompt", "style", "aspect_ratio", "replyRef")),
    "postCreateSingle/200/started": started_create("postCreateSingle", (
        "prompt", "style", "aspect_ratio", "character", "seed_value", "replyRef")),
    "postAnimate/200/started": lambda r, ex: r.animate({
        **{key: ex[key] for key in ("prompt", "motion", "seed_value", "hd_quality", "replyRef")},
        "replyUrl": REPLY_URL}),
    "postMemeFace/200/started": lambda r, ex: r.meme_face(started_meme_face_form(ex)),
    "postButton/200/started": started_button,
    "getJob/200/completedMemeFace": completed_meme_face("getJob"),
    "getJob/200/completedCreateSingle": seeded_job("getJob", "pixverse-create_single"),
    "getJob/200/completedCreate": seeded_job("getJob", "pixverse-create"),
    "cancelJob/200/cancelled": cancelled("cancelJob"),
    "cancelJob/200/alreadyCompleted": already_completed("cancelJob"),
    "listAccounts/200/twoAccounts": configured_as_example,
    "getAccount/200/account": lambda r, ex: r.send("getAccount", channel=DEFAULT_CHANNEL),
}

JSON_TYPES = (bool, int, float, str, list, dict, type(None))


def json_type(value: Any) -> type:
    return next(kind for kind in JSON_TYPES if isinstance(value, kind))


def missing_shape(example: Any, actual: Any, where: str = "$") -> list[str]:
    """Where ``actual`` lacks a key of ``example`` or has a value of another JSON type."""
    if json_type(example) is not json_type(actual):
        return [f"{where}: {json_type(actual).__name__} instead of {json_type(example).__name__}"]
    problems = []
    if isinstance(example, dict):
        for key, value in example.items():
            if key not in actual:
                problems.append(f"{where}.{key}: missing")
            else:
                problems.extend(missing_shape(value, actual[key], f"{where}.{key}"))
    elif isinstance(example, list) and example and actual:
        for index, item in enumerate(actual):
            problems.extend(missing_shape(example[0], item, f"{where}[{index}]"))
    return problems


def test_every_success_example_has_a_builder():
    assert set(success_examples()) == set(SUCCESS_BUILDERS)


@pytest.mark.parametrize("key", sorted(SUCCESS_BUILDERS))
def test_success_answer_has_the_example_shape(replay: Replay, key: str):
    status, example = success_examples()[key]
    response = SUCCESS_BUILDERS[key](replay, example)
    body = response.get_json()
    assert response.status_code == status, body
    if "status" in example:
        assert body["status"] == example["status"], body
    assert missing_shape(example, body) == [], body
