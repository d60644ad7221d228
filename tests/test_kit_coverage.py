"""The strategies make what triggers each property common: each trigger in at least 20% of examples.

Counted over 200 generated examples (no mock involved), so that a 50-example run meets each trigger
about ten times; ``test_client_zoo`` shows the consequence (every zoo client caught within 50).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings

from contract_tests.example import Example
from contract_tests.strategies import ERRORS
from contract_tests.strategies import THROTTLES
from contract_tests.strategies import examples

SAMPLES = 200
MIN_SHARE = 0.20


def _faults(example: Example, endpoint: str, kinds: tuple[str, ...]) -> bool:
    return any(e == endpoint and f in kinds for e, f in example.behaviour.faults)


def _buttons(example: Example) -> list:
    return [j for j in example.jobs if j.endpoint == "button"]


def _max_jobs(example: Example) -> int | None:
    value = example.jobs[0].fields.get("maxJobs")
    return int(value) if value is not None else None


def _busy_button(example: Example) -> bool:
    """A button pressed after a meme_face other than its parent was submitted, under a maxJobs it fills."""
    limit = _max_jobs(example)
    for index, job in enumerate(example.jobs):
        if job.endpoint == "button" and limit is not None:
            others = [j for j in example.jobs[:index] if j.endpoint == "meme_face" and j.id != job.parent]
            if len(others) >= limit:
                return True
    return False


def _callback(example: Example, *modes: str) -> bool:
    return example.callbacks and any(o.callback in modes for o in example.behaviour.outcomes[:len(example.jobs)])


def _field(name: str) -> Callable[[Example], bool]:
    return lambda example: any(name in job.fields for job in example.jobs)


TRIGGERS: dict[str, Callable[[Example], bool]] = {
    "429 on meme_face (waits_after_429)": lambda e: _faults(e, "meme_face", THROTTLES),
    "429 on a button (waits_after_429)": lambda e: bool(_buttons(e)) and _faults(e, "button", THROTTLES),
    "a documented error (documented_errors_surface, no_retry_of_rejected_request)":
        lambda e: e.invalid_input is not None or _faults(e, "meme_face", ERRORS) or _faults(e, "button", ERRORS),
    "an input the API rejects as invalid (no_retry_of_rejected_request)":
        lambda e: e.invalid_input not in (None, "prompt_moderated"),
    "a job that ends moderated, failed or cancelled (final_failures_are_not_results)":
        lambda e: any(o.status != "completed" for o in e.behaviour.outcomes),
    "more meme_faces than maxJobs (respects_max_jobs)":
        lambda e: _max_jobs(e) is not None and sum(j.endpoint == "meme_face" for j in e.jobs) > _max_jobs(e),
    "a button pressed while other jobs fill maxJobs (respects_max_jobs)": _busy_button,
    "a button (buttons_come_from_parent, prompt_only_on_prompt_buttons)": lambda e: bool(_buttons(e)),
    "replyRef asked (sends_what_was_asked)": _field("replyRef"),
    "negative_prompt asked (sends_what_was_asked)": _field("negative_prompt"),
    "seed_value asked (sends_what_was_asked)": _field("seed_value"),
    "aspect_ratio asked (sends_what_was_asked)": _field("aspect_ratio"),
    "maxJobs asked (sends_what_was_asked)": _field("maxJobs"),
    "results by callback, several jobs (callback_matched_to_job)":
        lambda e: e.callbacks and len(e.jobs) > 1,
    "a duplicated or early callback (result_reaches_caller_once)": lambda e: _callback(e, "duplicated", "early"),
    "a callback that never comes (falls_back_to_polling)": lambda e: _callback(e, "never"),
}


def test_each_trigger_is_in_a_fifth_of_the_examples() -> None:
    counts: Counter[str] = Counter()
    seen: list[int] = []

    @settings(max_examples=SAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(example=examples())
    def sample(example: Example) -> None:
        seen.append(1)
        counts.update(name for name, trigger in TRIGGERS.items() if trigger(example))

    sample()
    shares = {name: counts[name] / len(seen) for name in TRIGGERS}
    rare = {name: f"{share:.0%}" for name, share in shares.items() if share < MIN_SHARE}
    assert not rare, f"triggers below {MIN_SHARE:.0%} of {len(seen)} examples: {rare}"
