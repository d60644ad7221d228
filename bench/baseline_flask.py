"""The bare-Flask baseline: the mock's answers with none of its work, served like the mock (``bench.candidates``).

It answers the three routes the bench loads with the same JSON bodies the mock gives (captured from
the mock in-process at the start of a run, see :mod:`bench.bodies`), read the normal Flask way and
serialised per request with ``jsonify``:

- ``GET /v1/pixverse/jobs/?jobid=``: bearer header, ``jobid`` required, a dict lookup, ``jsonify``.
- ``POST /v1/pixverse/meme_face``: bearer header, the same multipart parsing as the mock
  (``request.form`` and every ``request.files`` part read into memory), ``face`` and ``prompt`` required.
- ``POST /v1/pixverse/button``: bearer header, ``request.get_json``, ``jobid`` and ``button`` required.

Served by :mod:`bench.candidates` on the server ``serve`` ships (exactly its settings) or on a former
candidate, so the only difference from the mock on the same server is the app.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask import jsonify
from flask import request


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

