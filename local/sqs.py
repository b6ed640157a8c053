"""The embedded endpoint's SQS: standard queues, in memory, over SQS's JSON wire protocol.

moto's SQS walks every message of a queue (several times) for each request and keeps every receipt handle it
ever issued, so a backlog of a few thousand status events makes each receive quadratic and memory grow for
good. Here each queue keeps its messages by id and a heap of when each becomes visible: sending, receiving and
deleting cost O(log n) of the messages waiting, and a deleted message leaves nothing behind for long (its heap
entry goes once such entries outnumber the messages), so memory follows the messages waiting.

Emulated: CreateQueue, GetQueueUrl, ListQueues, DeleteQueue, GetQueueAttributes, SetQueueAttributes,
PurgeQueue, SendMessage(Batch), ReceiveMessage (long polling, visibility timeouts, delays, the redrive policy's
dead-letter queue after maxReceiveCount receives, retention), DeleteMessage(Batch) and
ChangeMessageVisibility(Batch). Every request is checked against botocore's model of SQS; message bodies,
attributes (their MD5 as SQS documents it) and sizes as SQS takes them. As SQS: an error carries its
query-protocol code in x-amzn-query-error (botocore reports it as the error's Code, e.g.
AWS.SimpleQueueService.NonExistentQueue, and raises the modelled exception); CreateQueue of an existing queue
compares only the attributes given; an empty receive or listing leaves its list out; a batch's entries succeed
or fail one by one. Where SQS leaves a choice, a message is deleted by any receipt handle it was received with
(SQS may not delete it by an old one).

Not emulated: FIFO queues, tags, permissions, message move tasks, server-side encryption (other operations
answer UnsupportedOperation); quotas and throttling, PurgeQueueInProgress (purges run as often as asked),
QueueDeletedRecently (a deleted queue's name is free at once), the 12-hour cap on a message's visibility, and
system attributes beyond SenderId, SentTimestamp, ApproximateReceiveCount and ApproximateFirstReceiveTimestamp.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import itertools
import json
import re
import struct
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from local.wire import ApiError, Checker, Emulator, json_operation, model, serialize

_TARGET = "AmazonSQS."
_MAX_WAIT_SECONDS = 20
_MAX_BATCH = 10
# Settable attributes: (least, most) of each, as SQS documents them.
_SETTABLE = {
    "DelaySeconds": (0, 900),
    "MaximumMessageSize": (1024, 1048576),
    "MessageRetentionPeriod": (60, 1209600),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "VisibilityTimeout": (0, 43200),
}
_DEFAULTS = {
    "DelaySeconds": 0,
    "MaximumMessageSize": 1048576,
    "MessageRetentionPeriod": 345600,
    "ReceiveMessageWaitTimeSeconds": 0,
    "VisibilityTimeout": 30,
}
_SYSTEM = ("SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp")
# SQS answers JSON errors with the code its query protocol had in x-amzn-query-error, which botocore reports as the
# error's Code (the exception class still follows the model's name): the codes that differ from the names.
_QUERY_CODES = {
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
    "QueueNameExists": "QueueAlreadyExists",
    "MessageNotInflight": "AWS.SimpleQueueService.MessageNotInflight",
    "UnsupportedOperation": "AWS.SimpleQueueService.UnsupportedOperation",
    "BatchEntryIdsNotDistinct": "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    "EmptyBatchRequest": "AWS.SimpleQueueService.EmptyBatchRequest",
    "TooManyEntriesInBatchRequest": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    "InvalidBatchEntryId": "AWS.SimpleQueueService.InvalidBatchEntryId",
    "BatchRequestTooLong": "AWS.SimpleQueueService.BatchRequestTooLong",
}
_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")  # a queue's name, as a batch entry's id
# The characters a message may carry (XML's, as SQS documents).
_BODY = re.compile("[\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")
_MAX_ATTRIBUTES = 10


def _error(code: str, message: str) -> ApiError:
    return ApiError(code, message)


@dataclass
class _Message:
    message_id: str
    body: str
    attributes: dict[str, Any]
    sent: float
    visible_at: float
    receives: int = 0
    first_received: float | None = None
    handle: str | None = None  # the last receipt handle issued (a delete with an older one works too)


@dataclass
class _Queue:
    name: str
    url: str
    arn: str
    created: float
    settings: dict[str, int] = field(default_factory=lambda: dict(_DEFAULTS))
    redrive: dict[str, Any] | None = None
    messages: dict[str, _Message] = field(default_factory=dict)
    # (visible at, order, message id): entries of messages deleted or received since are skipped when reached.
    due: list[tuple[float, int, str]] = field(default_factory=list)
    modified: float = 0.0

    def attributes(self, now: float) -> dict[str, str]:
        waiting = sum(1 for message in self.messages.values() if message.visible_at <= now)
        delayed = sum(1 for message in self.messages.values() if message.receives == 0 and message.visible_at > now)
        values = {name: str(value) for name, value in self.settings.items()} | {
            "QueueArn": self.arn,
            "ApproximateNumberOfMessages": str(waiting),
            "ApproximateNumberOfMessagesNotVisible": str(len(self.messages) - waiting - delayed),
            "ApproximateNumberOfMessagesDelayed": str(delayed),
            "CreatedTimestamp": str(int(self.created)),
            "LastModifiedTimestamp": str(int(self.modified or self.created)),
        }
        if self.redrive is not None:
            values["RedrivePolicy"] = json.dumps(self.redrive)
        return values


class Sqs(Emulator):
    """The emulated SQS of one account and region."""

    def __init__(
        self, *, account: str = "123456789012", region: str = "us-east-1", clock: Callable[[], float] = time.time
    ):
        self._account, self._region, self._clock = account, region, clock
        self._queues: dict[str, _Queue] = {}
        self._lock = threading.Condition()  # one lock: queues are few, a request holds it for microseconds
        self._order = itertools.count()
        self._operations: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
            "CreateQueue": self._create_queue,
            "GetQueueUrl": self._get_queue_url,
            "ListQueues": self._list_queues,
            "DeleteQueue": self._delete_queue,
            "GetQueueAttributes": self._get_queue_attributes,
            "SetQueueAttributes": self._set_queue_attributes,
            "PurgeQueue": self._purge_queue,
            "SendMessage": self._send_message,
            "SendMessageBatch": self._send_message_batch,
            "ReceiveMessage": self._receive_message,
            "DeleteMessage": self._delete_message,
            "DeleteMessageBatch": self._delete_message_batch,
            "ChangeMessageVisibility": self._change_message_visibility,
            "ChangeMessageVisibilityBatch": self._change_message_visibility_batch,
        }

    # --- transport ---

    def route(self, method: str, url: str, headers: Mapping[str, Any]) -> str | None:
        return json_operation(method, headers, _TARGET)

    def answer(self, route: str, url: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": str(uuid.uuid4())}
        try:
            if route not in self._operations:
                raise _error("UnsupportedOperation", f"the embedded endpoint's SQS does not emulate {route}")
            operation = model("sqs").operation_model(route)
            request = _read(operation, body)
            parts = urlsplit(url)
            output = self._operations[route](request, f"{parts.scheme}://{parts.netloc}")
            shape = operation.output_shape
            return 200, headers, json.dumps(serialize(shape, output) if shape is not None else {}).encode()
        except ApiError as error:
            body_out = {"__type": f"com.amazonaws.sqs#{error.code}", "message": error.body["message"]}
            legacy = f"{_QUERY_CODES.get(error.code, error.code)};Sender"
            headers |= {"x-amzn-ErrorType": error.code, "x-amzn-query-error": legacy}
            return 400, headers, json.dumps(body_out).encode()

    # --- queues ---

    def _queue(self, url: str) -> _Queue:
        queue = self._queues.get(url.rstrip("/").rsplit("/", 1)[-1])
        if queue is None:
            raise _error("QueueDoesNotExist", "The specified queue does not exist.")
        return queue

    def _create_queue(self, request: dict[str, Any], base: str) -> dict[str, Any]:
        name = request["QueueName"]
        if name.endswith(".fifo") or "FifoQueue" in request.get("Attributes", {}):
            raise _error("UnsupportedOperation", "the embedded endpoint's SQS does not emulate FIFO queues")
        if not _NAME.fullmatch(name):
            raise _error(
                "InvalidParameterValue", f"Can only include alphanumeric characters, hyphens, or underscores: {name}"
            )
        with self._lock:
            now = self._clock()
            given = request.get("Attributes", {})
            settings, redrive = self._settings(given, dict(_DEFAULTS))
            existing = self._queues.get(name)
            if existing is not None:
                # As SQS: the attributes given must be the queue's; the others are not compared.
                if any(existing.settings[key] != settings[key] for key in given if key in _SETTABLE) or (
                    redrive is not None and redrive != existing.redrive
                ):
                    raise _error("QueueNameExists", f"A queue named {name} exists with other attributes")
                return {"QueueUrl": existing.url}
            arn = f"arn:aws:sqs:{self._region}:{self._account}:{name}"
            queue = _Queue(name, f"{base}/{self._account}/{name}", arn, now, settings, redrive)
            self._queues[name] = queue
            return {"QueueUrl": queue.url}

    def _settings(self, given: Mapping[str, str], current: dict[str, int]) -> tuple[dict[str, int], Any]:
        settings, redrive = dict(current), None
        for name, text in given.items():
            if name == "RedrivePolicy":
                redrive = self._redrive(text)
            elif name in _SETTABLE:
                low, high = _SETTABLE[name]
                if not text.isdigit() or not low <= int(text) <= high:
                    raise _error("InvalidAttributeValue", f"Invalid value for the parameter {name}.")
                settings[name] = int(text)
            elif name not in ("Policy", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled"):
                raise _error("InvalidAttributeName", f"Unknown Attribute {name}.")
        return settings, redrive

    def _redrive(self, text: str) -> dict[str, Any]:
        try:
            policy = json.loads(text)
            target, count = policy["deadLetterTargetArn"], int(policy["maxReceiveCount"])
        except (ValueError, KeyError, TypeError):
            raise _error("InvalidAttributeValue", "Invalid value for the parameter RedrivePolicy.") from None
        if not 1 <= count <= 1000 or not any(queue.arn == target for queue in self._queues.values()):
            raise _error("InvalidAttributeValue", "Value for parameter RedrivePolicy is invalid: no such queue.")
        return {"deadLetterTargetArn": target, "maxReceiveCount": count}

    def _get_queue_url(self, request: dict[str, Any], base: str) -> dict[str, Any]:
        with self._lock:
            queue = self._queues.get(request["QueueName"])
            if queue is None:
                raise _error("QueueDoesNotExist", "The specified queue does not exist.")
            return {"QueueUrl": queue.url}

    def _list_queues(self, request: dict[str, Any], base: str) -> dict[str, Any]:
        with self._lock:
            urls = sorted(q.url for q in self._queues.values() if q.name.startswith(request.get("QueueNamePrefix", "")))
        token = str(request.get("NextToken", "0"))
        start = int(token) if token.isdigit() else 0
        size = request.get("MaxResults", 1000)
        page = urls[start : start + size]
        more = "MaxResults" in request and start + size < len(urls)
        # SQS leaves out an empty list, as it does an empty receive's messages.
        return ({"QueueUrls": page} if page else {}) | ({"NextToken": str(start + size)} if more else {})

    def _delete_queue(self, request: dict[str, Any], base: str) -> dict[str, Any]:
        with self._lock:
            del self._queues[self._queue(request["QueueUrl"]).name]
        return {}

    def _get_queue_attributes(self, request: dict[str, Any], base: str) -> dict[str, Any]:
        with self._lock:
            attributes = self._queue(request["QueueUrl"]).attributes(self._clock())
        # The model has checked the names: a queue without an attribute (RedrivePolicy, Policy...) leaves it out.
        names = request.get("AttributeNames") or []
        chosen = attributes if "All" in names else {name: attributes[name] for name in names if name in attributes}
        return {"Attributes": chosen} if chosen else {}

    def _set_queue_attributes(self, request: dict[str, Any], base: str) -> dict[str, Any]:
        with self._lock:
            queue = self._queue(request["QueueUrl"])
            queue.settings, redrive = self._settings(request["Attributes"], queue.settings)
            queue.redrive = redrive or queue.redrive
            queue.modified = self._clock()
        return {}

    def _purge_queue(self, request: dict[str, Any], base: str) -> dict[str, Any]:
        with self._lock:
            queue = self._queue(request["QueueUrl"])
            queue.messages.clear()
            queue.due.clear()
        return {}

    # --- messages ---

    def _send_message(self, request: dict[str, Any], base: str) -> dict[str, Any]:
        with self._lock:
            return self._send(self._queue(request["QueueUrl"]), request)

    def _send_message_batch(self, request: dict[str, Any], base: str) -> dict[str, Any]:
        entries = _batch(request["Entries"])
        size = sum(_size(entry) for entry in entries)
        if size > _SETTABLE["MaximumMessageSize"][1]:
            raise _error(
                "BatchRequestTooLong",
                f"Batch requests cannot be longer than {_SETTABLE['MaximumMessageSize'][1]} bytes: {size} bytes sent.",
            )
        sent, failed = [], []
        with self._lock:
            queue = self._queue(request["QueueUrl"])
            # Each entry succeeds or fails on its own, as in SQS; only the batch's own faults fail the request.
            for entry in entries:
                try:
                    sent.append({"Id": entry["Id"]} | self._send(queue, entry))
                except ApiError as error:
                    failed.append({"Id": entry["Id"], "SenderFault": True, "Code": error.code, "Message": str(error)})
        return {"Successful": sent, "Failed": failed}

    def _send(self, queue: _Queue, request: Mapping[str, Any]) -> dict[str, Any]:
        body = request["MessageBody"]
        if not body or _size(request) > queue.settings["MaximumMessageSize"]:
            raise _error(
                "InvalidParameterValue",
                "The message (body and attributes) must be 1 byte to MaximumMessageSize long.",
            )
        if not _BODY.fullmatch(body):
            raise _error("InvalidMessageContents", "Invalid characters found in the message body.")
        _check_attributes(request.get("MessageAttributes") or {})
        delay = request.get("DelaySeconds", queue.settings["DelaySeconds"])
        if not 0 <= delay <= 900:
            raise _error("InvalidParameterValue", "DelaySeconds must be from 0 to 900.")
        now = self._clock()
        message = _Message(str(uuid.uuid4()), body, request.get("MessageAttributes") or {}, now, now + delay)
        self._enqueue(queue, message)
        sent = {"MessageId": message.message_id, "MD5OfMessageBody": _md5(body.encode())}
        if message.attributes:
            sent["MD5OfMessageAttributes"] = _attributes_md5(message.attributes)
        return sent

    def _enqueue(self, queue: _Queue, message: _Message) -> None:
        queue.messages[message.message_id] = message
        heapq.heappush(queue.due, (message.visible_at, next(self._order), message.message_id))
        self._lock.notify_all()

    def _receive_message(self, request: dict[str, Any], base: str) -> dict[str, Any]:
        count = request.get("MaxNumberOfMessages", 1)
        if not 1 <= count <= _MAX_BATCH:
            raise _error("InvalidParameterValue", "MaxNumberOfMessages must be from 1 to 10.")
        names = set(request.get("AttributeNames") or []) | set(request.get("MessageSystemAttributeNames") or [])
        wanted = set(_SYSTEM) if "All" in names else names & set(_SYSTEM)
        with self._lock:
            queue = self._queue(request["QueueUrl"])
            wait = request.get("WaitTimeSeconds", queue.settings["ReceiveMessageWaitTimeSeconds"])
            if not 0 <= wait <= _MAX_WAIT_SECONDS:
                raise _error("InvalidParameterValue", "WaitTimeSeconds must be from 0 to 20.")
            timeout = request.get("VisibilityTimeout", queue.settings["VisibilityTimeout"])
            if not 0 <= timeout <= _SETTABLE["VisibilityTimeout"][1]:
                raise _error("InvalidParameterValue", "VisibilityTimeout must be from 0 to 43200.")
            deadline = self._clock() + wait
            while True:
                received = self._take(queue, count, timeout)
                remaining = deadline - self._clock()
                if received or remaining <= 0:
                    break
                next_due = queue.due[0][0] - self._clock() if queue.due else remaining
                self._lock.wait(max(0.01, min(remaining, next_due)))
                queue = self._queue(request["QueueUrl"])
        return {"Messages": [self._shown(message, wanted, request) for message in received]} if received else {}

    def _take(self, queue: _Queue, count: int, timeout: int) -> list[_Message]:
        """Up to `count` visible messages, each made invisible for `timeout` seconds with a new receipt handle;
        a message already received maxReceiveCount times moves to the dead-letter queue instead."""
        now = self._clock()
        retention = queue.settings["MessageRetentionPeriod"]
        taken: list[_Message] = []
        while queue.due and queue.due[0][0] <= now and len(taken) < count:
            visible_at, _, message_id = heapq.heappop(queue.due)
            message = queue.messages.get(message_id)
            if message is None or message.visible_at != visible_at:
                continue  # deleted, or received again since this entry was made
            if now - message.sent > retention:
                del queue.messages[message_id]
                continue
            if queue.redrive is not None and message.receives >= queue.redrive["maxReceiveCount"]:
                del queue.messages[message_id]
                target = next((q for q in self._queues.values() if q.arn == queue.redrive["deadLetterTargetArn"]), None)
                if target is not None:
                    message.visible_at = now
                    self._enqueue(target, message)
                continue
            message.receives += 1
            message.first_received = message.first_received or now
            message.visible_at = now + timeout
            message.handle = _handle(queue.name, message_id)
            taken.append(message)
        # Back in the heap only now: with a visibility timeout of 0 a message must not come twice in one answer.
        for message in taken:
            heapq.heappush(queue.due, (message.visible_at, next(self._order), message.message_id))
        return taken

    def _shown(self, message: _Message, wanted: set[str], request: Mapping[str, Any]) -> dict[str, Any]:
        system = {
            "SenderId": self._account,
            "SentTimestamp": str(int(message.sent * 1000)),
            "ApproximateReceiveCount": str(message.receives),
            "ApproximateFirstReceiveTimestamp": str(int((message.first_received or message.sent) * 1000)),
        }
        shown: dict[str, Any] = {
            "MessageId": message.message_id,
            "ReceiptHandle": message.handle,
            "MD5OfBody": _md5(message.body.encode()),
            "Body": message.body,
        }
        if wanted:
            shown["Attributes"] = {name: system[name] for name in wanted}
        names = request.get("MessageAttributeNames") or []
        chosen = {
            name: value
            for name, value in message.attributes.items()
            if "All" in names
            or ".*" in names
            or name in names
            or any(pattern.endswith(".*") and name.startswith(pattern[:-1]) for pattern in names)
        }
        if chosen:
            shown["MessageAttributes"] = chosen
            shown["MD5OfMessageAttributes"] = _attributes_md5(chosen)
        return shown

    def _delete_message(self, request: dict[str, Any], base: str) -> dict[str, Any]:
        with self._lock:
            self._delete(self._queue(request["QueueUrl"]), request["ReceiptHandle"])
        return {}

    def _delete_message_batch(self, request: dict[str, Any], base: str) -> dict[str, Any]:
        entries = _batch(request["Entries"])
        done, failed = [], []
        with self._lock:
            queue = self._queue(request["QueueUrl"])
            for entry in entries:
                try:
                    self._delete(queue, entry["ReceiptHandle"])
                    done.append({"Id": entry["Id"]})
                except ApiError as error:
                    failed.append({"Id": entry["Id"], "SenderFault": True, "Code": error.code, "Message": str(error)})
        return {"Successful": done, "Failed": failed}

    def _delete(self, queue: _Queue, handle: str) -> None:
        """Deleting a message already deleted succeeds, as in SQS; a handle that is not one is refused."""
        message_id = _message_of(queue.name, handle)
        if queue.messages.pop(message_id, None) is not None:
            self._compact(queue)

    def _compact(self, queue: _Queue) -> None:
        """Drops the heap's entries of messages deleted or made visible at another time once they outnumber the
        messages: they would otherwise stay until their time comes (a visibility timeout later)."""
        if len(queue.due) > 2 * len(queue.messages) + 64:
            queue.due = [
                entry
                for entry in queue.due
                if (message := queue.messages.get(entry[2])) is not None and message.visible_at == entry[0]
            ]
            heapq.heapify(queue.due)

    def _change_message_visibility(self, request: dict[str, Any], base: str) -> dict[str, Any]:
        with self._lock:
            self._change(self._queue(request["QueueUrl"]), request["ReceiptHandle"], request["VisibilityTimeout"])
        return {}

    def _change_message_visibility_batch(self, request: dict[str, Any], base: str) -> dict[str, Any]:
        entries = _batch(request["Entries"])
        done, failed = [], []
        with self._lock:
            queue = self._queue(request["QueueUrl"])
            for entry in entries:
                try:
                    self._change(queue, entry["ReceiptHandle"], entry.get("VisibilityTimeout", 0))
                    done.append({"Id": entry["Id"]})
                except ApiError as error:
                    failed.append({"Id": entry["Id"], "SenderFault": True, "Code": error.code, "Message": str(error)})
        return {"Successful": done, "Failed": failed}

    def _change(self, queue: _Queue, handle: str, timeout: int) -> None:
        if not 0 <= timeout <= 43200:
            raise _error("InvalidParameterValue", "VisibilityTimeout must be from 0 to 43200.")
        message = queue.messages.get(_message_of(queue.name, handle))
        if message is None or message.handle != handle or message.visible_at <= self._clock():
            raise _error("MessageNotInflight", "The message is not in flight with this receipt handle.")
        message.visible_at = self._clock() + timeout
        heapq.heappush(queue.due, (message.visible_at, next(self._order), message.message_id))
        self._compact(queue)
        self._lock.notify_all()


def _read(operation: Any, body: bytes) -> dict[str, Any]:
    try:
        request = json.loads(body) if body else {}
    except ValueError:
        raise _error("InvalidParameterValue", "The request body is not valid JSON") from None
    if not isinstance(request, dict):
        raise _error("InvalidParameterValue", "The request body must be a JSON object")
    checker = Checker()
    checked: dict[str, Any] = checker.check(operation.input_shape, request, "")
    if checker.problems:
        raise _error("InvalidParameterValue", checker.message())
    return checked


def _batch(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not entries:
        raise _error("EmptyBatchRequest", "There should be at least one entry in the request.")
    if len(entries) > _MAX_BATCH:
        raise _error("TooManyEntriesInBatchRequest", "Maximum number of entries per request are 10.")
    if any(not _NAME.fullmatch(entry["Id"]) for entry in entries):
        raise _error(
            "InvalidBatchEntryId",
            "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
            "It can be at most 80 letters long.",
        )
    if len({entry["Id"] for entry in entries}) != len(entries):
        raise _error("BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id.")
    return entries


def _size(message: Mapping[str, Any]) -> int:
    """A message's size as SQS counts it: its body and its attributes' names, types and values, in bytes."""
    size = len(message["MessageBody"].encode())
    for name, value in (message.get("MessageAttributes") or {}).items():
        data = value.get("StringValue", "").encode() or value.get("BinaryValue") or b""
        size += len(name.encode()) + len(value["DataType"].encode()) + len(data)
    return size


def _check_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> None:
    """Message attributes as SQS takes them: at most ten, each of a String, Number or Binary type (with an
    optional custom suffix) and a value of that type."""
    if len(attributes) > _MAX_ATTRIBUTES:
        raise _error(
            "InvalidParameterValue",
            f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum [{_MAX_ATTRIBUTES}].",
        )
    for name, value in attributes.items():
        kind = value["DataType"].split(".", 1)[0]
        if kind not in ("String", "Number", "Binary"):
            raise _error("InvalidParameterValue", f"The type of message (user) attribute '{name}' is invalid.")
        if not value.get("BinaryValue" if kind == "Binary" else "StringValue"):
            raise _error(
                "InvalidParameterValue",
                f"The message attribute '{name}' must contain non-empty message attribute value for message "
                f"attribute type '{kind}'.",
            )
        if kind == "Number" and not _is_number(value["StringValue"]):
            raise _error(
                "InvalidParameterValue", f"Can't cast the value of message (user) attribute '{name}' to a number."
            )


def _is_number(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


def _handle(queue_name: str, message_id: str) -> str:
    """A receipt handle: opaque to clients; it names the queue and the message, and is new for each receive."""
    return base64.urlsafe_b64encode(f"{queue_name} {message_id} {uuid.uuid4().hex}".encode()).decode()


def _message_of(queue_name: str, handle: str) -> str:
    try:
        name, message_id, _ = base64.urlsafe_b64decode(handle.encode()).decode().split(" ")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _error("ReceiptHandleIsInvalid", f"The input receipt handle is invalid: {handle[:64]}") from None
    if name != queue_name:
        raise _error("ReceiptHandleIsInvalid", "The receipt handle is not one of this queue.")
    return message_id


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _attributes_md5(attributes: Mapping[str, Mapping[str, Any]]) -> str:
    """SQS's digest of message attributes: each, by name, as length-prefixed name, type and value."""
    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        value = attributes[name]
        kind = value["DataType"]
        digest.update(struct.pack(">I", len(name.encode())) + name.encode())
        digest.update(struct.pack(">I", len(kind.encode())) + kind.encode())
        if "StringValue" in value:
            data = value["StringValue"].encode()
            digest.update(b"\x01" + struct.pack(">I", len(data)) + data)
        else:
            data = value["BinaryValue"]
            data = data if isinstance(data, bytes) else base64.b64decode(data)
            digest.update(b"\x02" + struct.pack(">I", len(data)) + data)
    return digest.hexdigest()
