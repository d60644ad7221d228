"""The command protocol, version 1: what the kit hands a client in any language and what it reads back.

The kit runs the client's command once per example with the environment of :func:`protocol_environment`
(task and report paths, base URL, token, time scale), the task JSON of :data:`TASK_SCHEMA` in the file
``PIXVERSE_TASK``, and reads the report JSON of :data:`REPORT_SCHEMA` from ``PIXVERSE_REPORT``.
``contract_tests/PROTOCOL.md`` is the user-facing description; this module is its executable form.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from contract_tests.example import OUTCOMES
from contract_tests.example import PROTOCOL_VERSION

TASK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["protocol", "base_url", "token", "time_scale", "download_dir", "callbacks", "jobs"],
    "properties": {
        "protocol": {"const": PROTOCOL_VERSION},
        "base_url": {"type": "string"},
        "token": {"type": "string"},
        "time_scale": {"type": "number", "exclusiveMinimum": 0},
        "download_dir": {"type": "string"},
        "callbacks": {
            "oneOf": [
                {"type": "null"},
                {"type": "object", "required": ["reply_url", "listen_host", "listen_port"],
                 "properties": {"reply_url": {"type": "string"}, "listen_host": {"type": "string"},
                                "listen_port": {"type": "integer"}}},
            ],
        },
        "jobs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "endpoint", "fields"],
                "properties": {
                    "id": {"type": "string"},
                    "endpoint": {"enum": ["meme_face", "button"]},
                    "face": {"type": "string"},
                    "prompt": {"type": ["string", "null"]},
                    "parent": {"type": "string"},
                    "button": {"type": "string"},
                    "fields": {"type": "object"},
                },
            },
        },
    },
}

_TEXT = {"type": "string"}
REPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["results"],
    "properties": {
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["job", "outcome"],
                "properties": {"job": _TEXT, "outcome": {"enum": list(OUTCOMES)}},
                "allOf": [
                    {"if": {"properties": {"outcome": {"const": "completed"}}},
                     "then": {"required": ["jobid", "files"],
                              "properties": {"jobid": _TEXT, "files": {"type": "array", "items": _TEXT}}}},
                    {"if": {"properties": {"outcome": {"const": "job_failed"}}},
                     "then": {"required": ["jobid", "status"],
                              "properties": {"jobid": _TEXT, "status": _TEXT,
                                             "message": {"type": ["string", "null"]}}}},
                    {"if": {"properties": {"outcome": {"const": "error"}}},
                     "then": {"required": ["code", "message"],
                              "properties": {"code": {"type": ["integer", "null"]},
                                             "message": {"type": ["string", "null"]},
                                             "jobid": {"type": ["string", "null"]}}}},
                ],
            },
        },
    },
}
"""One entry per job of the task. Extra keys are allowed (ignored); a second entry for one job is valid
here and judged as a second result by the properties."""

_TASK_VALIDATOR = Draft202012Validator(TASK_SCHEMA)
_REPORT_VALIDATOR = Draft202012Validator(REPORT_SCHEMA)


def task_problems(task: dict[str, Any]) -> list[str]:
    """What makes ``task`` not a version-1 task (empty when it is one)."""
    return [_describe(error) for error in _TASK_VALIDATOR.iter_errors(task)]


def protocol_environment(task: dict[str, Any], task_path: Path, report_path: Path, *,
                         faketime: bool) -> dict[str, str]:
    """The ``PIXVERSE_*`` variables a client command runs with.

    ``PIXVERSE_WAIT_SCALE`` is what the client divides its own waits by: 1 under faketime (its sleeps
    are accelerated already), the time scale without it.
    """
    return {
        "PIXVERSE_TASK": str(task_path),
        "PIXVERSE_REPORT": str(report_path),
        "PIXVERSE_BASE_URL": str(task["base_url"]),
        "PIXVERSE_TOKEN": str(task["token"]),
        "PIXVERSE_TIME_SCALE": f"{task['time_scale']:g}",
        "PIXVERSE_WAIT_SCALE": "1" if faketime else f"{task['time_scale']:g}",
    }


@dataclass(frozen=True)
class ReportReading:
    """The client's report, or why there is none to use (exactly one of the two is set)."""

    report: dict[str, Any] | None
    problem: str | None


def read_report(path: Path) -> ReportReading:
    """Read and validate the report file; a missing or invalid report is a problem, never an exception."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ReportReading(None, f"no report: the client wrote nothing to PIXVERSE_REPORT ({path.name})")
    except (OSError, UnicodeDecodeError) as exc:
        return ReportReading(None, f"the report cannot be read: {exc}")
    try:
        report = json.loads(text)
    except ValueError as exc:
        return ReportReading(None, f"the report is not JSON: {exc}")
    errors = sorted(_REPORT_VALIDATOR.iter_errors(report), key=lambda e: list(e.absolute_path))
    if errors:
        shown = "; ".join(_describe(error) for error in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        return ReportReading(None, f"the report does not follow the protocol: {shown}{more}")
    return ReportReading(report, None)


def _describe(error: Any) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path) or "(top level)"
    return f"{where.lstrip('.')}: {error.message}"
