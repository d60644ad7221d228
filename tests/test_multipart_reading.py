"""The vendor routes read multipart bodies with ``multipart``: the same fields and files werkzeug reads."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from urllib3 import encode_multipart_formdata
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from mock_server.http import inputs

NAMES = st.text(st.characters(codec="utf-8", exclude_characters='"\r\n\\%'), min_size=1, max_size=12)
TEXTS = st.text(st.characters(codec="utf-8"), max_size=40)
FILES = st.tuples(st.text(st.characters(codec="ascii", exclude_characters='"\r\n\\'), max_size=12),
                  st.binary(max_size=300), st.sampled_from(("image/png", "image/jpeg", "application/octet-stream")))


def request_for(body: bytes, content_type: str) -> Request:
    environ = EnvironBuilder(path="/v1/pixverse/meme_face", method="POST", data=body,
                             content_type=content_type).get_environ()
    return Request(environ)


def read(request: Request, parse) -> tuple[list, list]:
    form, files = parse(request)
    return (list(form.items(multi=True)),
            [(name, part.filename, part.mimetype, part.read()) for name, part in files.items(multi=True)])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(NAMES, st.one_of(TEXTS, FILES)), max_size=6))
def test_same_fields_and_files_as_werkzeug(parts):
    body, content_type = encode_multipart_formdata(parts)
    fast = read(request_for(body, content_type), inputs.form_parts)
    assert fast == read(request_for(body, content_type), lambda r: (r.form, r.files))


def test_a_body_written_by_werkzeugs_test_client_with_empty_parts_reads_as_werkzeug_reads_it():
    # werkzeug's test client writes an empty part with no line break before the next boundary
    environ = EnvironBuilder(path="/x", method="POST", data={
        "prompt": "", "seed_value": "", "face": (io.BytesIO(b""), "face.png", "image/png")}).get_environ()
    fast = read(Request(environ), inputs.form_parts)
    assert fast == ([("prompt", ""), ("seed_value", "")], [("face", "face.png", "image/png", b"")])


def test_too_many_parts_and_a_field_too_large_answer_their_413():
    many, content_type = encode_multipart_formdata([(f"f{i}", "x") for i in range(1001)])
    large, large_type = encode_multipart_formdata([("prompt", "x" * 500_001)])
    for body, ctype, message in ((many, content_type, "1000"), (large, large_type, "500000")):
        with pytest.raises(inputs.PayloadTooLarge) as refused:
            inputs.form_parts(request_for(body, ctype))
        assert refused.value.status == 413 and message in refused.value.message, refused.value.message
