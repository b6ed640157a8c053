"""rollout_lifecycle: a command's whole lifecycle on the local runtime (`python -m local`, as `make run` starts
it), for each delivery kind in turn, for the simulated fleet of 2,000 things: 10% of them `fail-once` (they fail
the first attempt of an execution and succeed its retry), 5% `fail`, the others succeed.

The command targets the thing group `simulated` at `RATE` a minute, with a retry policy of one retry for FAILED,
`type: CONTINUOUS` with `maximumTargets` `MAXIMUM_TARGETS`, and its `schedulingConfig.startTime` `AHEAD` seconds
after it is published. Per delivery:

- `preview`: `POST /commands?dryRun=true` with the same body: the `targetCount` it predicts, its waves' sizes, its
  `estimatedDurationSeconds` (against `schedule`'s last start), the seconds it took to answer, and its `errors`;
- `schedule`: executions started before the start time (must be 0) and the seconds from the start time to the
  first start and to the last;
- `original`: once every execution of the things targeted at publishing has ended: how many there are (must be
  the predicted `targetCount`), the counts by status (which must be those of its executions list), the
  executions with two attempts, and of those the SUCCEEDED ones (must be the `fail-once` things exactly) and the
  FAILED ones (the `fail` things, whose retry failed too);
- `joiners`: `JOINERS` new things added to `simulated` one after another (the local route that adds a thing to a
  group as AddThingToThingGroup would, AWS IoT then publishing its registry event): how many got an execution
  (must be `maximumTargets`), the command's `joinedLate`, and the seconds from each joiner's add to its
  execution's start (median, max). The joiners are not simulated devices: their executions are left unanswered;
- `rerun`: the command cancelled (PATCH, it is CONTINUOUS: it stays in progress; its counts once no execution is
  SCHEDULED or QUEUED any more, and the seconds that took), then `POST
  /commands/{id}/rerun` for its FAILED executions, published at once, with the `fail` things told to succeed
  (the devices were fixed): the things it targets against the `fail` things, its counts, and the seconds from
  the request until it completes.

A start is when the execution reached its device's side: its history's first change after it was made (the
rollout's QUEUED, AWS IoT's SENT, or the device's own answer when that came first), or, when earlier, when AWS
IoT queued the job's execution (the thing added to the job's group) or created the AWS IoT command's first one.
What does not go as the README says is listed in `findings`, with the request and the answer.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench.fleet import GROUP, Runtime, _executions, each_delivery, execution_items
from bench.rollout import _aws_starts, _epoch

RATE = 600
AHEAD = 30  # seconds from publishing to the schedule's start time
MAXIMUM_TARGETS = 50
JOINERS = 60
RETRY = {"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1}]}
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT", "CANCELED"})
TIMEOUT = 1800.0


def rollout_lifecycle(things: int = 2_000) -> dict[str, Any]:
    names = [f"sim-{number:03d}" for number in range(1, things + 1)]
    measured = each_delivery(things, lambda runtime, delivery: _lifecycle(runtime, delivery, names))
    return {
        "things": things,
        "fail_once": len(names[::10]),
        "fail": len(names[5::20]),
        "configured_per_minute": RATE,
        "maximum_targets": MAXIMUM_TARGETS,
        "joiners_added": JOINERS,
    } | measured


def _lifecycle(runtime: Runtime, delivery: str, names: list[str]) -> dict[str, Any]:
    fail_once, fail = set(names[::10]), set(names[5::20])  # 10% and 5%, spread over the fleet
    joiners = [f"late-{delivery}-{number:02d}" for number in range(1, JOINERS + 1)]
    findings: list[str] = []
    _behave(runtime, fail_once, "fail-once")
    _behave(runtime, fail, "fail")
    try:
        command_id = f"lifecycle-{delivery}"
        body: dict[str, Any] = {
            "commandId": command_id,
            "templateId": f"bench-{delivery}",
            "status": "in_progress",
            "targets": [GROUP],
            "type": "CONTINUOUS",
            "maximumTargets": MAXIMUM_TARGETS,
            "jobExecutionsRetryConfig": RETRY,
        }
        body |= {"rolloutMaximumPerMinute": RATE} if delivery == "command" else {}
        body |= {} if delivery == "command" else {"jobExecutionsRolloutConfig": {"maximumPerMinute": RATE}}
        previewed = time.monotonic()
        status, preview = runtime.call("POST", "/commands?dryRun=true", body | _schedule(time.time() + AHEAD))
        preview_seconds = time.monotonic() - previewed
        if status != 200:
            raise RuntimeError(f"POST /commands?dryRun=true: {status} {preview}")
        if preview["errors"]:
            findings.append(f"POST /commands?dryRun=true answered errors {preview['errors']}")
        predicted = preview["targetCount"]

        start_time = float(int(time.time()) + AHEAD)  # whole seconds, as the schedule holds it
        published = time.time()
        status, answer = runtime.call("POST", "/commands", body | _schedule(start_time))
        if status != 201:
            raise RuntimeError(f"POST /commands: {status} {answer}")
        if answer["status"] != "scheduled":
            findings.append(f"POST /commands with startTime {AHEAD} s ahead answered status {answer['status']}")
        command = _wait(runtime, command_id, lambda command: _ended(command, predicted), published)
        original = _original(runtime, command, predicted, {"fail-once": fail_once, "fail": fail}, findings)
        starts = _starts(runtime, command_id, delivery)
        schedule = {
            "started_before_start_time": sum(at < start_time for at in starts.values()),
            "first_start_after_start_time_seconds": round(min(starts.values()) - start_time, 2),
            "last_start_after_start_time_seconds": round(max(starts.values()) - start_time, 2),
        }
        if schedule["started_before_start_time"]:
            findings.append(f"{schedule['started_before_start_time']} executions started before startTime")
        print(f"lifecycle {delivery}: original targets done in {time.time() - published:.0f} s", file=sys.stderr)

        joined = _join(runtime, command_id, delivery, joiners, findings)
        rerun = _rerun(runtime, command_id, delivery, fail, findings)
    finally:
        _behave(runtime, fail_once | fail, "succeed")
        for name in joiners:  # the next delivery's command targets the group too: they would never answer it
            runtime.call("DELETE", f"/_local/iot/thing-groups/simulated/things/{name}")
    return {
        "preview": {
            "target_count": predicted,
            "wave_sizes": [wave["size"] for wave in preview["waves"]],
            "seconds": round(preview_seconds, 2),
            "estimated_duration_seconds": preview["estimatedDurationSeconds"],
            "errors": len(preview["errors"]),
        },
        "schedule": schedule,
        "original": original,
        "joiners": joined,
        "rerun": rerun,
        "findings": findings,
    }


def _schedule(start: float) -> dict[str, Any]:
    stamp = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"schedulingConfig": {"startTime": stamp}}


def _behave(runtime: Runtime, things: set[str], behaviour: str) -> None:
    for name in sorted(things):
        status, answer = runtime.call("PUT", f"/_local/fleet/{name}", {"simBehavior": behaviour})
        if status != 200:
            raise RuntimeError(f"PUT /_local/fleet/{name}: {status} {answer}")


def _ended(command: dict[str, Any], expected: int) -> bool:
    """Whether every execution of the things targeted at publishing has ended (a CONTINUOUS command stays open)."""
    counts = command["counts"]
    if command["status"] not in ("scheduled", "in_progress"):
        return True
    return command["status"] == "in_progress" and sum(counts.values()) >= expected and set(counts) <= TERMINAL


def _wait(
    runtime: Runtime,
    command_id: str,
    done: Callable[[dict[str, Any]], bool],
    since: float,
    timeout: float = TIMEOUT,
) -> dict[str, Any]:
    """The command once `done` says so, read every second; an error after `timeout` seconds from `since`."""
    while True:
        command: dict[str, Any] = runtime.call("GET", f"/commands/{command_id}")[1]
        if done(command):
            return command
        if time.time() - since > timeout:
            raise RuntimeError(f"{command_id} did not get there: {command['status']} {command['counts']}")
        time.sleep(1)


def _original(
    runtime: Runtime, command: dict[str, Any], predicted: int, told: dict[str, set[str]], findings: list[str]
) -> dict[str, Any]:
    """The executions of the things targeted at publishing, all ended: `told` the things by their simBehavior."""
    command_id, fail_once, fail = command["commandId"], told["fail-once"], told["fail"]
    listed = _executions(runtime, command_id, 100)
    if command["counts"] != dict(Counter(listed.values())):
        findings.append(f"GET /commands/{command_id} counts {command['counts']} but its executions list says otherwise")
    if len(listed) != predicted:
        findings.append(f"{len(listed)} executions, the preview's targetCount {predicted}")
    attempts = _attempts(runtime, command_id)
    twice = {name for name, attempt in attempts.items() if attempt == 2}
    succeeded_twice = {name for name in twice if listed.get(name) == "SUCCEEDED"}
    failed_twice = {name for name in twice if listed.get(name) == "FAILED"}
    if succeeded_twice != fail_once:
        findings.append(f"SUCCEEDED at the second attempt: {len(succeeded_twice)}, fail-once things {len(fail_once)}")
        if missed := sorted(fail_once - succeeded_twice):
            findings.append(_evidence(runtime, command, missed))
    if failed_twice != fail:
        findings.append(f"FAILED at the second attempt: {len(failed_twice)}, fail things {len(fail)}")
    return {
        "executions": len(listed),
        "counts": command["counts"],
        "counts_match_list": command["counts"] == dict(Counter(listed.values())),
        "two_attempts": len(twice),
        "succeeded_at_attempt_2": len(succeeded_twice),
        "failed_at_attempt_2": len(failed_twice),
        "most_attempts": max(attempts.values()),
    }


def _evidence(runtime: Runtime, command: dict[str, Any], missed: list[str]) -> str:
    """What the service and AWS IoT hold of the first fail-once thing whose retry the service did not record."""
    command_id, thing = command["commandId"], missed[0]
    path = f"/commands/{command_id}/executions/{thing}"
    status, answer = runtime.call("GET", path)
    execution = answer["executions"][0] if status == 200 else answer
    shown = {key: execution.get(key) for key in ("status", "attempt", "history")} if status == 200 else answer
    if "jobId" in command:
        job = runtime.iot.describe_job_execution(jobId=command["jobId"], thingName=thing)["execution"]
        aws = f"AWS IoT's job execution: status {job['status']}, executionNumber {job['executionNumber']}"
    else:
        aws = "no AWS IoT job"
    print(f"lifecycle: {len(missed)} fail-once things without a second attempt: {missed}", file=sys.stderr)
    return f"{len(missed)} such things, e.g. GET {path}: {status} {json.dumps(shown)}; {aws}"


def _attempts(runtime: Runtime, command_id: str) -> dict[str, int]:
    """Each execution's attempts: the highest its history's entries belong to (an entry without one: the first)."""
    return {
        item["thingName"]["S"]: max(int(entry["M"].get("attempt", {"N": "1"})["N"]) for entry in item["history"]["L"])
        for item in execution_items(runtime, command_id, "thingName, history")
    }


def _starts(runtime: Runtime, command_id: str, delivery: str) -> dict[str, float]:
    """When each execution started: its history's first change after it was made, or AWS IoT's start if earlier
    (a retried job's queuedAt is its retry's: the earliest is kept)."""
    starts: dict[str, float] = {}
    for item in execution_items(runtime, command_id, "thingName, history"):
        changes = [_epoch(entry["M"]["at"]["S"]) for entry in item["history"]["L"][1:]]
        if changes:
            starts[item["thingName"]["S"]] = min(changes)
    for name, at in _aws_starts(runtime, command_id, delivery).items():
        starts[name] = min(at, starts.get(name, at))
    return starts


def _join(runtime: Runtime, command_id: str, delivery: str, joiners: list[str], findings: list[str]) -> dict[str, Any]:
    added: dict[str, float] = {}
    for name in joiners:
        runtime.iot.create_thing(thingName=name, attributePayload={"attributes": {"simBehavior": "succeed"}})
        added[name] = time.time()
        status, answer = runtime.call("PUT", f"/_local/iot/thing-groups/simulated/things/{name}")
        if status != 200:
            findings.append(f"PUT /_local/iot/thing-groups/simulated/things/{name}: {status} {answer}")
    since = time.time()
    deadline = since + 300
    while True:
        started = {
            name: at for name, at in _starts(runtime, command_id, delivery).items() if name in added
        }  # the joiners whose executions started
        made = {item["thingName"]["S"] for item in execution_items(runtime, command_id, "thingName")} & set(added)
        if (len(started) >= MAXIMUM_TARGETS and len(made) == len(started)) or time.time() > deadline:
            break
        time.sleep(1)
    time.sleep(10)  # the joiners past the cap: an execution would show by now
    made = {item["thingName"]["S"] for item in execution_items(runtime, command_id, "thingName")} & set(added)
    started = {name: at for name, at in _starts(runtime, command_id, delivery).items() if name in added}
    command = runtime.call("GET", f"/commands/{command_id}")[1]
    if len(made) != MAXIMUM_TARGETS or command["joinedLate"] != MAXIMUM_TARGETS:
        findings.append(
            f"{JOINERS} things joined {GROUP}: {len(made)} executions, joinedLate {command['joinedLate']}, "
            f"maximumTargets {MAXIMUM_TARGETS}"
        )
    waits = sorted(at - added[name] for name, at in started.items())
    return {
        "with_execution": len(made),
        "joined_late": command["joinedLate"],
        "started": len(started),
        "first_joiners": made == set(joiners[:MAXIMUM_TARGETS]),
        "start_after_add_seconds": {
            "median": round(statistics.median(waits), 2) if waits else None,
            "max": round(waits[-1], 2) if waits else None,
        },
    }


def _rerun(runtime: Runtime, command_id: str, delivery: str, fail: set[str], findings: list[str]) -> dict[str, Any]:
    command = runtime.call("GET", f"/commands/{command_id}")[1]
    if command["status"] == "in_progress":
        status, answer = runtime.call("PATCH", f"/commands/{command_id}", {"status": "cancelled"})
        if status not in (200, 204):
            findings.append(f'PATCH /commands/{command_id} {{"status": "cancelled"}}: {status} {answer}')
    asked = time.time()
    try:
        cancelled = _wait(
            runtime, command_id, lambda command: not {"SCHEDULED", "QUEUED"} & set(command["counts"]), asked, 60
        )
    except RuntimeError:
        cancelled = runtime.call("GET", f"/commands/{command_id}")[1]
        findings.append(f"cancelled 60 s ago, {command_id} is {cancelled['status']} with counts {cancelled['counts']}")
    settled = time.time() - asked
    _behave(runtime, fail, "succeed")  # the failing devices were fixed
    rerun_id = f"{command_id}-rerun"
    asked = time.time()
    body = {"commandId": rerun_id, "statuses": ["FAILED"], "status": "in_progress"}
    status, answer = runtime.call("POST", f"/commands/{command_id}/rerun", body)
    if status != 201:
        findings.append(f"POST /commands/{command_id}/rerun {json.dumps(body)}: {status} {answer}")
        return {"source_status": cancelled["status"], "created": False}
    rerun = _wait(runtime, rerun_id, lambda command: command["status"] not in ("scheduled", "in_progress"), asked)
    seconds = time.time() - asked
    targeted = set(_executions(runtime, rerun_id, 100))
    if targeted != fail:
        findings.append(f"the rerun of FAILED targets {len(targeted)} things, {len(targeted & fail)} of the fail ones")
    if rerun["status"] != "completed":
        findings.append(f"the rerun ended {rerun['status']}: {rerun.get('statusReason')}")
    return {
        "source_status": cancelled["status"],
        "source_counts": cancelled["counts"],  # the joiners' executions cancelled, or started (AWS IoT Commands)
        "cancel_settled_seconds": round(settled, 1),
        "targets": len(targeted),
        "targets_are_the_fail_things": targeted == fail,
        "status": rerun["status"],
        "counts": rerun["counts"],
        "seconds_to_complete": round(seconds, 1),
    }


if __name__ == "__main__":
    print(json.dumps(rollout_lifecycle(*[int(argument) for argument in sys.argv[1:2]]), indent=2))
