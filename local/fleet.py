"""The simulated fleet's things: sim-001... (FLEET_SIZE) in the thing group `simulated`, each with the
attribute simBehavior (succeed by default) that says how it answers."""

from __future__ import annotations

import heapq
import itertools
import json
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.core.utils import utcnow

from local import moto_iot

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


BEHAVIOURS = ("succeed", "fail", "reject", "ignore", "slow", "fail-once")

# A step of _steps as the status API's states an inbox device reports (it acknowledges before it starts).
_INBOX_STATES = {
    "IN_PROGRESS": ("Command Acknowledged", "Command In Progress"),
    "SUCCEEDED": ("Command Success",),
    "FAILED": ("Command Failure",),
    "REJECTED": ("Command Failure",),
}
_ACKNOWLEDGED = "Command Acknowledged"
_FETCH_LANES = 2  # the inbox route is one function instance locally: more fetches at once would wait for it
_REPORTS_AT_ONCE = 8
_REREAD_SECONDS = 5.0  # at most this often, an inbox command's executions are read again while they change


@dataclass
class _Pending:
    """What devices may fetch of one inbox command, as last read: the things whose execution is QUEUED, and the
    end of the lease of each SENT one (None: handed out before the service kept leases, so it is due)."""

    counts: str  # the command's counts when read: every change of an execution's status changes them
    read_at: float  # time.monotonic() of the read
    queued: frozenset[str]
    leases: dict[str, datetime | None]

    def due(self, at: datetime) -> set[str]:
        return set(self.queued) | {thing for thing, until in self.leases.items() if until is None or until <= at}

    def stale(self, counts: str, at: datetime) -> bool:
        """Whether the table may hold something else: a status changed, or a lease it knows of has passed (a
        fetch then renews the lease, which changes no count)."""
        return counts != self.counts or any(until is None or until <= at for until in self.leases.values())


class Inbox:
    """How a simulated inbox device reaches the service: the status API over HTTP (as a device would), a few
    calls at a time, and, to know which things have inbox commands waiting, a look at the commands table."""

    def __init__(self, api_url: str, api_key: str | None, env: dict[str, str], *, timeout: float = 10.0) -> None:
        from local import aws as local_aws

        self._url = api_url
        self._headers = {"x-api-key": api_key} if api_key else {}
        self._timeout = timeout  # an answer later than this is lost, as a device's request that timed out
        self._dynamodb = local_aws.client("dynamodb", env)
        self._table = env["COMMANDS_TABLE"]
        self._deliveries: dict[str, str | None] = {}
        self._pending: dict[str, _Pending] = {}  # by inbox command in progress with executions QUEUED or SENT
        # HTTP calls run on a few threads of their own, so that the fleet's thread never waits for them. The
        # fleet's thread queues fetches and reports; the lanes and report calls take them (under the lock).
        self._pool = ThreadPoolExecutor(max_workers=_FETCH_LANES + _REPORTS_AT_ONCE, thread_name_prefix="inbox")
        self._lock = threading.Lock()
        self._to_fetch: deque[str] = deque()
        self._fetching: set[str] = set()  # queued or being fetched
        self._lanes = 0
        self._received: deque[tuple[str, list[dict[str, Any]], float]] = deque()
        self._ready: dict[str, list[str]] = {}  # status id -> its states due, in order (the fleet's thread's)
        self._sending: set[str] = set()  # status ids whose states are being sent
        self._fetched_at: dict[str, float] = {}  # thing name -> time.monotonic() its last fetch ended

    def waiting(self, names: set[str]) -> set[str]:
        """The things with an execution of an inbox command in progress to fetch: QUEUED, or SENT and past its lease
        (its answer was lost: the service hands it out again). One Query for the commands and one of each one's
        counts; a command's executions QUEUED or SENT are read again only when its counts changed or a lease
        known passed, and then at most every _REREAD_SECONDS (while thousands move, reading them all each second
        would be most of the fleet's work), so a fleet whose devices have what they were sent costs that one
        Query a poll. A thing fetched since its command's executions were read waits for the next read: its
        fetch took what it had."""
        at, moment = datetime.now(UTC), time.monotonic()
        known, self._pending = self._pending, {}
        commands = {
            "TableName": self._table,
            "IndexName": "byStatus",
            "KeyConditionExpression": "commandStatus = :status",
            "FilterExpression": "delivery = :inbox",
            "ProjectionExpression": "commandId",
            "ExpressionAttributeValues": {":status": {"S": "in_progress"}, ":inbox": {"S": "inbox"}},
        }
        for command in self._query(commands):
            command_id = command["commandId"]["S"]
            shards = {  # the command's counts, in shards of their own
                "TableName": self._table,
                "KeyConditionExpression": "commandId = :command AND begins_with(itemKey, :counts)",
                "ProjectionExpression": "#counts",
                "ExpressionAttributeNames": {"#counts": "counts"},
                "ExpressionAttributeValues": {":command": {"S": command_id}, ":counts": {"S": "counts#"}},
            }
            counts: Counter[str] = Counter()
            for shard in self._query(shards):
                counts.update({status: int(count["N"]) for status, count in shard["counts"]["M"].items()})
            if not counts.get("QUEUED") and not counts.get("SENT"):
                continue  # nothing to fetch: every execution is its device's, or ended
            signature = json.dumps(counts, sort_keys=True)
            pending = known.get(command_id)
            if pending is None or (pending.stale(signature, at) and moment - pending.read_at >= _REREAD_SECONDS):
                pending = self._read(command_id, signature)
            self._pending[command_id] = pending
        with self._lock:
            fetched = dict(self._fetched_at)
        return {
            thing
            for pending in self._pending.values()
            for thing in pending.due(at) & names
            if fetched.get(thing, -math.inf) < pending.read_at
        }

    def _read(self, command_id: str, counts: str) -> _Pending:
        read_at = time.monotonic()
        executions = {
            "TableName": self._table,
            "KeyConditionExpression": "commandId = :command AND begins_with(itemKey, :execution)",
            "FilterExpression": "#status IN (:queued, :sent)",
            "ProjectionExpression": "thingName, #status, leaseUntil",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":command": {"S": command_id},
                ":execution": {"S": "execution#"},
                ":queued": {"S": "QUEUED"},
                ":sent": {"S": "SENT"},
            },
        }
        queued, leases = set(), {}
        for item in self._query(executions):
            if item["status"]["S"] == "QUEUED":
                queued.add(item["thingName"]["S"])
            else:
                until = item.get("leaseUntil", {}).get("S")
                leases[item["thingName"]["S"]] = datetime.fromisoformat(until) if until else None
        return _Pending(counts, read_at, frozenset(queued), leases)

    def _query(self, arguments: dict[str, Any]) -> Iterator[dict[str, Any]]:
        while True:
            response = self._dynamodb.query(**arguments)
            yield from response["Items"]
            if "LastEvaluatedKey" not in response:
                return
            arguments = arguments | {"ExclusiveStartKey": response["LastEvaluatedKey"]}

    def is_inbox(self, command_id: str) -> bool:
        if command_id not in self._deliveries:
            item = self._dynamodb.get_item(
                TableName=self._table, Key={"commandId": {"S": command_id}, "itemKey": {"S": "command"}}
            ).get("Item", {})
            self._deliveries[command_id] = item.get("delivery", {}).get("S")
        return self._deliveries[command_id] == "inbox"

    def fetch_later(self, thing_names: list[str]) -> None:
        """Queues a fetch of each thing not already waiting for one; a few lanes fetch them in the background,
        and `received` gives what they got."""
        with self._lock:
            for name in thing_names:
                if name not in self._fetching:
                    self._fetching.add(name)
                    self._to_fetch.append(name)
            starting = min(_FETCH_LANES - self._lanes, len(self._to_fetch))
            self._lanes += starting
        for _ in range(starting):
            self._pool.submit(self._fetch_lane)

    def _fetch_lane(self) -> None:
        while True:
            with self._lock:
                if not self._to_fetch:
                    self._lanes -= 1
                    return
                name = self._to_fetch.popleft()
            try:
                answer = self._call("GET", f"/v2/command-inbox/?device_id={name}")
            except Exception:  # whatever went wrong, the answer is lost, as a timed-out one is; the lane goes on
                answer = None
            self._received.append((name, list(answer or []), time.monotonic()))
            with self._lock:
                self._fetching.discard(name)
                # A fetch without an answer is tried again at the next poll, as a device retries: it may have
                # changed nothing (refused, cut before the service read it), and then no read would ever show why.
                if answer is not None:
                    self._fetched_at[name] = time.monotonic()

    def received(self) -> list[tuple[str, list[dict[str, Any]], float]]:
        """The fetches done since last asked: (thing name, what it received, when)."""
        done = []
        while self._received:
            done.append(self._received.popleft())
        return done

    def report(self, status_id: str, state: str) -> None:
        """Queues a state to report, after the execution's earlier ones; `send` sends it."""
        self._ready.setdefault(status_id, []).append(state)

    def send(self) -> None:
        """Starts sending the queued states, a few executions at a time, each execution's in order. An
        acknowledgement goes alone and before any other state: it is what stops the service handing the execution
        out again, which matters when the local API is slower than the lease (a fleet of thousands)."""
        with self._lock:
            free = _REPORTS_AT_ONCE - len(self._sending)
            idle = [status_id for status_id in self._ready if status_id not in self._sending]
            chosen = heapq.nsmallest(free, idle, key=lambda status_id: self._ready[status_id][0] != _ACKNOWLEDGED)
            self._sending.update(chosen)
        for status_id in chosen:
            states = self._ready.pop(status_id)
            if states[0] == _ACKNOWLEDGED and len(states) > 1:
                states, self._ready[status_id] = states[:1], states[1:]
            self._pool.submit(self._send, status_id, states)

    def _send(self, status_id: str, states: list[str]) -> None:
        try:
            for state in states:
                body = {"state": state, "reason": "simulated device"}
                self._call("PUT", f"/commands/v0/status/{status_id}/", body)
        finally:
            with self._lock:
                self._sending.discard(status_id)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        import urllib.error
        import urllib.request

        data = json.dumps(body).encode() if body is not None else None
        headers = self._headers | ({"Content-Type": "application/json"} if data else {})
        request = urllib.request.Request(self._url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return json.loads(response.read())["content"]
        except urllib.error.HTTPError:
            return None  # refused (the execution moved meanwhile): nothing more to report
        except (OSError, ValueError, KeyError):
            # Timed out, cut or garbled: the answer is lost. What a fetch handed out comes back once its lease
            # passes; a report is not sent again (the execution then times out, as a device that went quiet).
            return None


# How each behaviour answers a job execution: (seconds after it is taken, status) steps. IN_PROGRESS has no event
# in AWS IoT Jobs; the reconciler finds it. An unknown behaviour is treated as "succeed". "fail-once" is "fail" or
# "succeed" by the attempt (Simulator._steps_of decides).
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
    A `fail-once` thing fails the first attempt of each execution and succeeds every later one (its retries):
    it remembers, per thing and job or command, that it failed once already. An attempt is a job execution
    AWS IoT queued (again, its executionNumber one up, for a retry), a request of AWS IoT Commands (a retry is a
    new executionId for the same command), or an inbox command the device fetched (again, after its failure).

    Job executions it takes from the embedded AWS IoT as they are made (`executions_created`, moto_iot's listener),
    moves them there as the device's UpdateJobExecution would, and publishes the events AWS IoT would through the
    rules. Command executions (AWS IoT Commands)
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
        # Job executions: created ones as moto_iot tells of them (on the endpoint's threads), the steps due
        # (when, job id, thing name, status), the executions taken and not yet ended, by job, and the ended ones
        # whose events are still to be published (job id, event or None if it ended otherwise).
        self._created: deque[tuple[str, str]] = deque()
        self._due: list[tuple[float, str, str, str]] = []
        self._open: dict[str, int] = {}
        self._ended: deque[tuple[str, dict[str, Any] | None]] = deque()
        # Command executions: requests as they arrive (on the endpoint's threads), then the answers due
        # (when, thing name, execution id, status), kept by the fleet's thread alone.
        self._requested: deque[tuple[float, str, str, str]] = deque()
        self._answers: list[tuple[float, str, str, str]] = []
        self._inbox = inbox
        self._reports: list[tuple[float, int, str, str]] = []  # (when, order, status id, state): inbox PUTs
        self._order = itertools.count()  # reports due at the same time go in the order made
        self._next_poll = 0.0
        self._failed_once: set[tuple[str, str]] = set()  # (thing name, job or command id): fail-once things'

    def _steps_of(self, thing_name: str, execution_of: str) -> list[tuple[float, str]]:
        """The steps of the thing's answer to an attempt of its execution of a job or command (its id)."""
        behaviour = self._behaviour(thing_name)
        if behaviour == "fail-once":
            key = (thing_name, execution_of)
            behaviour = "succeed" if key in self._failed_once else "fail"
            self._failed_once.add(key)
        return _steps(behaviour, self._delay, self._slow)

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
        """Inbox devices fetch their commands (once a second) and report each step through the status API, their
        HTTP calls in the background (the inbox's lanes): this thread only schedules.

        They are served at least once: each execution received is worked on and reported, also one received again
        (the service hands one out again only when no acknowledgement came within its lease, so the device did not
        have it, or its reports were lost; a report the execution is already past is refused or changes nothing).
        A thing polls when the table has something for it: an execution QUEUED, or SENT and past its lease.
        """
        if self._inbox is None:
            return
        for thing_name, items, received in self._inbox.received():
            for item in items:
                if not self._inbox.is_inbox(item["request"]):
                    continue  # another delivery's, listed for information: its job or AWS IoT command delivers it
                for after, status in self._steps_of(thing_name, item["request"]):
                    for index, state in enumerate(_INBOX_STATES[status]):
                        when = received + after + index * self._delay / 2
                        heapq.heappush(self._reports, (when, next(self._order), item["id"], state))
        now = time.monotonic()
        while self._reports and self._reports[0][0] <= now:
            _, _, status_id, state = heapq.heappop(self._reports)
            self._inbox.report(status_id, state)
        self._inbox.send()
        if now < self._next_poll:
            return
        self._next_poll = now + 1.0
        # Things whose attribute delivery is inbox always poll; the others when an inbox command waits for them.
        always = {name for name in self._names if self._attribute(name, "delivery") == "inbox"}
        self._inbox.fetch_later(sorted(always | self._inbox.waiting(self._names - always)))

    def command_requested(self, thing_name: str, request: dict[str, Any]) -> None:
        """AWS IoT Commands' request to a device (its request topic): a simulated thing will answer it. Called on
        the AWS endpoint's thread, so only noted (no lock, no read): the fleet's thread reads the thing's
        simBehavior on its next tick and schedules the answers from now."""
        if thing_name in self._names:
            self._requested.append((time.monotonic(), thing_name, request["executionId"], request["commandId"]))

    def _answer_commands(self) -> None:
        if self._requested:
            with moto_iot.LOCK.shared():
                while self._requested:
                    started, thing_name, execution_id, command_id = self._requested.popleft()
                    for after, status in self._steps_of(thing_name, command_id):
                        heapq.heappush(self._answers, (started + after, thing_name, execution_id, status))
        now = time.monotonic()
        while self._answers and self._answers[0][0] <= now:
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

        with moto_iot.LOCK.shared():
            thing = self._backend().things.get(f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/{thing_name}")
            value = getattr(thing, "attributes", {}).get(name)
        return str(value) if value is not None else None

    def _backend(self) -> Any:
        """moto's AWS IoT of the local account and region: hold moto_iot.LOCK while using it."""
        from moto.iot.models import iot_backends

        from local.aws import ACCOUNT, REGION

        return iot_backends[ACCOUNT][REGION]

    def executions_created(self, keys: list[tuple[str, str]]) -> None:
        """moto_iot's listener of new job executions (job id, thing name): those of simulated things are taken on
        the fleet's next tick. Called on the AWS endpoint's thread: only noted."""
        self._created.extend(key for key in keys if key[1] in self._names)

    def _take_new(self) -> None:
        """Each new execution still QUEUED is taken: its thing reads its simBehavior now and schedules its steps."""
        if not self._created:
            return
        started = time.monotonic()
        with moto_iot.LOCK.shared():
            executions = self._backend().job_executions
            while self._created:
                job_id, thing_name = self._created.popleft()
                execution = executions.get((job_id, thing_name))
                if execution is None or execution.status != "QUEUED":
                    continue
                steps = self._steps_of(thing_name, job_id)
                for after, status in steps:
                    heapq.heappush(self._due, (started + after, job_id, thing_name, status))
                if steps:
                    self._open[job_id] = self._open.get(job_id, 0) + 1

    def _answer_due(self) -> None:
        """The steps due move their executions in moto (all at once, under the lock); then the events of those
        that ended are published, and a job whose taken executions have all ended is completed if it is done."""
        now = time.monotonic()
        due = []
        while self._due and self._due[0][0] <= now:
            due.append(heapq.heappop(self._due))
        if due:
            with moto_iot.LOCK.exclusive():
                executions = self._backend().job_executions
                for _, job_id, thing_name, status in due:
                    execution = executions.get((job_id, thing_name))
                    if execution is None or execution.status not in ("QUEUED", "IN_PROGRESS"):
                        if status != "IN_PROGRESS":
                            self._ended.append((job_id, None))  # cancelled or removed meanwhile: no event
                        continue
                    if status == "IN_PROGRESS":
                        execution.status = status
                        execution.last_updated_at = utcnow()
                        execution.version_number += 1  # as a device's update: a script's expectedVersion holds
                        continue
                    details = {"simulated": "true"}
                    # As the device's UpdateJobExecution: AWS IoT may queue a retry, taken on the next tick.
                    moto_iot.update_execution(self._backend(), job_id, thing_name, status, details)
                    self._ended.append((job_id, moto_iot.execution_event(job_id, execution.thing_arn, status, details)))
        while self._ended:  # outside the lock: publishing goes through the endpoint
            job_id, ended = self._ended.popleft()
            try:
                if ended is not None:
                    self._publish(f"$aws/events/jobExecution/{job_id}/{ended['operation']}", ended)
            finally:
                self._open[job_id] -= 1
                if not self._open[job_id]:
                    del self._open[job_id]
                    self._complete_job_if_done(job_id)

    def _complete_job_if_done(self, job_id: str) -> None:
        """A SNAPSHOT job all of whose executions have ended is COMPLETED (one look at the job's executions)."""
        with moto_iot.LOCK.exclusive():
            completed = moto_iot.complete_if_done(self._backend(), job_id)
        if completed is not None:
            self._publish(f"$aws/events/job/{job_id}/completed", completed)
