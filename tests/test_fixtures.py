"""The fixture files are what they claim: real images and mp4s, a sound button graph, seed jobs, generation options."""

from __future__ import annotations

import struct
from datetime import datetime
from pathlib import Path

import pytest

from mock_server.datafiles import load_yaml
from mock_server.generation import GenerationOptions
from mock_server.resources import fixtures_dir

FIXTURES = fixtures_dir()
BUTTONS = {"U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "ReDo", "🔄", "🔀"}
# The vendor's job status enum (jobs/cancel page Model).
STATUSES = {"created", "started", "moderated", "progress", "completed", "failed", "cancelled"}
MANIFEST = load_yaml(FIXTURES / "videos" / "videos.yaml")
GRAPH = load_yaml(FIXTURES / "button-graph.yaml")
SEEDS = load_yaml(FIXTURES / "seed-jobs.yaml")


def _boxes(data: bytes, start: int, end: int):
    while start + 8 <= end:
        size, kind = struct.unpack(">I4s", data[start:start + 8])
        if size < 8:
            return
        yield kind.decode("latin-1"), start + 8, start + size
        start += size


def track_dimensions(path: Path) -> tuple[int, int]:
    """Width and height from the video track's ``tkhd`` box (16.16 fixed point, its last 8 bytes)."""
    data = path.read_bytes()
    for kind, body, end in _boxes(data, 0, len(data)):
        if kind != "moov":
            continue
        for trak_kind, trak_body, trak_end in _boxes(data, body, end):
            if trak_kind != "trak":
                continue
            for inner, _, inner_end in _boxes(data, trak_body, trak_end):
                if inner == "tkhd":
                    width, height = struct.unpack(">II", data[inner_end - 8:inner_end])
                    if width and height:
                        return width >> 16, height >> 16
    raise AssertionError(f"{path.name} has no video track header")


@pytest.mark.parametrize("ratio", sorted(MANIFEST))
def test_video_matches_its_manifest(ratio):
    entry = MANIFEST[ratio]
    path = FIXTURES / "videos" / entry["file"]
    assert path.read_bytes()[4:8] == b"ftyp"
    assert track_dimensions(path) == (entry["width"], entry["height"])
    assert path.stat().st_size == entry["size"]
    assert entry["content_type"] == "video/mp4"
    width, height = (int(n) for n in ratio.split(":"))
    assert entry["width"] * height == entry["height"] * width


def test_videos_cover_every_documented_aspect_ratio():
    assert set(MANIFEST) == {"16:9", "9:16", "1:1", "4:3", "3:4"}


@pytest.mark.parametrize(("name", "magic"), [("face.png", b"\x89PNG\r\n\x1a\n"), ("face.jpg", b"\xff\xd8\xff"),
                                             ("face-100k.jpg", b"\xff\xd8\xff")])
def test_faces_are_real_images(name, magic):
    assert (FIXTURES / "faces" / name).read_bytes().startswith(magic)


def test_benchmark_face_is_about_100_kb():
    assert 80_000 <= (FIXTURES / "faces" / "face-100k.jpg").stat().st_size <= 130_000


def test_button_graph_uses_documented_buttons_only():
    for spec in GRAPH["results"].values():
        assert set(spec["buttons"]) <= BUTTONS
    assert set(GRAPH["buttons"]) == BUTTONS
    assert set(GRAPH["buttons"].values()) <= set(GRAPH["results"]) | {"parent"}
    assert set(GRAPH["verbs"].values()) <= set(GRAPH["results"])
    assert set(GRAPH["prompt_buttons"]) == {"V1", "V2", "V3", "V4", "🔀"}


def test_seed_jobs_are_sound():
    jobids = [job["jobid"] for job in SEEDS]
    assert len(jobids) == len(set(jobids))
    assert {job["verb"] for job in SEEDS} >= {"pixverse-create", "pixverse-create_single", "pixverse-animate"}
    for job in SEEDS:
        assert job["status"] in STATUSES
        assert "discord" not in job and "attachments" not in job


def test_seed_jobs_cover_every_parent_state():
    states = {(job["verb"], job["status"]) for job in SEEDS}
    assert {("pixverse-create", "completed"), ("pixverse-create_single", "completed"),
            ("pixverse-animate", "completed"), ("pixverse-create", "failed"),
            ("pixverse-create", "progress")} <= states


@pytest.mark.parametrize("job", SEEDS, ids=[job["jobid"] for job in SEEDS])
def test_seed_job_buttons_and_timestamp_agree_with_the_mock(job):
    if job["status"] == "completed":
        kind = GRAPH["verbs"][job["verb"]]
        assert job["buttons"] == GRAPH["results"][kind]["buttons"]
    else:
        assert "buttons" not in job
    assert "aspect_ratio" in job or job["verb"] == "pixverse-animate"
    updated = datetime.fromisoformat(job["updated"].replace("Z", "+00:00"))
    assert job["timestamp"] == updated.isoformat(timespec="microseconds")


def test_generation_options_are_usable_and_hold_the_documented_character():
    """``generation.yaml``: the Anime list keeps the vendor's one known value; the other values are usable."""
    options = GenerationOptions.load(fixtures_dir() / "generation.yaml")
    assert "kamisatoayaka" in options.anime_characters
    assert len(set(options.anime_characters)) == len(options.anime_characters)
    assert 1 <= options.hd_quality_duration_factor <= 2  # the page: "1-2 times longer"
    assert options.animate_aspect_ratio == "image"


@pytest.mark.parametrize("change, problem", [
    ({"anime_characters": []}, "anime_characters"),
    ({"hd_quality_duration_factor": 0.5}, "at least 1"),
    ({"animate_aspect_ratio": "2:1"}, "animate_aspect_ratio"),
])
def test_generation_options_reject_unusable_values(change, problem):
    with pytest.raises(ValueError, match=problem):
        GenerationOptions.from_mapping({"anime_characters": ["a"], **change})
