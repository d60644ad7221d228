"""Small tools for the state benches: servers on free loopback ports, their RSS, a keep-alive client.

A ``pixverse-mock serve`` (or ``redis-server``) runs in its own session and is stopped by its PID.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from bench.anchors import ROOT
from mock_server.launch import command_line

HOST = "127.0.0.1"
FACE = (ROOT / "fixtures" / "faces" / "face.png").read_bytes()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Process:
    """A child process in its own session on ``port``; :meth:`stop` ends it (and its group) by PID."""

    def __init__(self, command: list[str], port: int, log: Path, env: dict[str, str] | None = None) -> None:
        self.port = port
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         env={**os.environ, **(env or {})})

    def wait_port(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                socket.create_connection((HOST, self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"nothing listened on {self.port} within {timeout} s")

    def rss_mb(self) -> float:
        """Resident memory of the process and every descendant, in MB."""
        total, todo = 0, [self.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo += [int(child) for child in (task / "children").read_text().split()]
            except (OSError, StopIteration):
                continue
        return round(total / 1024, 1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # what is left of its own group
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait(10)


def serve(port: int, log: Path, *args: str) -> Process:
    """``pixverse-mock serve`` on ``port`` with ``args``, once it accepts connections."""
    command = [*command_line(), "serve", "--host", HOST, "--port", str(port), *args]
    process = Process(command, port, log, env={"PYTHONUNBUFFERED": "1"})
    process.wait_port()
    return process


class Client:
    """One keep-alive connection to a mock; ``token`` is the tenant."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection(HOST, port, timeout=30)
        self.auth = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        self.conn.request(method, path, body=body, headers={**self.auth, **(headers or {})})
        response = self.conn.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None

    def submit(self, **fields: str) -> tuple[int, Any]:
        boundary = uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                 for k, v in {"prompt": "a cat in a hat", **fields}.items()]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="face"; filename="face.png"\r\n'
                     "Content-Type: image/png\r\n\r\n".encode() + FACE + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.call("POST", "/v1/pixverse/meme_face/", body,
                         {"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def job(self, jobid: str) -> tuple[int, Any]:
        return self.call("GET", f"/v1/pixverse/jobs/?jobid={jobid}")

    def close(self) -> None:
        self.conn.close()
