"""The control plane: every ``/__mock/`` operation over HTTP and its Python twin (``mock_of(app).<op>``).

Most tests run twice (``via`` = ``http`` / ``python``) through :class:`HttpControl` and
:class:`PythonControl`, two adapters with the same methods: the HTTP one also checks each answer's
envelope, the Python one turns an :class:`~mock_server.errors.ApiError` into the same
:class:`ControlError` (status and body) the HTTP one raises.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from conftest import AUTH
from conftest import TOKEN
from helpers import ACCOUNT
from helpers import DEFAULT_DISCORD
from helpers import FRESH
from helpers import ISO_MILLIS
from helpers import JOBS
from helpers import MEME_FACE
from helpers import assert_error
from helpers import complete
from helpers import face_bytes
from helpers import fresh_mock
from helpers import get_job
from helpers import masked
from helpers import meme_face_job
from helpers import press
from helpers import status_of
from helpers import submit_meme_face

from mock_server import MockConfig
from mock_server.accounts import digest
from mock_server.clock import MANUAL_EPOCH
from mock_server.control.operations import Conflict
from mock_server.errors import ApiError

OTHER = "user:5678-otherTokenXyZ"
OTHER_AUTH = {"Authorization": f"Bearer {OTHER}"}
DISCORD429 = "Discord /interactions failed with HTTP status 429"
DISCORD429_DETAILS = '{"global":true,"message":"You are being rate limited.","retry_after":10}'
EXPIRED = "Account has no subscription or subscription expired"
MODERATED = (
    "Apologies! Our AI moderator thinks this prompt or images as potentially violating our "
    "[community guidelines](<https://discord.com/channels/1140860020586713128/1168473004498501652>)."
)
JOB_FAILED = "PixVerse failed to generate the video"
UNKNOWN_JOB = "j0101000000000000001-u100000000000000001-c1200000000000000001-bot:pixverse"
ACCOUNT_A = {"discord": "secret-discord-token-aaaaaaaaaaaaaaaa01", "server": "1100000000000000001",
             "channel": "1200000000000000011", "maxJobs": 10}
ACCOUNT_B = {"discord": "secret-discord-token-bbbbbbbbbbbbbbbb02", "server": "1100000000000000001",
             "channel": "1200000000000000012", "maxJobs": 10}
ACCOUNT_C = {"discord": "secret-discord-token-cccccccccccccccc03", "server": "1100000000000000001",
             "channel": "1200000000000000013", "maxJobs": 10}
SECRETS = (TOKEN, OTHER, DEFAULT_DISCORD, ACCOUNT_A["discord"], ACCOUNT_B["discord"], ACCOUNT_C["discord"],
           FRESH["discord"])

VIA = pytest.mark.parametrize("via", ["http", "python"])


# --- the two adapters -----------------------------------------------------------------------------


class ControlError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


class HttpControl:
    """The control plane through ``/__mock/`` with the Flask test client."""

    def __init__(self, client) -> None:
        self.client = client

    def call(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        kwargs: dict[str, Any] = {"method": method, "query_string": query}
        if body is not None:
            kwargs["json"] = body
        response = self.client.open(f"/__mock{path}", **kwargs)
        assert response.is_json, response.get_data(as_text=True)
        data = response.get_json()
        if response.status_code >= 400:
            assert set(data) == {"error", "code"}, data
            assert data["code"] == response.status_code and isinstance(data["error"], str)
            raise ControlError(response.status_code, data)
        assert response.status_code == (201 if (method, path) == ("POST", "/faults") else 200)
        return data

    def reset(self, token: str | None = None) -> None:
        answer = self.call("POST", "/reset", {"token": token} if token else None)
        assert answer == {"reset": "tenant" if token else "all"}

    def reseed(self, seed: int) -> None:
        assert self.call("POST", "/seed", {"seed": seed}) == {"seed": seed}

    def clock(self) -> dict[str, Any]:
        return self.call("GET", "/clock")

    def set_clock(self, **change: Any) -> dict[str, Any]:
        return self.call("PUT", "/clock", change)

    def advance(self, seconds: float) -> dict[str, Any]:
        return self.call("POST", "/clock/advance", {"seconds": seconds})

    def force(self, token: str, jobid: str, outcome: str, **extra: Any) -> dict[str, Any]:
        return self.call("POST", f"/jobs/{jobid}/outcome", {"token": token, "outcome": outcome, **extra})

    def add_fault(self, fault: str, **extra: Any) -> dict[str, Any]:
        return self.call("POST", "/faults", {"fault": fault, **extra})

    def faults(self) -> list[dict[str, Any]]:
        return self.call("GET", "/faults")["faults"]

    def clear_faults(self, token: str | None = None) -> None:
        remaining = self.call("DELETE", "/faults", query={"token": token} if token else None)["faults"]
        assert remaining == self.faults()

    def set_tokens(self, **lists: Any) -> None:
        assert self.call("PUT", "/tokens", lists) == self.settings()

    def set_accounts(self, accounts: list[dict[str, Any]], token: str | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"accounts": accounts}
        if token is not None:
            body["token"] = token
        return self.call("PUT", "/accounts", body)["accounts"]

    def set_moderation(self, words: list[str]) -> None:
        assert self.call("PUT", "/moderation", {"words": words})["moderation_words"] == words

    def set_button_graph(self, graph: dict[str, Any]) -> None:
        assert self.call("PUT", "/button-graph", graph) == self.settings()

    def settings(self) -> dict[str, Any]:
        return self.call("GET", "/settings")

    def journal(self, kind: str, **query: Any) -> tuple[list[dict[str, Any]], int]:
        answer = self.call("GET", f"/journal/{kind}", query={k: v for k, v in query.items() if v is not None})
        assert set(answer) == {"entries", "last"}
        return answer["entries"], answer["last"]

    def wait_for(self, kind: str, *, timeout: float, **query: Any) -> dict[str, Any] | None:
        try:
            return self.call("GET", f"/wait/{kind}", query={"timeout": timeout, **query})
        except ControlError as error:
            if error.status == 408:
                return None
            raise


class PythonControl:
    """The same operations on the in-process handle; an ``ApiError`` becomes a :class:`ControlError`."""

    def __init__(self, mock) -> None:
        self.mock = mock

    def _run(self, function, /, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except ApiError as error:
            raise ControlError(error.status, error.body()) from None

    def reset(self, token: str | None = None) -> None:
        assert self._run(self.mock.reset, token) is None

    def reseed(self, seed: int) -> None:
        self._run(self.mock.reseed, seed)

    def clock(self) -> dict[str, Any]:
        return self.mock.clock_view()

    def set_clock(self, **change: Any) -> dict[str, Any]:
        return self._run(self.mock.set_clock, **change)

    def advance(self, seconds: float) -> dict[str, Any]:
        now = self._run(self.mock.advance, seconds)
        view = self.mock.clock_view()
        assert view["now"] == now
        return view

    def force(self, token: str, jobid: str, outcome: str, **extra: Any) -> dict[str, Any]:
        return self._run(self.mock.force_outcome, token, jobid, outcome, **extra)

    def add_fault(self, fault: str, **extra: Any) -> dict[str, Any]:
        return self._run(self.mock.add_fault, fault, **extra)

    def faults(self) -> list[dict[str, Any]]:
        return self.mock.fault_rules()

    def clear_faults(self, token: str | None = None) -> None:
        self._run(self.mock.clear_faults, token)

    def set_tokens(self, **lists: Any) -> None:
        self._run(self.mock.set_tokens, **lists)

    def set_accounts(self, accounts: list[dict[str, Any]], token: str | None = None) -> list[dict[str, Any]]:
        return self._run(self.mock.set_accounts, accounts, token=token)

    def set_moderation(self, words: list[str]) -> None:
        self._run(self.mock.set_moderation, words)

    def set_button_graph(self, graph: dict[str, Any]) -> None:
        self._run(self.mock.set_button_graph, graph)

    def settings(self) -> dict[str, Any]:
        return self.mock.settings_view()

    def journal(self, kind: str, *, since: int = 0, limit: int | None = None,
                **filters: Any) -> tuple[list[dict[str, Any]], int]:
        entries = self._run(self.mock.journal, kind, since=since, limit=limit,
                            **{k: str(v) for k, v in filters.items() if v is not None})
        return entries, entries[-1]["seq"] if entries else since

    def wait_for(self, kind: str, *, timeout: float, **filters: Any) -> dict[str, Any] | None:
        since = int(filters.pop("since", 0))
        return self._run(self.mock.wait_for, kind, timeout=timeout, since=since,
                         **{k: str(v) for k, v in filters.items()})


@pytest.fixture
def control(request, client, mock):
    callspec = getattr(request.node, "callspec", None)
    via = callspec.params.get("via", "http") if callspec else "http"
    return HttpControl(client) if via == "http" else PythonControl(mock)


def _error_of(action) -> ControlError:
    with pytest.raises(ControlError) as caught:
        action()
    return caught.value


def _strip_sequence(jobid: str) -> str:
    """The jobid without its 4 store-wide sequence digits (``j`` + 13 time digits + 4 sequence digits)."""
    return re.sub(r"^(j\d{13})\d{4}", r"\1", jobid)


# --- health -------------------------------------------------------------------------------------------


def test_health_answers_store_jobs_and_clock(client, mock):
    answer = HttpControl(client).call("GET", "/health")
    assert answer["status"] == "ok"
    assert answer["store"] == "memory"
    assert answer["jobs"] == mock.store.job_count()
    assert answer["clock"] == mock.clock_view()


# --- reset --------------------------------------------------------------------------------------------


@VIA
def test_reset_all_forgets_jobs_journals_and_faults(via, control, client):
    jobid = meme_face_job(client)
    control.add_fault("server_error:503", endpoint="account", count=None)
    control.reset()
    assert control.faults() == []
    assert control.journal("requests")[0] == []
    assert_error(client.get(JOBS, query_string={"jobid": jobid}, headers=AUTH), 404, f"Unable to locate job {jobid}")
    assert client.get(ACCOUNT, headers=AUTH).status_code == 200


@VIA
def test_reset_one_token_keeps_the_other_tenants(via, control, client):
    mine = meme_face_job(client)
    theirs = meme_face_job(client, headers=OTHER_AUTH)
    control.add_fault("server_error:503", endpoint="account", token=TOKEN, count=None)
    control.add_fault("server_error:502", endpoint="account", token=OTHER, count=None)
    control.reset(TOKEN)
    assert [rule["fault"] for rule in control.faults()] == ["server_error:502"]
    assert control.journal("requests", token=TOKEN)[0] == []
    assert [e["jobid"] for e in control.journal("requests", token=OTHER)[0]] == [theirs]
    assert_error(client.get(JOBS, query_string={"jobid": mine}, headers=AUTH), 404)
    assert get_job(client, theirs, headers=OTHER_AUTH)["jobid"] == theirs


def test_reset_bad_token_is_400(client):
    http = HttpControl(client)
    for body in ({"token": 5}, {"token": ""}, {"token": ["x"]}):
        assert _error_of(lambda b=body: http.call("POST", "/reset", b)).status == 400


# --- seed ---------------------------------------------------------------------------------------------


def _submit_run(client, count: int = 6) -> list[str]:
    return [meme_face_job(client) for _ in range(count)]


@VIA
def test_same_seed_after_reset_gives_the_same_jobs(via, control, client):
    control.set_accounts([ACCOUNT_A, ACCOUNT_B, ACCOUNT_C])  # every new tenant: three accounts to choose from
    control.reset()
    control.reseed(7)
    first = _submit_run(client)
    control.reset()
    control.reseed(7)
    second = _submit_run(client)
    # Same clock reading, same seed: only the store-wide sequence digits (not rewound by a reset) differ.
    assert [_strip_sequence(j) for j in first] == [_strip_sequence(j) for j in second]
    channels = {j.split("-c")[1].split("-")[0] for j in first}
    assert len(channels) > 1, "the seeded choice should spread six jobs over the three accounts"
    control.reset()
    control.reseed(8)
    assert [_strip_sequence(j) for j in _submit_run(client)] != [_strip_sequence(j) for j in first]


def test_same_seed_in_two_fresh_mocks_gives_identical_jobids():
    runs = []
    for _ in range(2):
        with fresh_mock(MockConfig(clock="manual", seed=3)) as (client, runtime):
            runtime.set_accounts([ACCOUNT_A, ACCOUNT_B, ACCOUNT_C])
            runtime.reseed(11)
            runs.append(_submit_run(client))
    assert runs[0] == runs[1]


def test_seed_must_be_a_whole_number(client):
    http = HttpControl(client)
    for body in ({}, {"seed": "seven"}, {"seed": 1.5}, {"seed": True}, {"seed": None}, {"seed": [1]}):
        assert _error_of(lambda b=body: http.call("POST", "/seed", b)).status == 400
    for raw in ('{"seed": NaN}', '{"seed": Infinity}'):
        assert_error(client.post("/__mock/seed", data=raw, content_type="application/json"), 400)
    assert http.call("POST", "/seed", {"seed": "42"}) == {"seed": 42}
    assert http.call("POST", "/seed", {"seed": 2**70}) == {"seed": 2**70}


# --- clock --------------------------------------------------------------------------------------------


@VIA
def test_clock_reads_and_advances(via, control):
    view = control.clock()
    assert view == {"profile": "manual", "manual": True, "now": MANUAL_EPOCH, "iso": "2026-01-01T00:00:00.000Z"}
    moved = control.advance(2.5)
    assert moved["now"] == MANUAL_EPOCH + 2.5
    assert moved["iso"] == "2026-01-01T00:00:02.500Z"
    assert control.clock() == moved


@VIA
def test_clock_advance_moves_jobs(via, control, client):
    jobid = meme_face_job(client)
    control.advance(1)
    assert status_of(client, jobid) == "progress"
    control.advance(2)
    assert status_of(client, jobid) == "completed"


@VIA
def test_clock_now_jumps_forward_never_backwards(via, control, client):
    jobid = meme_face_job(client)
    view = control.set_clock(now=MANUAL_EPOCH + 60)
    assert view["now"] == MANUAL_EPOCH + 60 and view["iso"] == "2026-01-01T00:01:00.000Z"
    assert status_of(client, jobid) == "completed"
    error = _error_of(lambda: control.set_clock(now=MANUAL_EPOCH + 30))
    assert error.status == 409
    assert control.clock()["now"] == MANUAL_EPOCH + 60


@VIA
@pytest.mark.parametrize("profile", ["fast", "realistic"])
def test_clock_profile_cannot_leave_manual_on_a_manual_server(via, control, profile):
    assert _error_of(lambda: control.set_clock(profile=profile)).status == 409
    assert control.set_clock(profile="manual")["profile"] == "manual"
    assert control.settings()["profile"] == "manual"


@VIA
def test_clock_unknown_profile_is_400(via, control):
    assert _error_of(lambda: control.set_clock(profile="warp")).status == 400


def test_clock_on_a_fast_server():
    with fresh_mock(MockConfig(clock="fast")) as (client, runtime):
        http, python = HttpControl(client), PythonControl(runtime)
        assert http.clock()["manual"] is False and http.clock()["profile"] == "fast"
        assert _error_of(lambda: http.advance(1)).status == 409
        with pytest.raises(Conflict):
            runtime.advance(1)
        for control in (http, python):
            assert _error_of(lambda c=control: c.set_clock(now=MANUAL_EPOCH * 2)).status == 409
            assert _error_of(lambda c=control: c.set_clock(profile="manual")).status == 409
        assert http.set_clock(profile="realistic")["profile"] == "realistic"
        assert python.settings()["profile"] == "realistic"
        assert python.set_clock(profile="fast")["profile"] == "fast"
        assert http.settings()["profile"] == "fast"


CLOCK_BAD_VALUES = [
    ("/clock/advance", {"seconds": "soon"}),
    ("/clock/advance", {"seconds": -1}),
    ("/clock/advance", {}),
    ("/clock/advance", {"seconds": True}),
    ("/clock/advance", {"seconds": 1e300}),
    ("/clock", {"now": "later"}),
    ("/clock", {"now": 1e20}),
    ("/clock", {"now": -5}),
    ("/clock", {"profile": 5}),
    ("/clock", {"profile": ["manual"]}),
    ("/clock", {"profile": "manual", "now": 1}),
]


def test_clock_bad_values_are_400_and_change_nothing(client, mock):
    before = mock.clock_view()
    for path, body in CLOCK_BAD_VALUES:
        method = "POST" if path.endswith("advance") else "PUT"
        assert _error_of(lambda p=path, m=method, b=body: HttpControl(client).call(m, p, b)).status in (400, 409)
        assert mock.clock_view() == before, (path, body)


@pytest.mark.parametrize("raw", ['{"seconds": NaN}', '{"seconds": Infinity}', '{"seconds": -Infinity}'])
def test_clock_advance_rejects_non_finite_numbers(client, mock, raw):
    response = client.post("/__mock/clock/advance", data=raw, content_type="application/json")
    assert_error(response, 400)
    assert mock.clock_view()["now"] == MANUAL_EPOCH


# --- forced outcomes ----------------------------------------------------------------------------------


@VIA
@pytest.mark.parametrize("outcome", ["completed", "failed", "moderated", "cancelled"])
def test_force_outcome_now(via, control, client, outcome):
    jobid = meme_face_job(client)
    job = control.force(TOKEN, jobid, outcome)
    assert job["jobid"] == jobid and job["status"] == outcome
    shown = get_job(client, jobid)
    assert shown["status"] == outcome
    if outcome == "failed":
        assert shown["error"] == JOB_FAILED
    if outcome == "completed":
        assert shown["buttons"] and shown["attachments"]


@VIA
def test_force_failed_with_error_shows_it(via, control, client):
    jobid = meme_face_job(client)
    assert control.force(TOKEN, jobid, "failed", error="out of credits")["error"] == "out of credits"
    job = get_job(client, jobid)
    assert job["status"] == "failed" and job["error"] == "out of credits"


@VIA
def test_force_progress(via, control, client):
    jobid = meme_face_job(client)
    assert control.force(TOKEN, jobid, "progress")["status"] == "progress"
    assert status_of(client, jobid) == "progress"
    control.advance(3)
    assert status_of(client, jobid) == "completed"


@VIA
def test_force_delay_finishes_later(via, control, client):
    jobid = meme_face_job(client)
    assert control.force(TOKEN, jobid, "delay", after=10)["status"] == "started"
    control.advance(3)
    assert status_of(client, jobid) == "progress"
    control.advance(9.5)
    assert status_of(client, jobid) == "progress"
    control.advance(0.5)
    assert status_of(client, jobid) == "completed"


@VIA
@pytest.mark.parametrize("outcome", ["completed", "failed", "cancelled"])
def test_force_outcome_after_some_seconds(via, control, client, outcome):
    jobid = meme_face_job(client)
    assert control.force(TOKEN, jobid, outcome, after=10)["status"] == "started"
    control.advance(5)
    assert status_of(client, jobid) == "progress"
    control.advance(5)
    assert status_of(client, jobid) == outcome


@VIA
def test_force_a_finished_job_is_409(via, control, client, mock):
    jobid = meme_face_job(client)
    complete(mock)
    error = _error_of(lambda: control.force(TOKEN, jobid, "failed"))
    assert error.status == 409 and "completed" in error.body["error"]
    assert status_of(client, jobid) == "completed"


@VIA
def test_force_an_unknown_job_is_404(via, control, client):
    meme_face_job(client)
    error = _error_of(lambda: control.force(TOKEN, UNKNOWN_JOB, "completed"))
    assert error.status == 404 and error.body["error"] == f"Unable to locate job {UNKNOWN_JOB}"
    mine = meme_face_job(client)
    assert _error_of(lambda: control.force(OTHER, mine, "completed")).status == 404


@VIA
def test_force_unknown_outcome_is_400(via, control, client):
    jobid = meme_face_job(client)
    assert _error_of(lambda: control.force(TOKEN, jobid, "exploded")).status == 400
    assert _error_of(lambda: control.force(TOKEN, jobid, "completed", after=-1)).status == 400


@pytest.mark.parametrize("body", [
    {"outcome": "completed"},
    {"token": TOKEN},
    {"token": 5, "outcome": "completed"},
    {"token": TOKEN, "outcome": ["completed"]},
    {"token": TOKEN, "outcome": "failed", "error": {"nested": True}},
    {"token": TOKEN, "outcome": "completed", "after": "later"},
])
def test_force_bad_bodies_are_400(client, body):
    jobid = meme_face_job(client)
    assert _error_of(lambda: HttpControl(client).call("POST", f"/jobs/{jobid}/outcome", body)).status == 400
    assert status_of(client, jobid) == "started"


# --- faults: each kind ----------------------------------------------------------------------------------


@VIA
def test_fault_discord429(via, control, client):
    rule = control.add_fault("discord429", endpoint="meme_face")
    assert rule["fault"] == "discord429" and rule["endpoint"] == "meme_face" and rule["remaining"] == 1
    response = submit_meme_face(client)
    assert_error(response, 429, DISCORD429, keys={"errorDetails"})
    assert response.get_json()["errorDetails"] == DISCORD429_DETAILS
    assert submit_meme_face(client).status_code == 200
    assert control.faults() == []


@VIA
def test_fault_maxjobs429_lists_executing_jobs(via, control, client):
    running = meme_face_job(client)
    control.add_fault("maxjobs429", endpoint="meme_face")
    response = submit_meme_face(client)
    body = assert_error(response, 429, "Maximum of 10 jobs executing in parallel supported", keys={"executingJobs"})
    assert running in body["executingJobs"]


@VIA
def test_fault_unauthorized(via, control, client):
    control.add_fault("unauthorized", endpoint="account")
    assert_error(client.get(ACCOUNT, headers=AUTH), 401, "Unauthorized")
    assert client.get(ACCOUNT, headers=AUTH).status_code == 200


@VIA
def test_fault_expired(via, control, client):
    control.add_fault("expired")
    assert_error(client.get(ACCOUNT, headers=AUTH), 402, EXPIRED)


@VIA
def test_fault_moderated_creates_a_moderated_job(via, control, client):
    control.add_fault("moderated", endpoint="meme_face")
    response = submit_meme_face(client)
    body = assert_error(response, 422, MODERATED, keys={"jobid", "status"})
    assert body["status"] == "moderated"
    assert get_job(client, body["jobid"])["status"] == "moderated"


@VIA
@pytest.mark.parametrize("fault, error", [("fail", JOB_FAILED), ("fail:out of credits", "out of credits")])
def test_fault_fail_ends_the_job_failed(via, control, client, mock, fault, error):
    control.add_fault(fault, endpoint="meme_face")
    jobid = meme_face_job(client)
    assert status_of(client, jobid) == "started"
    complete(mock)
    job = get_job(client, jobid)
    assert job["status"] == "failed" and job["error"] == error


@VIA
def test_fault_server_error(via, control, client):
    jobid = meme_face_job(client)
    control.add_fault("server_error:503", endpoint="jobs")
    assert_error(client.get(JOBS, query_string={"jobid": jobid}, headers=AUTH), 503,
                 "Server error 503 (fault injection)")
    control.add_fault("server_error")
    assert_error(client.get(JOBS, query_string={"jobid": jobid}, headers=AUTH), 500)
    assert get_job(client, jobid)["jobid"] == jobid


@VIA
def test_fault_delay_still_answers_correctly(via, control, client):
    jobid = meme_face_job(client)
    control.add_fault("delay:0.05", endpoint="jobs")
    started = time.perf_counter()
    job = get_job(client, jobid)
    assert time.perf_counter() - started >= 0.05
    assert job["jobid"] == jobid and job["status"] == "started"
    entry = control.journal("requests", operation="jobs")[0][-1]
    assert entry["faults"] == ["delay:0.05"] and entry["status"] == 200 and entry["durationMs"] >= 50


@VIA
def test_fault_drop_closes_the_connection(via, control, client):
    control.add_fault("drop", endpoint="account")
    with pytest.raises(ConnectionAbortedError):
        client.get(ACCOUNT, headers=AUTH)
    assert client.get(ACCOUNT, headers=AUTH).status_code == 200


# --- faults: counting, filters, probability, clearing ----------------------------------------------------


@VIA
def test_fault_count_is_consumed_exactly(via, control, client):
    jobid = meme_face_job(client)
    control.add_fault("server_error:503", endpoint="jobs", count=3)
    statuses = []
    for _ in range(5):
        statuses.append(client.get(JOBS, query_string={"jobid": jobid}, headers=AUTH).status_code)
        if len(statuses) < 3:
            assert control.faults()[0]["remaining"] == 3 - len(statuses)
    assert statuses == [503, 503, 503, 200, 200]
    assert control.faults() == []


@VIA
def test_fault_until_cleared(via, control, client):
    control.add_fault("server_error:503", endpoint="account", count=None)
    assert [client.get(ACCOUNT, headers=AUTH).status_code for _ in range(4)] == [503] * 4
    assert control.faults()[0]["remaining"] is None
    control.clear_faults()
    assert client.get(ACCOUNT, headers=AUTH).status_code == 200


@VIA
def test_fault_for_jobs_does_not_hit_meme_face(via, control, client):
    control.add_fault("server_error:503", endpoint="jobs")
    jobid = meme_face_job(client)
    assert client.get(JOBS, query_string={"jobid": jobid}, headers=AUTH).status_code == 503


@VIA
def test_fault_for_submit_hits_both_posts(via, control, client, mock):
    parent = meme_face_job(client)
    complete(mock)
    control.add_fault("discord429", endpoint="submit", count=2)
    assert get_job(client, parent)["status"] == "completed"
    assert_error(submit_meme_face(client), 429, DISCORD429, keys={"errorDetails"})
    assert_error(press(client, parent, "🔀"), 429, DISCORD429, keys={"errorDetails"})
    assert press(client, parent, "🔀").status_code == 200


@VIA
def test_fault_token_filter(via, control, client):
    control.add_fault("server_error:503", token=OTHER, count=None)
    assert client.get(ACCOUNT, headers=AUTH).status_code == 200
    assert client.get(ACCOUNT, headers=OTHER_AUTH).status_code == 503
    rule = control.faults()[0]
    assert rule["tenant"] == digest(OTHER)
    assert OTHER not in json.dumps(rule)


def _probability_run(seed: int, via: str) -> int:
    with fresh_mock(MockConfig(clock="manual", seed=seed)) as (client, runtime):
        control = HttpControl(client) if via == "http" else PythonControl(runtime)
        jobid = meme_face_job(client)
        control.add_fault("server_error:503", endpoint="jobs", count=None, probability=0.3)
        return sum(client.get(JOBS, query_string={"jobid": jobid}, headers=AUTH).status_code == 503
                   for _ in range(200))


@VIA
def test_fault_probability_is_seeded(via):
    first, second = _probability_run(5, via), _probability_run(5, via)
    assert first == second
    assert 40 < first < 80


@VIA
def test_clear_faults_of_one_token_or_all(via, control):
    control.add_fault("discord429", endpoint="meme_face", token=TOKEN)
    control.add_fault("unauthorized", endpoint="jobs", token=OTHER)
    control.add_fault("expired")
    assert [rule["id"] for rule in control.faults()] == [1, 2, 3]
    control.clear_faults(TOKEN)
    assert [rule["fault"] for rule in control.faults()] == ["unauthorized", "expired"]
    control.clear_faults()
    assert control.faults() == []


def test_clear_faults_with_an_empty_or_bad_token_is_400_and_clears_nothing(client, mock):
    mock.add_fault("discord429")
    http = HttpControl(client)
    assert _error_of(lambda: http.call("DELETE", "/faults", query={"token": ""})).status == 400
    assert _error_of(lambda: http.call("DELETE", "/faults", {"token": 5})).status == 400
    assert len(mock.fault_rules()) == 1
    assert http.call("DELETE", "/faults", {"token": OTHER}) == {"faults": mock.fault_rules()}
    assert len(mock.fault_rules()) == 1


UNUSABLE_FAULTS = [
    ("teleport", {}),
    ("server_error:404", {}),
    ("delay:soon", {}),
    ("delay:61", {}),
    ("discord429:x", {}),
    ("moderated", {}),
    ("fail", {"endpoint": "jobs"}),
    ("discord429", {"endpoint": "everything"}),
    ("discord429", {"count": 0}),
    ("discord429", {"probability": 0}),
    ("discord429", {"probability": 1.5}),
]


@VIA
def test_add_fault_rejects_what_it_cannot_use(via, control):
    for fault, extra in UNUSABLE_FAULTS:
        assert _error_of(lambda f=fault, e=extra: control.add_fault(f, **e)).status == 400, (fault, extra)
    assert control.faults() == []


FAULT_BAD_BODIES = [
    {},
    {"fault": 5},
    {"fault": "discord429", "count": "two"},
    {"fault": "discord429", "count": 1.5},
    {"fault": "discord429", "probability": "likely"},
    {"fault": "discord429", "token": 7},
    {"fault": "discord429", "endpoint": ["jobs"]},
    {"fault": "discord429", "count": True},
]


def test_add_fault_bad_bodies_are_400(client, mock):
    for body in FAULT_BAD_BODIES:
        assert _error_of(lambda b=body: HttpControl(client).call("POST", "/faults", b)).status == 400, body
    assert mock.fault_rules() == []


# --- faults by header and by prompt marker ----------------------------------------------------------------


def test_header_fault_discord429_on_a_submit(client):
    response = submit_meme_face(client, headers={**AUTH, "X-Mock-Fault": "discord429"})
    assert_error(response, 429, DISCORD429, keys={"errorDetails"})
    assert response.get_json()["errorDetails"] == DISCORD429_DETAILS


@pytest.mark.parametrize("fault, status, message", [
    ("maxjobs429", 429, "Maximum of 10 jobs executing in parallel supported"),
    ("unauthorized", 401, "Unauthorized"),
    ("expired", 402, EXPIRED),
    ("server_error:503", 503, "Server error 503 (fault injection)"),
])
def test_header_fault_on_a_poll(client, fault, status, message):
    jobid = meme_face_job(client)
    response = client.get(JOBS, query_string={"jobid": jobid}, headers={**AUTH, "X-Mock-Fault": fault})
    assert_error(response, status, message, keys={"executingJobs"} if fault == "maxjobs429" else None)
    assert get_job(client, jobid)["jobid"] == jobid


def test_header_fault_moderated_and_fail_shape_the_job(client, mock):
    moderated = submit_meme_face(client, headers={**AUTH, "X-Mock-Fault": "moderated"})
    body = assert_error(moderated, 422, MODERATED, keys={"jobid", "status"})
    jobid = meme_face_job(client, headers={**AUTH, "X-Mock-Fault": "fail:quota gone"})
    complete(mock)
    assert status_of(client, body["jobid"]) == "moderated"
    assert get_job(client, jobid)["error"] == "quota gone"


def test_header_fault_delay_and_drop(client):
    jobid = meme_face_job(client)
    started = time.perf_counter()
    assert client.get(JOBS, query_string={"jobid": jobid}, headers={**AUTH, "X-Mock-Fault": "delay:0.05"}).is_json
    assert time.perf_counter() - started >= 0.05
    with pytest.raises(ConnectionAbortedError):
        client.get(JOBS, query_string={"jobid": jobid}, headers={**AUTH, "X-Mock-Fault": "drop"})


def test_header_fault_unknown_is_400(client):
    response = client.get(ACCOUNT, headers={**AUTH, "X-Mock-Fault": "teleport"})
    assert_error(response, 400)


@pytest.mark.parametrize("fault", ["moderated", "fail:boom"])
def test_header_fault_that_shapes_a_job_on_a_read_is_400(client, fault):
    response = client.get(ACCOUNT, headers={**AUTH, "X-Mock-Fault": fault})
    assert_error(response, 400)
    assert response.json["error"] == (f"fault {fault.split(':')[0]} applies to create, create_single, animate, "
                                      "meme_face and button only")


def test_prompt_marker_discord429(client):
    response = submit_meme_face(client, prompt="A cat [mock:discord429] dancing")
    assert_error(response, 429, DISCORD429, keys={"errorDetails"})


def test_prompt_marker_fail_with_message(client, mock):
    jobid = meme_face_job(client, prompt="A cat dancing [mock:fail:out of credits]")
    complete(mock)
    job = get_job(client, jobid)
    assert job["status"] == "failed" and job["error"] == "out of credits"


def test_prompt_marker_moderated_and_server_error(client):
    body = assert_error(submit_meme_face(client, prompt="[mock:moderated] a cat"), 422, MODERATED,
                        keys={"jobid", "status"})
    assert body["status"] == "moderated"
    assert_error(submit_meme_face(client, prompt="a cat [mock:server_error:502]"), 502)


# --- tokens, accounts, moderation, button graph -----------------------------------------------------------


@VIA
def test_tokens_accepted_and_expired(via, control, client):
    control.set_tokens(accepted=[TOKEN])
    assert client.get(ACCOUNT, headers=AUTH).status_code == 200
    assert_error(client.get(ACCOUNT, headers=OTHER_AUTH), 401, "Unauthorized")
    control.set_tokens(expired=[OTHER])
    assert_error(client.get(ACCOUNT, headers=OTHER_AUTH), 402, EXPIRED)
    settings = control.settings()
    assert settings["accepted_tokens"] == [masked(TOKEN)]
    assert settings["expired_tokens"] == [masked(OTHER)]
    control.set_tokens(accepted=[], expired=[])
    assert client.get(ACCOUNT, headers=OTHER_AUTH).status_code == 200


@pytest.mark.parametrize("body", [{"accepted": "tok"}, {"expired": [1]}, {"accepted": [None]}])
def test_tokens_bad_bodies_are_400(client, body):
    assert _error_of(lambda: HttpControl(client).call("PUT", "/tokens", body)).status == 400


@VIA
def test_accounts_default_for_new_tenants(via, control, client):
    assert client.get(ACCOUNT, headers=AUTH).status_code == 200  # this tenant exists already
    shown = control.set_accounts([ACCOUNT_A, {**ACCOUNT_B, "maxJobs": 3}])
    assert shown == [
        {"discord": masked(ACCOUNT_A["discord"]), "server": ACCOUNT_A["server"], "channel": ACCOUNT_A["channel"],
         "maxJobs": 10},
        {"discord": masked(ACCOUNT_B["discord"]), "server": ACCOUNT_B["server"], "channel": ACCOUNT_B["channel"],
         "maxJobs": 3},
    ]
    assert control.settings()["accounts"] == shown
    fresh = client.get(ACCOUNT, headers=OTHER_AUTH).get_json()
    assert sorted(fresh) == [ACCOUNT_A["channel"], ACCOUNT_B["channel"]]
    assert fresh[ACCOUNT_B["channel"]]["maxJobs"] == 3
    assert list(client.get(ACCOUNT, headers=AUTH).get_json()) == ["1200000000000000001"]


@VIA
def test_accounts_of_one_token(via, control, client):
    assert client.get(ACCOUNT, headers=OTHER_AUTH).status_code == 200
    control.set_accounts([ACCOUNT_C], token=TOKEN)
    mine = client.get(ACCOUNT, headers=AUTH).get_json()
    assert list(mine) == [ACCOUNT_C["channel"]]
    assert mine[ACCOUNT_C["channel"]]["discord"] == masked(ACCOUNT_C["discord"])
    assert list(client.get(ACCOUNT, headers=OTHER_AUTH).get_json()) == ["1200000000000000001"]
    jobid = meme_face_job(client)
    assert f"-c{ACCOUNT_C['channel']}-" in jobid


@VIA
def test_accounts_of_a_token_the_vendor_api_refuses(via, control, client):
    control.set_tokens(expired=[OTHER])
    control.set_accounts([ACCOUNT_A], token=OTHER)
    control.set_tokens(expired=[])
    assert list(client.get(ACCOUNT, headers=OTHER_AUTH).get_json()) == [ACCOUNT_A["channel"]]


BAD_ACCOUNTS = [
    [{"server": "1", "channel": "2"}],
    [{**ACCOUNT_A, "maxJobs": 0}],
    [{**ACCOUNT_A, "maxJobs": 11}],
    [{**ACCOUNT_A, "maxJobs": "ten"}],
    [{**ACCOUNT_A, "discord": ""}],
    [{**ACCOUNT_A, "channel": 12}],
    [{**ACCOUNT_A, "replyUrl": 5}],
    ["not an account"],
]


@VIA
def test_accounts_bad_entries_are_400(via, control):
    before = control.settings()["accounts"]
    for accounts in BAD_ACCOUNTS:
        assert _error_of(lambda a=accounts: control.set_accounts(a)).status == 400, accounts
        assert _error_of(lambda a=accounts: control.set_accounts(a, token=TOKEN)).status == 400, accounts
    assert control.settings()["accounts"] == before


@pytest.mark.parametrize("body", [{}, {"accounts": "x"}, {"accounts": [ACCOUNT_A], "token": 5},
                                  {"accounts": [ACCOUNT_A], "token": ""}])
def test_accounts_bad_bodies_are_400(client, body):
    assert _error_of(lambda: HttpControl(client).call("PUT", "/accounts", body)).status == 400


@VIA
def test_moderation_words(via, control, client):
    control.set_moderation(["banana"])
    assert control.settings()["moderation_words"] == ["banana"]
    assert_error(submit_meme_face(client, prompt="A Banana split"), 422, MODERATED, keys={"jobid", "status"})
    assert submit_meme_face(client, prompt="nsfw is no longer on the list").status_code == 200


@pytest.mark.parametrize("body", [{}, {"words": "banana"}, {"words": [1, 2]}])
def test_moderation_bad_bodies_are_400(client, body):
    assert _error_of(lambda: HttpControl(client).call("PUT", "/moderation", body)).status == 400


def _meme_face_result(settings: dict[str, Any]) -> str:
    return settings["button_graph"]["verbs"]["pixverse-meme_face"]


@VIA
def test_button_graph_is_followed(via, control, client, mock):
    graph = control.settings()["button_graph"]
    kind = _meme_face_result(control.settings())
    graph["results"][kind] = {"buttons": ["ReDo"], "videos": 2}
    control.set_button_graph(graph)
    assert control.settings()["button_graph"]["results"][kind] == {"buttons": ["ReDo"], "videos": 2}
    parent = meme_face_job(client)
    complete(mock)
    job = get_job(client, parent)
    assert job["buttons"] == ["ReDo"]
    assert len(job["attachments"]) == 2
    assert_error(press(client, parent, "🔀"), 400, "button 🔀 not supported")
    assert press(client, parent, "ReDo").status_code == 200


GRAPH_BREAKAGES = [
    lambda g: g.clear(),
    lambda g: g.pop("verbs"),
    lambda g: g.update(results="grid"),
    lambda g: g.update(prompt_buttons="V1"),
    lambda g: g["results"].update(broken={"buttons": "U1"}),
    lambda g: g["results"].update(broken={"buttons": ["U1"], "videos": 0}),
    lambda g: g["results"].update(broken={"buttons": ["U1"], "videos": 10**9}),
    lambda g: g["verbs"].update({"pixverse-meme_face": 5}),
]


@VIA
def test_button_graph_malformed_is_400(via, control):
    before = control.settings()["button_graph"]
    for number, change in enumerate(GRAPH_BREAKAGES):
        graph = json.loads(json.dumps(before))
        change(graph)
        assert _error_of(lambda g=graph: control.set_button_graph(g)).status == 400, number
    assert control.settings()["button_graph"] == before


# --- settings and secrets ---------------------------------------------------------------------------------


@VIA
def test_settings_never_show_a_full_token(via, control):
    control.set_tokens(accepted=[TOKEN, OTHER], expired=[OTHER])
    control.set_accounts([ACCOUNT_A, ACCOUNT_B])
    control.set_accounts([ACCOUNT_C], token=TOKEN)
    settings = control.settings()
    assert set(settings) == {"accepted_tokens", "expired_tokens", "accounts", "moderation_words", "button_graph",
                             "profile"}
    text = json.dumps(settings, ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in text
    assert masked(TOKEN) in settings["accepted_tokens"]


def test_secrets_never_reach_journals_control_answers_or_logs(client, mock, caplog):
    caplog.set_level(logging.DEBUG)
    http = HttpControl(client)
    answers: list[Any] = []
    mock.set_tokens(accepted=[TOKEN, OTHER])
    answers.append(http.set_accounts([ACCOUNT_A]))
    answers.append(http.set_accounts([ACCOUNT_B], token=OTHER))
    jobid = meme_face_job(client, discord=DEFAULT_DISCORD, server="1100000000000000001",
                          channel="1200000000000000001", replyUrl="http://127.0.0.1:9/hook")
    client.post(f"{ACCOUNT}/{FRESH['channel']}", data={**FRESH, "maxJobs": "3"}, headers=AUTH)
    client.post("/v1/pixverse/button", json={"jobid": jobid, "button": "U1", "discord": FRESH["discord"]},
                headers=AUTH)
    client.get(JOBS, query_string={"jobid": jobid}, headers={**AUTH, "X-Mock-Fault": "server_error"})
    client.get(ACCOUNT, headers={"Authorization": f"Bearer {TOKEN}x"})
    answers.append(http.add_fault("discord429", token=TOKEN))
    answers.append(http.force(TOKEN, jobid, "failed", error="boom"))
    answers.append(http.wait_for("callbacks", timeout=10, jobid=jobid))  # its callback to a closed port
    answers += [http.journal("requests"), http.journal("callbacks"), http.faults(), http.settings(), http.clock(),
                http.call("GET", "/health"), http.wait_for("requests", timeout=0, token=TOKEN)]
    answers += [mock.journal("requests"), mock.fault_rules(), mock.settings_view()]
    text = json.dumps(answers, ensure_ascii=False)
    assert masked(TOKEN) in text and masked(DEFAULT_DISCORD) in text
    logged = caplog.text + "".join(str(record.args) for record in caplog.records)
    for secret in SECRETS:
        assert secret not in text, secret
        assert secret not in logged, secret


# --- journal ------------------------------------------------------------------------------------------


@VIA
def test_journal_entry_of_a_submit(via, control, client):
    response = submit_meme_face(client, prompt="A girl laughing", replyRef="order-7", discord=DEFAULT_DISCORD,
                                server="1100000000000000001", channel="1200000000000000001")
    jobid = response.get_json()["jobid"]
    entries, last = control.journal("requests")
    assert len(entries) == 1 and last == entries[0]["seq"]
    entry = entries[0]
    assert ISO_MILLIS.match(entry["time"])
    assert entry["token"] == masked(TOKEN) and entry["tenant"] == digest(TOKEN) and entry["auth"] == "bearer"
    assert (entry["method"], entry["path"], entry["operation"], entry["status"]) == (
        "POST", MEME_FACE, "meme_face", 200)
    assert entry["contentType"] == "multipart/form-data" and entry["json"] is False
    assert entry["jobid"] == jobid
    assert entry["fields"]["prompt"] == "A girl laughing" and entry["fields"]["replyRef"] == "order-7"
    assert entry["fields"]["discord"] == masked(DEFAULT_DISCORD)
    assert entry["files"] == [{"name": "face", "filename": "face.png", "size": len(face_bytes()),
                               "type": "image/png"}]
    assert entry["violations"] == []
    assert entry["durationMs"] >= 0


@VIA
def test_journal_entry_of_an_error_and_a_json_body(via, control, client):
    client.get(JOBS, query_string={"jobid": UNKNOWN_JOB}, headers=AUTH)
    client.post("/v1/pixverse/button", json={"jobid": UNKNOWN_JOB, "button": "U1"}, headers=AUTH)
    client.get(ACCOUNT)
    poll, button, anonymous = control.journal("requests")[0]
    assert poll["status"] == 404 and poll["error"] == f"Unable to locate job {UNKNOWN_JOB}"
    assert poll["query"] == {"jobid": UNKNOWN_JOB}
    assert button["json"] is True and button["fields"] == {"jobid": UNKNOWN_JOB, "button": "U1"}
    assert anonymous["auth"] == "missing" and anonymous["token"] is None and anonymous["status"] == 401
    assert anonymous["violations"]


@VIA
def test_journal_filters(via, control, client, mock):
    jobid = meme_face_job(client)
    other = meme_face_job(client, headers=OTHER_AUTH)
    get_job(client, jobid)
    client.get(JOBS, query_string={"jobid": UNKNOWN_JOB}, headers=AUTH)
    client.get(ACCOUNT, headers=OTHER_AUTH)
    everything, last = control.journal("requests")
    assert len(everything) == 5 and last == everything[-1]["seq"]
    assert [e["seq"] for e in everything] == sorted(e["seq"] for e in everything)
    assert {e["token"] for e in control.journal("requests", token=OTHER)[0]} == {masked(OTHER)}
    assert [e["jobid"] for e in control.journal("requests", token=OTHER)[0] if "jobid" in e] == [other]
    assert [e["path"] for e in control.journal("requests", path="/v1/pixverse/jobs")[0]] == [JOBS, JOBS]
    assert [e["operation"] for e in control.journal("requests", operation="account")[0]] == ["account"]
    assert [e["method"] for e in control.journal("requests", method="POST")[0]] == ["POST", "POST"]
    assert [e["status"] for e in control.journal("requests", status=404)[0]] == [404]
    assert [e["jobid"] for e in control.journal("requests", jobid=other)[0]] == [other]
    since = everything[2]["seq"]
    assert control.journal("requests", since=since)[0] == everything[3:]
    assert control.journal("requests", limit=2)[0] == everything[:2]
    page, page_last = control.journal("requests", since=since, limit=1)
    assert page == [everything[3]] and page_last == everything[3]["seq"]
    assert control.journal("requests", since=last) == ([], last)
    assert control.journal("requests", token=TOKEN, operation="jobs", status=200)[0] == [everything[2]]


@VIA
def test_journal_unknown_kind_or_filter_is_400(via, control):
    assert _error_of(lambda: control.journal("responses")).status == 400
    assert _error_of(lambda: control.journal("requests", colour="blue")).status == 400
    assert _error_of(lambda: control.wait_for("responses", timeout=0)).status == 400


@pytest.mark.parametrize("query", [{"since": "x"}, {"since": -1}, {"limit": "many"}, {"limit": -2},
                                   {"since": "1.5"}])
def test_journal_bad_query_is_400(client, query):
    assert _error_of(lambda: HttpControl(client).call("GET", "/journal/requests", query=query)).status == 400


def test_control_plane_requests_are_not_journaled(client, mock):
    http = HttpControl(client)
    http.clock(), http.settings(), http.faults(), http.journal("requests"), http.advance(1)
    http.call("GET", "/health"), http.wait_for("requests", timeout=0)
    client.get("/__mock/nowhere")
    assert mock.journal("requests") == []
    client.get(ACCOUNT, headers=AUTH)
    assert [e["path"] for e in mock.journal("requests")] == [ACCOUNT]


# --- wait -----------------------------------------------------------------------------------------------


def _trigger_after_wait_starts(mock, action) -> threading.Thread:
    """Run ``action`` in a thread as soon as the next journal wait has started (bounded)."""
    started = threading.Event()
    original = mock.control.wait

    def wait(*args: Any, **kwargs: Any):
        started.set()
        return original(*args, **kwargs)

    mock.control.wait = wait

    def run() -> None:
        if started.wait(5):
            action()

    thread = threading.Thread(target=run, name="test-trigger", daemon=True)
    thread.start()
    return thread


@VIA
def test_wait_returns_an_entry_recorded_later(via, control, client, app, mock):
    jobid = meme_face_job(client)
    _, last = control.journal("requests")
    thread = _trigger_after_wait_starts(mock, lambda: app.test_client().get(
        JOBS, query_string={"jobid": jobid}, headers=AUTH))
    entry = control.wait_for("requests", timeout=10, since=last, operation="jobs")
    thread.join(5)
    assert not thread.is_alive()
    assert entry is not None
    assert entry["seq"] > last and entry["path"] == JOBS and entry["query"] == {"jobid": jobid}
    assert entry["violations"] == []


@VIA
def test_wait_skips_entries_that_do_not_match(via, control, client, app, mock):
    _, last = control.journal("requests")

    def traffic() -> None:
        other = app.test_client()
        other.get(ACCOUNT, headers=AUTH)
        other.get(ACCOUNT, headers=OTHER_AUTH)

    thread = _trigger_after_wait_starts(mock, traffic)
    entry = control.wait_for("requests", timeout=10, since=last, token=OTHER)
    thread.join(5)
    assert entry is not None and entry["token"] == masked(OTHER)


@VIA
def test_wait_answers_at_once_for_an_entry_already_there(via, control, client):
    client.get(ACCOUNT, headers=AUTH)
    entry = control.wait_for("requests", timeout=0)
    assert entry is not None and entry["path"] == ACCOUNT


@VIA
def test_wait_times_out(via, control, client):
    client.get(ACCOUNT, headers=AUTH)
    _, last = control.journal("requests")
    started = time.perf_counter()
    assert control.wait_for("requests", timeout=0.1, since=last) is None
    assert 0.1 <= time.perf_counter() - started < 5


def test_wait_timeout_is_408_over_http(client):
    with pytest.raises(ControlError) as caught:
        HttpControl(client).call("GET", "/wait/callbacks", query={"timeout": 0.05})
    assert caught.value.status == 408 and "callbacks" in caught.value.body["error"]


@pytest.mark.parametrize("timeout", ["x", "-1", "61", "nan", "inf"])
def test_wait_bad_timeout_is_400(client, timeout):
    http = HttpControl(client)
    assert _error_of(lambda: http.call("GET", "/wait/requests", query={"timeout": timeout})).status == 400


def test_wait_from_many_threads(client, app, mock):
    """Several waiters over HTTP, one request: every waiter sees it."""
    _, last = HttpControl(client).journal("requests")
    with ThreadPoolExecutor(4) as pool:
        waits = [pool.submit(HttpControl(app.test_client()).wait_for, "requests", timeout=10, since=last)
                 for _ in range(3)]
        deadline = time.monotonic() + 5
        while not all(f.running() for f in waits) and time.monotonic() < deadline:
            time.sleep(0.01)  # bounded polling until the waiters run
        client.get(ACCOUNT, headers=AUTH)
        entries = [f.result(timeout=15) for f in waits]
    assert all(e is not None and e["path"] == ACCOUNT for e in entries)


# --- bad bodies, never a 500 --------------------------------------------------------------------------------


BODY_ROUTES = [
    ("POST", "/reset"), ("POST", "/seed"), ("PUT", "/clock"), ("POST", "/clock/advance"),
    ("POST", f"/jobs/{UNKNOWN_JOB}/outcome"), ("POST", "/faults"), ("DELETE", "/faults"), ("PUT", "/tokens"),
    ("PUT", "/accounts"), ("PUT", "/moderation"), ("PUT", "/button-graph"),
]


NOT_JSON_OBJECTS = [
    ("hello", "text/plain"),
    ("{not json", "application/json"),
    ("[1, 2]", "application/json"),
    ('"text"', "application/json"),
    ("null", "application/json"),
    ("seed=1", "application/x-www-form-urlencoded"),
    ('{"seed": 1}', "text/plain"),
]


@pytest.mark.parametrize("method, path", BODY_ROUTES)
def test_bodies_that_are_not_json_objects_are_400(client, mock, method, path):
    for data, content_type in NOT_JSON_OBJECTS:
        response = client.open(f"/__mock{path}", method=method, data=data, content_type=content_type)
        assert_error(response, 400)
    assert mock.errors == []


def test_wrong_method_and_unknown_route_answer_the_envelope(client):
    assert_error(client.delete("/__mock/clock"), 405)
    assert_error(client.get("/__mock/reset"), 405)
    assert_error(client.get("/__mock/nowhere"), 404)
