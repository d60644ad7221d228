"""One generated example: what the client is asked to do (the task) and how the mock behaves.

Plain data, no hypothesis (the strategies live in :mod:`contract_tests.strategies`). The task turns
into the JSON of the command protocol (:meth:`Example.task_json`); every driver gives the client the
same task, so every client is judged on the same terms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from functools import lru_cache
from typing import Any

from mock_server.resources import fixtures_dir

PROTOCOL_VERSION = 1
OUTCOMES = ("completed", "job_failed", "error", "skipped")
"""What a client may report became of one job: its videos downloaded; it ended moderated/failed/cancelled;
the API answered an error the client gave up on; not attempted (a button whose parent did not complete)."""
FACE = fixtures_dir() / "faces" / "face.png"
"""The face every meme_face of a task submits."""
SUBMIT_ENDPOINTS = ("meme_face", "button")
"""Endpoints a task job can name (``create``, ``create_single``, ``animate`` join as one entry each)."""
CALLBACK_MODES = ("on_time", "late", "duplicated", "never", "early")
"""What the relay does with a job's callback: forward it, hold it back, send it twice, drop it, or
deliver it before the client has read the submit answer."""
LATE_BY = 25.0
"""Mock seconds a ``late`` callback is held back."""
INVALID_INPUTS: dict[str, dict[str, Any]] = {
    "prompt_too_long": {"prompt": "x" * 513},
    "aspect_ratio_unsupported": {"aspect_ratio": "2:1"},
    "seed_value_out_of_range": {"seed_value": -1},
    "prompt_moderated": {"prompt": "a nude portrait"},
}
"""Inputs the caller asks for that the API must reject (400; 422 for the moderated prompt)."""


@dataclass(frozen=True)
class JobSpec:
    """One job of the task: a submit (``endpoint``) with its inputs; a button job names its ``parent``."""

    id: str
    endpoint: str = "meme_face"
    prompt: str | None = "A girl laughing"
    fields: Mapping[str, Any] = field(default_factory=dict)
    parent: str | None = None
    button: str | None = None

    def as_json(self, face: str) -> dict[str, Any]:
        job: dict[str, Any] = {"id": self.id, "endpoint": self.endpoint, "prompt": self.prompt,
                               "fields": dict(self.fields)}
        if self.endpoint == "meme_face":
            job["face"] = face
        if self.parent is not None:
            job.update(parent=self.parent, button=self.button)
        return job


@dataclass(frozen=True)
class Outcome:
    """How an accepted job ends and how long it takes (mock seconds)."""

    status: str = "completed"
    duration: float = 30.0
    callback: str = "on_time"

    @property
    def error(self) -> str | None:
        return "PixVerse could not render this video" if self.status == "failed" else None


@dataclass(frozen=True)
class Behaviour:
    """How the mock behaves: queued faults per endpoint, and how the accepted jobs end, in order."""

    faults: tuple[tuple[str, str], ...] = ()
    """``(endpoint, fault)``: the next request to ``endpoint`` answers ``fault``, in this order."""
    outcomes: tuple[Outcome, ...] = ()
    """The n-th job the mock accepts ends as ``outcomes[n]`` (completed in 30 s when there are fewer)."""

    def outcome(self, index: int) -> Outcome:
        return self.outcomes[index] if index < len(self.outcomes) else Outcome()


@dataclass(frozen=True)
class Example:
    """A task for the client and the mock's behaviour while it runs."""

    jobs: tuple[JobSpec, ...] = (JobSpec("a"),)
    behaviour: Behaviour = Behaviour()
    callbacks: bool = False
    """Whether the client is asked to take results by ``replyUrl`` callbacks instead of polling."""
    invalid_input: str | None = None
    """A key of :data:`INVALID_INPUTS` applied to the first job (the API must reject it)."""

    def job(self, job_id: str) -> JobSpec:
        return next(j for j in self.jobs if j.id == job_id)

    def task_json(self, *, base_url: str, token: str, face: str, download_dir: str, time_scale: float = 1.0,
                  callbacks: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The task of the command protocol (version 1)."""
        return {"protocol": PROTOCOL_VERSION, "base_url": base_url, "token": token, "time_scale": time_scale,
                "download_dir": download_dir, "callbacks": dict(callbacks) if callbacks else None,
                "jobs": [job.as_json(face) for job in self.jobs]}

    def describe(self) -> str:
        """One line for reports: the jobs, the faults, the outcomes."""
        jobs = "; ".join(
            f"{j.id}: {j.endpoint}" + (f" {j.button!r} on {j.parent}" if j.parent else "")
            + (f" {dict(j.fields)}" if j.fields else "") for j in self.jobs)
        parts = [f"jobs [{jobs}]"]
        if self.invalid_input:
            parts.append(f"invalid input {self.invalid_input}")
        if self.behaviour.faults:
            parts.append("faults " + ", ".join(f"{e}:{f}" for e, f in self.behaviour.faults))
        if self.behaviour.outcomes:
            parts.append("outcomes " + ", ".join(
                f"{o.status} after {o.duration:g}s" + (f" (callback {o.callback})" if self.callbacks else "")
                for o in self.behaviour.outcomes))
        if self.callbacks:
            parts.append("by callbacks")
        return "; ".join(parts)


def with_invalid_input(job: JobSpec, name: str) -> JobSpec:
    """``job`` asking for the invalid input ``name`` (a key of :data:`INVALID_INPUTS`)."""
    bad = INVALID_INPUTS[name]
    fields = {**job.fields, **{k: v for k, v in bad.items() if k != "prompt"}}
    return JobSpec(job.id, job.endpoint, bad.get("prompt", job.prompt), fields, job.parent, job.button)


@lru_cache(maxsize=1)
def face_bytes() -> bytes:
    """:data:`FACE`'s bytes, read once."""
    return FACE.read_bytes()
