"""AWS cron expressions, as AWS IoT Jobs' maintenance windows and EventBridge take them, in UTC:
`cron(minutes hours day-of-month month day-of-week year)`.

Each field takes `*`, a value, a list (`1,15`), a range (`1-5`, or wrapping round: `FRI-MON`), a step (`*/10`,
`5/15`, `10-40/10`); months also as JAN-DEC, days of the week as 1-7 (1 is Sunday) or SUN-SAT; `?` (any) in
day-of-month or day-of-week, one of which must be `?`. `L`, `W` and `#` are refused: ValueError saying so. Pure:
no clock, no I/O.
"""

from __future__ import annotations

import re
from calendar import isleap, monthrange
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
    )
}
_DAYS = {name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}
YEARS = (1970, 2199)  # the years an expression may name, as AWS takes them
# (name, lowest, highest, names)
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minutes", 0, 59, {}),
    ("hours", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _DAYS),
    ("year", *YEARS, {}),
)
_FORM = re.compile(r"^cron\((.*)\)$")
_UNSUPPORTED = "L, W and # are not supported; name the days instead"
_PART = re.compile(r"^(\*|[A-Z0-9]+)(?:-([A-Z0-9]+))?(?:/([0-9]+))?$")


@dataclass(frozen=True)
class Cron:
    """A parsed cron expression: the values each field allows (`days` None: any day of the month, `weekdays`
    None: any day of the week; 1 is Sunday)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None
    months: frozenset[int]
    weekdays: frozenset[int] | None
    years: frozenset[int]

    def names_a_date(self) -> bool:
        """Whether some day of the month it names is a date of one of its months in one of its years (31 is no
        day of April, 29 February none of 2197-2199): one naming none would be searched day by day to its last
        year, on every look at its window, for nothing."""
        days, months = self.days, self.months
        if days is None or any(day <= monthrange(2000, month)[1] for day in days for month in months if month != 2):
            return True
        leap = any(isleap(year) for year in self.years)
        return 2 in months and any(day <= 28 or (day == 29 and leap) for day in days)

    def matches_day(self, moment: datetime) -> bool:
        weekday = moment.isoweekday() % 7 + 1  # Monday is 1 in ISO, 2 here
        return (self.days is None or moment.day in self.days) and (self.weekdays is None or weekday in self.weekdays)

    def next_at(self, after: datetime) -> datetime | None:
        """The first time at or after `after` (UTC) that the expression names, to the minute; None when it names
        none (its years are over, or a day such as 31 February)."""
        moment = _ceil_minute(after.astimezone(UTC))
        last_year = max(self.years)
        while moment.year <= last_year:
            if moment.year not in self.years:
                moment = datetime(moment.year + 1, 1, 1, tzinfo=UTC)
            elif moment.month not in self.months:
                moment = _next_month(moment)
            elif not self.matches_day(moment):
                moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC) + timedelta(days=1)
            elif moment.hour not in self.hours:
                moment = moment.replace(minute=0) + timedelta(hours=1)
            elif later := [minute for minute in sorted(self.minutes) if minute >= moment.minute]:
                return moment.replace(minute=later[0])
            else:
                moment = moment.replace(minute=0) + timedelta(hours=1)
        return None


def parse(expression: str) -> Cron:
    """The expression parsed; ValueError naming the field and what is wrong."""
    form = _FORM.fullmatch(expression.strip())
    if form is None:
        raise ValueError("must be a cron expression: cron(minutes hours day-of-month month day-of-week year)")
    fields = form.group(1).split()
    if len(fields) != len(_FIELDS):
        raise ValueError(f"must have 6 fields (minutes hours day-of-month month day-of-week year), not {len(fields)}")
    values: list[frozenset[int] | None] = []
    for text, (name, lowest, highest, names) in zip(fields, _FIELDS, strict=True):
        values.append(_field(text.upper(), name, lowest, highest, names))
    minutes, hours, days, months, weekdays, years = values
    if (days is None) == (weekdays is None):
        raise ValueError("give ? in one of day-of-month and day-of-week (and only one), as AWS does")
    assert minutes is not None
    assert hours is not None
    assert months is not None
    assert years is not None
    return Cron(minutes, hours, days, months, weekdays, years)


def _field(text: str, name: str, lowest: int, highest: int, names: dict[str, int]) -> frozenset[int] | None:
    """The values a field allows; None for `?`."""
    if text == "?":
        if name not in ("day-of-month", "day-of-week"):
            raise ValueError(f"{name}: ? is only for day-of-month or day-of-week")
        return None
    if "#" in text:
        raise ValueError(f"{name}: {_UNSUPPORTED}")
    allowed: set[int] = set()
    for part in text.split(","):
        found = _PART.fullmatch(part)
        if found is None:
            raise ValueError(f"{name}: '{part}' is not a value, a range or a step")
        first, last, step = found.groups()
        start = lowest if first == "*" else _value(first, name, lowest, highest, names)
        end = highest if first == "*" or (step and last is None) else start
        if last is not None:
            if first == "*":
                raise ValueError(f"{name}: '{part}' is not a value, a range or a step")
            end = _value(last, name, lowest, highest, names)
        stride = int(step) if step else 1
        if stride < 1:
            raise ValueError(f"{name}: the step of '{part}' must be at least 1")
        # A range may wrap around the field's end (FRI-MON, 22-2): on from its start, then from the lowest.
        span = range(start, end + 1) if start <= end else [*range(start, highest + 1), *range(lowest, end + 1)]
        allowed.update(span[::stride])
    return frozenset(allowed)


def _value(text: str, name: str, lowest: int, highest: int, names: dict[str, int]) -> int:
    if text in names:
        return names[text]
    if not text.isdigit():
        if "L" in text or "W" in text:
            raise ValueError(f"{name}: {_UNSUPPORTED}")
        raise ValueError(f"{name}: '{text}' is not a value of this field")
    value = int(text)
    if not lowest <= value <= highest:
        raise ValueError(f"{name}: {value} is outside {lowest}-{highest}")
    return value


def _ceil_minute(moment: datetime) -> datetime:
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(minutes=1)


def _next_month(moment: datetime) -> datetime:
    return datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)
