"""How far a command got, from its counts, and its pace: executions ended per minute over a recent window, and
when the rest will have ended at that pace."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from iotcmd import exits

# Execution statuses, in the order a rollout goes through them; the last six end an execution.
STATUSES = (
    "SCHEDULED",
    "QUEUED",
    "SENT",
    "ACKNOWLEDGED",
    "IN_PROGRESS",
    "SUCCEEDED",
    "FAILED",
    "REJECTED",
    "TIMED_OUT",
    "CANCELED",
    "REMOVED",
)
TERMINAL = frozenset(STATUSES[5:])
ENDED_COMMAND = frozenset({"completed", "cancelled", "deleted"})


@dataclass(frozen=True)
class Snapshot:
    """One read of GET /commands/{commandId}."""

    command_id: str
    status: str
    continuous: bool
    counts: dict[str, int]
    total: int  # the executions targeted so far

    @classmethod
    def of(cls, body: dict[str, Any]) -> Snapshot:
        counts = {status: int(count) for status, count in (body.get("counts") or {}).items() if count}
        # Before its executions are written, a rollout in waves already knows how many things it targets.
        waves = (body.get("rollout") or {}).get("waves") or []
        planned = sum(int(wave.get("size", 0)) for wave in waves)
        return cls(
            command_id=str(body["commandId"]),
            status=str(body["status"]),
            continuous=body.get("type") == "CONTINUOUS",
            counts=counts,
            total=max(sum(counts.values()), planned),
        )

    @property
    def ended(self) -> int:
        return sum(count for status, count in self.counts.items() if status in TERMINAL)

    @property
    def pending(self) -> int:
        return self.total - self.ended

    def exit_status(self) -> int | None:
        """The watch's exit status once the command has ended (a continuous one: once nothing is pending), else
        None."""
        if self.status in ("cancelled", "deleted"):
            return exits.CANCELLED
        done = self.status == "completed" or (self.continuous and self.total > 0 and self.pending == 0)
        if not done:
            return None
        return exits.OK if set(self.counts) <= {"SUCCEEDED"} else exits.NOT_ALL_SUCCEEDED


class Pace:
    """Executions ended per minute over the last `window` seconds of samples."""

    def __init__(self, window: float = 60.0) -> None:
        self.window = window
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, at: float, ended: int) -> None:
        self._samples.append((at, ended))
        # Keep the newest sample older than the window: the rate then spans the whole window.
        while len(self._samples) > 2 and self._samples[1][0] <= at - self.window:
            self._samples.popleft()

    def per_minute(self) -> float | None:
        """None until two samples apart in time."""
        if len(self._samples) < 2:
            return None
        (first_at, first), (last_at, last) = self._samples[0], self._samples[-1]
        if last_at <= first_at:
            return None
        return max(last - first, 0) * 60 / (last_at - first_at)

    def eta_seconds(self, pending: int) -> float | None:
        """Seconds until `pending` more have ended at the current rate: 0 when none is pending, None when the rate
        is unknown or nothing ends."""
        if pending <= 0:
            return 0.0
        rate = self.per_minute()
        if not rate:
            return None
        return pending * 60 / rate
