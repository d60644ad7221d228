"""The mock's own HTTP errors (unknown route, wrong method, body too large, malformed bodies).

Every answer here must be JSON in the vendor envelope: exactly ``{"error": ..., "code": ...}`` with
``code`` equal to the HTTP status, and never a 500.
"""

from __future__ import annotations

from io import BytesIO

import pytest
from helpers import AUTH
from helpers import assert_error
from helpers import face_part

from mock_server import MockConfig

SMALL = MockConfig(clock="manual", max_upload_bytes=1000)


def assert_envelope(response, statuses: tuple[int, ...]) -> dict:
    assert response.status_code in statuses, (response.status_code, response.get_data(as_text=True))
    return assert_error(response, response.status_code)


@pytest.mark.parametrize("method, path", [
    ("GET", "/"),
    ("GET", "/nope"),
    ("GET", "/v1/pixverse/nope"),
    ("POST", "/v1/pixverse/imagine"),
    ("GET", "/v1/pixverse/jobs/cancel/extra"),
    ("GET", "/v2/pixverse/jobs/"),
    ("GET", "/attachments/1/2/not-a-video.mp4"),
])
def test_http_unknown_path_is_404(client, method, path):
    assert_envelope(client.open(path, method=method, headers=AUTH), (404,))
    assert_envelope(client.open(path, method=method), (404, 401) if path.startswith("/v1/") else (404,))


VENDOR_PATHS = {
    "/v1/pixverse/create": "OPTIONS, POST",
    "/v1/pixverse/create_single": "OPTIONS, POST",
    "/v1/pixverse/animate": "OPTIONS, POST",
    "/v1/pixverse/meme_face": "OPTIONS, POST",
    "/v1/pixverse/button": "OPTIONS, POST",
    "/v1/pixverse/jobs": "GET, HEAD, OPTIONS",
    "/v1/pixverse/jobs/cancel": "GET, HEAD, OPTIONS",
    "/v1/pixverse/account": "GET, HEAD, OPTIONS",
    "/v1/pixverse/account/1200000000000000001": "DELETE, GET, HEAD, OPTIONS, POST",
}
SPELLINGS = [(path + slash, allow) for path, allow in VENDOR_PATHS.items() for slash in ("", "/")]


@pytest.mark.parametrize(("path", "allow"), SPELLINGS, ids=[path for path, _ in SPELLINGS])
def test_http_wrong_method_is_405_with_allow_on_both_spellings(client, path, allow):
    method = "PATCH" if "DELETE" in allow else "DELETE" if "GET" in allow else "GET"
    response = client.open(path, method=method, headers=AUTH)
    assert_error(response, 405, f"Method {method} not allowed for {path}")
    assert response.headers["Allow"] == allow


@pytest.mark.parametrize("config", [SMALL], ids=["limit-1000"])
def test_http_meme_face_body_too_large(client):
    data = {"prompt": "A girl", "face": face_part(b"\x89PNG\r\n\x1a\n" + b"\0" * 5000)}
    assert_envelope(client.post("/v1/pixverse/meme_face", data=data, headers=AUTH), (413,))


@pytest.mark.parametrize("config", [SMALL], ids=["limit-1000"])
def test_http_button_json_body_too_large(client):
    body = {"jobid": "j1", "button": "V1", "prompt": "x" * 5000}
    assert_envelope(client.post("/v1/pixverse/button", json=body, headers=AUTH), (413,))


@pytest.mark.parametrize("config", [SMALL], ids=["limit-1000"])
def test_http_account_body_too_large(client):
    body = {"discord": "d" * 5000, "server": "1", "channel": "1200000000000000001", "maxJobs": 1}
    response = client.post("/v1/pixverse/account/1200000000000000001", json=body, headers=AUTH)
    assert_envelope(response, (413,))


@pytest.mark.parametrize("config", [SMALL], ids=["limit-1000"])
def test_http_body_just_under_limit_is_read(client):
    response = client.post("/v1/pixverse/button", json={"jobid": "j1", "button": "X1"}, headers=AUTH)
    assert_envelope(response, (400,))
    assert response.get_json()["error"] == "button X1 not supported"


MALFORMED_MULTIPART = {
    "garbage-bad-boundary": ("multipart/form-data; boundary=zzz", b"\x00\xffnot multipart at all\r\n--"),
    "no-boundary": ("multipart/form-data", b"--abc\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nx"),
    "empty-boundary": ("multipart/form-data; boundary=", b"----\r\n\r\n"),
    "bad-boundary-chars": ("multipart/form-data; boundary=\"a\x01b\"", b"--a\x01b\r\n\r\n"),
    "truncated": ("multipart/form-data; boundary=abc",
                  b"--abc\r\nContent-Disposition: form-data; name=\"face\"; filename=\"f.png\"\r\n"
                  b"Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n"),
    "no-part-headers": ("multipart/form-data; boundary=abc", b"--abc\r\n\r\nhello\r\n--abc--\r\n"),
    "empty-body": ("multipart/form-data; boundary=abc", b""),
}


@pytest.mark.parametrize("content_type, payload", list(MALFORMED_MULTIPART.values()), ids=list(MALFORMED_MULTIPART))
def test_http_malformed_multipart_is_4xx(client, content_type, payload):
    for path in ("/v1/pixverse/meme_face", "/v1/pixverse/button", "/v1/pixverse/account/1200000000000000001"):
        response = client.post(path, data=BytesIO(payload), content_type=content_type, headers=AUTH)
        assert_envelope(response, (400, 404, 413, 415, 422))


@pytest.mark.parametrize("payload", [b"{", b"{\"jobid\": ", b"not json", b"[1, 2]", b"\"U1\"", b"null", b"\xff\xfe"],
                         ids=["open-brace", "cut", "text", "array", "string", "null", "bad-utf8"])
def test_http_malformed_json_to_button_is_missing(client, payload):
    response = client.post("/v1/pixverse/button", data=payload, content_type="application/json", headers=AUTH)
    assert_error(response, 400, "jobid or button value is missing")


def test_http_malformed_json_to_meme_face_is_missing(client):
    response = client.post("/v1/pixverse/meme_face", data=b"{oops", content_type="application/json",
                           headers=AUTH)
    assert_error(response, 400, "face, prompt, discord, server or channel value is missing")


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", "application/xml"])
def test_http_other_content_type_to_button_is_missing(client, content_type):
    response = client.post("/v1/pixverse/button", data=b"jobid=j1&button=U1", content_type=content_type,
                           headers=AUTH)
    assert_error(response, 400, "jobid or button value is missing")


def test_http_json_with_wrong_types_to_button_is_4xx(client):
    response = client.post("/v1/pixverse/button", json={"jobid": ["a"], "button": {"b": 1}}, headers=AUTH)
    assert_envelope(response, (400, 404))


def test_http_head_answers_as_get_without_a_body(client):
    got, head = client.get("/v1/pixverse/account", headers=AUTH), client.head("/v1/pixverse/account", headers=AUTH)
    assert (head.status_code, head.data) == (200, b"")
    assert head.headers["Content-Length"] == got.headers["Content-Length"] != "0"
    assert head.headers["Content-Type"] == got.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(("path", "allow"), SPELLINGS, ids=[path for path, _ in SPELLINGS])
def test_http_options_answers_allow_after_authentication(client, path, allow):
    response = client.options(path, headers=AUTH)
    assert (response.status_code, response.data, response.headers["Allow"]) == (200, b"", allow)
    assert_error(client.options(path), 401, "Unauthorized")
