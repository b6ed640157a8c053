"""The watch's arithmetic: when a command has ended and with what exit status, its pace and its ETA."""

from __future__ import annotations

from typing import Any

import pytest

from iotcmd import exits
from iotcmd.progress import Pace, Snapshot


def command(status: str, counts: dict[str, int], **more: Any) -> Snapshot:
    return Snapshot.of({"commandId": "c", "status": status, "counts": counts, "type": "SNAPSHOT"} | more)


@pytest.mark.parametrize(
    ("status", "counts", "expected"),
    [
        ("completed", {"SUCCEEDED": 10}, exits.OK),
        ("completed", {"SUCCEEDED": 9, "FAILED": 1}, exits.NOT_ALL_SUCCEEDED),
        ("completed", {"SUCCEEDED": 9, "CANCELED": 1}, exits.NOT_ALL_SUCCEEDED),
        ("cancelled", {"SUCCEEDED": 10}, exits.CANCELLED),
        ("deleted", {}, exits.CANCELLED),
        ("in_progress", {"SUCCEEDED": 10}, None),
        ("paused", {"SUCCEEDED": 5, "SCHEDULED": 5}, None),
    ],
)
def test_a_snapshot_command_ends_with_its_status(status: str, counts: dict[str, int], expected: int | None) -> None:
    assert command(status, counts).exit_status() == expected


def test_a_continuous_command_ends_when_nothing_is_pending() -> None:
    assert command("in_progress", {}, type="CONTINUOUS").exit_status() is None  # nothing targeted yet
    assert command("in_progress", {"SUCCEEDED": 2, "QUEUED": 1}, type="CONTINUOUS").exit_status() is None
    assert command("in_progress", {"SUCCEEDED": 3}, type="CONTINUOUS").exit_status() == exits.OK
    assert command("in_progress", {"SUCCEEDED": 2, "REJECTED": 1}, type="CONTINUOUS").exit_status() == (
        exits.NOT_ALL_SUCCEEDED
    )


def test_the_total_counts_the_waves_not_yet_written() -> None:
    waves = {"waves": [{"percentage": 10, "size": 1}, {"percentage": 100, "size": 9}]}

    snapshot = command("in_progress", {"QUEUED": 1}, rollout=waves)

    assert (snapshot.total, snapshot.ended, snapshot.pending) == (10, 0, 10)


def test_the_rate_is_executions_ended_per_minute_over_the_window() -> None:
    pace = Pace(window=60)
    assert pace.per_minute() is None  # one sample says nothing
    pace.add(0, 0)
    assert pace.per_minute() is None

    pace.add(30, 10)  # 10 in 30 s
    assert pace.per_minute() == pytest.approx(20)

    pace.add(90, 10)  # nothing more in the last 60 s: the 0-s sample left the window
    assert pace.per_minute() == pytest.approx(0)


def test_the_rate_forgets_what_is_older_than_the_window() -> None:
    pace = Pace(window=60)
    for at, ended in [(0, 0), (60, 60), (120, 70), (180, 80)]:
        pace.add(at, ended)

    assert pace.per_minute() == pytest.approx(10)  # the last minute's, not the first's 60


def test_eta_is_what_is_pending_at_the_current_rate() -> None:
    pace = Pace(window=60)
    pace.add(0, 0)
    pace.add(60, 30)  # 30 a minute

    assert pace.eta_seconds(pending=90) == pytest.approx(180)
    assert pace.eta_seconds(pending=0) == 0


def test_eta_is_unknown_while_nothing_ends() -> None:
    pace = Pace(window=60)
    pace.add(0, 5)
    pace.add(30, 5)

    assert pace.eta_seconds(pending=10) is None
