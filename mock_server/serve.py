"""Run the mock under gunicorn (gthread workers), the production server chosen by measurement.

With the memory store all state lives in one process, so ``workers=N`` becomes one process with
``4*N`` threads; with ``sqlite:PATH`` it means N processes of 4 threads, each opening its own
connections after the fork (the app is built in :meth:`MockApplication.load`, in the worker).
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from dataclasses import replace
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from mock_server.config import MockConfig
from mock_server.scenarios import Scenario

THREADS_PER_WORKER = 4
GRACEFUL_TIMEOUT = 3
# time, method, path with query, status, response bytes, duration in ms. Never a request header:
# the Authorization header carries the caller's token.
ACCESS_LOG_FORMAT = '%(t)s "%(m)s %({raw_uri}e)s" %(s)s %(B)s %(M)sms'


@dataclass(frozen=True)
class Layout:
    """How many processes and threads a config runs with."""

    processes: int
    threads: int


def layout(config: MockConfig) -> Layout:
    if config.sqlite_path is None:
        return Layout(1, THREADS_PER_WORKER * config.workers)
    return Layout(config.workers, THREADS_PER_WORKER)


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def gunicorn_options(config: MockConfig) -> dict[str, Any]:
    shape = layout(config)
    return {
        "bind": [bind_address(config.host, config.port)],
        "workers": shape.processes,
        "worker_class": "gthread",
        "threads": shape.threads,
        "preload_app": False,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "accesslog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "errorlog": "-",
        "loglevel": "info",
        "logger_class": StderrAccessLogger,
        "proc_name": "pixverse-mock",
        # gunicorn >= 25.1 opens a control socket in $HOME by default; two mocks would fight over it.
        "control_socket_disable": True,
    }


class StderrAccessLogger(Logger):
    """gunicorn's logger, with the access log (``accesslog="-"``) on stderr instead of stdout."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in self.access_log.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
                handler.setStream(sys.stderr)

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        """Only the atoms :data:`ACCESS_LOG_FORMAT` uses, with gunicorn's values.

        gunicorn's own builds about 60 per request (every request and response header and environ key)
        and the log line needs 6: that was a sixth of a ``GET jobs`` on the request thread.
        """
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        return {
            "t": self.now(),
            "m": environ.get("REQUEST_METHOD"),
            "{raw_uri}e": environ.get("RAW_URI"),
            "s": status,
            "B": getattr(resp, "sent", None),
            "M": (request_time.seconds * 1000) + int(request_time.microseconds / 1000),
        }


class MockApplication(BaseApplication):
    """gunicorn configured from a :class:`MockConfig`; every worker builds its own app."""

    def __init__(self, config: MockConfig, scenario: Scenario | None = None) -> None:
        self.config = config
        self.scenario = scenario
        self.app: Any = None
        super().__init__(prog="pixverse-mock")

    def load_config(self) -> None:
        for key, value in gunicorn_options(self.config).items():
            self.cfg.set(key, value)
        self.cfg.set("when_ready", self._when_ready)
        self.cfg.set("worker_exit", self._worker_exit)

    def load(self) -> Any:
        from mock_server.app import create_app
        from mock_server.app import mock_of

        self.app = create_app(self.config)
        if self.scenario is not None and self.config.sqlite_path is None:
            self.scenario.queue_faults(mock_of(self.app).control)
        return self.app

    def _when_ready(self, server: Any) -> None:
        host, port = self.config.host, self.config.port
        if server.LISTENERS:
            port = server.LISTENERS[0].sock.getsockname()[1]
        shape = layout(self.config)
        print(
            f"pixverse-mock listening on http://{bind_address(host, port)} (store={self.config.store}, "
            f"clock={self.config.clock}, workers={shape.processes}x{shape.threads} threads)",
            file=sys.stderr, flush=True,
        )

    def _worker_exit(self, _server: Any, _worker: Any) -> None:
        if self.app is not None:
            from mock_server.app import mock_of

            mock_of(self.app).close()


def run(config: MockConfig, scenario: Scenario | None = None) -> None:
    """Serve until SIGINT/SIGTERM (gunicorn stops gracefully, within ``GRACEFUL_TIMEOUT`` s).

    ``config`` is final (a scenario's config already laid in); the scenario's faults are queued
    once: in the one worker of the memory store, or here, before forking, in the SQLite file.
    """
    if config.time_scale != 1 and config.time_origin is None:
        # one origin for every worker process, so their accelerated clocks agree
        config = replace(config, time_origin=time.time())
    if scenario is not None and config.sqlite_path is not None:
        from mock_server.store.sqlite import SqliteStore

        store = SqliteStore(config.sqlite_path)
        scenario.queue_faults(store.control_state(config.journal_limit))
        store.close()
    if config.sqlite_path is None and config.workers > 1:
        shape = layout(config)
        print(
            f"pixverse-mock: the memory store keeps state in one process, so --workers {config.workers} "
            f"runs 1 process x {shape.threads} threads (use --store sqlite:PATH for several processes)",
            file=sys.stderr, flush=True,
        )
    MockApplication(config, scenario).run()
