"""The servers the bench compares, each serving the mock or the bare-Flask baseline on a free port.

- ``shipped``: :func:`mock_server.serve.serve_wsgi`, what ``pixverse-mock serve`` runs (granian RSGI, the
  bridge, 4 threads per process, access log on stderr);
- ``gunicorn``: the layout ``serve`` shipped before granian, kept as it was (gthread, 1 process x 4
  threads, the same six-atom access log on stderr);
- ``granian-wsgi``: granian's own WSGI interface, ``--threads`` blocking threads (granian's access log).

::

    python -m bench.candidates --app mock --server gunicorn --port 8090 [--config fast.yaml]
    python -m bench.candidates --app flask --bodies bodies.json --server shipped --port 8091
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from mock_server.config import MockConfig
from mock_server.serve import bind_address

ACCESS_LOG_FORMAT = '%(t)s "%(m)s %({raw_uri}e)s" %(s)s %(B)s %(M)sms'


def gunicorn(config: MockConfig, load: Any, threads: int) -> None:
    from gunicorn.app.base import BaseApplication
    from gunicorn.glogging import Logger

    class StderrAccessLogger(Logger):
        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            for handler in self.access_log.handlers:
                if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
                    handler.setStream(sys.stderr)

        def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
            status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
            return {"t": self.now(), "m": environ.get("REQUEST_METHOD"), "{raw_uri}e": environ.get("RAW_URI"),
                    "s": status, "B": getattr(resp, "sent", None),
                    "M": request_time.seconds * 1000 + int(request_time.microseconds / 1000)}

    class Application(BaseApplication):
        def load_config(self) -> None:
            options = {"bind": [bind_address(config.host, config.port)], "workers": 1, "worker_class": "gthread",
                       "threads": threads, "graceful_timeout": 3, "accesslog": "-",
                       "access_log_format": ACCESS_LOG_FORMAT, "errorlog": "-", "loglevel": "warning",
                       "logger_class": StderrAccessLogger, "control_socket_disable": True}
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return load()[0]

    Application(prog="bench-gunicorn").run()


def granian_wsgi(config: MockConfig, load: Any, threads: int) -> None:
    from granian.constants import Interfaces
    from granian.server import Server

    Server("bench", address=config.host, port=config.port, interface=Interfaces.WSGI, workers=1,
           blocking_threads=threads, log_level="warning", log_access=True,
           log_access_format='[%(time)s] "%(method)s %(path)s?%(query_string)s" %(status)d %(dt_ms).0fms',
           ).serve(target_loader=lambda _target: load()[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--app", choices=("mock", "flask"), required=True)
    ap.add_argument("--server", choices=("shipped", "gunicorn", "granian-wsgi"), required=True)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--bodies", help="the baseline's JSON bodies (bench.bodies)")
    ap.add_argument("--config", help="the mock's YAML config file")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    config = (MockConfig.from_file(args.config) if args.config else MockConfig()).with_overrides(
        host=args.host, port=args.port)

    def load() -> tuple[Any, Any]:
        if args.app == "flask":
            from bench.baseline_flask import create_baseline

            with open(args.bodies, encoding="utf-8") as fh:
                return create_baseline(json.load(fh)), None
        from mock_server import create_app
        from mock_server import mock_of

        app = create_app(config)
        return app, mock_of(app).close

    if args.server == "shipped":
        from mock_server.serve import serve_wsgi

        serve_wsgi(config, load, name=f"bench-{args.app}")
    elif args.server == "gunicorn":
        gunicorn(config, load, args.threads)
    else:
        granian_wsgi(config, load, args.threads)


if __name__ == "__main__":
    main()
