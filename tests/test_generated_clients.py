"""Code generators take ``openapi/pixverse-v1.yaml`` as it is, and their code works against the mock.

- openapi-python-client generates a client with no edits; its code drives whole flows against a
  real (threaded, loopback, port 0) mock: meme_face -> poll -> button, and create -> U1, in both
  body types, and the mock's request journal finds no contract violation in what it sent.
- datamodel-code-generator generates pydantic models that parse the mock's job records.
- openapi-typescript generates types, and ``tsc --noEmit --strict`` accepts them together with the
  mock's real answers typed as the generated ``Job``.

Each generator runs once per session, into a temporary directory.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from contract_tests.server import ThreadedMockServer
from mock_server import MockConfig
from mock_server.resources import fixtures_dir
from mock_server.resources import vendor_spec_path

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NODE_BIN = REPO_ROOT / "node_modules" / ".bin"
TOKEN = "user:1234-generatedclientAbC"
PACKAGE = "pixverse_v1_client"
GENERATOR_TIMEOUT = 120


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a generator; fail the test with its output if it does not succeed."""
    environment = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True,
                            timeout=GENERATOR_TIMEOUT, check=False)
    assert result.returncode == 0, f"{command[0]} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> Iterator[dict[str, ModuleType]]:
    """The openapi-python-client package, generated once, imported from a temporary directory."""
    root = tmp_path_factory.mktemp("openapi-python-client")
    result = run([str(BIN / "openapi-python-client"), "generate", "--path", str(vendor_spec_path()),
                  "--output-path", str(root / PACKAGE), "--meta", "none"], root)
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(root))
    try:
        names = ("client", "types", "models", "api.generation.post_meme_face", "api.generation.post_button",
                 "api.generation.post_create", "api.generation.post_create_single",
                 "api.generation.post_animate", "api.jobs.get_job", "api.jobs.cancel_job",
                 "api.accounts.list_accounts")
        yield {name: importlib.import_module(f"{PACKAGE}.{name}") for name in names}
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadedMockServer]:
    with ThreadedMockServer(MockConfig(clock="manual")) as running:
        yield running


@pytest.fixture
def api(generated, server):
    """An ``AuthenticatedClient`` of the generated package, on the mock."""
    server.runtime.reset()
    with generated["client"].AuthenticatedClient(base_url=server.url, token=TOKEN) as client:
        yield client
    server.check()


def completed(generated, api, server, jobid: str) -> Any:
    """Let the job finish (manual clock) and read it back through the generated ``get_job``."""
    server.runtime.advance(3)
    job = generated["api.jobs.get_job"].sync(client=api, jobid=jobid)
    assert isinstance(job, generated["models"].Job), job
    assert job.status == generated["models"].JobStatus.COMPLETED
    return job


def violations(server) -> list[tuple[str, list[str]]]:
    """What the mock's request journal found against the spec in the requests of the generated code."""
    entries = server.runtime.journal("requests", token=TOKEN)
    assert entries
    return [(entry["path"], entry["violations"]) for entry in entries if entry["violations"]]


def test_python_client_meme_face_poll_button(generated, api, server):
    models, types = generated["models"], generated["types"]
    face = types.File(payload=BytesIO((fixtures_dir() / "faces" / "face.png").read_bytes()), file_name="face.png",
                      mime_type="image/png")
    started = generated["api.generation.post_meme_face"].sync(client=api, body=models.MemeFaceRequest(
        face=face, prompt="A girl laughing by the seaside", aspect_ratio=models.AspectRatio.RATIO_4_3))
    assert isinstance(started, models.Job) and started.status == models.JobStatus.STARTED, started
    job = completed(generated, api, server, started.jobid)
    assert job.buttons == [models.Button.REMIX, models.Button.REDO]
    assert job.attachments[0].content_type == "video/mp4"
    remix = generated["api.generation.post_button"].sync(client=api, body=models.ButtonForm(
        jobid=job.jobid, button=models.Button.REMIX, prompt="A girl laughing in the rain"))
    assert isinstance(remix, models.Job) and remix.parent_job_id == job.jobid, remix
    again = generated["api.generation.post_button"].sync(client=api, body=models.ButtonRequest(
        jobid=job.jobid, button=models.Button.REDO))
    assert isinstance(again, models.Job) and again.button == models.JobButton.REDO, again
    assert violations(server) == []


@pytest.mark.parametrize("body_type", ["CreateRequest", "CreateForm"])
def test_python_client_create_then_upscale(generated, api, server, body_type):
    models = generated["models"]
    body = getattr(models, body_type)(prompt="Sun breaking through clouds", style=models.Style.ANIMATION_3D,
                                      aspect_ratio=models.AspectRatio.RATIO_16_9)
    started = generated["api.generation.post_create"].sync(client=api, body=body)
    assert isinstance(started, models.Job) and started.style == models.Style.ANIMATION_3D, started
    job = completed(generated, api, server, started.jobid)
    assert len(job.attachments) == 4 and models.Button.U1 in job.buttons
    upscale = generated["api.generation.post_button"].sync(client=api, body=models.ButtonRequest(
        jobid=job.jobid, button=models.Button.U1))
    assert isinstance(upscale, models.Job), upscale
    assert len(completed(generated, api, server, upscale.jobid).attachments) == 1
    assert violations(server) == []


def test_python_client_create_single_animate_and_errors(generated, api, server):
    models, types = generated["models"], generated["types"]
    single = generated["api.generation.post_create_single"].sync(client=api, body=models.CreateSingleRequest(
        prompt="A lighthouse", style=models.Style.ANIME, character="kamisatoayaka", seed_value=7))
    assert isinstance(single, models.Job) and single.seed_value == 7, single
    image = types.File(payload=BytesIO((fixtures_dir() / "faces" / "face.jpg").read_bytes()), file_name="a.jpg",
                       mime_type="image/jpeg")
    animated = generated["api.generation.post_animate"].sync(client=api, body=models.AnimateRequest(
        image=image, motion=8, hd_quality=models.HdQuality.YES))
    assert isinstance(animated, models.Job) and animated.motion == 8, animated
    missing = generated["api.generation.post_create"].sync(client=api, body=models.CreateRequest(
        prompt="a cat", style=models.Style.REALISTIC, character="x", max_jobs=11))
    assert isinstance(missing, models.Error) and missing.error == "maxJobs 11 valid range 1-10", missing
    unknown = generated["api.jobs.get_job"].sync(client=api, jobid="j-nope")
    assert isinstance(unknown, models.Error) and unknown.code == 404, unknown
    assert violations(server) == [("/v1/pixverse/create", ["maxJobs must be between 1 and 10, got 11"])]


# --- other generators ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def job_records(server) -> dict[str, dict[str, Any]]:
    """Real answers of the mock: a started and a completed create, and a moderated create_single."""
    import requests

    headers = {"Authorization": f"Bearer {TOKEN}"}
    server.runtime.reset()
    base = f"{server.url}/v1/pixverse"
    started = requests.post(f"{base}/create", json={"prompt": "a cat", "style": "Anime", "character": "hutao"},
                            headers=headers, timeout=10).json()
    server.runtime.advance(3)
    done = requests.get(f"{base}/jobs/", params={"jobid": started["jobid"]}, headers=headers, timeout=10).json()
    moderated = requests.post(f"{base}/create_single", json={"prompt": "a nude cat", "style": "Realistic"},
                              headers=headers, timeout=10).json()
    record = requests.get(f"{base}/jobs/", params={"jobid": moderated["jobid"]}, headers=headers, timeout=10).json()
    return {"started": started, "completed": done, "moderated": record}


def test_datamodel_code_generator_models_parse_the_mock_answers(tmp_path, job_records):
    run([str(BIN / "datamodel-codegen"), "--input", str(vendor_spec_path()), "--input-file-type", "openapi",
         "--output", str(tmp_path / "pixverse_models.py"), "--output-model-type", "pydantic_v2.BaseModel",
         "--formatters", "ruff-format"], tmp_path)
    sys.path.insert(0, str(tmp_path))
    try:
        models = importlib.import_module("pixverse_models")
        for record in job_records.values():
            job = models.Job.model_validate(record)
            assert job.jobid == record["jobid"]
        assert [b.value for b in models.Job.model_validate(job_records["completed"]).buttons][-1] == "🔄"
        assert models.Button.REPEAT.value == "🔄" and models.Style.ANIMATION_3D.value == "3D Animation"
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("pixverse_models", None)


def test_openapi_typescript_types_check_with_the_mock_answers(tmp_path, job_records):
    run([str(NODE_BIN / "openapi-typescript"), str(vendor_spec_path()), "-o", str(tmp_path / "pixverse.ts")],
        tmp_path)
    typed = "\n".join(f'export const {name}: Job = {json.dumps(record, ensure_ascii=False)};'
                      for name, record in job_records.items())
    (tmp_path / "answers.ts").write_text(f"""import type {{ components, paths }} from "./pixverse";
type Job = components["schemas"]["Job"];
type CreateBody = NonNullable<paths["/v1/pixverse/create"]["post"]["requestBody"]>["content"]["application/json"];
export const body: CreateBody = {{ prompt: "a cat", style: "3D Animation", aspect_ratio: "16:9" }};
// @ts-expect-error: not a style (tsc fails on an unused expect-error, so this proves types are checked)
export const wrong: components["schemas"]["Style"] = "Cartoon";
{typed}
""", encoding="utf-8")
    run([str(NODE_BIN / "tsc"), "--noEmit", "--strict", "--skipLibCheck", "--lib", "es2020", "--target", "es2020",
         "--module", "esnext", "--moduleResolution", "bundler", "pixverse.ts", "answers.ts"], tmp_path)
