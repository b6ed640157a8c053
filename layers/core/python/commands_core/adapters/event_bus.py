"""The service's EventBridge bus: lifecycle events collected during an invocation and put with PutEvents.

Events are collected as the changes they tell of are written, and sent in PutEvents calls of at most 10 entries
and 256 KB: when a full call's worth is waiting, and at the end of the invocation (`flush`, from the entry
points of api/). Entries that EventBridge refuses (FailedEntryCount: throttling, an internal failure) and
calls that fail (after botocore's own retries) are put again with backoff. What still cannot be put is logged
with its eventId and counted in LifecycleEventsLost: never raised, since the change it tells of is written and
must not fail or be undone for want of its event.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from commands_core.models.lifecycle_events import SOURCE
from commands_core.observability import logger, metrics

if TYPE_CHECKING:
    from commands_core.models.lifecycle_events import LifecycleEvent

MAX_ENTRIES = 10  # PutEvents' limit per call
MAX_BYTES = 256 * 1024  # PutEvents' limit per call, counted as EventBridge documents it
_TIME_BYTES = 14  # what an entry's Time counts for
_ATTEMPTS = 5  # calls per entry before it is given up
BACKOFF_SECONDS = 0.05  # before the second call; doubled each time, at most a second
Entry = tuple[str, dict[str, Any]]  # an event's id, and its PutEvents entry


class EventBus:
    def __init__(self, client: Callable[[], Any], bus_name: str) -> None:
        self._client = client  # made on first use: a function that changes nothing never makes it
        self._bus_name = bus_name
        self._pending: list[LifecycleEvent] = []
        self._lock = threading.Lock()  # functions that run requests on threads share one bus

    def put(self, event: LifecycleEvent) -> None:
        with self._lock:
            self._pending.append(event)
            if len(self._pending) < MAX_ENTRIES:
                return
            full, self._pending = self._pending, []
        self._send(full)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        if pending:
            self._send(pending)

    def _send(self, events: list[LifecycleEvent]) -> None:
        for call in _calls([(event.event_id, self._entry(event)) for event in events]):
            self._put(call)

    def _entry(self, event: LifecycleEvent) -> dict[str, Any]:
        return {
            "Source": SOURCE,
            "DetailType": event.DETAIL_TYPE,
            "Detail": event.detail(),
            "Time": event.time,
            "EventBusName": self._bus_name,
        }

    def _put(self, call: list[Entry]) -> None:
        cause = ""
        for attempt in range(_ATTEMPTS):
            if attempt:
                time.sleep(min(BACKOFF_SECONDS * 2 ** (attempt - 1), 1.0))
            try:
                answer = self._client().put_events(Entries=[entry for _, entry in call])
            except Exception as error:  # botocore has retried it already; the entries are put again
                cause = type(error).__name__
                continue
            if not answer.get("FailedEntryCount"):
                return
            # Results come in the order of the entries; one with an ErrorCode was not put.
            results = answer["Entries"]
            cause = ", ".join(sorted({str(result["ErrorCode"]) for result in results if result.get("ErrorCode")}))
            call = [entry for entry, result in zip(call, results, strict=True) if result.get("ErrorCode")]
        for event_id, _ in call:
            logger.error("lifecycle event lost", extra={"event_id": event_id, "cause": cause})
        metrics.add_metric(name="LifecycleEventsLost", unit="Count", value=len(call))


def _calls(entries: list[Entry]) -> Iterator[list[Entry]]:
    """The entries in PutEvents calls, in order, each within the limits of entries and bytes."""
    call: list[Entry] = []
    size = 0
    for entry in entries:
        entry_size = _size(entry[1])
        if call and (len(call) == MAX_ENTRIES or size + entry_size > MAX_BYTES):
            yield call
            call, size = [], 0
        call.append(entry)
        size += entry_size
    if call:
        yield call


def _size(entry: dict[str, Any]) -> int:
    return _TIME_BYTES + sum(len(entry[key].encode()) for key in ("Source", "DetailType", "Detail"))
