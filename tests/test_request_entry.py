"""Request journal entries kept as facts and rendered when read (``mock_server/request_entry.py``).

The memory store keeps each request's facts as one tuple and renders the entry when it is read; SQLite and
Redis render it before writing. Either way a reader gets the same masked entry, filters see the
fields they read, and the kept facts stay out of the garbage collector's way.
"""

from __future__ import annotations

import gc
import io
import sys
import tracemalloc
from typing import Any

import pytest
from conftest import AUTH
from conftest import TOKEN
from redis_server import redis_server  # noqa: F401  (fixture)
from redis_server import redis_url  # noqa: F401  (fixture)

from mock_server import MockConfig
from mock_server import create_app
from mock_server import mock_of
from mock_server.accounts import mask_secret
from mock_server.request_entry import keep
from mock_server.request_entry import kept_summary
from mock_server.request_entry import packed
from mock_server.request_entry import query_parameters
from mock_server.request_entry import rendered
from mock_server.request_entry import unpacked

DISCORD = "MTk4NjIy.entry-discord-token.Gx7_Zk"
SECRET = "query-secret-value-77"
MOMENT = ("time", "at", "wall", "durationMs")
"""What differs between two runs of the same requests."""


def traffic(client: Any, face_png: bytes) -> None:
    """Requests of every shape the journal summarises: query, multipart, JSON, errors, secrets in odd places."""
    submitted = client.post("/v1/pixverse/meme_face", headers=AUTH, content_type="multipart/form-data", data={
        "prompt": "a cat", "replyRef": "r-1", "discord": DISCORD, "server": "1100000000000000001",
        "channel": "1200000000000000001", "face": (io.BytesIO(face_png), "face.png")})
    jobid = submitted.get_json()["jobid"]
    client.get("/v1/pixverse/jobs/", query_string={"jobid": jobid}, headers=AUTH)
    client.get(f"/v1/pixverse/jobs/?jobid=%ff&%74oken={SECRET}", headers=AUTH)
    client.post("/v1/pixverse/button", json={"jobid": jobid, "button": "U1", "Discord_Token": [DISCORD]},
                headers=AUTH)
    client.get(f"/v1/pixverse/account/{TOKEN}", headers=AUTH)
    client.get("/v1/pixverse/account", headers={"Authorization": "Basic x"})
    client.get("/v1/pixverse/jobs/cancel", query_string={"jobid": jobid}, headers={**AUTH, "X-Mock-Fault": "bogus"})


def journal_of(config: MockConfig, face_png: bytes) -> list[dict[str, Any]]:
    app = create_app(config)
    runtime = mock_of(app)
    try:
        traffic(app.test_client(), face_png)
        assert not runtime.errors
        return runtime.journal("requests")
    finally:
        runtime.close()


def test_every_backend_gives_out_the_same_rendered_entries(tmp_path, face_png, redis_url):  # noqa: F811
    journals = {store: journal_of(MockConfig(clock="manual", store=location), face_png) for store, location in (
        ("memory", "memory"), ("sqlite", f"sqlite:{tmp_path / 'mock.sqlite'}"), ("redis", redis_url))}
    shown = {store: [{k: v for k, v in entry.items() if k not in MOMENT} for entry in entries]
             for store, entries in journals.items()}
    assert len(shown["memory"]) == 7
    assert shown["memory"] == shown["sqlite"] == shown["redis"]
    assert all(type(entry) is dict and "time" in entry for entries in journals.values() for entry in entries)


def test_a_rendered_entry_masks_secrets_wherever_they_came_from(mock, client, face_png):
    traffic(client, face_png)
    submit, poll, odd, button, by_path, malformed, refused = mock.journal("requests")
    assert submit["fields"]["discord"] == mask_secret(DISCORD) and submit["files"][0]["name"] == "face"
    assert submit["token"] == mask_secret(TOKEN) and submit["contentType"] == "multipart/form-data"
    assert poll["query"] == {"jobid": submit["jobid"]} and poll["jobStatus"] == "started"
    assert odd["query"] == {"jobid": "%FF", "token": mask_secret(SECRET)} and odd["status"] == 404
    assert button["fields"]["Discord_Token"] == [mask_secret(DISCORD)] and button["json"] is True
    assert TOKEN not in by_path["path"] and mask_secret(TOKEN) in by_path["path"]
    assert malformed["auth"] == "malformed" and malformed["token"] is None and malformed["status"] == 401
    assert refused["status"] == 400 and "X-Mock-Fault" in refused["error"]
    everything = repr(mock.journal("requests"))
    assert TOKEN not in everything and DISCORD not in everything and SECRET not in everything


def test_filters_read_the_kept_fields(mock, client, face_png):
    traffic(client, face_png)
    jobid = mock.journal("requests")[0]["jobid"]
    assert [e["operation"] for e in mock.journal("requests", jobid=jobid)] == ["meme_face", "jobs"]
    assert [e["status"] for e in mock.journal("requests", status=401)] == [401]
    assert [e["method"] for e in mock.journal("requests", path="/v1/pixverse/account/")] == ["GET"]
    assert len(mock.journal("requests", token=TOKEN)) == 6
    assert [e["operation"] for e in mock.journal("requests", status="started")] == ["meme_face", "jobs"]


def test_listeners_get_the_rendered_entry(mock, client, face_png):
    heard: list[dict[str, Any]] = []
    mock.on_request(heard.append)
    traffic(client, face_png)
    assert [e["seq"] for e in heard] == [e["seq"] for e in mock.journal("requests")]
    assert all(type(e) is dict and "time" in e for e in heard)
    assert heard[0]["fields"]["discord"] == mask_secret(DISCORD)


def settle() -> None:
    """Full collections until nothing more is untracked (a tuple is untracked once all inside it are)."""
    for _ in range(4):
        gc.collect()


def tracked_growth(journal_limit: int, face_png: bytes) -> int:
    """Objects the collector still tracks after 100 rounds of :func:`traffic` (700 requests)."""
    app = create_app(MockConfig(clock="manual", journal_limit=journal_limit))
    runtime, client = mock_of(app), app.test_client()
    try:
        traffic(client, face_png)  # every shape once first: caches and the like are filled
        runtime.advance(3600)
        settle()
        before = len(gc.get_objects())
        for _ in range(100):
            traffic(client, face_png)
            runtime.advance(3600)
        settle()
        grown = len(gc.get_objects()) - before
        assert len(runtime.journal("requests")) == (707 if journal_limit else 0)
        return grown
    finally:
        runtime.close()


def test_kept_entries_leave_the_collector_nothing_to_track(face_png):
    tracked_growth(0, face_png)  # fills the process's bounded caches first (urllib keeps 128 URLs split)
    kept = tracked_growth(50_000, face_png) - tracked_growth(0, face_png)
    assert kept < 70, f"700 kept entries left {kept} more objects tracked: an entry holds a dict or a list"


def test_repeated_polls_keep_small_entries(app, mock, client):
    """A poll's entry is one tuple, and its token, tenant, path, query and buttons are held once for all entries."""
    query = {"jobid": "j1101100000001-u1000000000000000001-c1200000000000000001-bot:pixverse"}
    client.get("/v1/pixverse/jobs/", query_string=query, headers=AUTH)
    settle()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(1000):
            assert client.get("/v1/pixverse/jobs/", query_string=query, headers=AUTH).status_code == 200
        settle()
        per_entry = (tracemalloc.get_traced_memory()[0] - before) / 1000
    finally:
        tracemalloc.stop()
    assert per_entry < 450, (f"{per_entry:.0f} bytes kept per poll (about 340 as one tuple; 550 as a dict of the"
                             " filtered fields and a facts tuple; 900 when each entry held its own copies)")
    assert len(mock.journal("requests")) == 1001


def kept(path: str = "/v1/pixverse/jobs/", token: str = "poll-token-1", buttons: tuple[str, ...] = ()) -> tuple:
    """A kept ``GET jobs`` entry built from fresh (equal, not identical) strings."""
    fresh = "".join
    return keep(fresh(["tenant-", "a"]), "jobs", fresh(["GE", "T"]), fresh([path]), 200, "j1", "completed",
                fresh([token]), (), "bearer", 0.0, 0.0, 0.0, fresh(["jobid=", "j1"]), None, None, (), buttons, ..., ...)


def test_repeated_strings_and_buttons_are_held_once_and_the_buttons_table_is_bounded():
    first, second = kept(buttons=tuple(["U1", "U2"])), kept(buttons=tuple(["U1", "U2"]))
    assert all(a is b for a, b in zip(first, second, strict=True)), "every string and the buttons held once"
    for index in range(5000):
        kept(buttons=(f"B{index}",))
    buttons = 17  # the position of the buttons in a kept entry
    assert kept(buttons=tuple(["U1", "U2"]))[buttons] is not first[buttons], "the buttons table was cleared once full"


def test_an_answers_lists_are_kept_packed_and_given_back_as_lists():
    entry = keep("t", "meme_face", "POST", "/p", 429, None, None, None, (), "missing", 0.0, 0.0, 0.0, "", None,
                 None, (), (), ["j1", "j2"], {"code": 429, "why": ["busy"]})
    assert all(type(item) is not list and type(item) is not dict for item in entry)
    shown = rendered(entry)
    assert shown["executingJobs"] == ["j1", "j2"] and shown["error"] == {"code": 429, "why": ["busy"]}


@pytest.mark.parametrize("query", ["x=\xff", "jobid=\xc3\xa9\xff&a=\x80"])
def test_raw_bytes_in_a_query_are_percent_encoded_not_a_500(app, mock, query):
    """A server that passes raw bytes on (werkzeug's does; granian answers 400 itself) gets an answer."""
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/v1/pixverse/jobs/", "QUERY_STRING": query,
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
               "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr, "HTTP_AUTHORIZATION": AUTH["Authorization"]}
    statuses: list[str] = []
    body = b"".join(app.wsgi_app(environ, lambda status, headers: statuses.append(status)))
    assert statuses[0].startswith(("400", "404")), (statuses, body)
    assert body.startswith(b'{"error":')
    assert mock.journal("requests")[-1]["query"]


def test_query_parameters_read_a_query_as_werkzeug_does():
    assert query_parameters("a=1&a=2&b=&c") == {"a": "1", "b": "", "c": ""}
    assert query_parameters("jobid=%ff&x=%C3%A9+y") == {"jobid": "%FF", "x": "é y"}
    assert query_parameters("") == {}


@pytest.mark.parametrize("value", [
    {}, [], {"a": [1, {"b": [2, None]}, "x"], "c": {}}, [[[]], {"d": [True, 1.5]}], "text", None,
])
def test_packed_values_unpack_to_what_they_were_and_hold_only_tuples(value):
    kept = packed(value)
    assert unpacked(kept) == value
    stack = [kept]
    while stack:
        item = stack.pop()
        assert not isinstance(item, dict | list)
        if isinstance(item, tuple):
            stack.extend(item)


@pytest.mark.parametrize(("summary", "kept_as"), [
    ({"json": False, "fields": {"prompt": "a"}, "files": [{"name": "face", "size": 3, "type": None}]}, bytes),
    ({"bodyError": "Bad Request"}, bytes),
    ({"json": False, "fields": {"prompt": "lone \udc80"}, "files": []}, tuple),
    ({"json": True, "fields": {"n": 2 ** 70, "x": float("inf")}}, tuple),
])
def test_a_body_summary_is_kept_as_one_atom_when_json_bytes_hold_it_exactly(summary, kept_as):
    kept = kept_summary(summary)
    assert type(kept) is kept_as
    entry = keep("t", "meme_face", "POST", "/p", 200, None, None, None, (), "missing", 0.0, 0.0, 0.0, "", None,
                 summary, (), (), ..., ...)
    assert {key: rendered(entry)[key] for key in summary} == summary
