"""Clients in other languages through the command protocol: Node (correct and broken) and bash.

Real programs, run by the command driver under faketime against a threaded mock on 127.0.0.1 whose
clock runs at the same rate. The correct Node client and the bash client pass generated examples
(``check_command``); each broken Node client (``tests/clients/node/protocol/broken``, one mistake
each) is run on one example that gives its mistake a chance and must be caught by the property it
targets, and the correct client, run on that same example, must not be. The whole zoo through
generation and shrinking is ``python -m bench.command_zoo`` (minutes; figures in bench/RESULTS.md).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from contract_tests.drivers import Budget
from contract_tests.drivers.command import CommandDriver
from contract_tests.example import Behaviour
from contract_tests.example import Example
from contract_tests.example import JobSpec
from contract_tests.example import Outcome
from contract_tests.example import with_invalid_input
from contract_tests.runner import check_command
from contract_tests.runner import session_for

CLIENTS = Path(__file__).parent / "clients"
NODE = CLIENTS / "node" / "protocol"
TIME_SCALE = 20.0
BUDGET = Budget(mock_seconds=900.0, wall_seconds=5.0)
"""Per run at most 5 + 900/20 = 50 s of wall time; the examples below need a few seconds."""
CUT_OFF = Budget(mock_seconds=80.0, wall_seconds=2.0)
"""For the client that never ends: 80 s of mock time (4 s of wall time), where a correct client needs
about 30."""

ONE_JOB = (JobSpec("a", prompt="a cat"),)
TWO_JOBS = (JobSpec("a", prompt="a cat"), JobSpec("b", prompt="a dog"))
WITH_BUTTON = (JobSpec("a", prompt="a cat"), JobSpec("b", "button", "a new take", parent="a", button="🔀"))

# Each broken client: the example that gives its mistake a chance, and the property that must catch it.
ZOO = {
    # three 429s in a row: one immediate retry can look like a wait when a busy machine stalls it 0.5 s
    "retries-429-at-once": (Example(ONE_JOB, Behaviour(faults=(("meme_face", "discord429"),) * 3)),
                            "waits_after_429"),
    "ignores-max-jobs": (Example((JobSpec("a", prompt="a cat", fields={"maxJobs": 1}),
                                  JobSpec("b", prompt="a dog", fields={"maxJobs": 1}))), "respects_max_jobs"),
    "polls-every-second": (Example(ONE_JOB, Behaviour(outcomes=(Outcome(duration=30),))),
                           "polls_no_faster_than_10s"),
    "polls-after-final": (Example(ONE_JOB), "stops_polling_at_terminal_status"),
    "final-failure-is-success": (Example(ONE_JOB, Behaviour(outcomes=(Outcome("moderated", 20),))),
                                 "final_failures_are_not_results"),
    "drops-reply-ref": (Example((JobSpec("a", prompt="a cat", fields={"replyRef": "order-17"}),)),
                        "sends_what_was_asked"),
    "renames-negative-prompt": (Example((JobSpec("a", prompt="a cat", fields={"negative_prompt": "blur"}),)),
                                "sends_what_was_asked"),
    "never-downloads": (Example(ONE_JOB), "downloads_completed_results"),
    "presses-unoffered-button": (Example(WITH_BUTTON), "buttons_come_from_parent"),
    "json-instead-of-multipart": (Example(ONE_JOB), "meme_face_is_multipart_with_file"),
    "no-bearer": (Example(ONE_JOB), "bearer_auth_on_every_request"),
    "swallows-errors": (Example((with_invalid_input(ONE_JOB[0], "aspect_ratio_unsupported"),),
                                invalid_input="aspect_ratio_unsupported"), "documented_errors_surface"),
    # a's callback comes twice while b still runs (its repeat lands before the client is done)
    "counts-duplicate-callbacks": (Example(TWO_JOBS, Behaviour(outcomes=(Outcome(duration=10, callback="duplicated"),
                                                                         Outcome(duration=60))),
                                           callbacks=True), "result_reaches_caller_once"),
    "never-falls-back": (Example(ONE_JOB, Behaviour(outcomes=(Outcome(duration=10, callback="never"),)),
                                 callbacks=True), "finishes_within_budget"),
}


def node(script: Path) -> CommandDriver:
    return CommandDriver(["node", str(script)], time_scale=TIME_SCALE)


@pytest.fixture(scope="module")
def session():
    """One mock at x20 and one callback relay for the module (each example resets the mock)."""
    with session_for(node(NODE / "client.mjs")) as opened:
        yield opened


def test_every_broken_node_client_has_an_example_here():
    assert sorted(p.stem for p in (NODE / "broken").glob("*.mjs")) == sorted(ZOO)
    assert len(ZOO) >= 8


@pytest.mark.parametrize("name", sorted(ZOO))
def test_broken_node_client_is_caught_by_its_property(session, name):
    example, target = ZOO[name]
    budget = CUT_OFF if target == "finishes_within_budget" else BUDGET
    caught = {v.property for v in session.run_example(node(NODE / "broken" / f"{name}.mjs"), example, budget)}
    assert target in caught, f"{name}: expected {target}, the judge found {sorted(caught) or 'nothing'}"


@pytest.mark.parametrize("name", ["counts-duplicate-callbacks", "final-failure-is-success", "never-falls-back"])
def test_correct_node_client_passes_the_examples_that_catch_the_others(session, name):
    example, _ = ZOO[name]
    assert session.run_example(node(NODE / "client.mjs"), example, BUDGET) == []


def test_correct_node_client_passes_generated_examples():
    verdict = check_command(f"node {NODE / 'client.mjs'}", max_examples=4, time_scale=TIME_SCALE)
    assert verdict.passed, verdict.failure
    assert verdict.examples == 4


def test_bash_client_passes_generated_examples():
    assert shutil.which("jq") and shutil.which("curl"), "the bash client needs curl and jq (tools/system-packages.txt)"
    verdict = check_command(f"bash {CLIENTS / 'bash' / 'client.sh'}", max_examples=2, time_scale=TIME_SCALE)
    assert verdict.passed, verdict.failure


def test_the_documented_wrapper_of_an_existing_client_passes(session):
    # contract_tests/PROTOCOL.md shows tests/clients/node/wrapped/contract-wrapper.mjs as the example:
    # a 429, a button on the result, a moderated job, callbacks asked for (it polls instead: allowed).
    example = Example(WITH_BUTTON + (JobSpec("c", prompt="a bird"),),
                      Behaviour(faults=(("meme_face", "discord429"),),
                                outcomes=(Outcome(), Outcome("moderated", 20), Outcome(callback="never"))),
                      callbacks=True)
    assert session.run_example(node(CLIENTS / "node" / "wrapped" / "contract-wrapper.mjs"), example, BUDGET) == []


def test_the_protocol_page_shows_the_wrapper_as_it_is():
    page = (Path(__file__).parent.parent / "contract_tests" / "PROTOCOL.md").read_text(encoding="utf-8")
    wrapper = (CLIENTS / "node" / "wrapped" / "contract-wrapper.mjs").read_text(encoding="utf-8")
    assert f"```js\n{wrapper}```" in page
