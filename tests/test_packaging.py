"""The wheel carries the spec and the fixtures: a non-editable install works from any directory."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(ROOT)], check=True, timeout=120, capture_output=True)
    [built] = out.glob("pixverse_mock-*.whl")
    return built


def test_wheel_bundles_every_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"mock_server/_bundled/{path.relative_to(ROOT).as_posix()}"
                for folder in ("openapi", "fixtures") for path in (ROOT / folder).rglob("*") if path.is_file()}
    assert expected and expected <= names
    assert {"contract_tests/plugin.py", "pytest_pixverse_mock.py", "mock_server/http/dashboard.html"} <= names
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "pixverse-mock = mock_server.launch:main" in entry_points
    assert "pixverse_mock = pytest_pixverse_mock" in entry_points


def test_installed_wheel_serves_from_another_directory(wheel, tmp_path):
    target, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, timeout=120, capture_output=True)
    probe = (
        "import io, mock_server\n"
        "from mock_server import MockConfig, create_app, mock_of\n"
        "from mock_server.resources import fixtures_dir, vendor_spec_path\n"
        "assert '_bundled' in str(vendor_spec_path()) and vendor_spec_path().is_file()\n"
        "app = create_app(MockConfig(clock='manual'))\n"
        "client = app.test_client()\n"
        "face = (fixtures_dir() / 'faces' / 'face.png').read_bytes()\n"
        "answer = client.post('/v1/pixverse/meme_face', headers={'Authorization': 'Bearer t'},\n"
        "                     data={'prompt': 'p', 'face': (io.BytesIO(face), 'face.png', 'image/png')})\n"
        "assert answer.status_code == 200, answer.json\n"
        "mock_of(app).advance(3)\n"
        "job = client.get('/v1/pixverse/jobs/', query_string={'jobid': answer.json['jobid']},\n"
        "                 headers={'Authorization': 'Bearer t'}).json\n"
        "video = client.get(job['attachments'][0]['url'].split('localhost', 1)[1])\n"
        "assert video.status_code == 200 and len(video.data) == job['attachments'][0]['size']\n"
        "for page in ('/docs/', '/docs/swagger-ui-bundle.js', '/openapi.yaml', '/__mock/', '/__mock/openapi.yaml'):\n"
        "    assert client.get(page).status_code == 200, page\n"
        "mock_of(app).close()\n"
        "print(mock_server.__file__)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run([sys.executable, "-c", probe], cwd=elsewhere, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(target))
