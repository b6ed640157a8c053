"""A rollout's schedule, in AWS IoT Jobs' `schedulingConfig` shape, and the arithmetic of its maintenance
windows. Times are UTC. Pure: the start step (services/dispatch.py) asks with the time it reads."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, ValidationInfo, model_validator

from commands_core.errors import InvalidInput
from commands_core.models import ApiModel, cron, read_back
from commands_core.validation import refused

MAX_WINDOWS = 5  # maintenance windows a schedule holds
# The years a schedule's times may name: those of its maintenance windows' cron expressions (models/cron.py).
# Far enough for any rollout, near enough that the times worked out from them (a window's end, a rollout's
# estimated completion) stay within what a datetime holds.
FIRST_YEAR, LAST_YEAR = cron.YEARS
# AWS IoT's form, YYYY-MM-DDTHH:MM, also with seconds (and a fraction), and with Z or +00:00: UTC always.
_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)(Z|[+-]\d{2}:?\d{2})?$")


def utc_time(text: str) -> datetime:
    """A schedule's time as a UTC datetime; ValueError saying what is wrong. An offset other than UTC's is
    refused rather than converted: AWS IoT reads every schedule time as UTC, and the time shown stays the one
    given."""
    found = _TIME.fullmatch(text)
    if found is None:
        raise ValueError("must be a UTC time in ISO 8601: YYYY-MM-DDTHH:MM, optionally with seconds and Z")
    moment, offset = found.groups()
    if offset not in (None, "Z", "+00:00", "+0000", "-00:00", "-0000"):
        raise ValueError(f"must be in UTC (Z or no offset), not {offset}: the schedule's times are all UTC")
    try:
        return datetime.fromisoformat(moment).replace(tzinfo=UTC)
    except ValueError as error:
        raise ValueError(f"is not a date and time ({error})") from None


def _time(text: str, info: ValidationInfo) -> str:
    moment = utc_time(text)
    if not read_back(info) and not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise ValueError(f"must be in a year from {FIRST_YEAR} to {LAST_YEAR}, as a maintenance window's are")
    return text


def _cron(text: str, info: ValidationInfo) -> str:
    window = cron.parse(text)
    if not read_back(info) and not window.names_a_date():
        raise ValueError("day-of-month: names no day of the months and years given (such as 31 in April)")
    return text


UtcTime = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_time)]
CronExpression = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_cron)]
EndBehavior = Literal["STOP_ROLLOUT", "CANCEL", "FORCE_CANCEL"]


class _Strict(ApiModel):
    model_config = ConfigDict(extra="forbid")


class MaintenanceWindow(_Strict):
    """A recurring window: it opens at each time `start_time` (a cron expression, UTC) names, for
    `duration_in_minutes`."""

    start_time: CronExpression
    duration_in_minutes: int = Field(ge=1, le=1430, strict=True)


class SchedulingConfig(_Strict):
    """When a rollout starts executions: not before `start_time`, only inside a maintenance window (when any is
    given), and at `end_time` `end_behavior` applies (STOP_ROLLOUT when not given)."""

    start_time: UtcTime | None = None
    end_time: UtcTime | None = None
    end_behavior: EndBehavior | None = None
    maintenance_windows: list[MaintenanceWindow] | None = Field(default=None, min_length=1, max_length=MAX_WINDOWS)

    @model_validator(mode="after")
    def _in_order(self) -> SchedulingConfig:
        if self.start_time and self.end_time and utc_time(self.end_time) <= utc_time(self.start_time):
            raise refused("endTime", "must be after startTime")
        if self.end_behavior is not None and self.end_time is None:
            raise refused("endBehavior", "applies at endTime: give endTime too")
        return self

    def start(self) -> datetime | None:
        return utc_time(self.start_time) if self.start_time else None

    def end(self) -> datetime | None:
        return utc_time(self.end_time) if self.end_time else None

    def behavior(self) -> EndBehavior:
        return self.end_behavior or "STOP_ROLLOUT"


@dataclass(frozen=True)
class Window:
    """Where `at` stands among the maintenance windows: inside one until `ends_at`, or outside until
    `next_at` (None: no window opens again)."""

    inside: bool
    ends_at: datetime | None = None
    next_at: datetime | None = None


def window_at(windows: list[MaintenanceWindow], at: datetime) -> Window:
    """Whether `at` is inside one of `windows` (an occurrence of its cron expression at most its duration
    before, [start, start + duration)), and until when; else when the next one opens."""
    ends: list[datetime] = []
    opens: list[datetime] = []
    for window in windows:
        expression = cron.parse(window.start_time)
        length = timedelta(minutes=window.duration_in_minutes)
        # The occurrences that may cover `at` are those after at - length; the last of them ends latest.
        moment = expression.next_at(at - length + timedelta(microseconds=1))
        last = None
        while moment is not None and moment <= at:
            last = moment
            moment = expression.next_at(moment + timedelta(minutes=1))
        if last is not None:
            ends.append(last + length)
        if moment is not None:
            opens.append(moment)
    if ends:
        return Window(inside=True, ends_at=max(ends))
    return Window(inside=False, next_at=min(opens) if opens else None)


def wait(config: SchedulingConfig | None, at: datetime, *, started: bool = False) -> tuple[float, datetime | None]:
    """Seconds from `at` until the schedule lets executions start (0: now; infinite: no window opens again),
    and when that is (None: now, or never); at most until the end time, which the start step must not sleep
    through. `started`: the rollout has started (at its start time, or sooner by the operator's decision), so
    only the windows count."""
    if config is None:
        return 0.0, None
    until: datetime | None = None
    start = None if started else config.start()
    if start is not None and at < start:
        until = start
    elif config.maintenance_windows:
        window = window_at(config.maintenance_windows, at)
        if window.inside:
            return 0.0, None
        until = window.next_at
        if until is None and config.end() is None:
            return math.inf, None
    else:
        return 0.0, None
    end = config.end()
    if end is not None:
        until = min(until, end) if until is not None else end
    assert until is not None
    return max(0.0, (until - at).total_seconds()), until


def first_start(config: SchedulingConfig | None, at: datetime) -> datetime | None:
    """When a rollout published at `at` may start its first execution: its start time, or the first maintenance
    window open from then (None: at once, or never)."""
    if config is None:
        return None
    begins = max(at, config.start() or at)
    if config.maintenance_windows and not (window := window_at(config.maintenance_windows, begins)).inside:
        return window.next_at
    return begins if begins > at else None


def check_publishable(config: SchedulingConfig, at: datetime) -> None:
    """InvalidInput naming the field when a rollout published at `at` could start nothing: its end time has
    passed, or no maintenance window opens (before the end time)."""
    end = config.end()
    if end is not None and end <= at:
        raise InvalidInput("schedulingConfig.endTime", f"{config.end_time} has passed (UTC): nothing could start")
    if config.maintenance_windows:
        begins = max(at, config.start() or at)
        window = window_at(config.maintenance_windows, begins)
        opens = begins if window.inside else window.next_at
        if opens is None or (end is not None and opens >= end):
            before = f" before endTime {config.end_time}" if end is not None else ""
            raise InvalidInput("schedulingConfig.maintenanceWindows", f"no window opens{before}: nothing could start")


def end_in(config: SchedulingConfig, at: datetime) -> float:
    """Seconds from `at` to the end time (none: infinite)."""
    end = config.end()
    return math.inf if end is None else (end - at).total_seconds()


def ended(config: SchedulingConfig | None, at: datetime) -> bool:
    """Whether the schedule's end time has come."""
    end = config.end() if config else None
    return end is not None and at >= end


def view(config: SchedulingConfig, at: datetime, *, windows: bool = True) -> dict[str, str]:
    """The schedule as a command's rollout shows it: `startTime` and `endTime` (UTC, with Z), and (`windows`:
    while the rollout is live) `windowEndsAt` inside a maintenance window, else `nextWindowAt`."""
    times = (("startTime", config.start()), ("endTime", config.end()))
    shown = {name: iso(moment) for name, moment in times if moment}
    if windows and config.maintenance_windows:
        window = window_at(config.maintenance_windows, at)
        if window.inside and window.ends_at:
            shown["windowEndsAt"] = iso(window.ends_at)
        elif window.next_at:
            shown["nextWindowAt"] = iso(window.next_at)
    return shown


def iso(moment: datetime) -> str:
    """A time as the API shows it: ISO 8601, UTC, with Z."""
    return moment.isoformat().replace("+00:00", "Z")
