"""Simulated time for the dispatcher: a clock that moves only when a delayed dispatch message falls due.

The rate limiter counts 60-second windows; waiting for them in real time would make a test or a benchmark of a
long rollout last as long as the rollout. Here the dispatch queue is a heap of (due time, message): running it
moves the clock to each message's due time and hands the message to the real dispatch step. Tests and
`make bench` use it; the local runtime runs in real time.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from commands_core.adapters.queue import delay_of
from commands_core.models.dispatch import DispatchMessage


class SimulatedTime:
    def __init__(self, start: float) -> None:
        self.at = start
        self._queue: list[tuple[float, int, DispatchMessage]] = []
        self._order = itertools.count()  # messages due at the same time keep their order

    def __call__(self) -> float:
        return self.at

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.at, UTC)

    def send(self, message: DispatchMessage, delay_seconds: float = 0) -> None:
        """DispatchQueue.send, with the delay on this clock (as SQS takes it: whole seconds, 15 minutes at most)."""
        heapq.heappush(self._queue, (self.at + delay_of(delay_seconds), next(self._order), message))

    def next_due(self) -> float | None:
        """When the next message falls due (None: none is waiting)."""
        return self._queue[0][0] if self._queue else None

    def drop(self, lost: Callable[[DispatchMessage], bool]) -> int:
        """Loses the waiting messages for which `lost` says so, as a queue may; how many."""
        kept = [entry for entry in self._queue if not lost(entry[2])]
        dropped = len(self._queue) - len(kept)
        self._queue = kept
        heapq.heapify(self._queue)
        return dropped

    def advance(self, seconds: float) -> None:
        self.at += seconds

    def run(self, handle: Callable[[DispatchMessage], object], limit: int | None = None) -> int:
        """Hands the messages to `handle` in due order, moving the clock, until none is left (or `limit` were
        handled); the number handled."""
        handled = 0
        while self._queue and (limit is None or handled < limit):
            due, _, message = heapq.heappop(self._queue)
            self.at = max(self.at, due)
            handle(message)
            handled += 1
        return handled

    @contextmanager
    def installed(self, *modules: Any) -> Iterator[SimulatedTime]:
        """This clock as the `now` of the given modules (those that imported it from commands_core.clock)."""
        with ExitStack() as stack:
            for module in modules:
                stack.enter_context(mock.patch.object(module, "now", self.now))
            yield self


def most_in_a_window(times: list[Any], window: Any = 60.0) -> int:
    """The most of `times` in any window [t, t + window): how a rollout rate is judged."""
    ordered = sorted(times)
    most, first = 0, 0
    for last, at in enumerate(ordered):
        while ordered[first] <= at - window:
            first += 1
        most = max(most, last - first + 1)
    return most
