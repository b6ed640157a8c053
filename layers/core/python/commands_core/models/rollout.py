"""The rollout plan, as decisions taken from a command's counts, the same for every delivery kind: how many
executions each wave holds, how fast executions may start now, whether a wave's gate lets the next one start,
whether an abort criterion is met, and the rollout as the API shows it. Pure functions: the dispatch steps
(services/dispatch.py) read the command, ask, and write what follows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from commands_core.models import scheduling
from commands_core.models.executions import PENDING
from commands_core.models.jobs import AbortConfig, RolloutConfig, Waves
from commands_core.models.lifecycle import PUBLISHED

if TYPE_CHECKING:
    from commands_core.models.commands import Command

WINDOW = timedelta(seconds=60)  # a rate is per minute: no 60-second window holds more starts than it
MAX_PER_MINUTE = 1000  # AWS IoT's rollout ceiling, also the exponential rate's when nothing lower is given
# Executions that ran on a device and ended: what an abort criterion's share is of (AWS IoT Jobs' "executed").
EXECUTED = ("SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT")
FAILURES = {"FAILED": ("FAILED",), "REJECTED": ("REJECTED",), "TIMED_OUT": ("TIMED_OUT",), "ALL": EXECUTED[1:]}


def paced(command: Command) -> bool:
    """Whether the rollout decides when each execution starts: a rate, waves, or a schedule."""
    return command.rollout() is not None or command.waves is not None or command.scheduling_config is not None


def wave_ends(waves: Waves | None, total: int) -> list[int]:
    """How many executions have started once each wave has: its cumulative percentage of `total`, rounded up
    (a wave of 1% of 50 targets holds one), the last `total`. Without waves, one wave of every target."""
    if waves is None:
        return [total]
    ends = [math.ceil(Decimal(str(percentage)) * total / 100) for percentage in waves.percentages]
    return [*ends[:-1], total]


def wave_sizes(waves: Waves | None, total: int) -> list[int]:
    ends = wave_ends(waves, total)
    return [end - start for start, end in zip([0, *ends], ends, strict=False)]


def rate_of(command: Command, at: datetime) -> int | None:
    """The command's rate now. An exponential rate counts the things notified before the current 60-second
    window: the starts of a minute do not raise the rate of that same minute (else a window would cascade
    through every increase at once)."""
    in_window = sum(entry.count for entry in command.dispatch_log if entry.at > at - WINDOW)
    # (A batch's log entry may count starts past its cursor, asked again later: never below none.)
    notified = max(0, command.dispatched - in_window)
    return rate_now(command.rollout(), notified, command.counts.get("SUCCEEDED", 0))


def rate_now(config: RolloutConfig | None, notified: int, succeeded: int) -> int | None:
    """Executions that may start per minute (None: no limit), once `notified` things have started and
    `succeeded` succeeded. An exponential rate starts at its base and is multiplied by its factor each time
    another `numberOfNotifiedThings` have started (or `numberOfSucceededThings` have succeeded), up to
    `maximumPerMinute` (else AWS IoT's 1,000)."""
    if config is None:
        return None
    exponential = config.exponential_rate
    if exponential is None:
        return config.maximum_per_minute
    criteria = exponential.rate_increase_criteria
    steps = (
        notified // criteria.number_of_notified_things
        if criteria.number_of_notified_things
        else succeeded // (criteria.number_of_succeeded_things or 1)
    )
    ceiling = config.maximum_per_minute or MAX_PER_MINUTE
    rate = exponential.base_rate_per_minute * exponential.increment_factor ** min(steps, 100)
    return max(1, min(ceiling, math.floor(rate + 1e-9)))


def start_seconds(config: RolloutConfig | None, waves: Waves | None, total: int) -> float:
    """How long a rollout of `total` executions takes to start them all, as planned: each at the rate then (an
    exponential rate growing as if every execution started had succeeded at once), plus the `waitSeconds` after
    each wave but the last. What devices take to answer (a wave's gate waits for its successes) is left out."""
    seconds, notified = 0.0, 0
    exponential = config.exponential_rate if config else None
    ceiling = (config.maximum_per_minute if config else None) or MAX_PER_MINUTE
    while notified < total and (rate := rate_now(config, notified, notified)) is not None:
        chunk = total - notified
        if exponential is not None and rate < ceiling:  # until the next increase
            criteria = exponential.rate_increase_criteria
            every = criteria.number_of_notified_things or criteria.number_of_succeeded_things or 1
            chunk = min(chunk, every - notified % every)
        seconds += 60 * chunk / rate
        notified += chunk
    gates = len(waves.percentages) - 1 if waves else 0
    return seconds + gates * (waves.wait_seconds if waves else 0)


def abort_reason(config: AbortConfig | None, counts: dict[str, int]) -> str | None:
    """Why the rollout must stop: the first criterion met, said in a line; None when none is. A criterion is
    met once at least `minNumberOfExecutedThings` executions have run and ended, and its failures are at least
    `thresholdPercentage` of them."""
    if config is None:
        return None
    executed = sum(counts.get(status, 0) for status in EXECUTED)
    for criterion in config.criteria_list:
        failed = sum(counts.get(status, 0) for status in FAILURES[criterion.failure_type])
        if (
            executed >= criterion.min_number_of_executed_things
            and failed * 100 >= criterion.threshold_percentage * executed
        ):
            share = round(100 * failed / executed, 2)
            return (
                f"abortConfig: {criterion.failure_type} reached {share:g}% of {executed} executed "
                f"(threshold {criterion.threshold_percentage:g}%, "
                f"at least {criterion.min_number_of_executed_things} executed)"
            )
    return None


@dataclass(frozen=True)
class Gate:
    """What the gate after a wave says: `open` (the next wave may start), `wait` (come back `seconds` on),
    `soak` (the threshold is met now: the wait starts), or `pause` (it can no longer be met, or was not in time:
    `reason`)."""

    verdict: Literal["open", "wait", "soak", "pause"]
    seconds: float = 0
    reason: str = ""


def gate(
    waves: Waves,
    wave: int,
    size: int,
    counts: dict[str, int],
    *,
    at: datetime,
    started_at: datetime | None,
    met_at: datetime | None,
    beat: float,
) -> Gate:
    """The gate after `wave` (0-based), of `size` executions whose counts are `counts`: its SUCCEEDED must
    reach the threshold percentage of its size, then `waitSeconds` pass."""
    needed = math.ceil(Decimal(str(waves.success_threshold_percentage)) * size / 100)
    succeeded = counts.get("SUCCEEDED", 0)
    if succeeded >= needed:
        if met_at is None:
            return Gate("soak", seconds=waves.wait_seconds)
        remaining = (met_at + timedelta(seconds=waves.wait_seconds) - at).total_seconds()
        return Gate("open") if remaining <= 0 else Gate("wait", seconds=remaining)
    pending = sum(counts.get(status, 0) for status in PENDING)
    name = f"wave {wave + 1}"
    if succeeded + pending < needed:
        return Gate(
            "pause",
            reason=f"{name} can no longer reach {waves.success_threshold_percentage:g}% succeeded: "
            f"{succeeded} of {size} succeeded, {size - succeeded - pending} ended otherwise (needed {needed})",
        )
    if started_at is not None and at >= started_at + timedelta(seconds=waves.timeout_seconds):
        return Gate(
            "pause",
            reason=f"{name} did not reach {waves.success_threshold_percentage:g}% succeeded within "
            f"{waves.timeout_seconds} s: {succeeded} of {size} succeeded, {pending} still pending (needed {needed})",
        )
    deadline = (started_at + timedelta(seconds=waves.timeout_seconds) - at).total_seconds() if started_at else beat
    return Gate("wait", seconds=max(0.0, min(beat, deadline)))


def wave_counts(command: Command, wave: int) -> dict[str, int]:
    """The counts of the command's `wave` (none before its expand wrote them)."""
    return command.wave_counts[wave] if wave < len(command.wave_counts) else {}


def gate_of(
    command: Command, at: datetime, *, started_at: datetime | None, met_at: datetime | None, beat: float
) -> Gate:
    """The gate after the command's current wave, as `gate` says it from the command's own counts."""
    assert command.waves is not None
    size = wave_sizes(command.waves, command.total)[command.wave]
    counts = wave_counts(command, command.wave)
    return gate(command.waves, command.wave, size, counts, at=at, started_at=started_at, met_at=met_at, beat=beat)


def view(command: Command, at: datetime) -> dict[str, Any] | None:
    """The rollout as GET /commands/{commandId} shows it, once published: the current wave (from 1) and each
    wave's percentage, size and counts; the executions started; the rate now (None: no limit); and when the last
    execution will start at that rate (gates passing at once), from when the schedule lets the rollout start.
    With a schedule: its start and end times (UTC), and when the current maintenance window closes or the next
    opens."""
    if command.published_at is None:
        return None
    rate = rate_of(command, at)
    shown: dict[str, Any] = {"started": command.dispatched, "ratePerMinute": rate}
    if command.waves is not None:
        sizes = wave_sizes(command.waves, command.total)
        shown["wave"] = command.wave + 1
        shown["waves"] = [
            {
                "percentage": percentage,
                "size": size,
                "counts": {status: count for status, count in wave_counts(command, index).items() if count},
            }
            for index, (percentage, size) in enumerate(zip(command.waves.percentages, sizes, strict=True))
        ]
    begins = at
    if (schedule := command.scheduling_config) is not None:
        shown |= scheduling.view(schedule, at, windows=command.status in PUBLISHED)
        begins = scheduling.wait(schedule, at, started=command.status != "scheduled")[1] or at
    left = command.total - command.dispatched
    if command.status in ("scheduled", "in_progress") and left > 0:  # (once every execution has started, none)
        minutes = left / rate if rate else 0
        shown["estimatedCompletionAt"] = (begins + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
    return shown
