"""The bare-Flask baseline: the mock's answers with none of its work, under the mock's own gunicorn settings.

It answers the three routes the bench loads with the same JSON bodies the mock gives (captured from
the mock in-process at the start of a run, see :mod:`bench.bodies`), read the normal Flask way and
serialised per request with ``jsonify``:

- ``GET /v1/pixverse/jobs/?jobid=``: bearer header, ``jobid`` required, a dict lookup, ``jsonify``.
- ``POST /v1/pixverse/meme_face``: bearer header, the same multipart parsing as the mock
  (``request.form`` and every ``request.files`` part read into memory), ``face`` and ``prompt`` required.
- ``POST /v1/pixverse/button``: bearer header, ``request.get_json``, ``jobid`` and ``button`` required.

Served by gunicorn with exactly :func:`mock_server.serve.gunicorn_options` for the same ``MockConfig``
(same worker class, processes, threads, access log), so the only difference from a mock row is the app::

    python -m bench.baseline_flask --bodies bodies.json --port 8090 [--store sqlite:PATH] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from flask import Flask
from flask import jsonify
from flask import request

BODIES_ENV = "PIXVERSE_BENCH_BODIES"


def create_baseline(bodies: dict[str, Any]) -> Flask:
    # the polled job, the job a submit answers with, and the seeded parent the mix polls first
    jobs = {jobid: bodies["get_job"] for jobid in (bodies["get_job"]["jobid"], bodies["meme_face"]["jobid"],
                                                   bodies["seed_parent"])}
    meme_face_body, button_body = bodies["meme_face"], bodies["button"]
    app = Flask("bench_baseline")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.url_map.strict_slashes = False

    def error(message: str, code: int) -> Any:
        return jsonify(error=message, code=code), code

    def authorized() -> bool:
        return request.headers.get("Authorization", "").startswith("Bearer ")

    @app.get("/v1/pixverse/jobs/")
    def get_job() -> Any:
        if not authorized():
            return error("Unauthorized", 401)
        jobid = request.args.get("jobid")
        if not jobid:
            return error("Query param jobid not provided", 400)
        job = jobs.get(jobid)
        if job is None:
            return error(f"Unable to locate job {jobid}", 404)
        return jsonify(job)

    @app.post("/v1/pixverse/meme_face/")
    def meme_face() -> Any:
        if not authorized():
            return error("Unauthorized", 401)
        values = {name: request.form.get(name) for name in request.form}
        uploads = {name: (part.filename, part.mimetype, part.read()) for name, part in request.files.items()}
        if not values.get("prompt") or "face" not in uploads:
            return error("Required param face and prompt", 400)
        return jsonify(meme_face_body)

    @app.post("/v1/pixverse/button/")
    def button() -> Any:
        if not authorized():
            return error("Unauthorized", 401)
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not body.get("jobid") or not body.get("button"):
            return error("Required param jobid and button", 400)
        return jsonify(button_body)

    return app


def main() -> None:
    from gunicorn.app.base import BaseApplication

    from mock_server.config import MockConfig
    from mock_server.serve import gunicorn_options

    ap = argparse.ArgumentParser(description="bare-Flask baseline under the mock's gunicorn settings")
    ap.add_argument("--bodies", default=os.environ.get(BODIES_ENV), required=BODIES_ENV not in os.environ)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--store", default="memory", help="only decides the process/thread layout, as for the mock")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    config = MockConfig(host=args.host, port=args.port, store=args.store, workers=args.workers)
    with open(args.bodies, encoding="utf-8") as fh:
        bodies = json.load(fh)

    class Baseline(BaseApplication):
        def load_config(self) -> None:
            for key, value in gunicorn_options(config).items():
                self.cfg.set(key, value)
            self.cfg.set("proc_name", "bench-baseline")

        def load(self) -> Flask:
            return create_baseline(bodies)

    Baseline(prog="bench-baseline").run()


if __name__ == "__main__":
    main()
