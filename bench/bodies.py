"""What every row is sent and what the baseline answers: captured from the mock itself.

The mock is run in-process (manual clock) once per bench run: a meme_face submit with the 100 KB
face, the same job's completed record, and a button press on a seeded parent. Those JSON bodies are
what the bare-Flask baseline returns, so both answer the same bytes (give or take the ids).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.anchors import ROOT

FACE = ROOT / "fixtures" / "faces" / "face-100k.jpg"
PROMPT = "A girl laughing by the seaside"
BOUNDARY = "----pixverse-bench-7MA4YWxkTrZu0gW"
SEED_PARENT = "j1101100000001-u1000000000000000001-c1200000000000000001-bot:pixverse"
BUTTON = "U1"
BASE_URL = "http://127.0.0.1:8080"
MEME_FACE_PATH = "/v1/pixverse/meme_face"
BUTTON_PATH = "/v1/pixverse/button"
JOBS_PATH = "/v1/pixverse/jobs/"


def multipart() -> tuple[bytes, bytes, bytes]:
    """The meme_face multipart body as ``(head, tail, content_type)``: ``head + replyRef + tail``.

    The parts are replyRef, prompt, then the face file, so a load script can vary the ``replyRef``.
    """
    crlf = b"\r\n"
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"replyRef\"\r\n\r\n").encode()
    tail = (crlf + f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\n{PROMPT}\r\n".encode()
            + f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"face\"; filename=\"face-100k.jpg\"\r\n"
              "Content-Type: image/jpeg\r\n\r\n".encode()
            + FACE.read_bytes() + crlf + f"--{BOUNDARY}--\r\n".encode())
    return head, tail, f"multipart/form-data; boundary={BOUNDARY}".encode()


def button_body() -> dict[str, str]:
    return {"jobid": SEED_PARENT, "button": BUTTON}


def capture(token: str = "bench-0") -> dict[str, Any]:
    """The mock's answers: meme_face (started), its GET once completed, and a button press."""
    from mock_server import MockConfig
    from mock_server import create_app
    from mock_server import mock_of

    app = create_app(MockConfig(clock="manual"))
    try:
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        head, tail, ctype = multipart()
        submitted = client.post(MEME_FACE_PATH, data=head + token.encode() + tail, headers=headers,
                                content_type=ctype.decode(), base_url=BASE_URL)
        assert submitted.status_code == 200, submitted.get_data(as_text=True)
        meme_face = submitted.get_json()
        mock_of(app).advance(3)
        polled = client.get(JOBS_PATH, query_string={"jobid": meme_face["jobid"]}, headers=headers,
                            base_url=BASE_URL)
        assert polled.status_code == 200 and polled.get_json()["status"] == "completed", polled.get_data()
        pressed = client.post(BUTTON_PATH, json=button_body(), headers=headers, base_url=BASE_URL)
        assert pressed.status_code == 200, pressed.get_data(as_text=True)
        return {"meme_face": meme_face, "get_job": polled.get_json(), "button": pressed.get_json(),
                "token": token, "seed_parent": SEED_PARENT}
    finally:
        mock_of(app).close()


def write(path: Path, token: str = "bench-0") -> dict[str, Any]:
    bodies = capture(token)
    path.write_text(json.dumps(bodies, ensure_ascii=False), encoding="utf-8")
    return bodies
