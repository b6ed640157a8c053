"""The commands table: command items and their execution items."""

from __future__ import annotations

import time
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic_core import to_jsonable_python

from commands_core.adapters.aws import error_code, throttled
from commands_core.adapters.dynamo import from_item, to_item
from commands_core.clock import iso, now
from commands_core.errors import AlreadyExists
from commands_core.models import STORED
from commands_core.models.commands import Command, FileRef, Published, Started
from commands_core.models.executions import PENDING, TERMINAL, Execution, Report
from commands_core.models.lifecycle import PUBLISHED, STEP_EVENTS, STOPPABLE, StatusEvent, StepEvent, status_after
from commands_core.models.templates import Delivery
from commands_core.pagination import Page, decode_token, encode_token

_COMMAND = "command"
# A command's counts (and its waves') are items of their own, next to the command's in its partition: every
# execution's change writes them, and the command item, large and copied whole into the byKind and byStatus
# indexes, would cost that write several times over. They are COUNT_SHARDS items, each execution's changes
# counted in the one its thing name hashes to, so that no item takes more than its share of a command's changes
# (DynamoDB's limit is per item: 1,000 write units a second). Each shard's counts may go below zero, their sum
# never does. "command" < "counts#<n>" < "execution#": one Query reads the command and every shard.
_COUNTS = "counts#"
COUNT_SHARDS = 8
_EXECUTION = "execution#"
_BATCH = 25  # BatchWriteItem's limit
_BATCH_GET = 100  # BatchGetItem's
# A thing group's watchers (the CONTINUOUS commands targeting it) are items of a partition of the group's own:
# command ids are [A-Za-z0-9_-], so `group#` names no command.
_GROUP = "group#"
_WATCHER = "command#"
_JOIN_ATTEMPTS = 8
_PUBLISHED_KEPT = 10_000  # a bound on what a long-lived function remembers

Joined = Literal["joined", "has_one", "full", "ended"]


class CommandRepository:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name
        self._published: dict[str, Published] = {}  # what never changes once a command is published

    # Commands

    def create(self, command: Command) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=_command_item(command),
                ConditionExpression="attribute_not_exists(commandId)",
            )
        except Exception as error:
            if error_code(error) == "ConditionalCheckFailedException":
                raise AlreadyExists(f"command '{command.command_id}' already exists") from None
            raise

    def published(self, command_id: str) -> Published | None:
        """What never changes once the command is published, read once per command while this repository lives
        (a warm function): a hot path, every event of an execution wants it and nothing else of the command. None
        for an absent command, or one whose delivery has not yet made its job or AWS IoT command; not remembered."""
        known = self._published.get(command_id)
        if known is None:
            command = self.get(command_id)
            if command is None or command.delivery is None or command.published_at is None:
                return None
            made = {"job": command.job_id, "command": command.iot_command_arn}.get(command.delivery, command_id)
            if made is None:
                return None
            known = Published(
                command_id, command.delivery, command.published_at, command.job_id, command.iot_command_arn
            )
            if len(self._published) >= _PUBLISHED_KEPT:
                self._published.clear()
            self._published[command_id] = known
        return known

    def delivery_of(self, command_id: str) -> Delivery | None:
        """The command's delivery (None: absent, or a draft); read afresh while its delivery has not yet made its
        job or AWS IoT command (an execution cancelled while publishing ends all the same)."""
        published = self.published(command_id)
        if published is not None:
            return published.delivery
        command = self.get(command_id)
        return command.delivery if command else None

    def get(self, command_id: str) -> Command | None:
        """The command with its counts: one strongly consistent Query of its partition from the command item to its
        last counts shard."""
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="commandId = :command AND itemKey BETWEEN :first AND :last",
            ExpressionAttributeValues=to_item({":command": command_id, ":first": _COMMAND, ":last": _COUNTS + "~"}),
            ConsistentRead=True,
        )
        items = response["Items"]  # the command's first (in key order), then its shards
        if not items or items[0]["itemKey"]["S"] != _COMMAND:
            return None
        return _command(items[0], items[1:])

    def _with_counts(self, items: list[dict[str, Any]]) -> list[Command]:
        """Commands read from an index, each with its counts' shards."""
        shards: dict[str, list[dict[str, Any]]] = {item["commandId"]["S"]: [] for item in items}
        for found in self._batch_get(
            [_counts_key(command_id, n) for command_id in shards for n in range(COUNT_SHARDS)]
        ):
            shards[found["commandId"]["S"]].append(found)
        return [_command(item, shards[item["commandId"]["S"]]) for item in items]

    def _batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items of these keys that exist (strongly consistent BatchGetItem, 100 keys a call), in no order."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), _BATCH_GET):
            wanted: dict[str, Any] = {"Keys": keys[start : start + _BATCH_GET], "ConsistentRead": True}
            for attempt in range(10):
                response = self._client.batch_get_item(RequestItems={self._table: wanted})
                found += response["Responses"].get(self._table, [])
                wanted = response.get("UnprocessedKeys", {}).get(self._table) or {}
                if not wanted:
                    break
                time.sleep(min(0.05 * 2**attempt, 2))  # keys left unprocessed: DynamoDB's throttling
            else:
                raise throttled()
        return found

    def replace(self, command: Command, *, expected_version: int, expected_status: str) -> bool:
        """Writes `command` if it is still at `expected_version` and `expected_status`; False otherwise."""
        return self._conditional(
            lambda: self._client.put_item(
                TableName=self._table,
                Item=_command_item(command),
                ConditionExpression="version = :version AND commandStatus = :status",
                ExpressionAttributeValues={":version": {"N": str(expected_version)}, ":status": {"S": expected_status}},
            )
        )

    def move(
        self, command: Command, event: StatusEvent, at: datetime, *, reason: str | None = None, **changes: Any
    ) -> int | None:
        """Moves the command's status by `event` from the status it was read in (with `reason`, why the service
        did it, and more `changes` by field name). Returns how many status changes the command has had, this
        one included (it numbers the change); None when the command changed since or is gone."""
        to = status_after(event, command.status)
        if to is None:
            raise ValueError(f"'{event}' does not apply to a {command.status} command")
        changes |= {"status": to, "updated_at": at} | ({"status_reason": reason} if reason else {})
        arguments = self._update_arguments(
            command.command_id, changes, "commandStatus = :read", {":read": command.status}
        )
        # Counted in the same write, so that of two writers the number is the one whose write won.
        arguments["UpdateExpression"] += " ADD #changes :one"
        arguments["ExpressionAttributeNames"]["#changes"] = _attribute("status_changes")
        arguments["ExpressionAttributeValues"][":one"] = {"N": "1"}
        arguments["ReturnValues"] = "UPDATED_NEW"
        try:
            answer = self._client.update_item(**arguments)
        except Exception as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return None
            raise
        return int(answer["Attributes"][_attribute("status_changes")]["N"])

    def advance(self, command_id: str, event: StepEvent, **changes: Any) -> bool:
        """Moves a published command's dispatch step by `event`, with `changes` (by field name; None removes), if
        it is still published (in progress or paused) and at a step the event leaves from; False otherwise."""
        sources, to = STEP_EVENTS[event]
        steps = {f":from{index}": step for index, step in enumerate(sorted(sources))}
        condition = f"dispatchStep IN ({', '.join(steps)}) AND commandStatus IN ({', '.join(_PUBLISHED)})"
        values = steps | _PUBLISHED
        return self._update(command_id, changes | {"dispatch_step": to}, condition, values)

    def change_live(self, command: Command, **changes: Any) -> bool:
        """Changes settings (by field name) of a command still published, as a live change of its rollout."""
        changes["updated_at"] = now()
        return self._update(command.command_id, changes, f"commandStatus IN ({', '.join(_PUBLISHED)})", _PUBLISHED)

    def take_lease(self, command_id: str, until: datetime, at: datetime) -> bool:
        """The right to expand until `until`: from a fresh command, or from an expand whose lease has expired
        (its run crashed)."""
        condition = "dispatchStep = :expand OR (dispatchStep = :expanding AND leaseUntil < :now)"
        values: dict[str, Any] = {":expand": "expand", ":expanding": "expanding", ":now": iso(at)}
        return self._update(command_id, {"dispatch_step": "expanding", "lease_until": until}, condition, values)

    def stop(self, command_id: str, *, lease: datetime | None = None) -> bool:
        """Stops the dispatch of a command that will deliver no more: with `lease`, only the expand holding it
        stops (and gives the lease up); else any step but done."""
        changes: dict[str, Any] = {"dispatch_step": "stopped", "lease_until": None}
        if lease is not None:
            values = {":expanding": "expanding", ":lease": iso(lease)}
            return self._update(command_id, changes, "dispatchStep = :expanding AND leaseUntil = :lease", values)
        steps = {f":step{index}": step for index, step in enumerate(sorted(STOPPABLE))}
        return self._update(command_id, changes, f"dispatchStep IN ({', '.join(steps)})", steps)

    def record_progress(self, command: Command, *, done: bool = False, **changes: Any) -> bool:
        """Records what the `start` step did (`changes`, by field name), if nothing moved since `command` was
        read: its batch count, not its cursor, says so (a batch throttled at its first thing moves no cursor,
        but its starts must stay in the rate's log), nor its status (in progress, or scheduled: waiting for its
        start time). With `done`, every execution has started."""
        _, finished = STEP_EVENTS["all_started"]  # the step a start leaves for once every execution started
        changes |= {"dispatch_batches": command.dispatch_batches + 1} | ({"dispatch_step": finished} if done else {})
        condition = "dispatchStep = :start AND dispatchBatches = :batches AND commandStatus = :read"
        values = {":start": "start", ":batches": command.dispatch_batches, ":read": command.status}
        return self._update(command.command_id, changes, condition, values)

    def reserve_starts(self, command: Command, log: list[Started]) -> bool:
        """Records starts of joiners in the rate's log (`log`: the recent entries and theirs) before they start,
        if the command is in progress, done with its start step, and its log has not moved since `command` was
        read: of two join steps at once one reserves, the other reads again, so that no window holds more starts
        than the rate."""
        changes = {"dispatch_log": log, "dispatch_batches": command.dispatch_batches + 1}
        condition = "dispatchStep = :done AND dispatchBatches = :batches AND commandStatus = :in_progress"
        values = {":done": "done", ":batches": command.dispatch_batches, ":in_progress": "in_progress"}
        return self._update(command.command_id, changes, condition, values)

    def book_wait(self, command_id: str, step: str, until: datetime, at: datetime) -> bool:
        """Records that the command's `step` (join, retry) comes back at `until`, unless a copy of it already waits
        past `at`: of copies of a step waiting for a maintenance window, one waits. (Epoch seconds: a time as
        text does not compare in a condition.)"""
        return self._update(
            command_id,
            {f"{step}_wait_until": until.timestamp()},
            "attribute_not_exists(#a0) OR #a0 <= :at",
            {":at": at.timestamp()},
        )

    def reset_counts(self, command_id: str, counts: dict[str, int], waves: list[dict[str, int]], at: datetime) -> None:
        """The command's counts, and each wave's (a rollout in waves), all at once: an expand, before any
        execution can move."""
        # Every shard holds a map and one per wave, so that any may be counted in; the first holds the counts.
        puts = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(
                        {
                            "commandId": command_id,
                            "itemKey": f"{_COUNTS}{shard}",
                            "counts": counts if shard == 0 else {},
                            "waveCounts": (waves if shard == 0 else [{} for _ in waves]) or None,
                        }
                    ),
                }
            }
            for shard in range(COUNT_SHARDS)
        ]
        arguments = self._update_arguments(command_id, {"total": sum(counts.values()), "updated_at": at})
        self._transact([*puts, {"Update": arguments}])

    def _update(
        self,
        command_id: str,
        changes: dict[str, Any],
        condition: str | None = None,
        values: dict[str, Any] | None = None,
    ) -> bool:
        """SETs (or REMOVEs, for None) the command's fields by name, under an optional condition; False if it
        fails or the command is gone."""
        arguments = self._update_arguments(command_id, changes, condition, values)
        return self._conditional(lambda: self._client.update_item(**arguments))

    def _update_arguments(
        self,
        command_id: str,
        changes: dict[str, Any],
        condition: str | None = None,
        values: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        names = {f"#a{index}": _attribute(name) for index, name in enumerate(changes)}
        given = {f":v{index}": value for index, value in enumerate(changes.values())}
        sets = [f"{alias} = :v{index}" for index, alias in enumerate(names) if given[f":v{index}"] is not None]
        removes = [alias for index, alias in enumerate(names) if given[f":v{index}"] is None]
        expression = " ".join(
            part
            for part in (f"SET {', '.join(sets)}" if sets else "", f"REMOVE {', '.join(removes)}" if removes else "")
            if part
        )
        attribute_values = to_item(to_jsonable_python({**given, **(values or {})}))
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "Key": _key(command_id),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ConditionExpression": " AND ".join(
                filter(None, ("attribute_exists(commandId)", condition and f"({condition})"))
            ),
            "ExpressionAttributeValues": attribute_values,
        }
        if not attribute_values:
            del arguments["ExpressionAttributeValues"]
        return arguments

    def record_file(self, command_id: str, file_id: str, ref: FileRef | None, at: datetime) -> bool:
        """Records (or, with None, forgets) an uploaded file, while the command is a draft."""
        value = ref.model_dump(by_alias=True) if ref else None
        expression = "SET files.#file = :ref, updatedAt = :at" if ref else "REMOVE files.#file SET updatedAt = :at"
        values = {":at": iso(at), ":draft": "draft"} | ({":ref": value} if value else {})
        return self._conditional(
            lambda: self._client.update_item(
                TableName=self._table,
                Key=_key(command_id),
                UpdateExpression=expression,
                ConditionExpression="commandStatus = :draft",
                ExpressionAttributeNames={"#file": file_id},
                ExpressionAttributeValues=to_item(values),
            )
        )

    def delete_draft(self, command_id: str) -> bool:
        return self._conditional(
            lambda: self._client.delete_item(
                TableName=self._table,
                Key=_key(command_id),
                ConditionExpression="commandStatus = :draft",
                ExpressionAttributeValues={":draft": {"S": "draft"}},
            )
        )

    def add_rerun(self, command_id: str, rerun_id: str) -> None:
        """Appends a rerun's id to the command's `reruns`, in one conditional write: a retry finds it there and
        adds nothing."""
        self._conditional(
            lambda: self._client.update_item(
                TableName=self._table,
                Key=_key(command_id),
                UpdateExpression="SET reruns = list_append(if_not_exists(reruns, :none), :rerun)",
                ConditionExpression="attribute_exists(commandId) AND NOT contains(reruns, :id)",
                ExpressionAttributeValues={
                    ":none": {"L": []},
                    ":rerun": {"L": [{"S": rerun_id}]},
                    ":id": {"S": rerun_id},
                },
            )
        )

    def add_count(self, command_id: str, status: str, delta: int) -> None:
        """Adds `delta` (negative: takes away) to the command's count of executions in `status`, atomically."""
        self._client.update_item(
            TableName=self._table,
            Key=_counts_key(command_id, 0),
            UpdateExpression="SET counts.#status = if_not_exists(counts.#status, :zero) + :delta",
            ExpressionAttributeNames={"#status": status},
            ExpressionAttributeValues={":delta": {"N": str(delta)}, ":zero": {"N": "0"}},
        )

    def page(self, status: str | None, max_results: int, next_token: str | None) -> Page[Command]:
        """Commands, newest first; with `status`, only those in it."""
        index, key, value = ("byStatus", "commandStatus", status) if status else ("byKind", "kind", _COMMAND)
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": f"{key} = :value",
            "ExpressionAttributeValues": {":value": {"S": value}},
            "ScanIndexForward": False,
            "Limit": max_results + 1,
        }
        if next_token:
            after = decode_token(next_token, frozenset({"commandId", "createdAt"}))
            query["ExclusiveStartKey"] = _key(after["commandId"]) | {
                key: {"S": value},
                "createdAt": {"S": after["createdAt"]},
            }
        # A Query returns at most 1 MB: commands carry documents of up to 32 KB, so read on until one more than
        # asked is found (it says whether a next page exists) or the index ends.
        items: list[dict[str, Any]] = []
        while True:
            response = self._client.query(**query)
            items += response["Items"]
            if len(items) > max_results or "LastEvaluatedKey" not in response:
                break
            query |= {"ExclusiveStartKey": response["LastEvaluatedKey"], "Limit": max_results + 1 - len(items)}
        page = self._with_counts(items[:max_results])
        token = None
        if len(items) > max_results:
            last = from_item(items[max_results - 1])
            token = encode_token({"commandId": last["commandId"], "createdAt": last["createdAt"]})
        return Page(page, token)

    def live_commands_of_template(self, template_id: str) -> list[str]:
        """Ids of the commands built from the template that still use it: drafts and published ones (a scheduled
        or paused command starts executions later, and an inbox hands files out with the template's URL expiry)."""
        live = _PUBLISHED | {":draft": "draft"}
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "byTemplate",
            "KeyConditionExpression": "templateRef = :template",
            "FilterExpression": f"commandStatus IN ({', '.join(live)})",
            "ExpressionAttributeValues": to_item(live | {":template": template_id}),
        }
        return [item["commandId"]["S"] for item in self._all(arguments)]

    # Joiners: things that join a CONTINUOUS command's targets after publishing

    def watch(self, group_name: str, command_id: str) -> None:
        """Records that the command reaches the things that join `group_name` (a plain put: asked again, the same
        item)."""
        item = {"commandId": _GROUP + group_name, "itemKey": _WATCHER + command_id, "watcher": command_id}
        self._client.put_item(TableName=self._table, Item=to_item(item))

    def unwatch(self, group_name: str, command_id: str) -> None:
        key = {"commandId": {"S": _GROUP + group_name}, "itemKey": {"S": _WATCHER + command_id}}
        self._client.delete_item(TableName=self._table, Key=key)

    def watchers(self, group_name: str) -> list[str]:
        """The commands that reach the things joining the group (one Query of the group's partition)."""
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "commandId = :group AND begins_with(itemKey, :watcher)",
            "ExpressionAttributeValues": to_item({":group": _GROUP + group_name, ":watcher": _WATCHER}),
        }
        return [item["watcher"]["S"] for item in self._all(arguments)]

    def join(self, command_id: str, thing_name: str, at: datetime, *, maximum: int | None) -> Joined:
        """Gives a thing that joined the command's targets after publishing a SCHEDULED execution, counted in the
        command's `joinedLate`, in one transaction: only if the thing has no execution of the command, the command
        is still published (in progress or paused) and, with `maximum`, fewer than that many joined before. So a
        duplicated event, or two at once, never makes a second execution nor passes the cap."""
        entry = {"at": iso(at), "to": "SCHEDULED", "source": "joined", "reason": "joined the targets after publishing"}
        item = _execution_item(command_id, thing_name, at, status="SCHEDULED", entry=entry)
        condition = "commandStatus IN (:in_progress, :paused)"
        values: dict[str, Any] = {":one": 1, ":zero": 0, ":in_progress": "in_progress", ":paused": "paused"}
        if maximum is not None:
            condition += " AND (attribute_not_exists(joinedLate) OR joinedLate < :maximum)"
            values[":maximum"] = maximum
        writes = [
            {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(itemKey)"}},
            {
                "Update": {
                    "TableName": self._table,
                    "Key": _key(command_id),
                    "UpdateExpression": "SET joinedLate = if_not_exists(joinedLate, :zero) + :one",
                    "ConditionExpression": f"attribute_exists(commandId) AND {condition}",
                    "ExpressionAttributeValues": to_item(values),
                }
            },
            {
                "Update": {
                    "TableName": self._table,
                    "Key": _counts_key(command_id, _shard(thing_name)),
                    "UpdateExpression": "SET counts.#scheduled = if_not_exists(counts.#scheduled, :zero) + :one",
                    "ExpressionAttributeNames": {"#scheduled": "SCHEDULED"},
                    "ExpressionAttributeValues": to_item({":one": 1, ":zero": 0}),
                }
            },
        ]
        for _ in range(_JOIN_ATTEMPTS):
            try:
                self._client.transact_write_items(TransactItems=writes)
            except Exception as error:
                if error_code(error) != "TransactionCanceledException":
                    raise
                reasons = [
                    reason.get("Code") for reason in getattr(error, "response", {}).get("CancellationReasons", [])
                ]
                if set(reasons) - {"None", "ConditionalCheckFailed", "TransactionConflict", None}:
                    raise
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return "has_one"
                if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                    command = self.get(command_id)
                    return "ended" if command is None or command.status not in ("in_progress", "paused") else "full"
                continue  # another write got in the way: try again
            return "joined"
        raise throttled()

    # Executions

    def write_executions(
        self, command_id: str, things: Sequence[tuple[str, int | None]], at: datetime, status: str
    ) -> None:
        """One execution per (thing, wave), in batches. Only used before anything is delivered, so plain puts
        are safe."""
        for start in range(0, len(things), _BATCH):
            requests = [
                {"PutRequest": {"Item": _execution_item(command_id, name, at, status=status, wave=wave)}}
                for name, wave in things[start : start + _BATCH]
            ]
            self._batch_write(requests)

    def execution_statuses(self, command_id: str) -> dict[str, str]:
        """thing name -> status of every execution of the command (one Query, two attributes per item)."""
        arguments = self._executions_query(command_id)
        arguments |= {"ProjectionExpression": "thingName, #status", "ExpressionAttributeNames": {"#status": "status"}}
        return {item["thingName"]["S"]: item["status"]["S"] for item in self._all(arguments)}

    def pending_executions(self, command_id: str) -> Iterator[Execution]:
        for item in self._all(self._executions_in(command_id, sorted(PENDING))):
            yield Execution.model_validate(from_item(item))

    def things_in(self, command_id: str, statuses: Sequence[str]) -> list[str]:
        """The things of the command's executions in `statuses`, in thing-name order (one Query, paged, of one
        attribute an item)."""
        arguments = self._executions_in(command_id, statuses) | {"ProjectionExpression": "thingName"}
        return [item["thingName"]["S"] for item in self._all(arguments)]

    def _executions_in(self, command_id: str, statuses: Sequence[str]) -> dict[str, Any]:
        """Query arguments for the command's executions in `statuses`."""
        values = {f":s{index}": status for index, status in enumerate(statuses)}
        return self._executions_query(command_id, values) | {
            "FilterExpression": f"#status IN ({', '.join(values)})",
            "ExpressionAttributeNames": {"#status": "status"},
        }

    def executions(
        self, command_id: str, status: str | None, max_results: int, next_token: str | None
    ) -> Page[Execution]:
        """A command's executions in thing-name order; with `status`, only those in it."""
        arguments = self._executions_query(command_id, {":status": status} if status else None)
        if status:
            arguments |= {"FilterExpression": "#status = :status", "ExpressionAttributeNames": {"#status": "status"}}
        if next_token:
            after = decode_token(next_token, frozenset({"thingName"}))
            arguments["ExclusiveStartKey"] = _execution_key(command_id, after["thingName"])
        found: list[Execution] = []
        # A filter may leave a page short: read on (in larger steps) until one more than asked is found.
        limit = max_results + 1 if not status else max(500, max_results + 1)
        while len(found) <= max_results:
            response = self._client.query(**arguments, Limit=limit)
            found += [Execution.model_validate(from_item(item)) for item in response["Items"]]
            if "LastEvaluatedKey" not in response:
                break
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        page = found[:max_results]
        token = encode_token({"thingName": page[-1].thing_name}) if len(found) > max_results else None
        return Page(page, token)

    def executions_after(self, command_id: str, thing_name: str, limit: int) -> tuple[list[Execution], bool]:
        """Up to `limit` executions of the command following `thing_name` ("": from the first) in thing-name
        order, and whether more follow."""
        arguments = self._executions_query(command_id) | {"Limit": limit}
        if thing_name:
            arguments["ExclusiveStartKey"] = _execution_key(command_id, thing_name)
        response = self._client.query(**arguments)
        found = [Execution.model_validate(from_item(item)) for item in response["Items"]]
        return found, "LastEvaluatedKey" in response

    def executions_of(self, command_id: str) -> Iterator[Execution]:
        """Every execution of the command, in thing-name order, page by page."""
        for item in self._all(self._executions_query(command_id)):
            yield Execution.model_validate(from_item(item))

    def executions_on(self, thing_name: str, *, pending: bool = False) -> Iterator[Execution]:
        """The thing's executions, newest first (index byThing); with `pending`, only those not ended, oldest
        first (the sparse index inbox)."""
        index, key, order = ("inbox", "inboxThing", True) if pending else ("byThing", "thingName", False)
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": f"{key} = :thing",
            "ExpressionAttributeValues": {":thing": {"S": thing_name}},
            "ScanIndexForward": order,
        }
        if pending:  # the inbox index holds whole items
            for item in self._all(arguments):
                yield Execution.model_validate(from_item(item))
            return
        keys = [{name: item[name] for name in ("commandId", "itemKey")} for item in self._all(arguments)]
        for start in range(0, len(keys), _BATCH_GET):  # in the index's order; one deleted meanwhile is left out
            chunk = keys[start : start + _BATCH_GET]
            found = {(got["commandId"]["S"], got["itemKey"]["S"]): got for got in self._batch_get(chunk)}
            for wanted in chunk:
                if (execution := found.get((wanted["commandId"]["S"], wanted["itemKey"]["S"]))) is not None:
                    yield Execution.model_validate(from_item(execution))

    def in_status(self, status: str) -> Iterator[Command]:
        """Every command in `status` (the reconciler's round)."""
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "byStatus",
            "KeyConditionExpression": "commandStatus = :status",
            "ExpressionAttributeValues": {":status": {"S": status}},
        }
        items = list(self._all(arguments))
        for start in range(0, len(items), _BATCH_GET):
            yield from self._with_counts(items[start : start + _BATCH_GET])

    def get_execution(self, command_id: str, thing_name: str) -> Execution | None:
        response = self._client.get_item(
            TableName=self._table, Key=_execution_key(command_id, thing_name), ConsistentRead=True
        )
        item = response.get("Item")
        return Execution.model_validate(from_item(item)) if item else None

    def record(self, execution: Execution | None, report: Report, *, again: str | None = None) -> Execution | None:
        """Writes `report` onto `execution` as read (or creates the execution, when None) together with the
        command's counts, in one transaction: the execution as written (as read, the update applied); None when
        the execution is no longer as it was read. With `again`, the report is a failure that a retry policy
        retries: its history records the failure and the move to the next attempt, in status `again`, which the
        counts go to straight away."""
        at = iso(report.at)
        entry = {
            "at": at,
            "from": execution.status if execution else None,
            "to": report.status,
            "reason": report.reason,
            "source": report.source,
            "attempt": report.attempt_on(execution) if execution else 1,
        }
        if execution is None:
            item = _execution_item(report.command_id, report.thing_name, report.at, status=report.status, entry=entry)
            if report.execution_id:
                item["executionId"] = {"S": report.execution_id}
            write: dict[str, Any] = {
                "Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(itemKey)"}
            }
            written = Execution.model_validate(from_item(item))
            counts = "SET counts.#to = if_not_exists(counts.#to, :zero) + :one"
            names: dict[str, str] = {"#to": report.status}
        else:
            if again is not None:
                update, changed = self._next_attempt(execution, report, entry, again)
            else:
                update, changed = self._execution_update(execution, report, entry)
            write = {"Update": update}
            # The item is the read plus the update: the condition holds the state and attempt read, with which the
            # rest of what the status API shows moves (but for the reason of newer progress reported at once).
            written = Execution.model_validate(dict(execution) | changed)
            to = again or report.status
            if execution.status == to:
                return written if self._transact([write]) else None
            counts = (
                "SET counts.#from = if_not_exists(counts.#from, :zero) - :one, "
                "counts.#to = if_not_exists(counts.#to, :zero) + :one"
            )
            names = {"#from": execution.status, "#to": to}
            if execution.wave is not None:  # the wave's counts move with the command's (the wave gates read them)
                wave = f"waveCounts[{int(execution.wave)}]"  # a list index cannot be an expression value
                counts += (
                    f", {wave}.#from = if_not_exists({wave}.#from, :zero) - :one, "
                    f"{wave}.#to = if_not_exists({wave}.#to, :zero) + :one"
                )
        command = {
            "Update": {
                "TableName": self._table,
                "Key": _counts_key(report.command_id, _shard(report.thing_name)),
                "UpdateExpression": counts,
                "ConditionExpression": "attribute_exists(commandId)",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {":one": {"N": "1"}, ":zero": {"N": "0"}},
            }
        }
        return written if self._transact([write, command]) else None

    def record_execution_id(self, execution: Execution, execution_id: str) -> bool:
        """Records the AWS IoT Commands execution started for the execution's current attempt, unless one is
        recorded already (its CREATED event came first) or the execution has moved to another attempt."""
        values: dict[str, Any] = {":id": execution_id}
        condition = "attribute_not_exists(executionId) AND " + _same_attempt(execution, values)
        return self._conditional(
            lambda: self._client.update_item(
                TableName=self._table,
                Key=_execution_key(execution.command_id, execution.thing_name),
                UpdateExpression="SET executionId = :id",
                ConditionExpression=f"attribute_exists(itemKey) AND {condition}",
                ExpressionAttributeValues=to_item(values),
            )
        )

    def renew_lease(self, execution: Execution, until: datetime) -> bool:
        """Moves the lease of a SENT inbox execution to `until`, if it is still SENT under the lease it was read
        with (none: handed out before leases were kept); False otherwise. One conditional write, so that of two
        fetches at once only one hands the execution out again. The state does not change: no count, no history."""
        read = "attribute_not_exists(leaseUntil)" if execution.lease_until is None else "leaseUntil = :read"
        values = {":sent": "SENT", ":until": iso(until)}
        if execution.lease_until is not None:
            values[":read"] = iso(execution.lease_until)
        return self._conditional(
            lambda: self._client.update_item(
                TableName=self._table,
                Key=_execution_key(execution.command_id, execution.thing_name),
                UpdateExpression="SET leaseUntil = :until",
                ConditionExpression=f"#status = :sent AND {read}",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item(values),
            )
        )

    def _next_attempt(
        self, execution: Execution, report: Report, entry: dict[str, Any], again: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The failure ending the execution's attempt, and its next attempt beginning in `again`, as one update
        conditional on the execution as read: the history gets both, the attempt goes up, and what belonged to
        the attempt that failed goes (the inbox's lease, AWS IoT Commands' execution id, which becomes stale).
        With it, the execution's fields it writes, as a read gives them."""
        attempt = entry["attempt"] + 1
        begun = {"at": entry["at"], "from": report.status, "to": again, "source": report.source, "attempt": attempt}
        begun["reason"] = f"attempt {attempt} after {report.status}"
        retired = [
            *execution.retired_execution_ids,
            *dict.fromkeys(i for i in (execution.execution_id, report.execution_id) if i),
        ]
        sets = [
            "#status = :to",
            "attempt = :attempt",
            "attemptSince = :at",
            "updatedAt = :now",
            "reportedAt = :at",
            "history = list_append(if_not_exists(history, :empty), :entries)",
        ]
        values: dict[str, Any] = {
            ":to": again,
            ":from": execution.status,
            ":attempt": attempt,
            ":now": iso(now()),
            ":at": iso(report.at),
            ":empty": [],
            ":entries": [{key: value for key, value in item.items() if value is not None} for item in (entry, begun)],
        }
        if report.reason is not None:
            sets.append("statusReason = :reason")
            values[":reason"] = report.reason
        if retired:
            sets.append("retiredExecutionIds = :retired")
            values[":retired"] = retired
        if again == "QUEUED":  # in the inbox's queue again (its order, its timeout) from now
            sets.append("queuedAt = :at")
        written = {
            "status": again,
            "attempt": attempt,
            "attempt_since": values[":at"],
            "updated_at": values[":now"],
            "reported_at": values[":at"],
            "history": [*execution.history, *values[":entries"]],
            "status_reason": values.get(":reason", execution.status_reason),
            "retired_execution_ids": retired,
            "queued_at": values[":at"] if again == "QUEUED" else execution.queued_at,
            "execution_id": None,
            "lease_until": None,
            "started_at": None,
            "timed_out_by": None,
        }
        condition = "#status = :from AND " + _same_attempt(execution, values)
        update = {
            "TableName": self._table,
            "Key": _execution_key(execution.command_id, execution.thing_name),
            "UpdateExpression": "SET " + ", ".join(sets) + " REMOVE executionId, leaseUntil, startedAt, timedOutBy",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": to_item(values),
        }
        return update, written

    def _execution_update(
        self, execution: Execution, report: Report, entry: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The report's update, conditional on the execution as read; with it, the execution's fields it writes,
        as a read gives them."""
        sets = ["#status = :to", "updatedAt = :now", "reportedAt = :at"]
        values: dict[str, Any] = {
            ":to": report.status,
            ":from": execution.status,
            ":now": iso(now()),
            ":at": iso(report.at),
        }
        written: dict[str, Any] = {"status": report.status, "updated_at": values[":now"], "reported_at": values[":at"]}
        if execution.status != report.status:  # the history holds changes: newer progress would grow it unbounded
            sets.append("history = list_append(if_not_exists(history, :empty), :entry)")
            values |= {":entry": [{key: value for key, value in entry.items() if value is not None}], ":empty": []}
            written["history"] = [*execution.history, *values[":entry"]]
        if report.execution_id is not None:
            sets.append("executionId = :execution")
            values[":execution"] = written["execution_id"] = report.execution_id
        if report.details is not None:
            sets.append("statusDetails = :details")
            values[":details"] = written["status_details"] = report.details
        if report.reason is not None:
            sets.append("statusReason = :reason")
            values[":reason"] = written["status_reason"] = report.reason
        if report.status == "QUEUED":  # released by the rollout: in the queue (the inbox's order) from now
            sets.append("queuedAt = :at")
            written["queued_at"] = values[":at"]
        if entry["attempt"] > execution.attempt:  # a later attempt AWS IoT began: what came before is stale
            sets += ["attempt = :attempt", "attemptSince = :at"]
            values[":attempt"] = written["attempt"] = entry["attempt"]
            written["attempt_since"] = values[":at"]
        if report.status == "IN_PROGRESS":
            sets.append("startedAt = if_not_exists(startedAt, :at)")
            written["started_at"] = execution.started_at or values[":at"]
        if report.status == "TIMED_OUT":
            sets.append("timedOutBy = :by")
            values[":by"] = written["timed_out_by"] = "cloud" if report.cloud_timeout else "device"
        if report.lease_until is not None:
            sets.append("leaseUntil = :lease")
            values[":lease"] = written["lease_until"] = iso(report.lease_until)
        expression = "SET " + ", ".join(sets)
        if report.status in TERMINAL:
            expression += " REMOVE inboxThing"
        condition = "#status = :from AND " + _same_attempt(execution, values)
        if execution.status == report.status:  # a repeated IN_PROGRESS must be newer than the last report
            condition += " AND (attribute_not_exists(reportedAt) OR reportedAt < :at)"
        update = {
            "TableName": self._table,
            "Key": _execution_key(execution.command_id, execution.thing_name),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": to_item(values),
        }
        return update, written

    def _transact(self, items: list[dict[str, Any]]) -> bool:
        """False when a condition failed or another write got in the way (read again and decide again);
        any other reason a transaction was cancelled is an error."""
        try:
            self._client.transact_write_items(TransactItems=items)
        except Exception as error:
            if error_code(error) != "TransactionCanceledException":
                raise
            reasons = {reason.get("Code") for reason in getattr(error, "response", {}).get("CancellationReasons", [])}
            if reasons - {"None", "ConditionalCheckFailed", "TransactionConflict", None}:
                raise
            return False
        return True

    def delete_executions(self, command_id: str) -> None:
        """Removes every execution item of the command (only before its job exists: a restarted expand)."""
        arguments = self._executions_query(command_id) | {"ProjectionExpression": "commandId, itemKey"}
        keys = list(self._all(arguments))
        for start in range(0, len(keys), _BATCH):
            self._batch_write([{"DeleteRequest": {"Key": key}} for key in keys[start : start + _BATCH]])

    def _executions_query(self, command_id: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
        """Query arguments for the execution items of a command (the items sharing its partition)."""
        return {
            "TableName": self._table,
            "KeyConditionExpression": "commandId = :command AND begins_with(itemKey, :prefix)",
            "ExpressionAttributeValues": to_item({":command": command_id, ":prefix": _EXECUTION} | (values or {})),
        }

    def _all(self, arguments: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item a Query finds, page after page."""
        while True:
            response = self._client.query(**arguments)
            yield from response["Items"]
            if "LastEvaluatedKey" not in response:
                return
            arguments = arguments | {"ExclusiveStartKey": response["LastEvaluatedKey"]}

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        """BatchWriteItem until DynamoDB has taken every item (unprocessed ones are retried with backoff)."""
        pending = {self._table: requests}
        for attempt in range(10):
            unprocessed = self._client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not unprocessed:
                return
            pending = unprocessed
            time.sleep(min(0.05 * 2**attempt, 2))
        # Items left unprocessed are DynamoDB's throttling, told in a 200 rather than as an error.
        raise throttled()

    @staticmethod
    def _conditional(write: Any) -> bool:
        try:
            write()
        except Exception as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True


_PUBLISHED = {f":published{index}": status for index, status in enumerate(sorted(PUBLISHED))}


def _attribute(field: str) -> str:
    """The command item's attribute holding a field of Command."""
    if field == "status":
        return "commandStatus"  # `status` is the executions' (the byStatus index tells them apart)
    return Command.model_fields[field].alias or field


def _same_attempt(execution: Execution, values: dict[str, Any]) -> str:
    """The condition that the execution is still at the attempt it was read at (adding its value)."""
    if execution.attempt == 1:
        return "attribute_not_exists(attempt)"  # written only once a retry starts attempt 2
    values[":attempt_read"] = execution.attempt
    return "attempt = :attempt_read"


def _key(command_id: str) -> dict[str, Any]:
    return {"commandId": {"S": command_id}, "itemKey": {"S": _COMMAND}}


def _counts_key(command_id: str, shard: int) -> dict[str, Any]:
    return {"commandId": {"S": command_id}, "itemKey": {"S": f"{_COUNTS}{shard}"}}


def _shard(thing_name: str) -> int:
    """The counts shard of a thing's execution: the same in every process (unlike hash())."""
    return zlib.crc32(thing_name.encode()) % COUNT_SHARDS


def _execution_key(command_id: str, thing_name: str) -> dict[str, Any]:
    return {"commandId": {"S": command_id}, "itemKey": {"S": _EXECUTION + thing_name}}


def _command_item(command: Command) -> dict[str, Any]:
    data = command.model_dump(mode="json", by_alias=True, exclude={"counts", "wave_counts"})  # the counts item's
    status = data.pop("status")
    # The fields the API does not show, stored all the same.
    internal = {
        field.alias or name: to_jsonable_python(getattr(command, name))
        for name, field in Command.model_fields.items()
        if field.exclude and name != "wave_counts"
    }
    return to_item(
        data
        | internal
        | {"itemKey": _COMMAND, "kind": _COMMAND, "commandStatus": status, "templateRef": command.template_id}
    )


def _command(item: dict[str, Any], shards: list[dict[str, Any]]) -> Command:
    """The command of its item and its counts' shards (none: not expanded yet, no counts), summed."""
    data = from_item(item)
    data["status"] = data.pop("commandStatus")
    counts: Counter[str] = Counter()
    waves: list[Counter[str]] = []
    for shard in map(from_item, shards):
        counts.update(shard.get("counts") or {})
        for index, wave in enumerate(shard.get("waveCounts") or []):
            waves += [Counter() for _ in range(index + 1 - len(waves))]
            waves[index].update(wave)
    if shards:
        data |= {"counts": dict(counts), "waveCounts": [dict(wave) for wave in waves]}
    return Command.model_validate(data, context=STORED)


def _execution_item(
    command_id: str,
    thing_name: str,
    at: datetime,
    *,
    status: str,
    entry: dict[str, Any] | None = None,
    wave: int | None = None,
) -> dict[str, Any]:
    moment = iso(at)
    history = [entry or {"at": moment, "to": status, "source": "publish"}]
    return to_item(
        {
            "commandId": command_id,
            "itemKey": _EXECUTION + thing_name,
            "thingName": thing_name,
            "status": status,
            "inboxThing": None if status in TERMINAL else thing_name,
            "createdAt": moment,
            "updatedAt": moment,
            "queuedAt": moment,
            "reportedAt": moment,
            "history": [{key: value for key, value in item.items() if value is not None} for item in history],
            "wave": wave,
        }
    )
