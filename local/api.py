"""The API on loopback: every route of the wiring declaration, through the real handlers.

Requests become API Gateway REST proxy events, as the deployed API sends them. Like Lambda, a function
handles one event at a time, so each function has a lock of its own. A request must arrive in full within the
request timeout (a 408 otherwise), so that a client that stops sending does not hold a thread for ever.
"""

from __future__ import annotations

import base64
import errno
import hmac
import io
import json
import re
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from commands_core.api.status import envelope
from commands_core.wiring import BINARY_MEDIA_TYPES, FAMILY_AUTH, Route
from local.lambdas import Functions

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

STAGE = "local"


@dataclass(frozen=True)
class Match:
    route: Route
    path_parameters: dict[str, str]
    resource: str  # which of the route's paths matched, in API Gateway's syntax


class Router:
    def __init__(self, routes: Iterable[Route]) -> None:
        self._routes = [(route, path, _pattern(path)) for route in routes for path in route.paths]

    def match(self, method: str, path: str) -> Match | list[str]:
        """The route for `method` and `path`, or the methods the path does have (empty: unknown path)."""
        allowed: list[str] = []
        for route, resource, pattern in self._routes:
            found = pattern.fullmatch(path)
            if found is None:
                continue
            if route.method == method:
                parameters = {name: unquote(value) for name, value in found.groupdict().items()}
                return Match(route, parameters, resource)
            allowed.append(route.method)
        return allowed


def _pattern(path: str) -> re.Pattern[str]:
    """API Gateway's matching: a {name} segment is one non-empty segment; a trailing slash is ignored."""
    parts = [f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part) for part in path.split("/")]
    return re.compile("/".join(parts) + "/?")


def proxy_event(
    match: Match, *, method: str, raw_path: str, query: str, headers: dict[str, str], body: bytes
) -> dict[str, Any]:
    """An API Gateway REST API (v1) proxy event."""
    values = parse_qs(query, keep_blank_values=True)
    content_type = next((value for name, value in headers.items() if name.lower() == "content-type"), "")
    text: str | None
    if not body:
        text, encoded = None, False
    elif content_type.lower().startswith(BINARY_MEDIA_TYPES):
        text, encoded = base64.b64encode(body).decode(), True  # as API Gateway does for binary media types
    else:
        text, encoded = body.decode(errors="replace"), False
    path = unquote(raw_path)
    return {
        "resource": match.resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {name: items[-1] for name, items in values.items()} or None,
        "multiValueQueryStringParameters": values or None,
        "pathParameters": match.path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": match.resource,
            "httpMethod": method,
            "path": path,  # the local API has no stage in its URLs
            "stage": STAGE,
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "accountId": "123456789012",
            "apiId": "local",
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


class Api:
    def __init__(
        self,
        routes: Iterable[Route],
        functions: Functions,
        extras: LocalRoutes | None = None,
        *,
        api_key: str | None = None,
        pages: Pages | None = None,
        views: Views | None = None,
    ) -> None:
        self.routes = tuple(routes)
        self.router = Router(self.routes)
        self.functions = functions
        self.extras = extras or {}
        self.pages = pages or {}
        self.views = views or {}
        self.api_key = api_key  # when set, routes of auth api_key want it in x-api-key, as API Gateway would

    def invoke(self, match: Match, event: dict[str, Any]) -> dict[str, Any]:
        if self.api_key and FAMILY_AUTH[match.route.family] == "api_key":
            given = {name.lower(): value for name, value in (event.get("headers") or {}).items()}.get("x-api-key")
            if not given or not hmac.compare_digest(given.encode(), self.api_key.encode()):
                body = envelope(HTTPStatus.UNAUTHORIZED, "a valid API key is required in x-api-key")
                return {"statusCode": 401, "headers": {"Content-Type": "application/json"}, "body": body}
        return self.functions.invoke(match.route.function, event)


# Routes of the local runtime itself under /_local/ (not part of the service): path prefix -> handler of the
# rest of the path, answering (status, JSON body).
LocalRoutes = dict[str, Callable[[str, str, bytes], tuple[int, Any]]]
# Documents the local runtime serves as they are (the OpenAPI document, Swagger UI): path -> (type, content).
Pages = dict[str, tuple[str, bytes]]
# What the local runtime shows of itself on GET (its links, health, fleet): path -> handler of the query's
# parameters and the Accept header, answering (status, body): a JSON value, or an Html page.
Views = dict[str, Callable[[dict[str, str], str], tuple[int, Any]]]


class Html(str):
    """A view's answer that is an HTML page (for a browser), not JSON."""


class _Late(Exception):
    """The request did not arrive in full within the request timeout."""


class _Reader(io.RawIOBase):
    """A connection's bytes, read against the deadline of the request they belong to: a request must arrive in
    full in time however it trickles, not merely keep sending a byte now and then."""

    def __init__(self, connection: socket.socket, timeout: float) -> None:
        self._connection = connection
        self._timeout = timeout
        self.deadline: float | None = None  # None between requests: the connection may wait that long, idle

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        wait = self._timeout if self.deadline is None else self.deadline - time.monotonic()
        if wait <= 0:
            raise _Late
        self._connection.settimeout(wait)
        try:
            return self._connection.recv_into(buffer)
        except TimeoutError:
            raise _Late from None

    def arrived(self) -> None:
        """Reading is over (the request is in, or late): the answer is written with the whole timeout per send."""
        self.deadline = None
        self._connection.settimeout(self._timeout)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # replaced by one that reads against the request's deadline
        self._reader = _Reader(self.connection, self.server.request_timeout)
        self._buffered = self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        self._reader.deadline = None
        try:
            waiting = self._buffered.peek(1)
        except (_Late, ConnectionError):
            waiting = b""
        if not waiting:  # closed by the client, or idle for the whole timeout: closed without an answer
            self.close_connection = True
            return
        started = time.perf_counter()
        self._reader.deadline = time.monotonic() + self.server.request_timeout
        # What a timeout in the request line leaves (http.server sets them once the line is read).
        self.command, self.path, self.request_version, self.requestline = "", "", self.protocol_version, ""
        try:
            super().handle_one_request()
        except _Late:
            self.close_connection = True
            self._reader.arrived()
            timeout = f"{self.server.request_timeout:g}"
            message = {"error": f"the request did not arrive in full within {timeout} s"}
            status = self._send_json(HTTPStatus.REQUEST_TIMEOUT, message, {"Connection": "close"})
            self._log(status, "-", started)

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, QUERY, ...) reaches the router too, which answers 405, not http.server's 501.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        started = time.perf_counter()
        url = urlsplit(self.path)
        body = self._read_body()
        self._reader.arrived()
        if body is None:
            self.close_connection = True
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": "Content-Length: must be a whole number of bytes"})
            return
        local = next((prefix for prefix in self.server.api.extras if url.path.startswith(prefix)), None)
        view = self.server.api.views.get(url.path.rstrip("/") or "/")
        if view is not None and self.command in ("GET", "HEAD"):
            query = {name: values[-1] for name, values in parse_qs(url.query, keep_blank_values=True).items()}
            code, answer = view(query, self.headers.get("accept", ""))
            page = isinstance(answer, Html)
            status = (
                self._send(code, "text/html; charset=utf-8", answer.encode()) if page else self._send_json(code, answer)
            )
            function = "local"
        elif url.path.rstrip("/") in self.server.api.pages and self.command in ("GET", "HEAD"):
            content_type, content = self.server.api.pages[url.path.rstrip("/")]
            status, function = self._send(HTTPStatus.OK, content_type, content), "-"
        elif local is not None:
            code, answer = self.server.api.extras[local](self.command, url.path.removeprefix(local), body)
            status, function = self._send_json(code, answer), "local"
        else:
            status, function = self._dispatch(url.path, url.query, body)
        self._log(status, function, started)

    def _log(self, status: int, function: str, started: float) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        request = f"{self.command} {self.path}" if self.command else "-"
        # One write: lines of requests served at once do not interleave.
        sys.stderr.write(f'{self.client_address[0]} "{request}" {status} {elapsed:.1f}ms {function}\n')
        sys.stderr.flush()

    def _read_body(self) -> bytes | None:
        """The request body (fixed length or chunked); None when its framing is broken."""
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                try:
                    size = int(self.rfile.readline(1024).split(b";")[0].strip(), 16)
                except ValueError:
                    return None
                if size == 0:
                    self.rfile.readline(1024)
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = self.headers.get("content-length") or "0"
        if not length.isdigit():
            return None
        return self.rfile.read(int(length))

    def _dispatch(self, path: str, query: str, body: bytes) -> tuple[int, str]:
        found = self.server.api.router.match(self.command, path)
        if isinstance(found, list):
            if not found:
                return self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no route for {path}"}), "-"
            allowed = ", ".join(sorted(set(found)))
            message = {"error": f"method {self.command} is not allowed on {path}; allowed: {allowed}"}
            return self._send_json(HTTPStatus.METHOD_NOT_ALLOWED, message, {"Allow": allowed}), "-"
        headers = dict(self.headers.items())
        event = proxy_event(found, method=self.command, raw_path=path, query=query, headers=headers, body=body)
        try:
            response = self.server.api.invoke(found, event)
        except Exception as error:  # a handler that raises is a 502 at API Gateway; say so, without the trace
            print(f"{found.route.function} raised {error!r}", file=sys.stderr)
            return self._send_json(HTTPStatus.BAD_GATEWAY, {"error": "the function failed"}), found.route.function
        return self._send_proxy_response(response), found.route.function

    def _send_proxy_response(self, response: dict[str, Any]) -> int:
        status = int(response["statusCode"])
        raw = response.get("body") or ""
        payload = base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()
        headers = dict(response.get("headers") or {})
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers[name] = ", ".join(values)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status not in (HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED):
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        return status

    def _send(self, status: int, content_type: str, content: bytes) -> int:
        encoded = base64.b64encode(content).decode()
        response = {"statusCode": status, "headers": {"Content-Type": content_type}, "body": encoded}
        return self._send_proxy_response(response | {"isBase64Encoded": True})

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> int:
        return self._send_proxy_response(
            {
                "statusCode": status,
                "headers": {"Content-Type": "application/json", **(headers or {})},
                "body": json.dumps(body, default=str),
            }
        )

    def log_message(self, format: str, *args: Any) -> None:  # one line per request is printed by _serve
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Connections wait in this queue until the server accepts them: at the default 5, some of a burst of clients
    # (a load test, parallel fuzzing) are reset or left hanging. The system caps it (net.core.somaxconn).
    request_queue_size = 1024

    def __init__(self, port: int, api: Api, request_timeout: float) -> None:
        self.api = api
        self.request_timeout = request_timeout
        super().__init__(("127.0.0.1", port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        # The client went away, or (EBADF) the runtime stopping closed the connection under a request still being
        # answered: nothing to answer, nothing to debug.
        if isinstance(error, ConnectionError) or (isinstance(error, OSError) and error.errno == errno.EBADF):
            sys.stderr.write(f"{client_address[0]} connection lost: {error!r}\n")
            return
        super().handle_error(request, client_address)


def serve(port: int, api: Api, request_timeout: float = 10) -> _Server:
    """The API on 127.0.0.1:`port` (0: any free port), not yet serving; `request_timeout` is how long, in
    seconds, a request may take to arrive in full (and a connection may stay idle between requests)."""
    return _Server(port, api, request_timeout)
