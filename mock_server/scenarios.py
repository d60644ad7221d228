"""Scenario files: a named, repeatable situation (config, faults, jobs) in one YAML file.

```yaml
name: discord throttling
description: The first two submits answer Discord 429, then one in five.
config:            # any key of a config file (see the README)
  clock: fast
faults:            # queued at start, as POST /__mock/faults takes them
  - {fault: discord429, endpoint: submit, count: 2}
  - {fault: discord429, endpoint: submit, count: null, probability: 0.2}
jobs:              # extra jobs every tenant starts with (fixtures/seed-jobs.yaml format)
  - {jobid: ..., verb: pixverse-create, status: completed, finishes_after: 60, ...}
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import yaml

from mock_server.config import ConfigError
from mock_server.config import MockConfig
from mock_server.control.operations import fault_rule
from mock_server.errors import ApiError
from mock_server.resources import fixtures_dir
from mock_server.store.base import ControlState

_KEYS = {"name", "description", "config", "faults", "jobs"}


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    config: Mapping[str, Any] = field(default_factory=dict)
    faults: tuple[Mapping[str, Any], ...] = ()
    jobs: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def load(cls, path_or_name: str | Path) -> Scenario:
        """Read a scenario file; a bare name (``happy-path``) is one shipped in ``fixtures/scenarios``."""
        path = Path(path_or_name)
        if not path.exists() and path.suffix == "":
            path = fixtures_dir() / "scenarios" / f"{path_or_name}.yaml"
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read scenario {path_or_name}: {exc}") from exc
        if not isinstance(data, Mapping) or set(data) - _KEYS:
            raise ConfigError(f"scenario {path} may only hold {', '.join(sorted(_KEYS))}")
        return cls(
            name=str(data.get("name") or path.stem),
            description=str(data.get("description") or ""),
            config=dict(data.get("config") or {}),
            faults=tuple(dict(f) for f in data.get("faults") or ()),
            jobs=tuple(dict(j) for j in data.get("jobs") or ()),
        )

    def configure(self, base: MockConfig | None = None) -> MockConfig:
        """``base`` (default: the embedded defaults) with the scenario's config and jobs laid over it."""
        base = base or MockConfig()
        jobs = [*base.jobs, *self.config.get("jobs", ()), *self.jobs]
        return MockConfig.from_mapping({**self.config, "jobs": jobs}, base=base)

    def queue_faults(self, control: ControlState) -> None:
        """Replace the fault queue with the scenario's faults (``ConfigError`` for a bad one)."""
        rules = []
        for fault in self.faults:
            try:
                rules.append(fault_rule(str(fault["fault"]), fault.get("endpoint"), fault.get("token"),
                                        fault.get("count", 1), float(fault.get("probability", 1.0))))
            except (ApiError, KeyError, TypeError, ValueError) as exc:
                raise ConfigError(f"scenario {self.name}: bad fault {dict(fault)}: {exc}") from exc
        control.clear_faults()
        for rule in rules:
            control.add_fault(rule)


def shipped() -> list[str]:
    """Names of the scenarios in ``fixtures/scenarios``."""
    return sorted(p.stem for p in (fixtures_dir() / "scenarios").glob("*.yaml"))
