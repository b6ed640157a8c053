"""The dispatcher's rate limit: however long each batch takes to start, and however the runs are spaced, no
60-second window holds more starts than rolloutMaximumPerMinute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st

from commands_core.models.commands import Started
from commands_core.services.dispatch import rate_wait
from local.simulated_time import most_in_a_window

START = datetime(2026, 1, 1, tzinfo=UTC)


MINUTE = 60_000_000  # in microseconds, the dispatcher's resolution: no float rounding at the window's edge


@settings(max_examples=300, deadline=None)
@given(
    limit=st.sampled_from([1, 2, 6, 12]) | st.integers(min_value=1, max_value=1000),
    batches=st.lists(
        st.tuples(
            # seconds a batch takes to start all its executions; the pause before the next run (a message's
            # delivery, a crash): around the window's edges, where a wrong count shows
            st.sampled_from([0.0, 0.1, 2.0, 10.0, 20.0]) | st.floats(min_value=0, max_value=20),
            st.sampled_from([0.0, 0.5, 5.0, 29.0, 31.0, 45.0, 59.9, 60.0, 61.0, 90.0]) | st.floats(0, 90),
        ),
        min_size=1,
        max_size=40,
    ),
)
@example(limit=6, batches=[(0.0, 0.0)] * 5 + [(0.0, 31.0), (0.0, 0.0)])  # a full window, then half a minute on
def test_no_60_second_window_starts_more_than_the_limit(limit: int, batches: list[tuple[float, float]]) -> None:
    size = max(1, limit // 6)
    log: list[Started] = []
    starts: list[int] = []
    at = START  # datetimes, as the dispatcher keeps them (to the microsecond)
    for duration, pause in batches:
        at += timedelta(seconds=rate_wait(log, at, size, limit))
        first = (at - START) // timedelta(microseconds=1)
        took = timedelta(seconds=duration)
        starts += [first + took // timedelta(microseconds=1) * index // size for index in range(size)]  # spread
        at += took
        log = [entry for entry in log if entry.at > at - timedelta(seconds=60)]
        log.append(Started(at=at, count=size))
        at += timedelta(seconds=pause)

    assert most_in_a_window(starts, MINUTE) <= limit


def test_a_full_minute_waits_until_the_oldest_batch_is_a_minute_old() -> None:
    log = [Started(at=START, count=50), Started(at=START + timedelta(seconds=10), count=50)]

    assert rate_wait(log, START + timedelta(seconds=20), 50, 100) == 40.0
    assert rate_wait(log, START + timedelta(seconds=20), 50, 150) == 0.0
    assert rate_wait(log, START + timedelta(seconds=20), 50, None) == 0.0
    assert rate_wait(log, START + timedelta(seconds=65), 50, 100) == 0.0  # the first has left the window
