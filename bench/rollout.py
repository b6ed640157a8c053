"""rollout_waves: a rollout in waves on the local runtime (`python -m local`, as `make run` starts it), for each
delivery kind in turn, for the simulated fleet of 2,000 things, every device succeeding.

The command rolls out in waves of 5%, 25% and 100% of the targets at `RATE` a minute, each wave once every
execution of the one before has SUCCEEDED (threshold 100%, no soak). Per delivery:

- `gate_seconds`: from the moment wave 1 met its threshold (its last SUCCEEDED recorded) to the first start of
  wave 2: what the gate costs over the devices' own time;
- `first_start_of_wave_2_seconds`: from publishing to that start;
- per wave, its size and the starts achieved per minute against the configured rate: the mean over the wave's
  complete minutes from its first start (a wave shorter than a minute reports its size), and the most started in
  any 60-second window (never above the rate).

A start is when the execution reached its device's side: when AWS IoT queued the job's execution (the thing
added to the job's group) or created the AWS IoT command's, as AWS IoT lists them; for the inbox, when the
rollout released it (its history's first change after publishing).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from typing import Any

from bench.fleet import GROUP, Runtime, achieved_rate, each_delivery, execution_items

RATE = 600
PERCENTAGES = (5, 25, 100)
TIMEOUT = 1800.0


def rollout_waves(things: int = 2_000) -> dict[str, Any]:
    measured = each_delivery(things, _rollout)
    return {"things": things, "configured_per_minute": RATE, "percentages": list(PERCENTAGES)} | measured


def _rollout(runtime: Runtime, delivery: str) -> dict[str, Any]:
    command_id = f"waves-{delivery}"
    body = {
        "commandId": command_id,
        "templateId": f"bench-{delivery}",
        "status": "in_progress",
        "targets": [GROUP],
        "jobExecutionsRolloutConfig": {"maximumPerMinute": RATE},
        "waves": {"percentages": list(PERCENTAGES), "successThresholdPercentage": 100},
    }
    published = time.time()
    status, answer = runtime.call("POST", "/commands", body)
    if status != 201:
        raise RuntimeError(f"POST /commands: {status} {answer}")
    while (command := runtime.call("GET", f"/commands/{command_id}")[1])["status"] == "in_progress":
        if time.time() - published > TIMEOUT:
            raise RuntimeError(f"{command_id} did not complete: {command.get('rollout')}")
        time.sleep(1)
    if command["status"] != "completed":
        raise RuntimeError(f"{command_id} ended {command['status']}: {command.get('statusReason')}")
    starts, successes = _history(runtime, command_id)
    starts |= _aws_starts(runtime, command_id, delivery)
    names = sorted(starts)  # waves take the targets in thing-name order
    sizes = [wave["size"] for wave in command["rollout"]["waves"]]
    bounds = [sum(sizes[:index]) for index in range(len(sizes) + 1)]
    waves = [names[bounds[index] : bounds[index + 1]] for index in range(len(sizes))]
    met = max(successes[name] for name in waves[0])
    wave_two = min(starts[name] for name in waves[1])
    print(f"rollout {delivery}: done in {time.time() - published:.0f} s", file=sys.stderr, flush=True)
    return {
        "gate_seconds": round(wave_two - met, 2),
        "first_start_of_wave_2_seconds": round(wave_two - published, 1),
        "waves": [{"size": len(wave)} | achieved_rate([starts[name] for name in wave], RATE) for wave in waves],
    }


def _aws_starts(runtime: Runtime, command_id: str, delivery: str) -> dict[str, float]:
    """When AWS IoT made each execution: a job's queued it (the thing added to the job's group), an AWS IoT
    command's created it; the inbox has no AWS IoT side (its start is the rollout's release, in the history)."""
    if delivery == "inbox":
        return {}
    if delivery == "job":
        operation, arguments, items = "list_job_executions_for_job", {"jobId": command_id}, "executionSummaries"
    else:
        arn = runtime.iot.get_command(commandId=command_id)["commandArn"]
        operation, arguments, items = "list_command_executions", {"commandArn": arn}, "commandExecutions"
    found: dict[str, float] = {}
    while True:
        page = getattr(runtime.iot, operation)(**arguments, maxResults=100)
        for item in page[items]:
            if delivery == "job":
                found[item["thingArn"].rsplit("/", 1)[-1]] = item["jobExecutionSummary"]["queuedAt"].timestamp()
            else:
                found[item["targetArn"].rsplit("/", 1)[-1]] = item["createdAt"].timestamp()
        if not page.get("nextToken"):
            return found
        arguments["nextToken"] = page["nextToken"]


def _history(runtime: Runtime, command_id: str) -> tuple[dict[str, float], dict[str, float]]:
    """When each execution started (its first change after publishing: the rollout's QUEUED, AWS IoT's SENT, or
    the device's own answer when that came first) and when it succeeded, from its history."""
    starts: dict[str, float] = {}
    successes: dict[str, float] = {}
    for item in execution_items(runtime, command_id, "thingName, history"):
        name = item["thingName"]["S"]
        history = [(entry["M"]["to"]["S"], _epoch(entry["M"]["at"]["S"])) for entry in item["history"]["L"]]
        starts[name] = min(at for _, at in history[1:])
        for to, at in history:
            if to == "SUCCEEDED":
                successes[name] = at
    return starts, successes


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


if __name__ == "__main__":
    print(json.dumps(rollout_waves(*[int(argument) for argument in sys.argv[1:2]]), indent=2))
