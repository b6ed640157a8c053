"""`iotcmd watch`: follow a command until it ends, by polling GET /commands/{commandId}, and exit with a status
a pipeline can gate on.

On a terminal: a live display with a progress bar per execution status. Otherwise (or with `--output json`):
a line (a JSON line) each time something changed. `--events` also prints the local runtime's lifecycle events of
the command (`/_local/events`); where that route is missing, there are none to print and the watch goes on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.console import Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.text import Text

from iotcmd import exits
from iotcmd.client import ApiError, Client
from iotcmd.context import OutputOption, client_of, guarded
from iotcmd.output import Output, console
from iotcmd.preview import duration
from iotcmd.progress import STATUSES, Pace, Snapshot

EVENTS_PATH = "/_local/events"


class Events:
    """The lifecycle events of one command, read after the last one seen; none once the route is missing."""

    def __init__(self, client: Client, command_id: str) -> None:
        self.client = client
        self.command_id = command_id
        self.since = 0
        self.available = True
        self._seen: set[str] = set()

    def new(self) -> list[dict[str, Any]]:
        if not self.available:
            return []
        query: dict[str, str | list[str] | None] = {"since": str(self.since), "commandId": self.command_id}
        try:
            body = self.client.call("GET", EVENTS_PATH, query=query).body
        except ApiError as error:
            if error.status >= 500:
                raise
            self.available = False  # a deployed stack (or an older runtime) has no such route
            return []
        self.since = int(body.get("next", self.since))
        fresh = []
        for event in body.get("events", []):
            event_id = (event.get("detail") or {}).get("eventId")
            if event_id in self._seen:
                continue  # the same event put twice
            if event_id:
                self._seen.add(event_id)
            fresh.append(event)
        return fresh


def event_line(event: dict[str, Any]) -> str:
    detail = event.get("detail") or {}
    reason = f" ({detail['statusReason']})" if detail.get("statusReason") else ""
    if event.get("detailType") == "Execution Ended":
        what = f"{detail.get('thingName')} {detail.get('status')} (attempt {detail.get('attempt')})"
    else:
        what = f"{detail.get('event')}: {detail.get('from')} -> {detail.get('to')}"
    return f"{event.get('time', '')} {event.get('detailType')}: {detail.get('commandId')} {what}{reason}"


def summary(snapshot: Snapshot, pace: Pace) -> dict[str, Any]:
    """What a line of progress says, as JSON."""
    rate = pace.per_minute()
    eta = pace.eta_seconds(snapshot.pending)
    return {
        "commandId": snapshot.command_id,
        "status": snapshot.status,
        "counts": snapshot.counts,
        "total": snapshot.total,
        "ended": snapshot.ended,
        "ratePerMinute": None if rate is None else round(rate, 2),
        "etaSeconds": None if eta is None else round(eta),
    }


def summary_text(snapshot: Snapshot, pace: Pace) -> str:
    rate = pace.per_minute()
    eta = pace.eta_seconds(snapshot.pending)
    return (
        f"{snapshot.command_id} {snapshot.status}: {snapshot.ended}/{snapshot.total} ended"
        f", {'-' if rate is None else f'{rate:.1f}'}/min"
        f", ETA {'-' if eta is None else duration(eta)}"
    )


class Display:
    """Where progress goes: a live display, plain lines, or JSON lines."""

    def __init__(self, output: Output) -> None:
        self.json = output is Output.json
        self.live = not self.json and console.is_terminal
        self._bars = Progress(TextColumn("{task.description:>12}"), BarColumn(), MofNCompleteColumn(), console=console)
        self._tasks: dict[str, TaskID] = {}
        self._header = Text()
        self._view: Live | None = None
        self._last: str | None = None

    def __enter__(self) -> Display:
        if self.live:
            self._view = Live(Group(self._header, self._bars), console=console, auto_refresh=False)
            self._view.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._view is not None:
            self._view.__exit__(None, None, None)

    def show(self, snapshot: Snapshot, pace: Pace) -> None:
        if self._view is not None:
            self._header.plain = summary_text(snapshot, pace)
            for status in sorted(snapshot.counts.keys() - self._tasks.keys(), key=_lifecycle_order):
                self._tasks[status] = self._bars.add_task(status, total=snapshot.total)
            for status, task in self._tasks.items():
                self._bars.update(task, completed=snapshot.counts.get(status, 0), total=snapshot.total)
            self._view.refresh()
            return
        changed = json.dumps([snapshot.status, snapshot.counts, snapshot.total])
        if changed == self._last:
            return  # a line only when something changed
        self._last = changed
        if self.json:
            console.out(json.dumps(summary(snapshot, pace)), highlight=False)
        else:
            stamp = datetime.now(UTC).strftime("%H:%M:%S")
            counts = ", ".join(f"{status} {count}" for status, count in snapshot.counts.items()) or "no executions yet"
            console.out(f"{stamp} {summary_text(snapshot, pace)} ({counts})", highlight=False)

    def event(self, event: dict[str, Any]) -> None:
        if self.json:
            console.out(json.dumps({"event": event}), highlight=False)
        else:
            console.print(event_line(event), markup=False, highlight=False)


def _lifecycle_order(status: str) -> int:
    """A status's place in an execution's life; one this CLI does not know comes last."""
    return STATUSES.index(status) if status in STATUSES else len(STATUSES)


def follow(
    client: Client,
    command_id: str,
    display: Display,
    *,
    interval: float,
    timeout: float | None,
    events: bool,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Poll the command until it ends; the exit status its end says (exits.TIMED_OUT after `timeout` s)."""
    path = f"/commands/{quote(command_id, safe='')}"
    lifecycle = Events(client, command_id) if events else None
    pace = Pace()
    started = clock()
    while True:
        snapshot = Snapshot.of(client.call("GET", path).body)
        now = clock()
        pace.add(now, snapshot.ended)
        for event in lifecycle.new() if lifecycle else []:
            display.event(event)
        display.show(snapshot, pace)
        ended = snapshot.exit_status()
        if ended is not None:
            return ended
        if timeout is not None and now - started >= timeout:
            return exits.TIMED_OUT
        sleep(interval)


@guarded
def watch(
    ctx: typer.Context,
    command_id: str,
    interval: Annotated[float, typer.Option(help="Seconds between two reads of the command.")] = 2.0,
    timeout: Annotated[float | None, typer.Option(help="Give up after this many seconds (exit status 6).")] = None,
    events: Annotated[bool, typer.Option("--events", help="Also print the command's lifecycle events.")] = False,
    output: OutputOption = Output.table,
) -> None:
    """Follow a command until it ends (a continuous one: until nothing is pending): exit 0 when every execution
    SUCCEEDED, 4 when some did not, 5 when the command was cancelled or deleted, 6 on --timeout."""
    client = client_of(ctx)
    with Display(output) as display:
        status = follow(client, command_id, display, interval=interval, timeout=timeout, events=events)
    raise typer.Exit(status)
