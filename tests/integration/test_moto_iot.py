"""moto's AWS IoT under many threads at once (as the local endpoint serves it): writes one at a time, reads
together, none sees a job half made; and the listeners of new job executions."""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from moto.iot.models import iot_backends

from local import moto_iot
from tests.integration.conftest import ACCOUNT, REGION, group_arn, thing_arn

THINGS = 200
GROUP = "fleet"


@pytest.fixture
def group(iot: Any) -> str:
    """A thing group of THINGS things; its ARN."""
    iot.create_thing_group(thingGroupName=GROUP)
    for number in range(THINGS):
        iot.create_thing(thingName=f"t-{number:03d}")
        iot.add_thing_to_thing_group(thingGroupName=GROUP, thingName=f"t-{number:03d}")
    return group_arn(GROUP)


def backend() -> Any:
    return iot_backends[ACCOUNT][REGION]


def listed(iot: Any, job_id: str, page_size: int) -> list[str]:
    """The things of the job's executions, page after page."""
    things, arguments = [], {"jobId": job_id, "maxResults": page_size}
    while True:
        page = iot.list_job_executions_for_job(**arguments)
        things += [summary["thingArn"].rsplit("/", 1)[1] for summary in page["executionSummaries"]]
        if not page.get("nextToken"):
            return things
        arguments["nextToken"] = page["nextToken"]


@contextmanager
def threads(*bodies: Callable[[], None]) -> Iterator[list[BaseException]]:
    """Runs the bodies on threads of their own, switching between them often (as a busy server would, so that
    what could interleave does); what they raised, once they have all ended."""
    errors: list[BaseException] = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)

    def run(body: Callable[[], None]) -> None:
        try:
            body()
        except BaseException as error:
            errors.append(error)

    started = [threading.Thread(target=run, args=(body,)) for body in bodies]
    for thread in started:
        thread.start()
    try:
        yield errors
    finally:
        for thread in started:
            thread.join()
        sys.setswitchinterval(interval)


def test_jobs_made_listed_described_and_read_directly_at_once_are_never_seen_half_made(iot: Any, group: str) -> None:
    creators, jobs_each = 3, 6
    done = [0] * creators  # jobs each creator has finished: job-<creator>-<done> is the one it is making
    finished: list[str] = []
    halves: list[tuple[str, int]] = []  # (job id, executions) of a job a reader saw half made
    stop = threading.Event()

    def create(creator: int) -> Callable[[], None]:
        def body() -> None:
            for number in range(jobs_each):
                iot.create_job(jobId=f"job-{creator}-{number}", targets=[group], document="{}")
                finished.append(f"job-{creator}-{number}")
                done[creator] += 1

        return body

    def watch_the_jobs_being_made() -> None:
        while not stop.is_set():
            for creator in range(creators):
                job_id = f"job-{creator}-{done[creator]}"
                try:
                    summaries = iot.list_job_executions_for_job(jobId=job_id, maxResults=250)["executionSummaries"]
                except iot.exceptions.ResourceNotFoundException:
                    continue  # not made yet
                if len(summaries) != THINGS:
                    halves.append((job_id, len(summaries)))

    def page_and_describe_the_jobs_made() -> None:
        while not stop.is_set():
            for job_id in list(finished):
                things = listed(iot, job_id, page_size=60)
                if Counter(things) != Counter(f"t-{number:03d}" for number in range(THINGS)):
                    halves.append((job_id, len(things)))
                assert iot.describe_job(jobId=job_id)["job"]["status"] == "IN_PROGRESS"

    def read_the_backend_directly() -> None:  # as the simulated fleet does
        while not stop.is_set():
            with moto_iot.LOCK.shared():
                counts: Counter[str] = Counter()
                for (job_id, _), execution in backend().job_executions.items():
                    counts[job_id] += execution.status == "QUEUED"
            halves.extend((job_id, count) for job_id, count in counts.items() if count != THINGS)

    makers = [create(creator) for creator in range(creators)]
    readers = [watch_the_jobs_being_made] * 2 + [page_and_describe_the_jobs_made] * 2 + [read_the_backend_directly]
    with threads(*readers) as read_errors:
        with threads(*makers) as make_errors:
            pass
        stop.set()

    assert make_errors == []
    assert read_errors == []
    assert halves == []
    for job_id in finished:
        assert sorted(listed(iot, job_id, page_size=250)) == [f"t-{number:03d}" for number in range(THINGS)]
    assert len(finished) == creators * jobs_each


def test_reads_run_together_a_write_waits_for_the_reads_in_flight_and_reads_for_a_write(iot: Any, group: str) -> None:
    read, made = threading.Event(), threading.Event()

    def describe() -> None:
        iot.describe_thing(thingName="t-000")
        read.set()

    def create() -> None:
        iot.create_job(jobId="late", targets=[group], document="{}")
        made.set()

    with moto_iot.LOCK.shared():  # a read in flight (as the simulated fleet's)
        threading.Thread(target=describe).start()
        assert read.wait(10)  # another read goes ahead
        writer = threading.Thread(target=create)
        writer.start()
        assert not made.wait(0.5)  # the write waits
        assert "late" not in backend().jobs
    writer.join()
    assert made.is_set()

    seen: list[int] = []
    with moto_iot.LOCK.exclusive():  # a write under way (as the simulated fleet's)
        reader = threading.Thread(target=lambda: seen.append(len(listed(iot, "late", page_size=250))))
        reader.start()
        reader.join(0.5)
        assert seen == []  # the read waits
        backend().job_executions.pop(("late", "t-000"))
        backend().job_executions.pop(("late", "t-001"))
    reader.join()
    assert seen == [THINGS - 2]  # and sees the write whole


def test_a_read_cannot_become_a_write_on_the_same_thread() -> None:
    with moto_iot.LOCK.shared(), pytest.raises(RuntimeError), moto_iot.LOCK.exclusive():
        pass
    with moto_iot.LOCK.exclusive(), moto_iot.LOCK.shared():  # a write may read what it writes
        pass


def test_listeners_hear_of_each_execution_made_once_after_the_request(iot: Any, group: str) -> None:
    heard: list[tuple[str, str]] = []
    seen: list[str] = []

    def listener(keys: list[tuple[str, str]]) -> None:
        heard.extend(keys)
        # Told after the request, without the lock: a listener may call AWS IoT, and finds the executions there.
        job_id, thing_name = keys[-1]
        seen.append(iot.describe_job_execution(jobId=job_id, thingName=thing_name)["execution"]["status"])

    stop_listening = moto_iot.on_new_executions(listener)
    try:
        iot.create_job(jobId="snapshot", targets=[group], document="{}")
        iot.create_thing(thingName="loner")
        iot.create_job(jobId="open", targets=[thing_arn("loner")], document="{}", targetSelection="CONTINUOUS")
        iot.cancel_job_execution(jobId="open", thingName="loner", force=True)  # a change, not a new execution
        iot.associate_targets_with_job(jobId="open", targets=[group])
    finally:
        stop_listening()
    iot.create_job(jobId="unheard", targets=[thing_arn("loner")], document="{}")

    fleet = [f"t-{number:03d}" for number in range(THINGS)]
    expected = [("snapshot", name) for name in fleet] + [("open", "loner")] + [("open", name) for name in fleet]
    # moto makes an execution for the group itself, which CreateJob removes at once: AWS has none.
    assert [key for key in heard if key != ("snapshot", GROUP)] == expected
    assert seen == ["QUEUED"] * 3
