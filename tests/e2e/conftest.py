from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Runtime:
    process: subprocess.Popen[str]
    url: str

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], Any]:
        data = None if body is None else json.dumps(body).encode()
        sent = {"Content-Type": "application/vnd.aws-cdf-v1.0+json"} if data else {}
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=sent | (headers or {}))
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, raw, received = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            status, raw, received = error.code, error.read(), dict(error.headers)
        return status, {k.lower(): v for k, v in received.items()}, json.loads(raw) if raw else None


def start(env: dict[str, str]) -> Runtime:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "local"],
        cwd=ROOT,
        env=os.environ | env | {"PORT": str(port), "AWS_PORT": str(free_port())},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    runtime = Runtime(process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the local runtime exited: {process.stdout.read() if process.stdout else ''}")
        try:
            if runtime.request("GET", "/_local/health")[0] == 200:
                return runtime
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the local runtime did not answer within 60 s")


def stop(runtime: Runtime) -> tuple[int, str]:
    runtime.process.send_signal(signal.SIGINT)
    output, _ = runtime.process.communicate(timeout=20)
    return runtime.process.returncode, output


@pytest.fixture(scope="session")
def local_runtime() -> Iterator[Runtime]:
    runtime = start({})
    yield runtime
    stop(runtime)
