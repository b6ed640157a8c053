"""The local runtime's simulated fleet (local/fleet.py) against moto's AWS IoT: it takes each job execution once as
moto_iot tells of it, answers as each thing's simBehavior says, completes the job, and answers AWS IoT Commands'
requests without holding up the thread that made them."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from local import fleet, moto_iot
from tests.integration.conftest import ACCOUNT, REGION, group_arn, thing_arn

Events = list[tuple[str, dict[str, Any]]]


@contextmanager
def running(simulator: fleet.Simulator) -> Iterator[None]:
    """The simulator on its thread, told of new job executions as the local runtime tells it."""
    stop_listening = moto_iot.on_new_executions(simulator.executions_created)
    stop = threading.Event()
    thread = threading.Thread(target=simulator.run, args=(stop,))
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        stop_listening()


@contextmanager
def often_switching() -> Iterator[None]:
    """Threads switch often (as on a busy server), so that what could interleave does."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the simulated fleet did not get there"
        time.sleep(0.05)


@pytest.fixture
def behaving(aws: dict[str, str]) -> Callable[[int, dict[str, str]], list[str]]:
    """The simulated fleet's group and `size` things, some told how to answer (straight into moto's registry:
    a thousand through the API take a while); the things' names."""
    from moto.iot.models import iot_backends

    def make(size: int, behaviours: dict[str, str]) -> list[str]:
        backend = iot_backends[ACCOUNT][REGION]
        names = [fleet.thing_name(number) for number in range(1, size + 1)]
        with moto_iot.LOCK.exclusive():
            backend.create_thing_group(fleet.GROUP, "", {})
            for name in names:
                attributes = {"attributes": {"simBehavior": behaviours.get(name, "succeed")}}
                thing = backend.create_thing(name, "", attributes)
                backend.add_thing_to_thing_group(fleet.GROUP, None, name, thing.arn)
        return names

    return make


def test_the_fleet_takes_each_execution_of_a_1000_thing_job_once_and_completes_the_job(
    iot: Any, behaving: Callable[[int, dict[str, str]], list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    told = {fleet.thing_name(number): "fail" for number in range(1, 1001, 10)}
    told |= {fleet.thing_name(number): "reject" for number in range(2, 1001, 10)}
    names = behaving(1000, told)
    outsiders = [thing_arn(f"outsider-{number}") for number in range(100)]
    for arn in outsiders:
        iot.create_thing(thingName=arn.rsplit("/", 1)[1])
    events: Events = []
    simulator = fleet.Simulator(iot, lambda topic, payload: events.append((topic, payload)), names, delay=0.01)
    completed = ("$aws/events/job/big/completed", "COMPLETED")

    def other_jobs() -> None:  # made while the fleet answers the big job: jobs of things it does not simulate
        made = 0
        while made < 100 and not any(payload["eventType"] == "JOB" for _, payload in events[-1:]):
            if events:
                iot.create_job(jobId=f"other-{made}", targets=outsiders, document="{}", targetSelection="SNAPSHOT")
                made += 1
            time.sleep(0.001)

    with running(simulator), often_switching():
        iot.create_job(jobId="small", targets=[thing_arn(names[2])], document="{}")
        iot.create_job(jobId="big", targets=[group_arn(fleet.GROUP)], document="{}", targetSelection="SNAPSHOT")
        others = threading.Thread(target=other_jobs)
        others.start()
        wait_for(lambda: completed in {(topic, payload["status"]) for topic, payload in events})
        others.join()

    big = [payload for _, payload in events if payload["jobId"] == "big"]
    answers = [(payload["thingArn"].rsplit("/", 1)[1], payload["status"]) for payload in big[:-1]]
    assert Counter(thing for thing, _ in answers) == Counter(names)  # each execution answered once
    assert dict(answers) == {
        name: {"fail": "FAILED", "reject": "REJECTED"}.get(told.get(name, ""), "SUCCEEDED") for name in names
    }
    assert (big[-1]["eventType"], big[-1]["status"]) == ("JOB", "COMPLETED")  # once, after its executions
    assert iot.describe_job(jobId="big")["job"]["status"] == "COMPLETED"
    assert [payload["status"] for _, payload in events if payload["jobId"] == "small"] == ["SUCCEEDED"]
    assert capsys.readouterr().out == ""  # the fleet's thread met no error


def test_command_requests_are_noted_while_aws_iot_is_busy_and_each_answered_as_its_thing_says(
    iot: Any, behaving: Callable[[int, dict[str, str]], list[str]]
) -> None:
    names = behaving(20, {fleet.thing_name(1): "fail", fleet.thing_name(2): "ignore"})
    events: Events = []
    simulator = fleet.Simulator(iot, lambda topic, payload: events.append((topic, payload)), names, delay=0.01)

    # AWS IoT busy with a write: the thread that requests (the endpoint's) is not held up by it.
    def request_all() -> None:
        for name in names:
            simulator.command_requested(name, {"executionId": f"run-{name}", "commandId": "run"})

    with moto_iot.LOCK.exclusive():
        requests = threading.Thread(target=request_all)
        requests.start()
        requests.join(10)
        assert not requests.is_alive()

    with running(simulator):
        wait_for(lambda: sum(payload["status"] != "IN_PROGRESS" for _, payload in events) == len(names) - 1)

    answered: dict[str, list[str]] = {}
    for topic, payload in events:
        levels = topic.split("/")
        assert (levels[3], levels[5]) == (levels[3], f"run-{levels[3]}")
        answered.setdefault(levels[3], []).append(payload["status"])
    assert answered.pop(fleet.thing_name(1)) == ["IN_PROGRESS", "FAILED"]
    assert fleet.thing_name(2) not in answered  # it ignores its commands
    assert answered == {name: ["IN_PROGRESS", "SUCCEEDED"] for name in names[2:]}
