"""The ``pixverse-mock`` command's entry point: the command line, started without the cyclic collector."""

from __future__ import annotations

import gc
import sys
from pathlib import Path


def main() -> None:
    """Run :func:`mock_server.cli.main` with the cyclic collector off until the server is built.

    Start-up only builds what lives until the process ends (modules, classes, fixtures, the app),
    so every collection during it scans all of that and frees nothing: about a twentieth of the
    start-up. :func:`mock_server.serve.serve_wsgi` freezes what was built and turns the collector
    back on; a command that ends sooner (``--help``, a bad option) ends with it off.
    """
    gc.disable()
    from mock_server.cli import main as command

    command()


def command_line() -> list[str]:
    """How to start ``pixverse-mock`` as users do: the command installed beside this Python, else this module."""
    script = Path(sys.executable).with_name("pixverse-mock")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mock_server.launch"]


if __name__ == "__main__":
    main()
