"""A real ``redis-server`` for the tests, started once per session on a free loopback port.

It is stopped by its PID. Each test gets its own key prefix, so tests never see each other's state.

``redis-server`` is a Debian package listed in ``tools/system-packages.txt`` (``make test`` installs
it); without it the Redis tests fail with that reason instead of being skipped.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import free_port

START_DEADLINE = 15.0



class RedisServer:
    """One ``redis-server`` process on 127.0.0.1; :meth:`restart` keeps its port and (AOF) data."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: run `make test` (tools/system-packages.txt) as root")
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def url(self, prefix: str | None = None) -> str:
        """A location on this server; ``prefix`` (default: a fresh one) keeps its keys apart."""
        return f"redis://127.0.0.1:{self.port}/0?prefix={prefix or 'test-' + uuid.uuid4().hex[:12]}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory),
             "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + START_DEADLINE
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server on port {self.port} did not answer within {START_DEADLINE} s")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(START_DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(START_DEADLINE)

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """The session's ``redis-server``; stopped by PID at the end."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """``redis://127.0.0.1:PORT/0?prefix=...`` with a prefix of this test's own."""
    return redis_server.url()
