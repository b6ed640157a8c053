"""The simulated fleet's things: sim-001... (FLEET_SIZE) in the thing group `simulated`, each with the
attribute simBehavior (succeed by default) that says how it answers."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import uuid
from typing import Any

from moto.core.utils import utcnow

GROUP = "simulated"


def thing_name(number: int) -> str:
    return f"sim-{number:03d}"


def create(iot: Any, size: int) -> list[str]:
    """The things and their group; things that exist already are kept as they are."""
    existing = {group["groupName"] for group in iot.list_thing_groups()["thingGroups"]}
    if GROUP not in existing:
        iot.create_thing_group(
            thingGroupName=GROUP, thingGroupProperties={"thingGroupDescription": "The simulated fleet"}
        )
    names = [thing_name(number) for number in range(1, size + 1)]
    for name in names:
        try:
            iot.describe_thing(thingName=name)
        except iot.exceptions.ResourceNotFoundException:
            iot.create_thing(thingName=name, attributePayload={"attributes": {"simBehavior": "succeed"}})
        iot.add_thing_to_thing_group(thingGroupName=GROUP, thingName=name)
    return names


BEHAVIOURS = ("succeed", "fail", "reject", "ignore", "slow")

# A step of _steps as the status API's states an inbox device reports (it acknowledges before it starts).
_INBOX_STATES = {
    "IN_PROGRESS": ("Command Acknowledged", "Command In Progress"),
    "SUCCEEDED": ("Command Success",),
    "FAILED": ("Command Failure",),
    "REJECTED": ("Command Failure",),
}


class Inbox:
    """How a simulated inbox device reaches the service: the status API over HTTP (as a device would), and,
    to know which things have inbox commands waiting, a look at the commands table."""

    def __init__(self, api_url: str, api_key: str | None, env: dict[str, str]) -> None:
        from local import aws as local_aws

        self._url = api_url
        self._headers = {"x-api-key": api_key} if api_key else {}
        self._dynamodb = local_aws.client("dynamodb", env)
        self._table = env["COMMANDS_TABLE"]
        self._deliveries: dict[str, str | None] = {}

    def waiting(self, names: set[str]) -> set[str]:
        """The things with a QUEUED execution of an inbox command in progress (one Query for the commands, one
        per inbox command)."""
        commands = self._dynamodb.query(
            TableName=self._table,
            IndexName="byStatus",
            KeyConditionExpression="commandStatus = :status",
            FilterExpression="delivery = :inbox",
            ExpressionAttributeValues={":status": {"S": "in_progress"}, ":inbox": {"S": "inbox"}},
        )["Items"]
        waiting = set()
        for command in commands:
            executions = self._dynamodb.query(
                TableName=self._table,
                KeyConditionExpression="commandId = :command AND begins_with(itemKey, :execution)",
                FilterExpression="#status = :queued",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":command": command["commandId"],
                    ":execution": {"S": "execution#"},
                    ":queued": {"S": "QUEUED"},
                },
            )["Items"]
            waiting |= {item["thingName"]["S"] for item in executions} & names
        return waiting

    def is_inbox(self, command_id: str) -> bool:
        if command_id not in self._deliveries:
            item = self._dynamodb.get_item(
                TableName=self._table, Key={"commandId": {"S": command_id}, "itemKey": {"S": "command"}}
            ).get("Item", {})
            self._deliveries[command_id] = item.get("delivery", {}).get("S")
        return self._deliveries[command_id] == "inbox"

    def fetch(self, thing_name: str) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/v2/command-inbox/?device_id={thing_name}") or [])

    def report(self, status_id: str, state: str) -> None:
        self._call("PUT", f"/commands/v0/status/{status_id}/", {"state": state, "reason": "simulated device"})

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        import json
        import urllib.error
        import urllib.request

        data = json.dumps(body).encode() if body is not None else None
        headers = self._headers | ({"Content-Type": "application/json"} if data else {})
        request = urllib.request.Request(self._url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())["content"]
        except urllib.error.HTTPError:
            return None  # refused (the execution moved meanwhile): nothing more to report


# How each behaviour answers a job execution: (seconds after it is taken, status) steps. IN_PROGRESS has no event
# in AWS IoT Jobs; the reconciler finds it. An unknown behaviour is treated as "succeed".
def _steps(behaviour: str, delay: float, slow: float) -> list[tuple[float, str]]:
    return {
        "succeed": [(delay, "IN_PROGRESS"), (2 * delay, "SUCCEEDED")],
        "fail": [(delay, "IN_PROGRESS"), (2 * delay, "FAILED")],
        "reject": [(delay, "REJECTED")],
        "ignore": [],
        "slow": [(delay, "IN_PROGRESS"), (slow, "SUCCEEDED")],
    }.get(behaviour, [(delay, "IN_PROGRESS"), (2 * delay, "SUCCEEDED")])


class Simulator:
    """The simulated things: each answers as its simBehavior attribute says (read again for every execution).

    Job executions it takes from the embedded AWS IoT, moves them there as the device's UpdateJobExecution
    would, and publishes the events AWS IoT would through the rules. Command executions (AWS IoT Commands)
    reach it as the request AWS IoT publishes to the device; it answers on the execution's response topic,
    and the IoT Commands emulator publishes the events. A thing with an inbox command waiting fetches it from
    the device inbox and reports each state through the status API.
    """

    def __init__(
        self,
        iot: Any,
        publish: Any,
        names: list[str],
        *,
        delay: float = 0.5,
        slow: float = 10.0,
        inbox: Inbox | None = None,
    ) -> None:
        self._iot = iot
        self._publish = publish
        self._names = set(names)
        self._delay = delay
        self._slow = slow
        self._taken: set[tuple[str, str]] = set()
        self._due: list[tuple[float, str, str, str]] = []
        self._lock = threading.Lock()  # command requests arrive on the AWS endpoint's threads
        self._answers: list[tuple[float, str, str, str]] = []
        self._inbox = inbox
        self._reports: list[tuple[float, int, str, str]] = []  # (when, order, status id, state): inbox PUTs
        self._order = itertools.count()  # reports due at the same time go in the order made
        self._fetched: set[str] = set()
        self._next_poll = 0.0

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(0.2):
            try:
                self._take_new()
                self._answer_due()
                self._answer_commands()
                self._poll_inboxes()
            except Exception as error:  # the endpoint is going away at shutdown, or a passing fault
                if not stop.is_set():
                    print(f"simulated fleet: {error!r}")

    def _poll_inboxes(self) -> None:
        """Inbox devices fetch their commands (once a second) and report each step through the status API."""
        if self._inbox is None:
            return
        now = time.monotonic()
        while self._reports and self._reports[0][0] <= now:
            _, _, status_id, state = heapq.heappop(self._reports)
            self._inbox.report(status_id, state)
        if now < self._next_poll:
            return
        self._next_poll = now + 1.0
        # Things whose attribute delivery is inbox always poll; the others when an inbox command waits for them.
        always = {name for name in self._names if self._attribute(name, "delivery") == "inbox"}
        for thing_name in sorted(always | self._inbox.waiting(self._names - always)):
            for item in self._inbox.fetch(thing_name):
                if item["id"] in self._fetched or not self._inbox.is_inbox(item["request"]):
                    continue
                self._fetched.add(item["id"])
                for after, status in _steps(self._behaviour(thing_name), self._delay, self._slow):
                    for index, state in enumerate(_INBOX_STATES[status]):
                        when = now + after + index * self._delay / 2
                        heapq.heappush(self._reports, (when, next(self._order), item["id"], state))

    def command_requested(self, thing_name: str, request: dict[str, Any]) -> None:
        """AWS IoT Commands' request to a device (its request topic): a simulated thing schedules its answers."""
        if thing_name not in self._names:
            return
        started = time.monotonic()
        steps = _steps(self._behaviour(thing_name), self._delay, self._slow)
        with self._lock:
            for after, status in steps:
                heapq.heappush(self._answers, (started + after, thing_name, request["executionId"], status))

    def _answer_commands(self) -> None:
        while True:
            with self._lock:
                if not self._answers or self._answers[0][0] > time.monotonic():
                    return
                _, thing_name, execution_id, status = heapq.heappop(self._answers)
            answer: dict[str, Any] = {"status": status}
            if status in ("FAILED", "REJECTED"):
                answer["statusReason"] = {"reasonCode": "SIMULATED", "reasonDescription": f"simBehavior {status}"}
            if status == "SUCCEEDED":
                answer["result"] = {"simulated": {"b": True}, "thing": {"s": thing_name}}
            self._publish(f"$aws/commands/things/{thing_name}/executions/{execution_id}/response/json", answer)

    def _behaviour(self, thing_name: str) -> str:
        return self._attribute(thing_name, "simBehavior") or "succeed"

    def _attribute(self, thing_name: str, name: str) -> str | None:
        from local.aws import ACCOUNT, REGION

        thing = self._backend().things.get(f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/{thing_name}")
        value = getattr(thing, "attributes", {}).get(name)
        return str(value) if value is not None else None

    def _backend(self) -> Any:
        from moto.iot.models import iot_backends

        from local.aws import ACCOUNT, REGION

        return iot_backends[ACCOUNT][REGION]

    def _take_new(self) -> None:
        for (job_id, thing_name), execution in list(self._backend().job_executions.items()):
            key = (job_id, thing_name)
            if thing_name not in self._names or key in self._taken or execution.status != "QUEUED":
                continue
            self._taken.add(key)
            attributes = self._iot.describe_thing(thingName=thing_name).get("attributes", {})
            started = time.monotonic()
            for after, status in _steps(attributes.get("simBehavior", "succeed"), self._delay, self._slow):
                heapq.heappush(self._due, (started + after, job_id, thing_name, status))

    def _answer_due(self) -> None:
        while self._due and self._due[0][0] <= time.monotonic():
            _, job_id, thing_name, status = heapq.heappop(self._due)
            execution = self._backend().job_executions.get((job_id, thing_name))
            if execution is None or execution.status not in ("QUEUED", "IN_PROGRESS"):
                continue  # cancelled or removed meanwhile
            execution.status = status
            execution.last_updated_at = utcnow()
            if status == "IN_PROGRESS":
                continue
            details = {"simulated": "true"}
            execution.status_details_map = details
            self._publish(
                f"$aws/events/jobExecution/{job_id}/{status.lower()}",
                {
                    "eventType": "JOB_EXECUTION",
                    "eventId": str(uuid.uuid4()),
                    "timestamp": int(time.time()),
                    "operation": status.lower(),
                    "jobId": job_id,
                    "thingArn": execution.thing_arn,
                    "status": status,
                    "statusDetails": details,
                },
            )
            self._complete_job_if_done(job_id)

    def _complete_job_if_done(self, job_id: str) -> None:
        backend = self._backend()
        job = backend.jobs.get(job_id)
        if job is None or job.target_selection != "SNAPSHOT" or job.status in ("COMPLETED", "CANCELED"):
            return
        statuses = [execution.status for (owner, _), execution in backend.job_executions.items() if owner == job_id]
        if any(status in ("QUEUED", "IN_PROGRESS") for status in statuses):
            return
        job.status = "COMPLETED"
        self._publish(
            f"$aws/events/job/{job_id}/completed",
            {
                "eventType": "JOB",
                "eventId": str(uuid.uuid4()),
                "timestamp": int(time.time()),
                "operation": "completed",
                "jobId": job_id,
                "status": "COMPLETED",
                "targetSelection": "SNAPSHOT",
            },
        )
