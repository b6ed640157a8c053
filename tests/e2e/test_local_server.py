"""The local runtime's HTTP server under load and misuse: many clients at once, requests that never arrive in
full."""

from __future__ import annotations

import json
import select
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Runtime, start, stop

CLIENT_WAIT = 10  # seconds a client here waits for an answer; the runtimes answer well within it


def _connect(runtime: Runtime) -> socket.socket:
    host, port = runtime.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=CLIENT_WAIT)


def _answer(connection: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """The response, read until the server closes the connection (a socket timeout if it never does)."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def test_150_clients_connecting_at_once_are_all_answered(local_runtime: Runtime) -> None:
    clients = 150
    together = threading.Barrier(clients)
    answers: list[int | str] = []

    def client() -> None:
        together.wait()
        try:
            with _connect(local_runtime) as connection:
                connection.sendall(b"GET /_local/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                answers.append(_answer(connection)[0])
        except OSError as error:
            answers.append(repr(error))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == [200] * clients


@pytest.fixture(scope="module")
def impatient() -> Iterator[Runtime]:
    """A runtime that gives a request 1 s to arrive in full."""
    runtime = start({"REQUEST_TIMEOUT_SECONDS": "1"})
    yield runtime
    stop(runtime)


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param(b"POST /templa", id="request line cut short"),
        pytest.param(b"POST /templates HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n", id="headers"),
        pytest.param(
            b"POST /templates HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            b'{"templateId": "short"}',
            id="body shorter than its Content-Length",
        ),
    ],
)
def test_a_request_that_stops_short_gets_a_408_and_its_connection_is_closed(impatient: Runtime, sent: bytes) -> None:
    with _connect(impatient) as connection:
        connection.sendall(sent)

        status, headers, body = _answer(connection)

    assert (status, headers["connection"]) == (408, "close")
    assert json.loads(body) == {"error": "the request did not arrive in full within 1 s"}
    assert impatient.request("GET", "/_local/health")[0] == 200  # the runtime serves on


def test_a_body_that_trickles_in_gets_a_408_before_it_is_complete(impatient: Runtime) -> None:
    body = json.dumps({"templateId": "trickled", "operation": "x", "document": "{}"}).encode()
    head = f"POST /templates HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
    with _connect(impatient) as connection:
        connection.sendall(head.encode() + b"\r\n\r\n")
        sent = 0
        # A byte every 0.3 s: each well within the timeout, the whole body (about 60 bytes) in 18 s.
        while sent < len(body) and not select.select([connection], [], [], 0.3)[0]:
            connection.sendall(body[sent : sent + 1])
            sent += 1

        status, _, answer = _answer(connection)

    assert status == 408
    assert sent < len(body)
    assert "error" in json.loads(answer)
    assert impatient.request("GET", "/templates/trickled")[0] == 404


def test_a_connection_that_sends_nothing_is_closed_without_an_answer(impatient: Runtime) -> None:
    with _connect(impatient) as connection:
        assert connection.recv(100) == b""
