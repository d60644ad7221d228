"""One rule for a fault however it arrives (``X-Mock-Fault``, the queue, a ``[mock:...]`` prompt marker).

- A ``delay:N`` holds the answer N seconds once, on every endpoint (it is served at the edge only).
- A marker that names no usable fault answers 400, as the same value in the header does.
- A moderated job says the same in its submit answer, its record and its callback: the moderator's
  message and ``code: 422``.
"""

from __future__ import annotations

import pytest
from helpers import AUTH
from helpers import BASE
from helpers import assert_error
from helpers import completed_meme_face
from helpers import get_job
from helpers import press
from helpers import submit_meme_face

from mock_server.http import vendor

MODERATED = (
    "Apologies! Our AI moderator thinks this prompt or images as potentially violating our "
    "[community guidelines](<https://discord.com/channels/1140860020586713128/1168473004498501652>)."
)
FAULT_KINDS = "discord429, maxjobs429, unauthorized, expired, moderated, fail, server_error, delay, drop"


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Every wall-clock wait a delay fault asks for, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr("mock_server.holding.time.sleep", recorded.append)
    return recorded


@pytest.fixture
def submit(client, mock):
    """``submit(operation, headers, prompt)``: a valid submit (a button press on a completed parent)."""
    parent = completed_meme_face(client, mock)

    def send(operation: str, headers: dict[str, str], prompt: str = "a cat"):
        if operation == "meme_face":
            return submit_meme_face(client, headers=headers, prompt=prompt)
        if operation == "button":
            return press(client, parent, "🔀", headers=headers, prompt=prompt)
        return client.post(f"{BASE}/{operation}", json={"prompt": prompt, "style": "Realistic"}, headers=headers)

    return send


@pytest.mark.parametrize("operation", ["create", "create_single", "meme_face", "button"])
@pytest.mark.parametrize("way", ["header", "queue", "marker"])
def test_delay_is_served_once(submit, mock, sleeps, operation, way):
    headers, prompt = dict(AUTH), "a cat"
    if way == "header":
        headers[vendor.FAULT_HEADER] = "delay:7"
    elif way == "queue":
        mock.add_fault("delay:7", endpoint=operation)
    else:
        prompt = "a cat [mock:delay:7]"
    response = submit(operation, headers, prompt)
    assert response.status_code == 200, response.get_json()
    assert sleeps == [7.0]


@pytest.mark.parametrize("marker, reason", [
    ("nosuch", f"unknown fault 'nosuch'; one of: {FAULT_KINDS}"),
    ("server_error:999", "server_error takes a 5xx status, not '999'"),
    ("delay:99", "delay must be between 0 and 60 seconds"),
    ("drop:now", "drop takes no argument"),
])
@pytest.mark.parametrize("operation", ["create", "meme_face", "button"])
def test_unusable_marker_is_400_like_the_header(submit, mock, marker, reason, operation):
    jobs_before = len(mock.journal("requests", status=200))
    assert_error(submit(operation, AUTH, f"a cat [mock:{marker}]"), 400, f"[mock:{marker}]: {reason}")
    assert_error(submit(operation, {**AUTH, vendor.FAULT_HEADER: marker}), 400, f"{vendor.FAULT_HEADER}: {reason}")
    assert len(mock.journal("requests", status=200)) == jobs_before


@pytest.mark.parametrize("way", ["word", "marker", "header"])
def test_moderated_record_agrees_with_the_submit_answer(client, way):
    prompt = {"word": "a nude cat", "marker": "a cat [mock:moderated]", "header": "a cat"}[way]
    headers = {**AUTH, vendor.FAULT_HEADER: "moderated"} if way == "header" else AUTH
    answer = assert_error(submit_meme_face(client, prompt=prompt, headers=headers), 422, MODERATED,
                          keys={"jobid", "status"})
    record = get_job(client, answer["jobid"])
    assert (record["status"], record["error"], record["code"]) == ("moderated", answer["error"], answer["code"])
    assert "buttons" not in record and "attachments" not in record
