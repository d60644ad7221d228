"""The ``pixverse-mock`` command's entry point: the command line, started without the cyclic collector."""

from __future__ import annotations

import gc


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
