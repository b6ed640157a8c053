"""The service's HTTP API over the wire: one request, its answer or an error, and the pages of a list.

A request the API refused for now (429, 503) or that got no answer is sent again a few times; a POST only when
it carries an Idempotency-Key, so that a retry never creates twice.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# What signs a request (SigV4) or adds a token: the headers to add, given the method, URL, body and headers.
Auth = Callable[[str, str, bytes | None, Mapping[str, str]], dict[str, str]]

RETRIED_STATUSES = (429, 503)
IDEMPOTENCY_KEY = "Idempotency-Key"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: Any  # the JSON body, or None when there is none

    @property
    def location(self) -> str | None:
        return self.headers.get("location")


class ApiError(Exception):
    """The API answered with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class Unreachable(Exception):
    """No answer from the API."""


class Client:
    def __init__(
        self,
        url: str,
        *,
        auth: Auth | None = None,
        api_key: str | None = None,
        timeout: float = 30,
        attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.auth = auth
        self.api_key = api_key
        self.timeout = timeout
        self.attempts = attempts
        self.sleep = sleep

    def call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | list[str] | None] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """The API's answer to one request; ApiError for a 4xx or 5xx, Unreachable when none came."""
        url = self.url + path
        pairs = [(name, value) for name, value in (query or {}).items() if value is not None]
        if pairs:
            url += "?" + urllib.parse.urlencode(pairs, doseq=True)
        data = None if body is None else json.dumps(body).encode()
        sent = {"Accept": "application/json"} | dict(headers or {})
        if data is not None:
            sent["Content-Type"] = "application/json"
        if self.api_key:
            sent["x-api-key"] = self.api_key
        may_resend = method != "POST" or IDEMPOTENCY_KEY in sent
        for attempt in range(1, self.attempts + 1):
            last = attempt == self.attempts
            try:
                answer = self._send(method, url, data, sent)
            except Unreachable:
                if last or not may_resend:
                    raise
                self.sleep(attempt / 2)
                continue
            if answer.status in RETRIED_STATUSES and not last:
                self.sleep(_retry_after(answer, default=attempt / 2))
                continue
            if answer.status >= 400:
                raise ApiError(answer.status, _message(answer))
            return answer
        raise AssertionError("unreachable: the last attempt returns or raises")

    def pages(
        self, path: str, *, query: Mapping[str, str | list[str] | None] | None = None, token_in: str = "pagination"
    ) -> Iterator[Answer]:
        """Every page of a list, following its nextToken (in `pagination`, or at the top for the Jobs API)."""
        token: str | None = None
        while True:
            answer = self.call("GET", path, query=dict(query or {}) | {"nextToken": token})
            yield answer
            holder = answer.body.get(token_in, {}) if token_in else answer.body
            token = holder.get("nextToken") if isinstance(holder, dict) else None
            if not token:
                return

    def _send(self, method: str, url: str, data: bytes | None, headers: dict[str, str]) -> Answer:
        signed = headers | (self.auth(method, url, data, headers) if self.auth else {})
        request = urllib.request.Request(url, data=data, method=method, headers=signed)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, raw, received = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, raw, received = error.code, error.read(), error.headers
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise Unreachable(f"no answer from {self.url}: {reason}") from error
        return Answer(status, {name.lower(): value for name, value in received.items()}, _json(raw))


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return {"error": raw.decode(errors="replace").strip()}


def _message(answer: Answer) -> str:
    """The error's message: `error` in the v1 and Jobs families, `message` in the status family's envelope."""
    body = answer.body
    if isinstance(body, dict):
        for name in ("error", "message", "Message"):
            if isinstance(body.get(name), str):
                return str(body[name])
    return "no message"


def _retry_after(answer: Answer, *, default: float) -> float:
    try:
        return min(float(answer.headers.get("retry-after", default)), 30.0)
    except ValueError:
        return default
