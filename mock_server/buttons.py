"""The button graph (data from ``fixtures/button-graph.yaml``): what a result offers, what a button makes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mock_server.datafiles import load_yaml


@dataclass(frozen=True)
class ButtonGraph:
    """Result kinds with their buttons and video count; what each verb and button produces."""

    results: dict[str, tuple[tuple[str, ...], int]]
    verbs: dict[str, str]
    buttons: dict[str, str]
    prompt_buttons: frozenset[str]

    @classmethod
    def load(cls, path: Path) -> ButtonGraph:
        return cls.from_mapping(load_yaml(path))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ButtonGraph:
        """Build from the YAML layout of ``fixtures/button-graph.yaml``; ``ValueError`` if malformed."""
        try:
            return cls._parse(data)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"button graph needs results, verbs, buttons and prompt_buttons: {exc!r}") from exc

    @classmethod
    def _parse(cls, data: Mapping[str, Any]) -> ButtonGraph:
        results = {
            kind: (tuple(str(b) for b in spec["buttons"]), int(spec.get("videos", 1)))
            for kind, spec in data["results"].items()
        }
        return cls(
            results=results,
            verbs={str(k): str(v) for k, v in data["verbs"].items()},
            buttons={str(k): str(v) for k, v in data["buttons"].items()},
            prompt_buttons=frozenset(str(b) for b in data["prompt_buttons"]),
        )

    def to_mapping(self) -> dict[str, Any]:
        return {
            "results": {k: {"buttons": list(b), "videos": n} for k, (b, n) in self.results.items()},
            "verbs": dict(self.verbs),
            "buttons": dict(self.buttons),
            "prompt_buttons": sorted(self.prompt_buttons),
        }

    def result_of_verb(self, verb: str) -> str:
        return self.verbs.get(verb, "single")

    def result_of_button(self, button: str, parent_result: str) -> str:
        produced = self.buttons.get(button, "parent")
        return parent_result if produced == "parent" else produced

    def buttons_of(self, result: str) -> list[str]:
        return list(self.results.get(result, ((), 1))[0])

    def videos_of(self, result: str) -> int:
        return self.results.get(result, ((), 1))[1]

    def accepts_prompt(self, button: str) -> bool:
        return button in self.prompt_buttons
