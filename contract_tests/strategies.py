"""Hypothesis strategies for examples: the task (jobs and their inputs) and the mock's behaviour.

Simplest first (one meme_face that completes, no faults), and weighted so that what triggers each
property shows up in at least a fifth of the examples (``tests/test_kit_coverage.py`` measures it):
429 bursts on meme_face and on buttons, errors, final failures, more jobs than ``maxJobs``, buttons
pressed while other jobs execute, optional fields to echo, and each callback behaviour.
"""

from __future__ import annotations

import re

from hypothesis import strategies as st

from contract_tests.example import CALLBACK_MODES
from contract_tests.example import INVALID_INPUTS
from contract_tests.example import Behaviour
from contract_tests.example import Example
from contract_tests.example import JobSpec
from contract_tests.example import Outcome
from contract_tests.example import with_invalid_input
from mock_server import messages
from mock_server.buttons import ButtonGraph
from mock_server.resources import fixtures_dir

THROTTLES = ("discord429", "maxjobs429")
ERRORS = ("expired", "unauthorized", "moderated", "server_error:503")
MISBEHAVING_CALLBACKS = ("never", "duplicated", "early", "late")
FINAL_STATUSES = ("completed", "completed", "completed", "completed", "failed", "moderated", "cancelled")
"""Most jobs complete (a button needs a completed parent), the rest end each other way."""
_GRAPH = ButtonGraph.load(fixtures_dir() / "button-graph.yaml")
_PROMPT_ALPHABET = st.characters(codec="utf-8", categories=("L", "N", "Zs"), exclude_characters="[]")
_MODERATED_WORDS = re.compile(r"\b(nsfw|nude|naked|gore)\b", re.IGNORECASE)
"""The mock's default moderation words: a generated prompt must not trip them by chance."""
_JOB_IDS = "abcdefgh"


def texts(max_size: int) -> st.SearchStrategy[str]:
    """Non-blank text the mock's moderation does not flag, stripped."""
    return (st.text(_PROMPT_ALPHABET, min_size=1, max_size=max_size).map(str.strip)
            .filter(lambda t: bool(t) and not _MODERATED_WORDS.search(t)))


@st.composite
def optional_fields(draw: st.DrawFn, job_id: str) -> dict[str, object]:
    """Some of meme_face's optional fields (each drawn on its own)."""
    fields: dict[str, object] = {}
    if draw(st.booleans()):
        fields["aspect_ratio"] = draw(st.sampled_from(messages.ASPECT_RATIOS))
    if draw(st.booleans()):
        fields["seed_value"] = draw(st.integers(min_value=0, max_value=messages.SEED_VALUE_MAX))
    if draw(st.booleans()):
        fields["negative_prompt"] = draw(texts(30))
    if draw(st.booleans()):
        fields["replyRef"] = f"{job_id}-{draw(st.integers(min_value=0, max_value=999))}"
    return fields


SHAPES = ("single", "busy_button", "batch")
"""``single``: one meme_face (and maybe a button on it); ``batch``: 2-3 meme_faces, often more than
their ``maxJobs``, buttons anywhere after their parent; ``busy_button``: a button pressed on the
first result while the other meme_faces fill ``maxJobs`` (the first job always completes)."""


@st.composite
def tasks(draw: st.DrawFn, shape: str) -> tuple[JobSpec, ...]:
    """The jobs of one shape; every job carries the same ``maxJobs`` (or none)."""
    faces = 1 if shape == "single" else draw(st.integers(min_value=2, max_value=3))
    max_jobs = faces - 1 if shape == "busy_button" else draw(st.sampled_from((None, 1, 1, 2)))
    prompts = draw(st.lists(texts(40), min_size=faces, max_size=faces, unique=True))
    jobs: list[JobSpec] = []
    for index, prompt in enumerate(prompts):
        fields = draw(optional_fields(_JOB_IDS[index]))
        if max_jobs is not None:
            fields["maxJobs"] = max_jobs
        jobs.append(JobSpec(_JOB_IDS[index], "meme_face", prompt, fields))
    buttons = 1 if shape == "busy_button" else draw(st.sampled_from((0, 1, 1, 2)))
    offered = _GRAPH.buttons_of(_GRAPH.result_of_verb("pixverse-meme_face"))
    for index in range(buttons):
        job_id = _JOB_IDS[faces + index]
        parent = 0 if shape == "busy_button" else draw(st.integers(min_value=0, max_value=faces - 1))
        button = draw(st.sampled_from(offered))
        if (jobs[parent].id, button) in {(j.parent, j.button) for j in jobs}:
            continue
        prompt = draw(texts(30)) if _GRAPH.accepts_prompt(button) and draw(st.booleans()) else None
        fields: dict[str, object] = {"maxJobs": max_jobs} if max_jobs is not None else {}
        if draw(st.booleans()):
            fields["replyRef"] = f"{job_id}-{draw(st.integers(min_value=0, max_value=999))}"
        at = len(jobs) - draw(st.integers(min_value=0, max_value=len(jobs) - parent - 1))  # late: others execute
        jobs.insert(at, JobSpec(job_id, "button", prompt, fields, jobs[parent].id, button))
    return tuple(jobs)


@st.composite
def behaviours(draw: st.DrawFn, jobs: int, first_completes: bool = False) -> Behaviour:
    """Faults queued on meme_face and button (429 bursts first, then maybe an error), and the fates."""
    faults: list[tuple[str, str]] = []
    for endpoint in ("meme_face", "button"):
        faults += [(endpoint, f) for f in draw(st.lists(st.sampled_from(THROTTLES), max_size=2))]
        error = draw(st.sampled_from((None, *ERRORS, "moderated")))  # 422: twice, it hides behind 429s
        if error is not None and not (first_completes and endpoint == "meme_face"):
            faults.append((endpoint, error))
    # the first job's callback always misbehaves one way, so each way is common
    outcomes = tuple(Outcome(status="completed" if first_completes and index == 0
                             else draw(st.sampled_from(FINAL_STATUSES)),
                             duration=draw(st.integers(min_value=3, max_value=120)),
                             callback=draw(st.sampled_from(MISBEHAVING_CALLBACKS if index == 0 else CALLBACK_MODES)))
                     for index in range(jobs))
    return Behaviour(tuple(faults), outcomes)


@st.composite
def examples(draw: st.DrawFn, callbacks: bool | None = None) -> Example:
    """A whole example; ``callbacks`` fixes whether results come by callback (None: drawn)."""
    shape = draw(st.sampled_from(SHAPES))
    jobs = draw(tasks(shape))
    busy = shape == "busy_button"
    rejected = not busy and (draw(st.booleans()) or draw(st.booleans()))
    invalid = draw(st.sampled_from(tuple(INVALID_INPUTS))) if rejected else None
    if invalid is not None:
        jobs = (with_invalid_input(jobs[0], invalid), *jobs[1:])
    behaviour = draw(behaviours(len(jobs), first_completes=busy))
    by_callback = draw(st.sampled_from((False, True, True))) if callbacks is None else callbacks
    return Example(jobs, behaviour, by_callback, invalid)
