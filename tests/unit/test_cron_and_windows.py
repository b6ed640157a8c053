"""A schedule's cron expressions and maintenance windows (models/cron.py, models/scheduling.py): parsing as AWS
writes them, the next time an expression names, whether a time is inside a window and when the next opens,
checked against a minute-by-minute search."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commands_core.errors import InvalidInput
from commands_core.models import cron
from commands_core.models.scheduling import (
    MaintenanceWindow,
    SchedulingConfig,
    check_publishable,
    utc_time,
    wait,
    window_at,
)
from commands_core.validation import parse

MONDAY = datetime(2026, 12, 7, tzinfo=UTC)


def matches(expression: cron.Cron, moment: datetime) -> bool:
    """Whether the expression names `moment` (a whole minute): every field, one by one."""
    return (
        moment.minute in expression.minutes
        and moment.hour in expression.hours
        and moment.month in expression.months
        and moment.year in expression.years
        and expression.matches_day(moment)
    )


@pytest.mark.parametrize(
    ("text", "field", "values"),
    [
        ("cron(0 * ? * * *)", "minutes", {0}),
        ("cron(*/15 * ? * * *)", "minutes", {0, 15, 30, 45}),
        ("cron(5/20 * ? * * *)", "minutes", {5, 25, 45}),
        ("cron(10-40/10 * ? * * *)", "minutes", {10, 20, 30, 40}),
        ("cron(0 1,13 ? * * *)", "hours", {1, 13}),
        ("cron(0 22-2 ? * * *)", "hours", {22, 23, 0, 1, 2}),
        ("cron(0 0 ? JAN,jul * *)", "months", {1, 7}),
        ("cron(0 0 ? * MON-FRI *)", "weekdays", {2, 3, 4, 5, 6}),
        ("cron(0 0 ? * FRI-MON *)", "weekdays", {6, 7, 1, 2}),
        ("cron(0 0 ? * 1 *)", "weekdays", {1}),
        ("cron(0 0 1,15 * ? *)", "days", {1, 15}),
        ("cron(0 0 1 * ? 2027-2028)", "years", {2027, 2028}),
    ],
)
def test_fields_are_read_as_aws_writes_them(text: str, field: str, values: set[int]) -> None:
    assert getattr(cron.parse(text), field) == values


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("0 0 * * ? *", "must be a cron expression"),
        ("cron(0 0 * * ?)", "must have 6 fields"),
        ("cron(0 0 * * * *)", "give ? in one of day-of-month and day-of-week"),
        ("cron(0 0 ? * ? *)", "give ? in one of day-of-month and day-of-week"),
        ("cron(? 0 * * ? *)", "minutes: ? is only for"),
        ("cron(60 0 * * ? *)", "minutes: 60 is outside 0-59"),
        ("cron(0 24 * * ? *)", "hours: 24 is outside 0-23"),
        ("cron(0 0 0 * ? *)", "day-of-month: 0 is outside 1-31"),
        ("cron(0 0 ? 13 * *)", "month: 13 is outside 1-12"),
        ("cron(0 0 ? * 8 *)", "day-of-week: 8 is outside 1-7"),
        ("cron(0 0 ? * * 2200)", "year: 2200 is outside 1970-2199"),
        ("cron(0 0 L * ? *)", "day-of-month: L, W and # are not supported"),
        ("cron(0 0 15W * ? *)", "day-of-month: L, W and # are not supported"),
        ("cron(0 0 ? * 6L *)", "day-of-week: L, W and # are not supported"),
        ("cron(0 0 ? * 6#3 *)", "day-of-week: L, W and # are not supported"),
        ("cron(*/0 0 * * ? *)", "minutes: the step of '*/0' must be at least 1"),
        ("cron(*-5 0 * * ? *)", "minutes: '*-5' is not a value"),
        ("cron(0 0 ? FOO * *)", "month: 'FOO' is not a value"),
    ],
)
def test_what_aws_would_not_take_is_refused_saying_why(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        cron.parse(text)


def test_the_next_time_named_is_at_or_after_the_time_asked() -> None:
    weekdays_at_nine = cron.parse("cron(30 9 ? * MON-FRI *)")
    saturday = datetime(2026, 12, 12, 8, tzinfo=UTC)

    assert weekdays_at_nine.next_at(saturday) == datetime(2026, 12, 14, 9, 30, tzinfo=UTC)
    assert weekdays_at_nine.next_at(datetime(2026, 12, 14, 9, 30, tzinfo=UTC)) == datetime(
        2026, 12, 14, 9, 30, tzinfo=UTC
    )
    assert weekdays_at_nine.next_at(datetime(2026, 12, 14, 9, 30, 1, tzinfo=UTC)) == datetime(
        2026, 12, 15, 9, 30, tzinfo=UTC
    )
    assert cron.parse("cron(0 0 29 FEB ? *)").next_at(MONDAY) == datetime(2028, 2, 29, tzinfo=UTC)
    assert cron.parse("cron(0 0 31 FEB ? *)").next_at(MONDAY) is None
    assert cron.parse("cron(0 0 1 JAN ? 2020)").next_at(MONDAY) is None


def _values(low: int, high: int) -> st.SearchStrategy[frozenset[int]]:
    return st.frozensets(st.integers(low, high), min_size=1, max_size=4)


@st.composite
def expressions(draw: st.DrawFn) -> str:
    """Expressions that name a time at least once a week (so that a minute-by-minute search stays short)."""
    minutes = ",".join(map(str, sorted(draw(_values(0, 59)))))
    hours = draw(st.sampled_from(["*", ",".join(map(str, sorted(draw(_values(0, 23)))))]))
    weekdays = draw(st.sampled_from(["*", "MON-FRI", "SAT,SUN", ",".join(map(str, sorted(draw(_values(1, 7)))))]))
    return f"cron({minutes} {hours} ? * {weekdays} *)"


moments = st.datetimes(datetime(2026, 1, 1), datetime(2030, 12, 31)).map(lambda moment: moment.replace(tzinfo=UTC))


@settings(max_examples=60, deadline=None)
@given(expressions(), moments)
def test_the_next_time_named_is_the_first_minute_a_search_finds(text: str, after: datetime) -> None:
    expression = cron.parse(text)

    found = expression.next_at(after)

    assert found is not None
    assert found >= after
    assert matches(expression, found)
    minute = after.replace(second=0, microsecond=0)
    minute += timedelta(minutes=1) if minute < after else timedelta(0)
    while minute < found:
        assert not matches(expression, minute), minute
        minute += timedelta(minutes=1)


@settings(max_examples=60, deadline=None)
@given(expressions(), st.integers(1, 1430), moments)
def test_a_time_is_inside_a_window_exactly_when_one_opened_less_than_its_duration_before(
    text: str, duration: int, at: datetime
) -> None:
    expression = cron.parse(text)
    window = window_at([MaintenanceWindow(start_time=text, duration_in_minutes=duration)], at)

    floor = at.replace(second=0, microsecond=0)
    opened = [floor - timedelta(minutes=back) for back in range(duration + 1)]
    covering = [moment for moment in opened if moment <= at < moment + timedelta(minutes=duration)]
    covering = [moment for moment in covering if matches(expression, moment)]
    assert window.inside == bool(covering)
    if covering:
        assert window.ends_at == max(covering) + timedelta(minutes=duration)
    else:
        assert window.next_at == expression.next_at(at)
        assert window.next_at is not None
        assert window.next_at > at


def test_of_several_windows_the_one_open_or_the_first_to_open_counts() -> None:
    windows = [
        MaintenanceWindow(start_time="cron(0 2 ? * * *)", duration_in_minutes=60),
        MaintenanceWindow(start_time="cron(30 1 ? * * *)", duration_in_minutes=60),
    ]

    assert window_at(windows, MONDAY.replace(hour=1)).next_at == MONDAY.replace(hour=1, minute=30)
    assert window_at(windows, MONDAY.replace(hour=2, minute=15)).ends_at == MONDAY.replace(hour=3)
    assert window_at(windows, MONDAY.replace(hour=2, minute=45)).ends_at == MONDAY.replace(hour=3)
    assert window_at(windows, MONDAY.replace(hour=3)).next_at == MONDAY.replace(day=8, hour=1, minute=30)


def test_the_wait_is_for_the_start_time_then_a_window_and_never_past_the_end_time() -> None:
    schedule = SchedulingConfig(
        start_time="2026-12-07T01:00",
        end_time="2026-12-07T05:00:00Z",
        maintenance_windows=[MaintenanceWindow(start_time="cron(0 3 ? * * *)", duration_in_minutes=30)],
    )

    assert wait(schedule, MONDAY) == (3600.0, MONDAY.replace(hour=1))
    assert wait(schedule, MONDAY.replace(hour=1)) == (7200.0, MONDAY.replace(hour=3))
    assert wait(schedule, MONDAY, started=True) == (3 * 3600.0, MONDAY.replace(hour=3))  # started now: windows only
    assert wait(schedule, MONDAY.replace(hour=3, minute=10)) == (0.0, None)
    assert wait(schedule, MONDAY.replace(hour=3, minute=30)) == (5400.0, MONDAY.replace(hour=5))  # the end comes first
    assert wait(None, MONDAY) == (0.0, None)


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-12-07T10:30", datetime(2026, 12, 7, 10, 30, tzinfo=UTC)),
        ("2026-12-07T10:30:15", datetime(2026, 12, 7, 10, 30, 15, tzinfo=UTC)),
        ("2026-12-07T10:30:15.5Z", datetime(2026, 12, 7, 10, 30, 15, 500000, tzinfo=UTC)),
        ("2026-12-07T10:30+00:00", datetime(2026, 12, 7, 10, 30, tzinfo=UTC)),
    ],
)
def test_times_are_utc_with_or_without_seconds_and_z(text: str, moment: datetime) -> None:
    assert utc_time(text) == moment


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2026-12-07T10:30+01:00", "must be in UTC"),
        ("2026-12-07 10:30", "must be a UTC time in ISO 8601"),
        ("2026-12-07", "must be a UTC time in ISO 8601"),
        ("2026-13-07T10:30", "is not a date and time"),
    ],
)
def test_a_time_not_in_utc_or_not_iso_is_refused(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        utc_time(text)


def test_the_schedule_names_the_field_it_refuses() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse(SchedulingConfig, {"startTime": "2026-12-07T10:00", "endTime": "2026-12-07T10:00"})
    assert refused.value.field == "endTime"
    assert SchedulingConfig(end_time="2026-12-07T10:00").behavior() == "STOP_ROLLOUT"


def test_a_schedule_whose_windows_open_only_after_its_end_could_start_nothing() -> None:
    nightly = [MaintenanceWindow(start_time="cron(0 22 ? * * *)", duration_in_minutes=60)]
    late = SchedulingConfig(end_time="2026-12-07T21:00", maintenance_windows=nightly)

    with pytest.raises(InvalidInput, match="no window opens before endTime 2026-12-07T21:00") as refused:
        check_publishable(late, MONDAY)
    assert refused.value.field == "schedulingConfig.maintenanceWindows"
    check_publishable(late.model_copy(update={"end_time": "2026-12-07T22:30"}), MONDAY)
