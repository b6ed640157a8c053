"""The commands table: command items and their execution items."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python

from commands_core.adapters.aws import error_code, throttled
from commands_core.adapters.dynamo import from_item, to_item
from commands_core.clock import iso, now
from commands_core.errors import AlreadyExists
from commands_core.models.commands import Command, FileRef
from commands_core.models.executions import PENDING, TERMINAL, Execution, Report
from commands_core.models.lifecycle import STEP_EVENTS, STOPPABLE, StatusEvent, StepEvent, status_after
from commands_core.pagination import Page, decode_token, encode_token

_COMMAND = "command"
_EXECUTION = "execution#"
_BATCH = 25  # BatchWriteItem's limit


class CommandRepository:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

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

    def get(self, command_id: str) -> Command | None:
        response = self._client.get_item(TableName=self._table, Key=_key(command_id), ConsistentRead=True)
        item = response.get("Item")
        return _command(item) if item else None

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
    ) -> bool:
        """Moves the command's status by `event` from the status it was read in (with `reason`, why the service
        did it, and more `changes` by field name); False when the command changed since or is gone."""
        to = status_after(event, command.status)
        if to is None:
            raise ValueError(f"'{event}' does not apply to a {command.status} command")
        changes |= {"status": to, "updated_at": at} | ({"status_reason": reason} if reason else {})
        return self._update(command.command_id, changes, "commandStatus = :read", {":read": command.status})

    def advance(self, command_id: str, event: StepEvent, **changes: Any) -> bool:
        """Moves a published command's dispatch step by `event`, with `changes` (by field name; None removes), if
        it is still published (in progress or paused) and at a step the event leaves from; False otherwise."""
        sources, to = STEP_EVENTS[event]
        steps = {f":from{index}": step for index, step in enumerate(sorted(sources))}
        condition = f"dispatchStep IN ({', '.join(steps)}) AND commandStatus IN (:in_progress, :paused)"
        values = steps | {":in_progress": "in_progress", ":paused": "paused"}
        return self._update(command_id, changes | {"dispatch_step": to}, condition, values)

    def change_live(self, command: Command, **changes: Any) -> bool:
        """Changes settings (by field name) of a command still published, as a live change of its rollout."""
        changes["updated_at"] = now()
        values = {":in_progress": "in_progress", ":paused": "paused"}
        return self._update(command.command_id, changes, "commandStatus IN (:in_progress, :paused)", values)

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
        but its starts must stay in the rate's log). With `done`, every execution has started."""
        _, finished = STEP_EVENTS["all_started"]  # the step a start leaves for once every execution started
        changes |= {"dispatch_batches": command.dispatch_batches + 1} | ({"dispatch_step": finished} if done else {})
        condition = "dispatchStep = :start AND dispatchBatches = :batches AND commandStatus = :in_progress"
        values = {":start": "start", ":batches": command.dispatch_batches, ":in_progress": "in_progress"}
        return self._update(command.command_id, changes, condition, values)

    def reset_counts(self, command_id: str, counts: dict[str, int], waves: list[dict[str, int]], at: datetime) -> None:
        """The command's counts, and each wave's (a rollout in waves), all at once: an expand, before any
        execution can move."""
        self._update(
            command_id,
            {"counts": counts, "wave_counts": waves or None, "total": sum(counts.values()), "updated_at": at},
        )

    def _update(
        self,
        command_id: str,
        changes: dict[str, Any],
        condition: str | None = None,
        values: dict[str, Any] | None = None,
    ) -> bool:
        """SETs (or REMOVEs, for None) the command's fields by name, under an optional condition; False if it
        fails or the command is gone."""
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
        }
        if attribute_values:
            arguments["ExpressionAttributeValues"] = attribute_values
        return self._conditional(lambda: self._client.update_item(**arguments))

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
            Key=_key(command_id),
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
        page = [_command(item) for item in items[:max_results]]
        token = None
        if len(items) > max_results:
            last = from_item(items[max_results - 1])
            token = encode_token({"commandId": last["commandId"], "createdAt": last["createdAt"]})
        return Page(page, token)

    def live_commands_of_template(self, template_id: str) -> list[str]:
        """Ids of the draft and in-progress commands built from the template."""
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "byTemplate",
            "KeyConditionExpression": "templateRef = :template",
            "FilterExpression": "commandStatus IN (:draft, :in_progress)",
            "ExpressionAttributeValues": to_item(
                {":template": template_id, ":draft": "draft", ":in_progress": "in_progress"}
            ),
        }
        return [item["commandId"]["S"] for item in self._all(arguments)]

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
        for item in self._all(arguments):
            yield Execution.model_validate(from_item(item))

    def in_status(self, status: str) -> Iterator[Command]:
        """Every command in `status` (the reconciler's round)."""
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "byStatus",
            "KeyConditionExpression": "commandStatus = :status",
            "ExpressionAttributeValues": {":status": {"S": status}},
        }
        for item in self._all(arguments):
            yield _command(item)

    def get_execution(self, command_id: str, thing_name: str) -> Execution | None:
        response = self._client.get_item(
            TableName=self._table, Key=_execution_key(command_id, thing_name), ConsistentRead=True
        )
        item = response.get("Item")
        return Execution.model_validate(from_item(item)) if item else None

    def record(self, execution: Execution | None, report: Report) -> bool:
        """Writes `report` onto `execution` as read (or creates the execution, when None) together with the
        command's counts, in one transaction; False when the execution is no longer as it was read."""
        at = iso(report.at)
        entry = {
            "at": at,
            "from": execution.status if execution else None,
            "to": report.status,
            "reason": report.reason,
            "source": report.source,
        }
        if execution is None:
            item = _execution_item(report.command_id, report.thing_name, report.at, status=report.status, entry=entry)
            if report.execution_id:
                item["executionId"] = {"S": report.execution_id}
            write: dict[str, Any] = {
                "Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(itemKey)"}
            }
            counts = "SET counts.#to = if_not_exists(counts.#to, :zero) + :one"
            names = {"#to": report.status}
        else:
            write = {"Update": self._execution_update(execution, report, entry)}
            if execution.status == report.status:
                return self._transact([write])
            counts = "SET counts.#from = counts.#from - :one, counts.#to = if_not_exists(counts.#to, :zero) + :one"
            names = {"#from": execution.status, "#to": report.status}
            if execution.wave is not None:  # the wave's counts move with the command's (the wave gates read them)
                wave = f"waveCounts[{int(execution.wave)}]"  # a list index cannot be an expression value
                counts += f", {wave}.#from = {wave}.#from - :one, {wave}.#to = if_not_exists({wave}.#to, :zero) + :one"
        command = {
            "Update": {
                "TableName": self._table,
                "Key": _key(report.command_id),
                "UpdateExpression": counts,
                "ConditionExpression": "attribute_exists(commandId)",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {":one": {"N": "1"}, ":zero": {"N": "0"}},
            }
        }
        return self._transact([write, command])

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

    def _execution_update(self, execution: Execution, report: Report, entry: dict[str, Any]) -> dict[str, Any]:
        sets = ["#status = :to", "updatedAt = :now", "reportedAt = :at"]
        values: dict[str, Any] = {
            ":to": report.status,
            ":from": execution.status,
            ":now": iso(now()),
            ":at": iso(report.at),
        }
        if execution.status != report.status:  # the history holds changes: newer progress would grow it unbounded
            sets.append("history = list_append(if_not_exists(history, :empty), :entry)")
            values |= {":entry": [{key: value for key, value in entry.items() if value is not None}], ":empty": []}
        if report.execution_id is not None:
            sets.append("executionId = :execution")
            values[":execution"] = report.execution_id
        if report.details is not None:
            sets.append("statusDetails = :details")
            values[":details"] = report.details
        if report.reason is not None:
            sets.append("statusReason = :reason")
            values[":reason"] = report.reason
        if report.status == "QUEUED":  # released by the rollout: in the queue (the inbox's order) from now
            sets.append("queuedAt = :at")
        if report.status == "IN_PROGRESS":
            sets.append("startedAt = if_not_exists(startedAt, :at)")
        if report.status == "TIMED_OUT":
            sets.append("timedOutBy = :by")
            values[":by"] = "cloud" if report.cloud_timeout else "device"
        if report.lease_until is not None:
            sets.append("leaseUntil = :lease")
            values[":lease"] = iso(report.lease_until)
        expression = "SET " + ", ".join(sets)
        if report.status in TERMINAL:
            expression += " REMOVE inboxThing"
        condition = "#status = :from"
        if execution.status == report.status:  # a repeated IN_PROGRESS must be newer than the last report
            condition += " AND (attribute_not_exists(reportedAt) OR reportedAt < :at)"
        return {
            "TableName": self._table,
            "Key": _execution_key(execution.command_id, execution.thing_name),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": to_item(values),
        }

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


def _attribute(field: str) -> str:
    """The command item's attribute holding a field of Command."""
    if field == "status":
        return "commandStatus"  # `status` is the executions' (the byStatus index tells them apart)
    return Command.model_fields[field].alias or field


def _key(command_id: str) -> dict[str, Any]:
    return {"commandId": {"S": command_id}, "itemKey": {"S": _COMMAND}}


def _execution_key(command_id: str, thing_name: str) -> dict[str, Any]:
    return {"commandId": {"S": command_id}, "itemKey": {"S": _EXECUTION + thing_name}}


def _command_item(command: Command) -> dict[str, Any]:
    data = command.model_dump(mode="json", by_alias=True)
    status = data.pop("status")
    # The fields the API does not show, stored all the same.
    internal = {
        field.alias or name: to_jsonable_python(getattr(command, name))
        for name, field in Command.model_fields.items()
        if field.exclude
    }
    return to_item(
        data
        | internal
        | {"itemKey": _COMMAND, "kind": _COMMAND, "commandStatus": status, "templateRef": command.template_id}
    )


def _command(item: dict[str, Any]) -> Command:
    data = from_item(item)
    data["status"] = data.pop("commandStatus")
    return Command.model_validate(data)


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
