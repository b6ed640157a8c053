from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
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
    aws_port: int
    # What it printed (a line per request), read as it comes: a full pipe would block the runtime.
    output: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

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


def launch(env: dict[str, str]) -> Runtime:
    """A runtime starting (`make run`), not waited for; on free ports unless `env` names them."""
    port, aws_port = int(env.get("PORT") or free_port()), int(env.get("AWS_PORT") or free_port())
    process = subprocess.Popen(
        [sys.executable, "-m", "local"],
        cwd=ROOT,
        env=os.environ | env | {"PORT": str(port), "AWS_PORT": str(aws_port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    runtime = Runtime(process, f"http://127.0.0.1:{port}", aws_port)
    runtime.reader = threading.Thread(target=_drain, args=(runtime,), daemon=True)
    runtime.reader.start()
    return runtime


def start(env: dict[str, str]) -> Runtime:
    """A runtime serving its API."""
    runtime = launch(env)
    process = runtime.process
    assert runtime.reader is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            runtime.reader.join(timeout=5)
            raise RuntimeError(f"the local runtime exited: {''.join(runtime.output)}")
        try:
            if runtime.request("GET", "/_local/health")[0] == 200:
                return runtime
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the local runtime did not answer within 60 s")


def _drain(runtime: Runtime) -> None:
    assert runtime.process.stdout is not None
    for line in runtime.process.stdout:
        runtime.output.append(line)


def stop(runtime: Runtime) -> tuple[int, str]:
    runtime.process.send_signal(signal.SIGINT)
    return ended(runtime, timeout=20)


def ended(runtime: Runtime, timeout: float) -> tuple[int, str]:
    """The exit code and all the output of a runtime that ends within `timeout` seconds (else TimeoutExpired,
    and it is killed)."""
    try:
        runtime.process.wait(timeout=timeout)
    finally:
        if runtime.process.poll() is None:
            runtime.process.kill()
            runtime.process.wait()
        if runtime.reader:
            runtime.reader.join(timeout=5)
    return runtime.process.returncode, "".join(runtime.output)


@pytest.fixture(scope="session")
def local_runtime() -> Iterator[Runtime]:
    runtime = start({})
    yield runtime
    stop(runtime)
