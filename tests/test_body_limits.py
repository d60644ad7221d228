"""Bodies the mock cannot take: each answers a vendor-style 400/413 that says what is wrong, never a 500.

Deeply nested JSON (``'[' * 1000 + ']' * 1000``) on every route with a body, a multipart text field
over werkzeug's 500 KB, more than 1,000 multipart parts, and a body shorter than its
``Content-Length`` (in process, and over a real socket against the threaded server).
"""

from __future__ import annotations

import socket

import pytest
from helpers import AUTH
from helpers import MEME_FACE
from helpers import assert_error
from helpers import face_bytes
from helpers import face_part

from contract_tests.server import ThreadedMockServer
from mock_server import MockConfig

DEEP = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"jobid": ' + "[" * 40 + "]" * 40 + ', "button": "U1"}'
TOO_DEEP = "Malformed request: JSON body nested deeper than 32 levels"
VENDOR_BODY_ROUTES = ["/v1/pixverse/meme_face", "/v1/pixverse/button", "/v1/pixverse/account/1200000000000000001"]
CONTROL_BODY_ROUTES = [
    ("POST", "/__mock/reset"), ("POST", "/__mock/seed"), ("PUT", "/__mock/clock"), ("POST", "/__mock/clock/advance"),
    ("POST", "/__mock/jobs/j1/outcome"), ("POST", "/__mock/faults"), ("DELETE", "/__mock/faults"),
    ("PUT", "/__mock/tokens"), ("PUT", "/__mock/accounts"), ("PUT", "/__mock/moderation"),
    ("PUT", "/__mock/button-graph"),
]


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array-1000", "member-40"])
@pytest.mark.parametrize("path", VENDOR_BODY_ROUTES)
def test_deep_json_to_a_vendor_route_is_400(client, mock, path, body):
    response = client.post(path, data=body, content_type="application/json", headers=AUTH)
    assert_error(response, 400, TOO_DEEP)
    assert mock.control.entries("requests")[-1]["bodyError"] == TOO_DEEP


@pytest.mark.parametrize("method, path", CONTROL_BODY_ROUTES)
def test_deep_json_to_a_control_route_is_400(client, method, path):
    assert_error(client.open(path, method=method, data=DEEP, content_type="application/json"), 400, TOO_DEEP)


def test_json_at_the_depth_limit_is_read(client):
    nested = "[" * 31 + "]" * 31
    response = client.post("/v1/pixverse/button", data=f'{{"jobid": "j1", "button": "X9", "extra": {nested}}}',
                           content_type="application/json", headers=AUTH)
    assert_error(response, 400, "button X9 not supported")


def test_a_text_field_over_500_kb_is_413_saying_so(client, mock):
    before = _jobs_after_seeding(client, mock)
    data = {"face": face_part(face_bytes()), "prompt": "x" * 600_000}
    response = client.post(MEME_FACE, data=data, headers=AUTH)
    assert_error(response, 413, "Request field larger than 500000 bytes (a multipart text field)")
    assert mock.store.job_count() == before


def test_more_than_1000_parts_is_413_saying_so(client, mock):
    before = _jobs_after_seeding(client, mock)
    data = {f"extra{i}": "x" for i in range(1001)}
    data["face"] = face_part(face_bytes())
    response = client.post(MEME_FACE, data=data, headers=AUTH)
    assert_error(response, 413, "Request has more than 1000 multipart parts")
    assert mock.store.job_count() == before


def test_1000_parts_are_read(client):
    data = {f"extra{i}": "x" for i in range(999)}
    data["face"] = face_part(face_bytes())
    assert_error(client.post(MEME_FACE, data=data, headers=AUTH), 400,
                 "face, prompt, discord, server or channel value is missing")


def test_a_body_over_the_upload_limit_still_names_that_limit(client):
    data = {"face": face_part(b"\x89PNG\r\n\x1a\n" + b"\0" * (10 * 1024 * 1024))}
    assert_error(client.post(MEME_FACE, data=data, headers=AUTH), 413, "Request body larger than 10485760 bytes")


@pytest.mark.parametrize("path", VENDOR_BODY_ROUTES)
def test_a_body_shorter_than_its_content_length_is_400(client, mock, path):
    body = b'{"jobid": "j1", "button": "U1", "prompt": "p"}'
    response = client.post(path, data=body, content_type="application/json", headers=AUTH,
                           environ_overrides={"CONTENT_LENGTH": str(len(body) + 50)})
    assert_error(response, 400, f"Malformed request: request body ended before its Content-Length of "
                                f"{len(body) + 50} bytes")


def test_a_short_multipart_body_over_a_socket_creates_no_job(face_png):
    """A complete multipart body (a job's worth) sent with a Content-Length 100 bytes too long, then EOF."""
    with ThreadedMockServer(MockConfig(clock="manual")) as server:
        before = _jobs_after_seeding(server.app.test_client(), server.runtime)
        answer = send_short_body(server.url, face_png)
        assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
        assert b"request body ended before its Content-Length" in answer
        assert server.runtime.store.job_count() == before
        server.check()


def _jobs_after_seeding(client, mock) -> int:
    """Stored jobs once the test token's tenant exists (a new tenant starts with the seed jobs)."""
    assert client.get("/v1/pixverse/account", headers=AUTH).status_code == 200
    return mock.store.job_count()


def send_short_body(url: str, face: bytes) -> bytes:
    """POST meme_face with a ``Content-Length`` 100 bytes over the body, half-close, and read the answer."""
    host, port = url.removeprefix("http://").split(":")
    boundary = b"shortbodyboundary"
    body = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="prompt"\r\n\r\na cat\r\n'
            + b"--" + boundary + b'\r\nContent-Disposition: form-data; name="face"; filename="f.png"\r\n'
            + b"Content-Type: image/png\r\n\r\n" + face + b"\r\n--" + boundary + b"--\r\n")
    head = (f"POST /v1/pixverse/meme_face HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: {AUTH['Authorization']}\r\nConnection: close\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary.decode()}\r\n"
            f"Content-Length: {len(body) + 100}\r\n\r\n").encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + body)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_other_shapes_never_500(client, mock):
    shapes = [(b"\x00" * 10, "application/json"), (b"[]", "application/json"),
              (b'{"a": 1e999999}', "application/json"), (b"--x\r\n", "multipart/form-data; boundary=x"),
              (b"a=" + b"b" * 700_000, "application/x-www-form-urlencoded")]
    for data, content_type in shapes:
        for path in VENDOR_BODY_ROUTES:
            response = client.post(path, data=data, content_type=content_type, headers=AUTH)
            assert response.status_code in (400, 404, 413), (path, data[:20], response.get_data(as_text=True))
    assert mock.errors == []
