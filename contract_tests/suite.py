"""The property-based client contract: hypothesis generates the inputs AND the server's behaviour.

For each example the mock is reset, told how to behave (429 bursts, Discord throttling, 402, 401,
422, 5xx, how long the jobs take and how the first one ends), and the client under test runs one
realistic flow through its adapter: submit a batch of 1-4 meme_faces one after the other (maybe
with a ``maxJobs`` below the batch size, which the client must respect by itself), wait for each
result, download each video, press one of the first result's buttons. Then every property is
checked: the traffic (:mod:`contract_tests.properties`) and what reached the caller. A failure is
shrunk to the smallest behaviour and inputs that break it.

Use it by subclassing :class:`ClientContract` in a test module (see the README), or call
:func:`check_client` directly.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from hypothesis import HealthCheck
from hypothesis import Phase
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from contract_tests.adapter import ClientFactory
from contract_tests.handle import MockHandle
from contract_tests.properties import PROMPT_BUTTONS
from contract_tests.properties import PROPERTIES
from contract_tests.properties import Violation
from contract_tests.properties import judge
from mock_server import messages
from mock_server.accounts import digest
from mock_server.errors import ApiError
from mock_server.resources import fixtures_dir

CALLER_PROPERTIES: dict[str, str] = {
    "documented_errors_surface": "every documented error reaches the caller as an error with code and message",
    "final_failures_are_not_results": "moderated, failed and cancelled jobs are errors, never results",
    "completed_results_reach_caller": "a completed job's video reaches the caller",
}

SUBMIT_ERRORS = {
    "expired": (402, messages.SUBSCRIPTION_EXPIRED),
    "unauthorized": (401, messages.UNAUTHORIZED),
    "moderated": (422, messages.MODERATED),
}
INVALID_INPUTS = {
    "prompt_too_long": ({"prompt": "x" * 513}, messages.MEME_FACE_TOO_LONG),
    "aspect_ratio_unsupported": ({"aspect_ratio": "2:1"}, messages.ASPECT_RATIO_NOT_SUPPORTED.format(
        aspect_ratio="2:1", supported=", ".join(messages.ASPECT_RATIOS))),
    "seed_value_out_of_range": ({"seed_value": -1}, messages.SEED_VALUE_RANGE.format(seed_value=-1)),
}
_PROMPT_ALPHABET = st.characters(codec="utf-8", categories=("L", "N", "Zs"), exclude_characters="[]")
_MODERATED_WORDS = re.compile(r"\b(nsfw|nude|naked|gore)\b", re.IGNORECASE)
"""The mock's default moderation words: a generated prompt must not trip them by chance."""
_THROTTLED = re.compile(
    "|".join([re.escape(messages.DISCORD_THROTTLED),
              re.escape(messages.MAX_JOBS_EXECUTING).replace(re.escape("{max_jobs}"), r"\d+")]))


_PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)
"""Without ``Phase.explain``: it re-runs the shrunk example many times under a tracer, slowly."""


class ContractViolation(AssertionError):
    """The client broke one or more properties; ``violations`` names each.

    Raised by :func:`run_flow` with the example that broke them (``behaviour``, ``inputs``); out of
    :func:`check_client` that is the shrunk example (also in ``__notes__``, as hypothesis prints it).
    """

    def __init__(self, violations: list[Violation], behaviour: Behaviour | None = None,
                 inputs: Inputs | None = None) -> None:
        self.violations = violations
        self.behaviour = behaviour
        self.inputs = inputs
        super().__init__("the client broke the contract:\n" + "\n".join(f"  - {v}" for v in violations))

    @property
    def properties(self) -> set[str]:
        return {v.property for v in self.violations}


@dataclass(frozen=True)
class Behaviour:
    """How the mock behaves for one example."""

    throttles: tuple[str, ...] = ()
    submit_error: str | None = None
    invalid_input: str | None = None
    outcome: str = "completed"
    """How the first job of the batch ends (the others complete)."""
    duration: float = 30.0
    press_button: bool = True
    button_index: int = 0
    button_prompt: bool = False
    batch: int = 1
    """How many meme_faces the caller submits, one after the other, before waiting for any."""
    max_jobs: int | None = None
    """The ``maxJobs`` field the caller passes with every submit (None: not sent)."""


@dataclass(frozen=True)
class Inputs:
    prompt: str
    fields: dict[str, Any] = field(default_factory=dict)


@st.composite
def behaviours(draw: st.DrawFn) -> Behaviour:
    """Server behaviour, simplest first: no faults, a job that completes."""
    throttles = tuple(draw(st.lists(st.sampled_from(("discord429", "maxjobs429")), max_size=3)))
    failure = draw(st.sampled_from((None, "submit_error", "invalid_input", "job_failure", "server_error")))
    return Behaviour(
        throttles=throttles,
        submit_error=draw(st.sampled_from(tuple(SUBMIT_ERRORS))) if failure == "submit_error" else
        "server_error:503" if failure == "server_error" else None,
        invalid_input=draw(st.sampled_from(tuple(INVALID_INPUTS))) if failure == "invalid_input" else None,
        outcome=draw(st.sampled_from(("failed", "cancelled", "moderated"))) if failure == "job_failure"
        else "completed",
        duration=draw(st.integers(min_value=3, max_value=120)),
        press_button=draw(st.booleans()),
        button_index=draw(st.integers(min_value=0, max_value=8)),
        button_prompt=draw(st.booleans()),
        batch=draw(st.integers(min_value=1, max_value=4)),
        max_jobs=draw(st.none() | st.integers(min_value=1, max_value=3)),
    )


@st.composite
def meme_face_inputs(draw: st.DrawFn) -> Inputs:
    """A valid meme_face request: a prompt and some of the optional fields."""
    prompt = draw(st.text(_PROMPT_ALPHABET, min_size=1, max_size=60)
                  .filter(lambda p: p.strip() and not _MODERATED_WORDS.search(p)))
    fields: dict[str, Any] = {}
    if draw(st.booleans()):
        fields["aspect_ratio"] = draw(st.sampled_from(messages.ASPECT_RATIOS))
    if draw(st.booleans()):
        fields["seed_value"] = draw(st.integers(min_value=0, max_value=messages.SEED_VALUE_MAX))
    if draw(st.booleans()):
        fields["negative_prompt"] = draw(st.text(_PROMPT_ALPHABET, max_size=30)
                                         .filter(lambda p: not _MODERATED_WORDS.search(p)))
    return Inputs(prompt.strip(), fields)


def run_flow(handle: MockHandle, make_client: ClientFactory, behaviour: Behaviour, inputs: Inputs) -> None:
    """One example: set the mock up, run the client, raise :class:`ContractViolation` on any broken property."""
    control = handle.control
    control.reset()
    control.reseed(0)
    for fault in behaviour.throttles:
        control.add_fault(fault, endpoint="meme_face", token=handle.token)
    if behaviour.submit_error:
        control.add_fault(behaviour.submit_error, endpoint="meme_face", token=handle.token)
    fields = dict(inputs.fields)
    if behaviour.max_jobs is not None:
        fields["maxJobs"] = behaviour.max_jobs
    prompt = inputs.prompt
    expected_error: tuple[int, str] | None = None
    if behaviour.invalid_input:
        bad, message = INVALID_INPUTS[behaviour.invalid_input]
        prompt = bad.get("prompt", prompt)
        fields.update({k: v for k, v in bad.items() if k != "prompt"})
        expected_error = (400, message)
    elif behaviour.submit_error in SUBMIT_ERRORS:
        expected_error = SUBMIT_ERRORS[behaviour.submit_error]

    client = make_client(handle.base_url, handle.token, handle.sleep)
    caller: list[Violation] = []
    face = (fixtures_dir() / "faces" / "face.png").read_bytes()
    jobs: list[str] = []
    for index in range(behaviour.batch):
        job, error = _attempt(lambda: client.submit_meme_face(face, prompt, **fields))
        if _surfaced_throttle(error):
            pass  # a 429 given to the caller with its code and message is fine (waiting for room is too)
        elif index == 0 and expected_error is not None:
            caller += _expect_error(error, job, expected_error, "submit")
        elif index == 0 and behaviour.submit_error and behaviour.submit_error.startswith("server_error"):
            caller += _expect_error_or_success(error, "submit")
        elif error is not None:
            caller.append(Violation("documented_errors_surface", f"submit #{index + 1} failed unexpectedly: {error!r}"))
        if error is not None or expected_error is not None or not isinstance(job, dict) or not job.get("jobid"):
            break  # a caller stops its batch at the first failed submit
        outcome = behaviour.outcome if index == 0 else "completed"
        error_text = "PixVerse could not render this video" if outcome == "failed" else None
        try:
            control.force_outcome(handle.token, str(job["jobid"]), outcome, error=error_text, after=behaviour.duration)
        except ApiError:
            pass  # not a job of this token that is still executing: the client made it up or finished it
        jobs.append(str(job["jobid"]))
    caller += _finish_jobs(client, jobs, behaviour)
    # The mock was reset for this example: a request without a usable token is this client's too.
    own = digest(handle.token)
    traffic = [{**e, "tenant": own} for e in handle.requests()]
    violations = caller + judge(traffic, only=_traffic_properties(behaviour))
    if violations:
        raise ContractViolation(violations, behaviour, inputs)


def _finish_jobs(client: Any, jobs: list[str], behaviour: Behaviour) -> list[Violation]:
    found: list[Violation] = []
    completed: list[tuple[str, dict[str, Any]]] = []
    for index, jobid in enumerate(jobs):
        outcome = behaviour.outcome if index == 0 else "completed"
        result, error = _attempt(lambda jobid=jobid: client.wait_for_result(jobid))
        if outcome != "completed":
            if error is None:
                found.append(Violation("final_failures_are_not_results",
                                       f"a {outcome} job was returned as a result: {result!r}"[:300]))
            else:
                found += _carries_code_and_message(error, f"the {outcome} job")
            continue
        if error is not None:
            found.append(Violation("completed_results_reach_caller", f"waiting for a completed job raised {error!r}"))
            continue
        result = result if isinstance(result, dict) else {}
        attachments = result.get("attachments") or []
        video, error = (None, None)
        if attachments:
            video, error = _attempt(lambda: client.download(attachments[0]["url"]))  # noqa: B023 (called at once)
        if not attachments or error is not None or not video:
            found.append(Violation("completed_results_reach_caller",
                                   f"the video of {jobid} did not reach the caller "
                                   f"({error!r}, {len(video or b'')} bytes, status {result.get('status')!r})"))
        completed.append((jobid, result))
    buttons = completed[0][1].get("buttons") or [] if completed else []
    if behaviour.press_button and buttons:
        jobid = completed[0][0]
        button = buttons[behaviour.button_index % len(buttons)]
        prompt = "a new take" if behaviour.button_prompt and button in PROMPT_BUTTONS else None
        extra = {"maxJobs": behaviour.max_jobs} if behaviour.max_jobs is not None else {}
        _, error = _attempt(lambda: client.press_button(jobid, button, prompt, **extra))
        if error is not None and not _surfaced_throttle(error):
            found.append(Violation("documented_errors_surface", f"pressing {button} failed: {error!r}"))
    return found


def _attempt(call: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    try:
        return call(), None
    except Exception as exc:  # the client under test may raise anything; judging it is the point
        return None, exc


def _expect_error(error: BaseException | None, job: Any, expected: tuple[int, str], step: str) -> list[Violation]:
    code, message = expected
    if error is None:
        return [Violation("documented_errors_surface",
                          f"{step}: the {code} answer was returned as success: {job!r}"[:300])]
    if getattr(error, "code", None) != code or getattr(error, "message", None) != message:
        return [Violation("documented_errors_surface",
                          f"{step}: expected an error with code {code} and message {message!r}, got {error!r}"[:400])]
    return []


def _surfaced_throttle(error: BaseException | None) -> bool:
    """A documented 429 that reached the caller as an error with its code and message."""
    message = getattr(error, "message", None)
    return getattr(error, "code", None) == 429 and isinstance(message, str) and bool(_THROTTLED.fullmatch(message))


def _expect_error_or_success(error: BaseException | None, step: str) -> list[Violation]:
    if error is None:
        return []
    return _carries_code_and_message(error, step)


def _carries_code_and_message(error: BaseException, what: str) -> list[Violation]:
    if isinstance(getattr(error, "code", None), int) and isinstance(getattr(error, "message", None), str):
        return []
    return [Violation("documented_errors_surface", f"{what} surfaced as {error!r}, without code and message")]


def _traffic_properties(behaviour: Behaviour) -> set[str]:
    wanted = set(PROPERTIES)
    if behaviour.invalid_input:
        wanted.discard("requests_conform_to_spec")  # the example itself asked for an invalid request
    return wanted


def check_client(handle: MockHandle, make_client: ClientFactory, *, max_examples: int = 60,
                 derandomize: bool = True) -> None:
    """Run the whole contract against ``make_client``; raise the shrunk :class:`ContractViolation`."""

    @settings(max_examples=max_examples, deadline=None, derandomize=derandomize, database=None,
              report_multiple_bugs=False, phases=_PHASES,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(behaviour=behaviours(), inputs=meme_face_inputs())
    def contract(behaviour: Behaviour, inputs: Inputs) -> None:
        run_flow(handle, make_client, behaviour, inputs)

    contract()


def _contract_test() -> Callable[..., None]:
    """A fresh hypothesis test for one :class:`ClientContract` subclass (hypothesis wants one class per test)."""

    @settings(deadline=None, phases=_PHASES, report_multiple_bugs=False,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(behaviour=behaviours(), inputs=meme_face_inputs())
    def test_client_contract(self: ClientContract, pixverse_mock: MockHandle, behaviour: Behaviour,
                             inputs: Inputs) -> None:
        run_flow(pixverse_mock, type(self).make_client, behaviour, inputs)

    return test_client_contract


class ClientContract:
    """Subclass in a test module and define ``make_client(base_url, token, sleep)``; needs the plugin.

    ::

        class TestMyClient(ClientContract):
            @staticmethod
            def make_client(base_url, token, sleep):
                return MyClientAdapter(base_url, token, sleep=sleep)

    Each subclass gets its own ``test_client_contract``, so several may live in one session.
    """

    make_client: ClientFactory
    test_client_contract = _contract_test()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "test_client_contract" not in cls.__dict__:
            cls.test_client_contract = _contract_test()
