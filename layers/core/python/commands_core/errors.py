"""Domain exceptions. Services raise them; each API family maps them to its own body and status."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class ServiceError(Exception):
    """Base of every error a client can be told about."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(ServiceError):
    """The request is wrong; `field` names what to fix."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Problems:
    """Where checks report what is wrong with a request. By default the first problem is raised (a create, a
    publish: nothing changes); `collect` keeps every one, each once, and the checks go on (a preview)."""

    def __init__(self, *, collect: bool = False) -> None:
        self.collect = collect
        self.found: list[InvalidInput] = []

    def add(self, problem: InvalidInput) -> None:
        if not self.collect:
            raise problem
        if all((problem.field, problem.reason) != (known.field, known.reason) for known in self.found):
            self.found.append(problem)

    @contextmanager
    def check(self) -> Iterator[None]:
        """Runs a check that raises InvalidInput: what it raises is reported."""
        try:
            yield
        except InvalidInput as problem:
            self.add(problem)

    def about(self, *fields: str) -> bool:
        """Whether a problem was found with one of `fields` (or a field inside one)."""
        return any(problem.field.split(".")[0] in fields for problem in self.found)


class NotFound(ServiceError):
    def __init__(self, kind: str, identifier: str) -> None:
        super().__init__(f"{kind} '{identifier}' not found")


class Conflict(ServiceError):
    pass


class AlreadyExists(Conflict):
    """A create found its id taken: the same request retried, or another resource's id."""


class UnsupportedMediaType(ServiceError):
    pass


class RetryLater(ServiceError):
    """AWS could not do it now, after the retries with backoff; the client may retry after `retry_after` s."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Throttled(RetryLater):
    """AWS is throttling this service (a 429)."""


class Unavailable(RetryLater):
    """AWS failed, timed out or could not be reached (a 503)."""
