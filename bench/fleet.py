"""fleet_2000: the local runtime (`python -m local`, as `make run` starts it) holding a fleet of 2,000 things.

A round is one command per delivery (job, command, inbox) for the thing group `simulated`, one after another,
then one of each at once. Each command must reach `completed` with counts equal to its executions list (read
at several page sizes). The command delivery's commands roll out at `RATE` a minute, which the dispatcher must
meet. Ten rounds run; then:

- seconds to complete, per delivery, alone and at once, in the first and the last round;
- the achieved rollout rate: executions AWS IoT Commands started per complete minute of the rollout (the mean
  over the minutes from the first start; the last, partial minute left out) against the configured rate, and
  the most started in any 60-second window (never above the configured rate);
- events applied per second: the status changes the service wrote into its executions' histories after
  publishing (from AWS IoT events, device reports and the reconciler), over the seconds to complete;
- the runtime's resident memory (RSS) after each round, its peak (VmHWM), and the ratio of the RSS after the
  last round to the RSS after the first.

Figures come from outside the runtime: its HTTP API, its embedded AWS endpoint (boto3), and /proc.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.delivery import free_port
from local import aws as local_aws
from local.simulated_time import most_in_a_window

ROOT = Path(__file__).resolve().parent.parent
GROUP = f"arn:aws:iot:{local_aws.REGION}:{local_aws.ACCOUNT}:thinggroup/simulated"
DELIVERIES = ("job", "command", "inbox")
RATE = 600  # the command delivery's rolloutMaximumPerMinute
PAGE_SIZES = (7, 100, 250)
FIRST_ROUND_PAGE_SIZES = (1, *PAGE_SIZES)  # a page of one, through 2,000 pages, once
COMPLETION_TIMEOUT = 1800.0


class Runtime:
    """The local runtime in a process of its own, and what the bench asks of it."""

    def __init__(self, things: int, settings: dict[str, str] | None = None) -> None:
        self.port, self.aws_port = free_port(), free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="fleet-bench-", suffix=".log", delete=False)  # noqa: SIM115
        env = {
            **os.environ,
            **(settings or {}),
            "FLEET_SIZE": str(things),
            "PORT": str(self.port),
            "AWS_PORT": str(self.aws_port),
            "PYTHONPATH": f"{ROOT / 'layers' / 'core' / 'python'}{os.pathsep}{ROOT}",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local"], cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 600
        while not self._healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the local runtime did not start; see {self.log.name}")
            time.sleep(0.5)
        aws = local_aws.environment(self.aws_port)
        self.iot = local_aws.client("iot", aws)
        self.dynamodb = local_aws.client("dynamodb", aws)
        self.table = aws["COMMANDS_TABLE"]

    def _healthy(self) -> bool:
        try:
            return self.call("GET", "/_local/health")[0] == 200
        except OSError:
            return False

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data else {}
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def memory(self) -> dict[str, int]:
        """The runtime's resident memory now and at its peak, in MB."""
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines())
        return {name: int(fields[key].split()[0]) // 1024 for name, key in (("rss", "VmRSS"), ("peak", "VmHWM"))}

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()
        os.unlink(self.log.name)


def each_delivery(
    things: int, measure: Callable[[Runtime, str], dict[str, Any]], settings: dict[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """A local runtime of `things` (with `settings` in its environment), a template for each delivery, then
    `measure` of each delivery in turn; the runtime stopped after."""
    runtime = Runtime(things, settings)
    try:
        for delivery in DELIVERIES:
            _template(runtime, delivery)
        return {delivery: measure(runtime, delivery) for delivery in DELIVERIES}
    finally:
        runtime.stop()


def _template(runtime: Runtime, delivery: str) -> None:
    body = {
        "templateId": f"bench-{delivery}",
        "operation": "bench",
        "document": json.dumps({"action": "bench"}),
        "delivery": delivery,
    }
    status, answer = runtime.call("POST", "/templates", body)
    if status != 201:
        raise RuntimeError(f"POST /templates: {status} {answer}")


def _run_command(runtime: Runtime, command_id: str, delivery: str, page_sizes: tuple[int, ...]) -> dict[str, Any]:
    """Publishes a command for the whole fleet and follows it until it completes; what it measured."""
    body: dict[str, Any] = {
        "commandId": command_id,
        "templateId": f"bench-{delivery}",
        "status": "in_progress",
        "targets": [GROUP],
    }
    if delivery == "command":
        body["rolloutMaximumPerMinute"] = RATE
    started = time.monotonic()
    status, answer = runtime.call("POST", "/commands", body)
    if status != 201:
        raise RuntimeError(f"POST /commands: {status} {answer}")
    while True:
        status, command = runtime.call("GET", f"/commands/{command_id}")
        if command["status"] != "in_progress":
            break
        if time.monotonic() - started > COMPLETION_TIMEOUT:
            raise RuntimeError(f"command {command_id} did not complete: {command.get('counts')}")
        time.sleep(0.5)
    seconds = time.monotonic() - started
    if command["status"] != "completed":
        raise RuntimeError(f"command {command_id} ended {command['status']}: {command.get('statusReason')}")
    for size in page_sizes:
        listed = _executions(runtime, command_id, size)
        if command["counts"] != dict(Counter(listed.values())):
            raise RuntimeError(f"{command_id}: counts {command['counts']} but the list at {size} a page says otherwise")
    figures: dict[str, Any] = {"seconds": round(seconds, 1), "executions": sum(command["counts"].values())}
    figures["events_per_second"] = round(_events_applied(runtime, command_id) / seconds, 1)
    if delivery == "command":
        figures["rate"] = _rate(runtime, command_id)
    return figures


def _executions(runtime: Runtime, command_id: str, size: int) -> dict[str, str]:
    found: dict[str, str] = {}
    token = ""
    while True:
        status, page = runtime.call("GET", f"/commands/{command_id}/executions?maxResults={size}{token}")
        if status != 200:
            raise RuntimeError(f"executions of {command_id} at {size} a page: {status} {page}")
        for item in page["executions"]:
            if item["thingName"] in found:
                raise RuntimeError(f"{command_id}: {item['thingName']} listed twice at {size} a page")
            found[item["thingName"]] = item["status"]
        if "nextToken" not in page["pagination"]:
            return found
        token = f"&nextToken={page['pagination']['nextToken']}"


def _events_applied(runtime: Runtime, command_id: str) -> int:
    """History entries written after publishing: from AWS IoT events, device reports and the reconciler."""
    return sum(
        entry["M"]["source"]["S"] not in ("publish", "api")
        for item in execution_items(runtime, command_id, "history")
        for entry in item["history"]["L"]
    )


def execution_items(runtime: Runtime, command_id: str, projection: str) -> Iterator[dict[str, Any]]:
    """The command's execution items in the runtime's table (only the attributes named), page after page."""
    arguments: dict[str, Any] = {
        "TableName": runtime.table,
        "KeyConditionExpression": "commandId = :command AND begins_with(itemKey, :prefix)",
        "ExpressionAttributeValues": {":command": {"S": command_id}, ":prefix": {"S": "execution#"}},
        "ProjectionExpression": projection,
    }
    while True:
        page = runtime.dynamodb.query(**arguments)
        yield from page["Items"]
        if "LastEvaluatedKey" not in page:
            return
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _rate(runtime: Runtime, command_id: str) -> dict[str, Any]:
    arn = runtime.iot.get_command(commandId=command_id)["commandArn"]
    created: list[float] = []
    arguments: dict[str, Any] = {"commandArn": arn, "maxResults": 100}
    while True:
        page = runtime.iot.list_command_executions(**arguments)
        created += [item["createdAt"].timestamp() for item in page["commandExecutions"]]
        if not page.get("nextToken"):
            break
        arguments["nextToken"] = page["nextToken"]
    return {"configured_per_minute": RATE} | achieved_rate(created, RATE)


def achieved_rate(times: list[float], rate: int) -> dict[str, Any]:
    """Starts per complete minute from the first (the mean; the last, partial minute left out; fewer than a
    minute's worth: their number) against `rate`, and the most in any 60-second window."""
    times = sorted(times)
    minutes = math.floor((times[-1] - times[0]) / 60)
    per_minute = [sum(1 for at in times if 60 * m <= at - times[0] < 60 * (m + 1)) for m in range(minutes)]
    achieved = sum(per_minute) / minutes if minutes else float(len(times))
    return {
        "achieved_per_minute": round(achieved, 1),
        "achieved_ratio": round(achieved / rate, 3),
        "max_in_any_60_seconds": most_in_a_window(times),
        "full_minutes": minutes,
    }


def _round(runtime: Runtime, number: int) -> dict[str, Any]:
    sizes = FIRST_ROUND_PAGE_SIZES if number == 1 else PAGE_SIZES
    alone = {delivery: _run_command(runtime, f"r{number}-{delivery}", delivery, sizes) for delivery in DELIVERIES}
    with ThreadPoolExecutor(len(DELIVERIES)) as pool:
        runs = {
            delivery: pool.submit(_run_command, runtime, f"r{number}-{delivery}-together", delivery, sizes)
            for delivery in DELIVERIES
        }
        together = {delivery: run.result() for delivery, run in runs.items()}
    return {"alone": alone, "together": together, "memory_mb": runtime.memory()}


def fleet_2000(things: int = 2_000, rounds: int = 10) -> dict[str, Any]:
    """Runs the rounds, each logged on stderr as it ends; Ctrl-C stops the run and sums up the rounds done."""
    runtime = Runtime(things)
    measured: list[dict[str, Any]] = []
    try:
        for delivery in DELIVERIES:
            _template(runtime, delivery)
        for number in range(1, rounds + 1):
            measured.append(_round(runtime, number))
            print(f"fleet round {number}: {json.dumps(measured[-1])}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print(f"stopped after {len(measured)} of {rounds} rounds", file=sys.stderr)
    finally:
        runtime.stop()
    return summary(things, rounds, measured)


def summary(things: int, rounds: int, measured: list[dict[str, Any]]) -> dict[str, Any]:
    if not measured:
        raise RuntimeError("no round completed")
    first, last = measured[0], measured[-1]
    parts = ("alone", "together")
    rates = [round_[part]["command"]["rate"] for round_ in measured for part in parts]
    return {
        "things": things,
        "rounds": len(measured),
        "rounds_planned": rounds,
        "first_round": {part: first[part] for part in parts},
        "last_round": {part: last[part] for part in parts},
        "rate": {
            "configured_per_minute": RATE,
            "lowest_achieved_ratio": min(rate["achieved_ratio"] for rate in rates),
            "highest_in_any_60_seconds": max(rate["max_in_any_60_seconds"] for rate in rates),
        },
        "rss_mb_after_each_round": [round_["memory_mb"]["rss"] for round_ in measured],
        "peak_rss_mb": max(round_["memory_mb"]["peak"] for round_ in measured),
        "rss_last_to_first": round(last["memory_mb"]["rss"] / first["memory_mb"]["rss"], 2),
        "target_rss_last_to_first": 1.5,
    }


if __name__ == "__main__":
    arguments = [int(argument) for argument in sys.argv[1:3]]
    print(json.dumps(fleet_2000(*arguments), indent=2))
