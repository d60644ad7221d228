"""``Authorization: Bearer <token>`` on every vendor endpoint: 401, 402, accepted tokens, no token leaks."""

from __future__ import annotations

import pytest
from helpers import AUTH
from helpers import DEFAULT_CHANNEL
from helpers import TOKEN
from helpers import assert_error
from helpers import face_part

from mock_server import MockConfig

JOBID = "j0101000000000000-u1-c1200000000000000001-bot:pixverse"
NEW_CHANNEL = "1200000000000000055"
ACCEPTED = "user:1-alpha-accepted"
EXPIRED = "user:3-expired-token"


def meme_face(client, headers):
    data = {"prompt": "A girl laughing", "face": face_part()}
    return client.post("/v1/pixverse/meme_face", data=data, headers=headers)


def button(client, headers):
    return client.post("/v1/pixverse/button", json={"jobid": JOBID, "button": "U1"}, headers=headers)


def jobs(client, headers):
    return client.get("/v1/pixverse/jobs/", query_string={"jobid": JOBID}, headers=headers)


def cancel(client, headers):
    return client.get("/v1/pixverse/jobs/cancel/", query_string={"jobid": JOBID}, headers=headers)


def list_accounts(client, headers):
    return client.get("/v1/pixverse/account", headers=headers)


def get_account(client, headers):
    return client.get(f"/v1/pixverse/account/{DEFAULT_CHANNEL}", headers=headers)


def post_account(client, headers):
    account = {"discord": "some-discord-token-55", "server": "1100000000000000001", "channel": NEW_CHANNEL,
               "maxJobs": 2}
    return client.post(f"/v1/pixverse/account/{NEW_CHANNEL}", json=account, headers=headers)


def delete_account(client, headers):
    return client.delete(f"/v1/pixverse/account/{DEFAULT_CHANNEL}", headers=headers)


ENDPOINTS = [meme_face, button, jobs, cancel, list_accounts, get_account, post_account, delete_account]
ENDPOINT_IDS = [e.__name__ for e in ENDPOINTS]
BAD_HEADERS = {
    "none": {},
    "blank": {"Authorization": ""},
    "spaces": {"Authorization": "   "},
    "bearer-no-token": {"Authorization": "Bearer "},
    "bearer-only": {"Authorization": "Bearer"},
    "basic": {"Authorization": "Basic x"},
    "token-scheme": {"Authorization": "Token abc"},
    "bare-token": {"Authorization": TOKEN},
}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
def test_auth_missing_or_malformed_is_401(client, endpoint):
    for name, headers in BAD_HEADERS.items():
        response = endpoint(client, headers)
        assert response.status_code == 401, name
        assert response.get_json() == {"error": "Unauthorized", "code": 401}, name


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
def test_auth_any_bearer_token_is_accepted_by_default(client, endpoint):
    assert endpoint(client, AUTH).status_code not in (401, 402)


@pytest.mark.parametrize("scheme", ["bearer", "BEARER"])
def test_auth_scheme_is_case_insensitive(client, scheme):
    assert list_accounts(client, {"Authorization": f"{scheme} {TOKEN}"}).status_code == 200


def test_auth_unauthorized_changes_nothing(client):
    assert delete_account(client, {}).status_code == 401
    assert list_accounts(client, AUTH).status_code == 200


TOKENS_CONFIG = MockConfig(clock="manual", accepted_tokens=(ACCEPTED, TOKEN), expired_tokens=(EXPIRED,))


@pytest.mark.parametrize("config", [TOKENS_CONFIG], ids=["accepted-list"])
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
def test_auth_token_not_in_accepted_list_is_401(client, endpoint):
    response = endpoint(client, {"Authorization": "Bearer user:2-not-on-the-list"})
    assert response.get_json() == {"error": "Unauthorized", "code": 401}
    assert response.status_code == 401


@pytest.mark.parametrize("config", [TOKENS_CONFIG], ids=["accepted-list"])
@pytest.mark.parametrize("token", [ACCEPTED, TOKEN])
def test_auth_token_in_accepted_list_is_served(client, token):
    assert list_accounts(client, {"Authorization": f"Bearer {token}"}).status_code == 200


@pytest.mark.parametrize("config", [TOKENS_CONFIG], ids=["accepted-list"])
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
def test_auth_expired_token_is_402(client, endpoint):
    response = endpoint(client, {"Authorization": f"Bearer {EXPIRED}"})
    assert_error(response, 402, "Account has no subscription or subscription expired")


@pytest.mark.parametrize("config", [MockConfig(clock="manual", expired_tokens=(EXPIRED,))], ids=["any-token"])
def test_auth_expired_token_is_402_when_any_token_is_accepted(client):
    for endpoint in ENDPOINTS:
        response = endpoint(client, {"Authorization": f"Bearer {EXPIRED}"})
        assert response.status_code == 402, endpoint.__name__
        assert response.get_json() == {"error": "Account has no subscription or subscription expired",
                                       "code": 402}


@pytest.mark.parametrize("config", [MockConfig(clock="manual", expired_tokens=(EXPIRED,))], ids=["expired"])
def test_auth_expired_before_validation(client):
    response = client.post("/v1/pixverse/meme_face", data={}, headers={"Authorization": f"Bearer {EXPIRED}"})
    assert_error(response, 402, "Account has no subscription or subscription expired")


def test_auth_before_validation(client):
    assert_error(client.post("/v1/pixverse/button", json={}, headers={}), 401, "Unauthorized")


@pytest.mark.parametrize("config", [MockConfig(clock="manual", expired_tokens=(EXPIRED,))], ids=["expired"])
@pytest.mark.parametrize("token", [TOKEN, EXPIRED, "user:9-whatever"])
def test_auth_token_never_in_answer(client, token):
    for endpoint in ENDPOINTS:
        response = endpoint(client, {"Authorization": f"Bearer {token}"})
        assert token not in response.get_data(as_text=True), endpoint.__name__
        assert token not in str(response.headers), endpoint.__name__


def test_auth_token_never_in_job_answers(client, mock):
    submitted = meme_face(client, AUTH)
    assert submitted.status_code == 200
    jobid = submitted.get_json()["jobid"]
    mock.advance(3)
    for response in (submitted,
                     client.get("/v1/pixverse/jobs/", query_string={"jobid": jobid}, headers=AUTH),
                     client.post("/v1/pixverse/button", json={"jobid": jobid, "button": "🔀"}, headers=AUTH),
                     client.get("/v1/pixverse/jobs/cancel/", query_string={"jobid": jobid}, headers=AUTH)):
        assert response.status_code == 200
        assert TOKEN not in response.get_data(as_text=True)
