"""The one rule for execution status changes (DESIGN.md section 3)."""

from __future__ import annotations

from commands_core.models.executions import TERMINAL

_RANK = {"SCHEDULED": 0, "QUEUED": 1, "SENT": 2, "ACKNOWLEDGED": 3, "IN_PROGRESS": 4}
_DEVICE_FINAL = frozenset({"SUCCEEDED", "FAILED", "REJECTED"})


def allowed(current: str, new: str, *, cloud_timeout: bool = False) -> bool:
    """Whether an execution in `current` may move to `new`.

    Forward only; IN_PROGRESS may repeat (newer progress); a terminal status is final, except a TIMED_OUT set
    by the cloud, which a late device report of SUCCEEDED, FAILED or REJECTED still replaces.
    """
    if current in TERMINAL:
        return current == "TIMED_OUT" and cloud_timeout and new in _DEVICE_FINAL
    if new in TERMINAL:
        return True
    return _RANK[new] > _RANK[current] or new == current == "IN_PROGRESS"
