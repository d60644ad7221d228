"""``pixverse-contract check`` with Python adapters: a verdict per property, JUnit and Markdown, exit codes.

(The command protocol's own tests live with the command driver.)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from click.testing import CliRunner

from contract_tests.cli import main
from contract_tests.judge import ALL_PROPERTIES


def test_check_passes_the_reference_client(tmp_path) -> None:
    junit, markdown = tmp_path / "c.xml", tmp_path / "c.md"
    result = CliRunner().invoke(main, ["check", "--adapter", "contract_tests.reference_client:ReferenceClient.make",
                                       "--examples", "5", "--junit", str(junit), "--markdown", str(markdown)])
    assert result.exit_code == 0, result.output
    assert f"{len(ALL_PROPERTIES)} properties: {len(ALL_PROPERTIES)} passed, 0 failed" in result.output
    cases = ET.parse(junit).getroot().findall(".//testcase")
    assert {case.get("name") for case in cases} == set(ALL_PROPERTIES)
    assert not ET.parse(junit).getroot().findall(".//failure")
    assert "✅ PASS" in markdown.read_text(encoding="utf-8")


def test_check_fails_a_broken_client_with_the_shrunk_example(tmp_path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "dropping.py").write_text('''
from contract_tests.reference_client import ReferenceClient


class DropsReplyRef(ReferenceClient):
    def submit_meme_face(self, face, prompt, **fields):
        fields.pop("replyRef", None)
        return super().submit_meme_face(face, prompt, **fields)
''', encoding="utf-8")
    junit, markdown = tmp_path / "c.xml", tmp_path / "c.md"
    result = CliRunner().invoke(main, ["check", "--adapter", "dropping:DropsReplyRef.make", "--mode", "polling",
                                       "--examples", "30", "--junit", str(junit), "--markdown", str(markdown)])
    assert result.exit_code == 1, result.output
    assert "FAIL  sends_what_was_asked" in result.output
    assert "Shrunk to:" in result.output and "replyRef" in result.output
    failed = {case.get("name") for case in ET.parse(junit).getroot().findall(".//testcase")
              if case.find("failure") is not None}
    assert "sends_what_was_asked" in failed
    assert "## Shrunk example" in markdown.read_text(encoding="utf-8")


def test_check_wants_exactly_one_client() -> None:
    result = CliRunner().invoke(main, ["check", "--examples", "1"])
    assert result.exit_code == 2
    assert "exactly one of --client, --adapter, --async-adapter" in result.output
    result = CliRunner().invoke(main, ["check", "--adapter", "no_such_module_here:make"])
    assert result.exit_code == 2 and "cannot load" in result.output


def test_check_with_a_seed_generates_the_same_examples_every_time(monkeypatch) -> None:
    from contract_tests.drivers.sync import SyncDriver

    seen: list[list[object]] = []

    def recording(self, example, stage, budget):
        seen[-1].append(example)
        return original(self, example, stage, budget)

    original = SyncDriver.run
    monkeypatch.setattr(SyncDriver, "run", recording)
    for seed in ("7", "7", "8"):
        seen.append([])
        result = CliRunner().invoke(main, ["check", "--adapter", "contract_tests.reference_client:ReferenceClient.make",
                                           "--examples", "4", "--seed", seed])
        assert result.exit_code == 0, result.output
    assert len(seen[0]) >= 4 and seen[0] == seen[1]
    assert seen[2] != seen[0]  # the seed reaches the run (without one, every run is the same derandomized one)
