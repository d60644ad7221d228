"""A plain PixVerse v1 client (requests, time.sleep) that runs a task of the kit's command protocol.

Jobs one after another (so within any maxJobs), 10 s after a 429 (only 429s are retried), a poll every
10 s until the final status, the videos downloaded, a button only on a completed parent; in callback
mode it sends replyUrl and polls (the protocol's fallback). No kit import: it is what a user would run
under ``pixverse-contract check --client "python client.py"``; the time-scale benchmark runs it too.
"""

import json
import os
import sys
import time
from pathlib import Path

import requests

FINAL = ("completed", "failed", "moderated", "cancelled")
WAIT_SCALE = float(os.environ.get("PIXVERSE_WAIT_SCALE", "1"))


def wait(seconds: float) -> None:
    time.sleep(seconds / WAIT_SCALE)


def run_job(session, task, job, done):
    base = task["base_url"].rstrip("/") + "/pixverse/"
    fields = dict(job.get("fields") or {})
    if task.get("callbacks") and fields.get("replyUrl") is None:
        fields["replyUrl"] = task["callbacks"]["reply_url"]
    if job.get("prompt") is not None:
        fields["prompt"] = job["prompt"]
    if job.get("parent"):
        parent = done.get(job["parent"], {})
        if parent.get("outcome") != "completed":
            return {"job": job["id"], "outcome": "skipped"}
        body = {"json": {**fields, "jobid": parent["jobid"], "button": job["button"]}}
    else:
        face = Path(job["face"]).read_bytes()
        body = {"data": {k: str(v) for k, v in fields.items()}, "files": {"face": ("face.png", face, "image/png")}}
    for attempt in range(21):
        answer = session.post(base + job["endpoint"], timeout=30, **body)
        if answer.status_code != 429 or attempt == 20:
            break
        wait(10)
    record = answer.json() if answer.content else {}
    if answer.status_code != 200:
        return {"job": job["id"], "outcome": "error", "code": answer.status_code, "message": record.get("error")}
    while record.get("status") not in FINAL:
        wait(10)
        answer = session.get(base + "jobs/", params={"jobid": record["jobid"]}, timeout=30)
        if answer.status_code != 200:
            return {"job": job["id"], "outcome": "error", "code": answer.status_code,
                    "message": answer.json().get("error"), "jobid": record["jobid"]}
        record = answer.json()
    if record["status"] != "completed":
        return {"job": job["id"], "outcome": "job_failed", "jobid": record["jobid"], "status": record["status"],
                "message": record.get("error")}
    files = []
    for index, attachment in enumerate(record.get("attachments") or ()):
        target = Path(task["download_dir"]) / f"{job['id']}-{index}.mp4"
        video = requests.get(attachment["url"], timeout=30)  # a CDN url: no token
        video.raise_for_status()
        target.write_bytes(video.content)
        files.append(str(target))
    return {"job": job["id"], "outcome": "completed", "jobid": record["jobid"], "files": files}


def main() -> None:
    task = json.loads(Path(os.environ["PIXVERSE_TASK"]).read_text(encoding="utf-8"))
    Path(task["download_dir"]).mkdir(parents=True, exist_ok=True)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {task['token']}"
    done = {}
    for job in task["jobs"]:
        done[job["id"]] = run_job(session, task, job, done)
    Path(os.environ["PIXVERSE_REPORT"]).write_text(json.dumps({"results": list(done.values())}), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
