"""What the embedded endpoint's own emulators share: botocore's service models, which they check requests and
responses against, and the transports by which boto3 reaches them unchanged (a botocore "before-send" hook in
process, or a WSGI app in front of moto's server)."""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from functools import cache
from http import HTTPStatus
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")


class ApiError(Exception):
    """An AWS error answer: its code (the model's shape name) and body."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code, self.body = code, {"message": message, **extra}


def invalid(message: str) -> ApiError:
    return ApiError("ValidationException", message)


@cache
def model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def signed_service(headers: Mapping[str, Any]) -> str | None:
    """The service a SigV4-signed request is for (its credential scope)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    authorization = lowered.get("authorization", "")
    scope = CREDENTIAL_SCOPE.search(authorization.decode() if isinstance(authorization, bytes) else authorization)
    return scope.group(1) if scope else None


# --- validation against the model ---------------------------------------------------------------------------


@cache
def _category_ranges(category: str) -> str:
    """The code point ranges of a Unicode general category (C, L, Nd...), as character class content: Python's
    re has no \\p{...}, and the models use it only inside [...]."""
    ranges, start = [], None
    for code in range(sys.maxunicode + 2):
        inside = code <= sys.maxunicode and unicodedata.category(chr(code)).startswith(category)
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            ranges.append(f"\\U{start:08x}-\\U{code - 1:08x}")
            start = None
    return "".join(ranges)


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
    pattern = pattern.removeprefix("^")
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1]
    return re.compile(re.sub(r"\\p\{(\w+)\}", lambda match: _category_ranges(match.group(1)), pattern))


def _show(value: Any) -> str:
    return "null" if value is None else repr(value) if isinstance(value, str) else json.dumps(value, default=str)


class Checker:
    """Checks a value against a botocore shape, collecting AWS-style messages that name the member path; returns
    the value with blobs decoded (JSON carries them as base64) and unknown structure members dropped."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def message(self) -> str:
        count = len(self.problems)
        return f"{count} validation error{'s' if count > 1 else ''} detected: {'; '.join(self.problems)}"

    def fail(self, path: str, value: Any, constraint: str) -> None:
        self.problems.append(f"Value {_show(value)} at '{path}' failed to satisfy constraint: Member {constraint}")

    def check(self, shape: Any, value: Any, path: str) -> Any:
        kind = shape.type_name
        if kind in ("structure", "list", "map", "blob"):
            return getattr(self, f"_{kind}")(shape, value, path)
        if not _SCALARS[kind](value):
            self.fail(path, value, f"must be of type {kind}")
        elif kind == "string":
            self._string(shape, value, path)
        elif kind not in ("boolean", "timestamp"):
            self._bounds(shape, value, value, path, "value")
        return value

    def _list(self, shape: Any, value: Any, path: str) -> Any:
        if not isinstance(value, list):
            self.fail(path, value, "must be of type list")
            return value
        self._bounds(shape, value, len(value), path, "length")
        return [self.check(shape.member, item, f"{path}.{index + 1}") for index, item in enumerate(value)]

    def _map(self, shape: Any, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            self.fail(path, value, "must be of type map")
            return value
        self._bounds(shape, value, len(value), path, "length")
        return {
            self.check(shape.key, key, f"{path}.{key}(key)"): self.check(shape.value, item, f"{path}.{key}")
            for key, item in value.items()
        }

    def _structure(self, shape: Any, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            self.fail(path, value, "must be of type structure")
            return value
        checked = {}
        for name, member in shape.members.items():
            member_path = f"{path}.{name}" if path else name
            if value.get(name) is not None:
                checked[name] = self.check(member, value[name], member_path)
            elif name in shape.required_members:
                self.fail(member_path, None, "must not be null")
        return checked

    def _string(self, shape: Any, value: str, path: str) -> None:
        self._bounds(shape, value, len(value), path, "length")
        if shape.enum and value not in shape.enum:
            self.fail(path, value, f"must satisfy enum value set: [{', '.join(shape.enum)}]")
        pattern = shape.metadata.get("pattern")
        if pattern is not None and not _pattern(pattern).fullmatch(value):
            self.fail(path, value, f"must satisfy regular expression pattern: {pattern}")

    def _blob(self, shape: Any, value: Any, path: str) -> Any:
        if isinstance(value, str):
            try:
                value = base64.b64decode(value, validate=True)
            except binascii.Error:
                self.fail(path, value, "must be base64-encoded")
                return value
        if not isinstance(value, bytes):
            self.fail(path, value, "must be of type blob")
            return value
        self._bounds(shape, value, len(value), path, "length")
        return value

    def _bounds(self, shape: Any, value: Any, measure: float, path: str, what: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and measure < low:
            self.fail(path, value, f"must have {what} greater than or equal to {low}")
        if high is not None and measure > high:
            self.fail(path, value, f"must have {what} less than or equal to {high}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_SCALARS: dict[str, Callable[[Any], bool]] = {
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "long": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "double": _is_number,
    "float": _is_number,
    # Epoch seconds on the wire, datetime once botocore has parsed a response.
    "timestamp": lambda value: isinstance(value, datetime) or _is_number(value),
}


def check_output(service: str, operation: str, response: Mapping[str, Any]) -> list[str]:
    """What is wrong with a response (wire JSON or as botocore parsed it) for the operation's output shape."""
    shape = model(service).operation_model(operation).output_shape
    if shape is None:  # an operation that answers nothing: only botocore's metadata may be there
        return [f"Value {_show(name)} at '' is not expected" for name in response if name != "ResponseMetadata"]
    checker = Checker()
    checker.check(shape, dict(response), "")
    return checker.problems


def serialize(shape: Any, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return {
            member.serialization.get("name", name): serialize(member, value[name])
            for name, member in shape.members.items()
            if value.get(name) is not None and "location" not in member.serialization
        }
    if kind == "list":
        return [serialize(shape.member, item) for item in value]
    if kind == "map":
        return {key: serialize(shape.value, item) for key, item in value.items()}
    if kind == "blob":
        return base64.b64encode(value).decode()
    if kind == "timestamp":
        return round(value, 3)  # epoch seconds, as the rest-json protocol's default timestamp format
    return value


def query_value(shape: Any, text: str) -> Any:
    """A querystring value as its member's type; one that does not convert stays text, for the checker to name."""
    if shape.type_name in ("integer", "long") and re.fullmatch(r"-?\d+", text):
        return int(text)
    if shape.type_name == "boolean" and text in ("true", "false"):
        return text == "true"
    return text


def read_input(operation: Any, labels: Mapping[str, str], query: str, body: bytes) -> dict[str, Any]:
    """The operation's input from the URI labels, the querystring and the JSON body, checked against the model."""
    try:
        document = json.loads(body) if body else {}
    except ValueError:
        raise invalid("The request body is not valid JSON") from None
    if not isinstance(document, dict):
        raise invalid("The request body must be a JSON object")
    parameters = parse_qs(query, keep_blank_values=True)
    raw: dict[str, Any] = {}
    for name, member in operation.input_shape.members.items():
        location, wire = member.serialization.get("location"), member.serialization.get("name", name)
        if location == "uri" and wire in labels:
            raw[name] = unquote(labels[wire])
        elif location == "querystring" and wire in parameters:
            raw[name] = query_value(member, parameters[wire][-1])
        elif location is None and wire in document:
            raw[name] = document[wire]
    checker = Checker()
    checked: dict[str, Any] = checker.check(operation.input_shape, raw, "")
    if checker.problems:
        raise invalid(checker.message())
    return checked


def write_output(operation: Any, output: Mapping[str, Any]) -> tuple[int, bytes]:
    """The operation's answer: its status (a member bound to the status code, else 200) and JSON body."""
    shape = operation.output_shape
    status = next(
        (output[name] for name, m in shape.members.items() if m.serialization.get("location") == "statusCode"), 200
    )
    return int(status), b"" if status == HTTPStatus.NO_CONTENT else json.dumps(serialize(shape, output)).encode()


def error_status(service: str, code: str) -> int:
    try:
        return int(model(service).shape_for(code).metadata["error"]["httpStatusCode"])
    except (LookupError, AttributeError):
        return 400


# --- transports -----------------------------------------------------------------------------------------------


def json_operation(method: str, headers: Mapping[str, Any], prefix: str) -> str | None:
    """The operation a request of the AWS JSON protocol names in its X-Amz-Target (`prefix` then the
    operation's name), or None when it is not a POST naming one under `prefix`."""
    target = next((value for name, value in headers.items() if name.lower() == "x-amz-target"), "")
    target = target.decode() if isinstance(target, bytes) else str(target)
    return target.removeprefix(prefix) if method.upper() == "POST" and target.startswith(prefix) else None


class RawResponse(BytesIO):
    """The raw stream botocore's AWSResponse reads (as moto's botocore stubber provides)."""

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        contents = self.read()
        while contents:
            yield contents
            contents = self.read()


class Emulator:
    """The transports of an emulated service: a subclass says which requests are its own (`route`) and
    answers them (`answer`)."""

    # Where a request answered in process is sent on to: under moto's in-process mock botocore also calls
    # moto's before-send handler, which must not recognise the request as AWS's.
    ANSWERED = "http://answered.embedded-endpoint.invalid"

    def route(self, method: str, url: str, headers: Mapping[str, Any]) -> Any | None:
        raise NotImplementedError

    def answer(self, route: Any, url: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError

    def close(self) -> None:
        """Lets go of what the emulator holds outside memory (nothing, unless a subclass says otherwise)."""

    def handle(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> tuple[int, dict[str, str], bytes] | None:
        """The answer to an HTTP request, or None when it is not this service's."""
        route = self.route(method, url, headers)
        return None if route is None else self.answer(route, url, body or b"")

    def botocore_hook(self, request: Any, **kwargs: Any) -> Any:
        """A botocore "before-send" handler (register it first): answers this service's requests in process,
        leaves the others (None). botocore calls every before-send handler and keeps the first answer: a request
        that an earlier handler answered or refused has been sent to a host of `.invalid`, and is left alone."""
        if (urlsplit(request.url).hostname or "").endswith(".invalid"):
            return None
        route = self.route(request.method, request.url, request.headers)
        if route is None:
            return None
        from botocore.awsrequest import AWSResponse

        body = request.body.read() if hasattr(request.body, "read") else request.body
        url = request.url
        status, headers, payload = self.answer(route, url, body.encode() if isinstance(body, str) else body or b"")
        request.url = self.ANSWERED + urlsplit(url).path
        return AWSResponse(url, status, headers, RawResponse(payload))

    def wsgi(self, fallback: Callable[..., Any]) -> Callable[..., Any]:
        """A WSGI app answering this service's requests and passing the others, body unread, to `fallback`."""
        from wsgiref.util import request_uri

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            url = request_uri(environ)
            headers = {key[5:].replace("_", "-"): value for key, value in environ.items() if key.startswith("HTTP_")}
            if "CONTENT_TYPE" in environ:
                headers["CONTENT-TYPE"] = environ["CONTENT_TYPE"]
            route = self.route(environ["REQUEST_METHOD"], url, headers)
            if route is None:
                return fallback(environ, start_response)
            length = int(environ.get("CONTENT_LENGTH") or 0)
            status, response_headers, payload = self.answer(route, url, environ["wsgi.input"].read(length))
            response_headers = response_headers | {"Content-Length": str(len(payload))}
            start_response(f"{status} {HTTPStatus(status).phrase}", list(response_headers.items()))
            return [payload]

        return app
