"""The ``pixverse-mock`` command.

Every ``serve`` option has three sources besides its embedded default, in this order of
precedence: the flag, the ``PIXVERSE_MOCK_*`` environment variable, the ``--config`` YAML file.
Click's own defaults stay ``None`` so that only what the user actually said overrides the file.
"""

from __future__ import annotations

import click
from click.core import ParameterSource

from mock_server.clock import PROFILES
from mock_server.config import ConfigError
from mock_server.config import MockConfig

# The options that map one-to-one onto MockConfig fields (``--config`` is the file itself).
_OVERRIDABLE = ("host", "port", "store", "clock", "seed", "workers", "control_token", "time_scale", "journal_limit")
_FROM_USER = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version

    try:
        return version("pixverse-mock")
    except PackageNotFoundError:
        return "0+unknown"


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"pixverse-mock {_version()}")
        ctx.exit()


def _fail(ctx: click.Context, message: str) -> None:
    """One line on stderr, exit code 2 (click's code for a usage error); no traceback."""
    click.echo(f"Error: {message}", err=True)
    ctx.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and exit.")
def main() -> None:
    """A stateful mock of the useapi.net PixVerse v1 API."""


def _option(*decls: str, **kwargs: object):
    """An option that also reads ``PIXVERSE_MOCK_<NAME>`` and defaults to ``None`` (= not given)."""
    name = decls[0].removeprefix("--").upper().replace("-", "_")
    return click.option(*decls, envvar=f"PIXVERSE_MOCK_{name}", show_envvar=True, default=None, **kwargs)


@main.command()
@_option("--host", metavar="HOST", help="Interface to bind.  [default: 127.0.0.1]")
@_option("--port", type=click.IntRange(0, 65535), help="TCP port (0 picks a free one).  [default: 8080]")
@_option("--config", "config_file", metavar="FILE", help="YAML config file (keys as in the README).")
@_option("--store", metavar="memory|sqlite:PATH|redis://HOST:PORT/DB",
         help="Where state lives (see the README).  [default: memory]")
@_option("--clock", type=click.Choice(list(PROFILES)), help="Timing profile.  [default: fast]")
@_option("--seed", type=int, help="RNG seed (job ids, account choice, faults).  [default: 0]")
@_option("--scenario", metavar="FILE|NAME",
         help="Scenario file, or the name of a shipped one (fixtures/scenarios): its config and faults.")
@_option("--workers", type=click.IntRange(min=1),
         help="Processes with sqlite; with memory, one process with 4 threads per worker.  [default: 1]")
@_option("--control-token", metavar="TOKEN",
         help="Required by /__mock/ in the X-Mock-Control-Token header; generated when --host is not loopback.")
@_option("--time-scale", type=click.FloatRange(min=0, min_open=True),
         help="Mock time runs this many times faster than wall time (fast/realistic clocks).  [default: 1]")
@_option("--journal-limit", type=click.IntRange(min=0),
         help="Entries kept per journal; 0 turns the journals off (the fastest for load tests).  [default: 50000]")
@click.pass_context
def serve(ctx: click.Context, config_file: str | None, scenario: str | None, **options: object) -> None:
    """Start the mock server (granian; see bench/RESULTS.md for why).

    Precedence: flag > PIXVERSE_MOCK_* environment variable > --scenario > --config file > default.
    """
    overrides = {name: options[name] for name in _OVERRIDABLE
                 if ctx.get_parameter_source(name) in _FROM_USER}
    loaded = None
    try:
        base = MockConfig.from_file(config_file) if config_file else MockConfig()
        if scenario:
            from mock_server.scenarios import Scenario

            loaded = Scenario.load(scenario)
            base = loaded.configure(base)
        config = base.with_overrides(**overrides)
    except ConfigError as exc:
        _fail(ctx, str(exc))
    config, notice = _guard_control_plane(config)
    if notice:
        click.echo(notice, err=True)

    from mock_server import serve as server
    from mock_server.store import StoreLocationError

    try:
        server.run(config, loaded)
    except StoreLocationError as exc:  # a store that cannot be opened: one line, no traceback
        _fail(ctx, str(exc))


def _guard_control_plane(config: MockConfig) -> tuple[MockConfig, str | None]:
    """A control token wherever one is needed, and the start-up warning that says so (once)."""
    from mock_server.control.access import start_notice
    from mock_server.control.access import with_control_token

    config, generated = with_control_token(config)
    return config, start_notice(config, generated)


if __name__ == "__main__":  # python -m mock_server.cli
    main()
