"""The AWS calls of a function's first request: recorded once against the embedded endpoint, answered again
from loopback, and made again by a hand-written function.

Recording (`record`, in a fresh process): botocore
hooks on the core's session note, per call, the service, the operation, the params as the code passed them,
the request's key and the raw HTTP response; and the handler's own response.

Replaying (`ReplayServer`): each request is answered with the recorded response of the same key (method, path,
X-Amz-Target, and the service it is signed for), in recorded order per key, at once.

The hand-written twin (`handwritten`): a module with `import json` and `import boto3` only, its clients made at
module scope, making the same calls in the same order with the params written literally, and answering a
response of the same shape.
"""

from __future__ import annotations

import json
import pickle
import re
import threading
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

# The key a request is answered by: method, path, X-Amz-Target, the service its signature is for (a query
# protocol's requests, STS's or IAM's, are all POST / with no target).
Key = tuple[str, str, str, str]
_SIGNED_FOR = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")
# Headers the replay server writes itself.
_OWN_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "date", "server"})


def request_key(method: str, url: str, headers: dict[str, Any]) -> Key:
    lower = {name.lower(): value.decode() if isinstance(value, bytes) else value for name, value in headers.items()}
    signed = _SIGNED_FOR.search(lower.get("authorization", ""))
    return method, urlsplit(url).path, lower.get("x-amz-target", ""), signed.group(1) if signed else ""


@dataclass
class Call:
    service: str  # the name boto3.client takes
    operation: str  # the client's method: put_item
    params: dict[str, Any]
    key: Key = ("", "", "", "")
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def sent(self) -> bool:
        """False for a call that was only signed (a presigned URL)."""
        return bool(self.status)


@dataclass
class Recording:
    function: str
    event: dict[str, Any]
    calls: list[Call]
    response: Any


class Recorder:
    """The calls of every client of a botocore session, in the order the code made them (a thread's call is
    followed from its params to its response)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._current = threading.local()
        self._lock = threading.Lock()

    def register(self, events: Any) -> None:
        events.register("before-parameter-build", self._params, unique_id="bench-record-params")
        events.register("before-send", self._request, unique_id="bench-record-request")
        events.register_first("after-call", self._response, unique_id="bench-record-response")

    def _params(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        from botocore import xform_name

        call = Call(model.service_model.service_name, xform_name(model.name), _plain(params))
        self._current.call = call
        with self._lock:
            self.calls.append(call)

    def _request(self, request: Any, **_: Any) -> None:
        self._current.call.key = request_key(request.method, request.url, dict(request.headers))

    def _response(self, http_response: Any, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        call = self._current.call
        call.status = http_response.status_code
        call.headers = dict(http_response.headers)
        if model.has_streaming_output:  # the body is the caller's to read: read it, and hand it a copy
            from botocore.response import StreamingBody

            call.body = parsed["Body"].read()
            parsed["Body"] = StreamingBody(_Bytes(call.body), len(call.body))
        else:
            call.body = http_response.content


class _Bytes:
    def __init__(self, data: bytes) -> None:
        import io

        self._stream = io.BytesIO(data)

    def read(self, *args: Any) -> bytes:
        return self._stream.read(*args)

    def close(self) -> None:
        self._stream.close()


def _plain(value: Any) -> Any:
    """The params as literals: a file-like body becomes its bytes."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if hasattr(value, "read") and hasattr(value, "seek"):
        content = value.read()
        value.seek(0)
        return content
    return value


class Replay:
    """The answers of one recording, in recorded order per key; what was asked that it had no answer for."""

    def __init__(self, calls: list[Call]) -> None:
        self._answers: dict[Key, deque[Call]] = defaultdict(deque)
        for call in calls:
            self._answers[call.key].append(call)
        self.missed: list[Key] = []
        self._lock = threading.Lock()

    def answer(self, key: Key) -> Call | None:
        with self._lock:
            waiting = self._answers.get(key)
            if not waiting:
                self.missed.append(key)
                return None
            return waiting.popleft()


class ReplayServer(ThreadingHTTPServer):
    """Answers on loopback from the current `Replay`; a request it has no answer for is a 599."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ReplayHandler)
        self.replay = Replay([])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @contextmanager
    def serving(self) -> Iterator[ReplayServer]:
        thread = threading.Thread(target=self.serve_forever, daemon=True, name="replay")
        thread.start()
        try:
            yield self
        finally:
            self.shutdown()
            self.server_close()


class _ReplayHandler(BaseHTTPRequestHandler):
    server: ReplayServer
    protocol_version = "HTTP/1.1"  # connections kept alive, as AWS's are

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        call = self.server.replay.answer(request_key(self.command, self.path, dict(self.headers)))
        if call is None:
            self.send_response(599)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(call.status)
        for name, value in call.headers.items():
            if name.lower() not in _OWN_HEADERS:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(call.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(call.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _literal(value: Any) -> Any:
    """`value` as literals of the builtins: a time as its ISO 8601 text, which botocore sends the same."""
    if isinstance(value, dict):
        return {key: _literal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_literal(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _client_name(service: str) -> str:
    return re.sub(r"\W", "_", service)


def handwritten(recording: Recording) -> str:
    """A plain handler making the recording's calls in order, with literal params, answering a response of the
    same shape as the recorded one."""
    services = list(dict.fromkeys(call.service for call in recording.calls))
    lines = [
        f'"""{recording.function}, written by hand: the same AWS calls and a response of the same shape."""',
        "",
        "import json",
        "",
        "import boto3",
        "",
        *(f"{_client_name(service)} = boto3.client({service!r})" for service in services),
        "",
        "",
        "def lambda_handler(event, context):",
    ]
    for call in recording.calls:
        lines += _statement(call)
    response = json.loads(json.dumps(recording.response))  # plain dicts and lists, as written by hand
    body = response.get("body") if isinstance(response, dict) else None
    if body:
        lines.append(f"    response = { ({**response, 'body': ''})!r}")
        lines.append(f"    response['body'] = json.dumps({json.loads(body)!r})")
        lines.append("    return response")
    else:
        lines.append(f"    return {response!r}")
    return "\n".join(lines) + "\n"


def _statement(call: Call) -> list[str]:
    client = _client_name(call.service)
    if not call.sent:  # a presigned URL: signed here, never sent (the expiry changes nothing the bench measures)
        params = _literal(call.params)
        return [f"    {client}.generate_presigned_url({call.operation!r}, Params={params!r}, ExpiresIn=900)"]
    arguments = ", ".join(f"{name}={_literal(value)!r}" for name, value in call.params.items())
    statement = f"{client}.{call.operation}({arguments})"
    if call.status < 300:
        return [f"    {statement}"]
    # AWS said no (a condition, a missing item): the hand-written function expects it, as the service does.
    return ["    try:", f"        {statement}", f"    except {client}.exceptions.ClientError:", "        pass"]


def record(folder: str, event_path: str, function: str, out: str) -> None:
    """The recording child: the handler's first request, with every AWS call it makes noted."""
    from bench.first_request import first_request
    from commands_core.adapters import aws

    recorder = Recorder()
    recorder.register(aws.session().events)  # before any client is made: clients copy the session's handlers
    with open(event_path) as file:
        event = json.load(file)
    _, response = first_request(folder, event, function)
    with open(out, "wb") as file:
        pickle.dump(Recording(function, event, recorder.calls, response), file)
