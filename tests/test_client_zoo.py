"""The contract suite against the reference client (flags nothing) and the zoo of broken clients (flags each).

One mock server (manual clock) serves the whole module; the suite resets it for every example.
Set ``PIXVERSE_ZOO_TABLE=<path>`` to get the zoo result as a markdown table: client, property that
caught it, shrunk example.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import find
from zoo import ZOO
from zoo import BrokenClient

from contract_tests import ContractViolation
from contract_tests import MockHandle
from contract_tests import ThreadedMockServer
from contract_tests import check_client
from contract_tests.properties import PROPERTIES
from contract_tests.reference_client import ReferenceClient
from contract_tests.suite import CALLER_PROPERTIES
from contract_tests.suite import Behaviour
from contract_tests.suite import Inputs
from contract_tests.suite import behaviours
from contract_tests.suite import meme_face_inputs
from mock_server import MockConfig

TOKEN = "user:1-contract-zoo"
MAX_EXAMPLES = 100
"""As many examples as the ``ci`` profile runs, and more: the reference client must pass them all."""

_ZOO_ROWS: dict[str, tuple[str, str, str]] = {}


@pytest.fixture(scope="module")
def mock_server() -> Iterator[ThreadedMockServer]:
    with ThreadedMockServer(MockConfig(clock="manual")) as server:
        yield server


@pytest.fixture
def handle(mock_server: ThreadedMockServer) -> Iterator[MockHandle]:
    mock_server.runtime.errors.clear()
    yield MockHandle(mock_server, TOKEN)
    mock_server.check()  # the mock itself must never have raised


@pytest.fixture(scope="module", autouse=True)
def zoo_table() -> Iterator[None]:
    yield
    target = os.environ.get("PIXVERSE_ZOO_TABLE")
    if target and _ZOO_ROWS:
        Path(target).write_text(_markdown(), encoding="utf-8")


def test_reference_client_keeps_every_property(handle: MockHandle) -> None:
    check_client(handle, ReferenceClient.make, max_examples=MAX_EXAMPLES)


def test_the_zoo_covers_every_property() -> None:
    assert len(ZOO) >= 12
    assert len({cls.__name__ for cls in ZOO}) == len(ZOO)
    assert {cls.expected for cls in ZOO} == set(PROPERTIES) | set(CALLER_PROPERTIES)
    for cls in ZOO:
        assert cls.__doc__ and cls.__doc__.strip(), f"{cls.__name__} must name its mistake"


@pytest.mark.parametrize("broken", ZOO, ids=lambda cls: cls.__name__)
def test_zoo_client_is_caught_by_its_property(handle: MockHandle, broken: type[BrokenClient]) -> None:
    with pytest.raises(ContractViolation) as caught:
        check_client(handle, broken.make, max_examples=MAX_EXAMPLES)
    violation = caught.value
    _ZOO_ROWS[broken.__name__] = (", ".join(sorted(violation.properties)), broken.expected, _shrunk(violation))
    assert broken.expected in violation.properties, str(violation)
    assert any(note.startswith(("Falsifying example", "Failing test case")) for note in violation.__notes__)


# --- the table -------------------------------------------------------------------------------------


def _shrunk(violation: ContractViolation) -> str:
    """The shrunk example, as what differs from the simplest one the strategies make."""
    if violation.behaviour is None or violation.inputs is None:
        return " ".join(n for n in getattr(violation, "__notes__", ()) if "(" in n)
    parts = _changed(violation.behaviour, _simplest_behaviour())
    parts += _changed(violation.inputs, _simplest_inputs())
    return ", ".join(parts) or "the simplest example (one meme_face that completes)"


def _changed(value: Behaviour | Inputs, simplest: Behaviour | Inputs) -> list[str]:
    return [f"{f.name}={getattr(value, f.name)!r}" for f in dataclasses.fields(value)
            if getattr(value, f.name) != getattr(simplest, f.name)]


_SIMPLEST: dict[str, object] = {}


def _simplest_behaviour() -> Behaviour:
    if "behaviour" not in _SIMPLEST:
        _SIMPLEST["behaviour"] = find(behaviours(), lambda _: True)
    return _SIMPLEST["behaviour"]  # type: ignore[return-value]


def _simplest_inputs() -> Inputs:
    if "inputs" not in _SIMPLEST:
        _SIMPLEST["inputs"] = find(meme_face_inputs(), lambda _: True)
    return _SIMPLEST["inputs"]  # type: ignore[return-value]


def _markdown() -> str:
    lines = ["| client | property that caught it | all properties broken | shrunk example |",
             "| --- | --- | --- | --- |"]
    for cls in ZOO:
        if cls.__name__ not in _ZOO_ROWS:
            continue
        broken, expected, example = _ZOO_ROWS[cls.__name__]
        caught = f"`{expected}`" if expected in broken.split(", ") else f"❌ not `{expected}`"
        lines.append(f"| `{cls.__name__}`: {cls.__doc__.strip().splitlines()[0]} | {caught} | {broken} | "
                     f"{example.replace('|', '¦')} |")
    return "\n".join(lines) + "\n"
