"""The embedded endpoint's SQS through boto3 unchanged: queues, messages and their attributes, visibility
timeouts, delays, long polling and the redrive policy as SQS behaves, its errors as SQS answers them, and no
message lost, duplicated or left behind."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local.sqs import Sqs
from local.wire import check_output
from tests.conftest import Clock

REGION = "us-east-1"
ACCOUNT = "123456789012"
ENDPOINT = f"https://sqs.{REGION}.amazonaws.com"
# botocore reads a service's model once per loader: one loader for every client here keeps each test quick.
_LOADER = botocore.loaders.create_loader()


@dataclass
class Embedded:
    emulator: Sqs
    sqs: Any
    problems: list[str]

    def queue(self, name: str = "work", **attributes: str) -> str:
        return str(self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])

    def receive(self, url: str, **arguments: Any) -> list[dict[str, Any]]:
        return list(self.sqs.receive_message(QueueUrl=url, **arguments).get("Messages", []))

    def counts(self, url: str) -> tuple[int, int, int]:
        """ApproximateNumberOfMessages, ...NotVisible and ...Delayed."""
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        names.append("ApproximateNumberOfMessagesDelayed")
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return int(attributes[names[0]]), int(attributes[names[1]]), int(attributes[names[2]])


def client_of(emulator: Sqs, problems: list[str], **config: Any) -> Any:
    """An SQS client answered in process by the emulator (registered first on its session, so the endpoint is
    never reached); its successful responses, as botocore parsed them, are checked against the operation's
    output shape into `problems`."""
    core = botocore.session.Session()
    core.register_component("data_loader", _LOADER)
    session = boto3.session.Session(
        botocore_session=core, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    session.events.register_first("before-send", emulator.botocore_hook)

    def check(http_response: Any, parsed: dict[str, Any], model: Any, **kwargs: Any) -> None:
        if http_response.status_code < 300:
            problems.extend(f"{model.name}: {problem}" for problem in check_output("sqs", model.name, parsed))

    session.events.register("after-call", check)
    return session.client("sqs", endpoint_url=ENDPOINT, config=Config(**config) if config else None)


def embedded(clock: Callable[[], float]) -> Iterator[Embedded]:
    emulator = Sqs(account=ACCOUNT, region=REGION, clock=clock)
    problems: list[str] = []
    world = Embedded(emulator, client_of(emulator, problems), problems)
    yield world
    assert world.problems == []


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def world(clock: Clock) -> Iterator[Embedded]:
    """The emulator on a clock the test moves."""
    yield from embedded(clock)


@pytest.fixture
def live() -> Iterator[Embedded]:
    """The emulator on the real clock (long polling waits in real time)."""
    yield from embedded(time.time)


def error_of(call: Callable[..., object], **arguments: Any) -> tuple[str, str, str]:
    """The error a call fails with: its exception class, its Code (SQS's query-protocol code) and message."""
    with pytest.raises(ClientError) as raised:
        call(**arguments)
    error = raised.value.response["Error"]
    return type(raised.value).__name__, error["Code"], error["Message"]


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def documented_attributes_md5(attributes: dict[str, dict[str, Any]]) -> str:
    """SQS's digest of message attributes, as AWS documents it: the attributes sorted by name, each encoded as
    its name, its data type (each a 4-byte big-endian length and UTF-8 bytes), one transport byte (1 for String
    and Number, 2 for Binary) and its value (length and bytes); the MD5 of it all."""

    def sized(data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + data

    buffer = bytearray()
    for name, value in sorted(attributes.items()):
        buffer += sized(name.encode()) + sized(value["DataType"].encode())
        if value["DataType"].startswith("Binary"):
            buffer += b"\x02" + sized(value["BinaryValue"])
        else:
            buffer += b"\x01" + sized(value["StringValue"].encode())
    return md5(bytes(buffer))


# --- messages -------------------------------------------------------------------------------------------------


def test_a_received_message_is_hidden_until_its_visibility_timeout_then_comes_back_with_a_new_handle(
    world: Embedded, clock: Clock
) -> None:
    # Given a queue (visibility timeout 30 s) and a message sent to it
    url = world.queue()
    sent = world.sqs.send_message(QueueUrl=url, MessageBody="hello")
    assert sent["MD5OfMessageBody"] == md5(b"hello")

    # When it is received, then it is received once, with its system attributes
    (first,) = world.receive(url, MessageSystemAttributeNames=["All"], MaxNumberOfMessages=10)
    assert (first["MessageId"], first["Body"], first["MD5OfBody"]) == (sent["MessageId"], "hello", md5(b"hello"))
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    assert first["Attributes"]["SentTimestamp"] == str(int(clock.now * 1000))
    assert first["Attributes"]["SenderId"] == ACCOUNT

    # Then it is not received again while its visibility timeout runs
    assert world.receive(url) == []
    clock.advance(29.9)
    assert world.receive(url) == []
    assert world.counts(url) == (0, 1, 0)

    # When the timeout has passed, then it comes back, received twice, with a new receipt handle
    clock.advance(0.2)
    (again,) = world.receive(url, MessageSystemAttributeNames=["All"])
    assert again["MessageId"] == sent["MessageId"]
    assert again["ReceiptHandle"] != first["ReceiptHandle"]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    assert (
        again["Attributes"]["ApproximateFirstReceiveTimestamp"]
        == first["Attributes"]["ApproximateFirstReceiveTimestamp"]
    )


def test_an_empty_receive_answers_no_messages_member(world: Embedded) -> None:
    # SQS leaves the member out: code reading response["Messages"] must fail here as it would against SQS
    url = world.queue()
    answer = world.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    assert "Messages" not in answer


def test_a_visibility_timeout_of_zero_never_returns_a_message_twice_in_one_answer(world: Embedded) -> None:
    # Given three messages
    url = world.queue()
    for number in range(3):
        world.sqs.send_message(QueueUrl=url, MessageBody=f"m{number}")
    # When they are received with a visibility timeout of 0, asking for ten
    received = world.receive(url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    # Then each comes once in the answer, and all come back in the next
    assert sorted(message["Body"] for message in received) == ["m0", "m1", "m2"]
    again = world.receive(url, MaxNumberOfMessages=10, VisibilityTimeout=0, MessageSystemAttributeNames=["All"])
    assert sorted(message["Body"] for message in again) == ["m0", "m1", "m2"]
    assert {message["Attributes"]["ApproximateReceiveCount"] for message in again} == {"2"}


def test_a_queue_visibility_timeout_set_later_applies_to_later_receives(world: Embedded, clock: Clock) -> None:
    url = world.queue()
    world.sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "5"})
    world.sqs.send_message(QueueUrl=url, MessageBody="m")
    assert len(world.receive(url)) == 1
    clock.advance(4)
    assert world.receive(url) == []
    clock.advance(1.5)
    assert len(world.receive(url)) == 1


def test_delayed_messages_are_received_only_once_their_delay_has_passed(world: Embedded, clock: Clock) -> None:
    # Given a queue delaying every message 10 s, a message sent with a delay of its own (60 s) and one without
    url = world.queue(DelaySeconds="10")
    world.sqs.send_message(QueueUrl=url, MessageBody="own", DelaySeconds=60)
    world.sqs.send_message(QueueUrl=url, MessageBody="queue's")
    # Then neither is received at first; both count as delayed
    assert world.receive(url, MaxNumberOfMessages=10) == []
    assert world.counts(url) == (0, 0, 2)
    # When the queue's delay has passed, then only the message under it is received
    clock.advance(10)
    (first,) = world.receive(url, MaxNumberOfMessages=10)
    assert first["Body"] == "queue's"
    assert world.counts(url) == (0, 1, 1)
    world.sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    # When the message's own delay has passed, then it is received
    clock.advance(50)
    assert [message["Body"] for message in world.receive(url, MaxNumberOfMessages=10)] == ["own"]


def test_approximate_counts_follow_waiting_in_flight_and_delayed_messages(world: Embedded, clock: Clock) -> None:
    url = world.queue()
    for number in range(4):
        world.sqs.send_message(QueueUrl=url, MessageBody=f"m{number}")
    world.sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=5)
    assert world.counts(url) == (4, 0, 1)
    (received,) = world.receive(url)
    assert world.counts(url) == (3, 1, 1)
    world.sqs.delete_message(QueueUrl=url, ReceiptHandle=received["ReceiptHandle"])
    assert world.counts(url) == (3, 0, 1)
    clock.advance(5)
    assert world.counts(url) == (4, 0, 0)


def test_message_attributes_come_back_with_the_md5_sqs_documents(world: Embedded) -> None:
    # Given a message with attributes of each type (and a custom type), sent alone and in a batch
    url = world.queue()
    attributes: dict[str, dict[str, Any]] = {
        "trace": {"DataType": "String", "StringValue": "abc-é"},
        "attempt": {"DataType": "Number", "StringValue": "3"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
        "trace.kind": {"DataType": "String.custom", "StringValue": "x"},
    }
    sent = world.sqs.send_message(QueueUrl=url, MessageBody="with", MessageAttributes=attributes)
    batch = world.sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": "one", "MessageBody": "batched", "MessageAttributes": attributes}]
    )
    # Then the digests are the documented ones
    expected = documented_attributes_md5(attributes)
    assert sent["MD5OfMessageAttributes"] == batch["Successful"][0]["MD5OfMessageAttributes"] == expected

    # When received asking for all attributes, then all come back, with the same digest
    received = world.receive(url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=0)
    assert [message["MessageAttributes"] for message in received] == [attributes, attributes]
    assert {message["MD5OfMessageAttributes"] for message in received} == {expected}

    # When received asking for some (by name, and by prefix), then those come back, digested alone
    for names, kept in ((["attempt"], ["attempt"]), (["trace.*"], ["trace.kind"]), (["none"], [])):
        message = world.receive(url, MessageAttributeNames=names, VisibilityTimeout=0)[0]
        chosen = {name: attributes[name] for name in kept}
        assert message.get("MessageAttributes", {}) == chosen
        assert message.get("MD5OfMessageAttributes") == (documented_attributes_md5(chosen) if chosen else None)


def test_the_md5_of_one_attribute_is_its_documented_encoding_spelled_out(world: Embedded) -> None:
    url = world.queue()
    sent = world.sqs.send_message(
        QueueUrl=url, MessageBody="m", MessageAttributes={"a": {"DataType": "Binary", "BinaryValue": b"\xff"}}
    )
    # Name "a", type "Binary", transport 2, value 0xff: each with its 4-byte length
    spelled = b"\x00\x00\x00\x01a" + b"\x00\x00\x00\x06Binary" + b"\x02" + b"\x00\x00\x00\x01\xff"
    assert sent["MD5OfMessageAttributes"] == md5(spelled)


def test_visibility_is_changed_for_a_message_in_flight_only(world: Embedded, clock: Clock) -> None:
    # Given a received message
    url = world.queue()
    world.sqs.send_message(QueueUrl=url, MessageBody="m")
    (message,) = world.receive(url)
    handle = message["ReceiptHandle"]
    # When its visibility timeout is extended, then it stays hidden past the queue's
    world.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=100)
    clock.advance(31)
    assert world.receive(url) == []
    # When it is set to 0, then the message is received at once
    world.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    (again,) = world.receive(url, VisibilityTimeout=0)
    # Then a message no longer in flight cannot have its visibility changed
    refused = error_of(
        world.sqs.change_message_visibility, QueueUrl=url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=5
    )
    assert refused[:2] == ("MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight")

    # When visibility is changed by batch, with a handle that is not one, then each entry answers for itself
    (third,) = world.receive(url)
    answer = world.sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "good", "ReceiptHandle": third["ReceiptHandle"], "VisibilityTimeout": 0},
            {"Id": "bad", "ReceiptHandle": "garbage", "VisibilityTimeout": 0},
        ],
    )
    assert [entry["Id"] for entry in answer["Successful"]] == ["good"]
    assert [(entry["Id"], entry["Code"], entry["SenderFault"]) for entry in answer["Failed"]] == [
        ("bad", "ReceiptHandleIsInvalid", True)
    ]
    assert len(world.receive(url)) == 1


def test_deleting_removes_a_message_for_good_even_by_an_old_handle_and_twice(world: Embedded, clock: Clock) -> None:
    url = world.queue()
    # Given a message received twice (two receipt handles)
    world.sqs.send_message(QueueUrl=url, MessageBody="m")
    (first,) = world.receive(url)
    clock.advance(31)
    (second,) = world.receive(url)
    assert first["ReceiptHandle"] != second["ReceiptHandle"]
    # When it is deleted by the older handle, then it is gone: not received again, not counted
    world.sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    clock.advance(31)
    assert world.receive(url) == []
    assert world.counts(url) == (0, 0, 0)
    # When it is deleted again (by either handle), then that succeeds too
    world.sqs.delete_message(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"])
    world.sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])


def test_receipt_handles_that_are_not_the_queues_are_refused(world: Embedded) -> None:
    url, other = world.queue(), world.queue("other")
    world.sqs.send_message(QueueUrl=other, MessageBody="m")
    (message,) = world.receive(other)
    for handle in ("garbage", "", message["ReceiptHandle"]):
        refused = error_of(world.sqs.delete_message, QueueUrl=url, ReceiptHandle=handle)
        assert refused[:2] == ("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid"), handle
    # And deleting by batch answers each entry
    answer = world.sqs.delete_message_batch(
        QueueUrl=other,
        Entries=[{"Id": "good", "ReceiptHandle": message["ReceiptHandle"]}, {"Id": "bad", "ReceiptHandle": "x"}],
    )
    assert [entry["Id"] for entry in answer["Successful"]] == ["good"]
    assert [(entry["Id"], entry["Code"]) for entry in answer["Failed"]] == [("bad", "ReceiptHandleIsInvalid")]


def test_send_batches_answer_each_entry_and_refuse_what_sqs_refuses(world: Embedded) -> None:
    url = world.queue()
    # When a batch holds a good entry and one SQS refuses (an empty body), then each answers for itself
    answer = world.sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": "good", "MessageBody": "m"}, {"Id": "empty", "MessageBody": ""}]
    )
    assert [(entry["Id"], entry["MD5OfMessageBody"]) for entry in answer["Successful"]] == [("good", md5(b"m"))]
    assert [(entry["Id"], entry["Code"]) for entry in answer["Failed"]] == [("empty", "InvalidParameterValue")]
    assert [message["Body"] for message in world.receive(url, MaxNumberOfMessages=10)] == ["m"]

    # Then the batch's own faults refuse it whole, with SQS's codes
    def batch(entries: list[dict[str, Any]], client: Any = world.sqs) -> tuple[str, str, str]:
        return error_of(client.send_message_batch, QueueUrl=url, Entries=entries)

    entry = {"MessageBody": "m"}
    assert batch([{"Id": f"e{n}"} | entry for n in range(11)])[:2] == (
        "TooManyEntriesInBatchRequest",
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    )
    assert (
        batch([{"Id": "same"} | entry, {"Id": "same"} | entry])[1] == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    )
    assert batch([{"Id": "not valid!"} | entry])[1] == "AWS.SimpleQueueService.InvalidBatchEntryId"
    big = "x" * (110 * 1024)
    assert (
        batch([{"Id": f"e{n}", "MessageBody": big} for n in range(10)])[1]
        == "AWS.SimpleQueueService.BatchRequestTooLong"
    )
    unchecked = client_of(world.emulator, world.problems, parameter_validation=False)  # botocore refuses it first
    assert batch([], unchecked)[1] == "AWS.SimpleQueueService.EmptyBatchRequest"
    assert world.counts(url) == (0, 1, 0)


def test_bodies_and_attributes_sqs_refuses_are_refused(world: Embedded) -> None:
    url = world.queue(MaximumMessageSize="1024")

    def send(body: str = "m", attributes: dict[str, dict[str, str]] | None = None) -> tuple[str, str, str]:
        return error_of(world.sqs.send_message, QueueUrl=url, MessageBody=body, MessageAttributes=attributes or {})

    def attribute(kind: str, value: str) -> dict[str, dict[str, str]]:
        return {"name": {"DataType": kind, "StringValue": value}}

    assert send("bad \u0000 character")[:2] == ("InvalidMessageContents", "InvalidMessageContents")
    assert send("x" * 1025)[1] == "InvalidParameterValue"
    # Attributes count towards the size
    assert send("x" * 1000, attribute("String", "y" * 20))[1] == "InvalidParameterValue"
    assert send("m", attribute("Number", "many"))[1] == "InvalidParameterValue"
    assert send("m", attribute("Decimal", "1"))[1] == "InvalidParameterValue"
    assert send("m", attribute("String", ""))[1] == "InvalidParameterValue"
    many = {f"a{number}": {"DataType": "String", "StringValue": "v"} for number in range(11)}
    assert send("m", many)[1] == "InvalidParameterValue"
    # And nothing was sent
    assert world.counts(url) == (0, 0, 0)
    world.sqs.send_message(QueueUrl=url, MessageBody="x" * 1024)


def test_messages_past_their_retention_period_are_dropped(world: Embedded, clock: Clock) -> None:
    url = world.queue(MessageRetentionPeriod="60")
    world.sqs.send_message(QueueUrl=url, MessageBody="old")
    clock.advance(30)
    world.sqs.send_message(QueueUrl=url, MessageBody="young")
    clock.advance(31)
    assert [message["Body"] for message in world.receive(url, MaxNumberOfMessages=10)] == ["young"]
    assert world.counts(url) == (0, 1, 0)


def test_the_redrive_policy_moves_a_message_to_the_dead_letter_queue_after_max_receive_count_receives(
    world: Embedded, clock: Clock
) -> None:
    # Given a queue whose messages go to a dead-letter queue after 3 receives
    dead = world.queue("dead")
    arn = world.sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert arn == f"arn:aws:sqs:{REGION}:{ACCOUNT}:dead"
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 3})
    url = world.queue(VisibilityTimeout="10", RedrivePolicy=policy)
    attributes = {"kind": {"DataType": "String", "StringValue": "poison"}}
    sent = world.sqs.send_message(QueueUrl=url, MessageBody="poison", MessageAttributes=attributes)
    # When it is received and never deleted, then it is received exactly 3 times
    receives = []
    for _ in range(6):
        receives += world.receive(url, MessageSystemAttributeNames=["All"])
        clock.advance(11)
    assert [message["Attributes"]["ApproximateReceiveCount"] for message in receives] == ["1", "2", "3"]
    # Then it is in the dead-letter queue, as it was sent
    (moved,) = world.receive(dead, MessageAttributeNames=["All"])
    assert (moved["MessageId"], moved["Body"], moved["MessageAttributes"]) == (sent["MessageId"], "poison", attributes)
    assert world.counts(url) == (0, 0, 0)
    assert json.loads(
        world.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]["RedrivePolicy"]
    ) == {
        "deadLetterTargetArn": arn,
        "maxReceiveCount": 3,
    }


def test_a_deleted_message_leaves_nothing_behind(world: Embedded) -> None:
    # Given a queue through which 1,500 messages pass, each deleted right after it is received (well within its
    # visibility timeout: the clock does not move)
    url = world.queue()
    for batch in range(150):
        entries = [{"Id": f"e{number}", "MessageBody": f"{batch}-{number}"} for number in range(10)]
        world.sqs.send_message_batch(QueueUrl=url, Entries=entries)
        received = world.receive(url, MaxNumberOfMessages=10)
        handles = [
            {"Id": f"e{number}", "ReceiptHandle": message["ReceiptHandle"]} for number, message in enumerate(received)
        ]
        assert not world.sqs.delete_message_batch(QueueUrl=url, Entries=handles)["Failed"]
    # Then the queue holds nothing of them: no message, and no more than a bounded remainder of its schedule
    queue = world.emulator._queues["work"]
    assert queue.messages == {}
    assert len(queue.due) <= 64
    assert world.counts(url) == (0, 0, 0)


# --- queues ---------------------------------------------------------------------------------------------------


def test_creating_a_queue_again_is_idempotent_unless_its_attributes_differ(world: Embedded) -> None:
    url = world.queue("work", VisibilityTimeout="60", DelaySeconds="5")
    assert url == f"{ENDPOINT}/{ACCOUNT}/work"
    # When it is created again with the same attributes, some of them, or none, then the same queue is answered
    assert world.queue("work", VisibilityTimeout="60", DelaySeconds="5") == url
    assert world.queue("work", VisibilityTimeout="60") == url
    assert world.queue("work") == url
    # When with other values, then SQS's QueueNameExists (Code QueueAlreadyExists), and the queue is unchanged
    refused = error_of(world.sqs.create_queue, QueueName="work", Attributes={"VisibilityTimeout": "30"})
    assert refused[:2] == ("QueueNameExists", "QueueAlreadyExists")
    attributes = world.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout", "RedrivePolicy"])
    assert attributes["Attributes"] == {"VisibilityTimeout": "60"}
    # And values out of range, and names SQS does not take, are refused
    assert (
        error_of(world.sqs.create_queue, QueueName="x", Attributes={"VisibilityTimeout": "43201"})[1]
        == "InvalidAttributeValue"
    )
    assert error_of(world.sqs.create_queue, QueueName="not valid!")[1] == "InvalidParameterValue"
    assert (
        error_of(world.sqs.set_queue_attributes, QueueUrl=url, Attributes={"DelaySeconds": "901"})[1]
        == "InvalidAttributeValue"
    )


def test_queues_are_found_listed_configured_purged_and_deleted(world: Embedded) -> None:
    # Given no queue, then listing answers no member, as SQS does
    assert "QueueUrls" not in world.sqs.list_queues()
    urls = [world.queue(name) for name in ("q-b", "q-a", "other")]
    # Then they are found by name and listed, by prefix and by page
    assert world.sqs.get_queue_url(QueueName="q-a")["QueueUrl"] == urls[1]
    assert world.sqs.list_queues()["QueueUrls"] == sorted(urls)
    assert world.sqs.list_queues(QueueNamePrefix="q-")["QueueUrls"] == sorted(urls[:2])
    first = world.sqs.list_queues(MaxResults=2)
    rest = world.sqs.list_queues(MaxResults=2, NextToken=first["NextToken"])
    assert (first["QueueUrls"] + rest["QueueUrls"], "NextToken" in rest) == (sorted(urls), False)
    # Then their attributes are the defaults until set
    attributes = world.sqs.get_queue_attributes(QueueUrl=urls[0], AttributeNames=["All"])["Attributes"]
    assert {name: attributes[name] for name in ("VisibilityTimeout", "DelaySeconds", "MessageRetentionPeriod")} == {
        "VisibilityTimeout": "30",
        "DelaySeconds": "0",
        "MessageRetentionPeriod": "345600",
    }
    assert attributes["QueueArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:q-b"
    world.sqs.set_queue_attributes(QueueUrl=urls[0], Attributes={"ReceiveMessageWaitTimeSeconds": "2"})
    changed = world.sqs.get_queue_attributes(QueueUrl=urls[0], AttributeNames=["ReceiveMessageWaitTimeSeconds"])
    assert changed["Attributes"] == {"ReceiveMessageWaitTimeSeconds": "2"}
    # When a queue is purged, then its messages are gone, in flight or not
    for number in range(3):
        world.sqs.send_message(QueueUrl=urls[1], MessageBody=f"m{number}")
    world.receive(urls[1])
    world.sqs.purge_queue(QueueUrl=urls[1])
    assert world.counts(urls[1]) == (0, 0, 0)
    # When a queue is deleted, then it is no more
    world.sqs.delete_queue(QueueUrl=urls[2])
    assert world.sqs.list_queues()["QueueUrls"] == sorted(urls[:2])
    assert error_of(world.sqs.get_queue_url, QueueName="other")[:2] == (
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
    )


def test_what_the_emulator_does_not_reproduce_is_as_its_docstring_says(world: Embedded, clock: Clock) -> None:
    url = world.queue()
    # A queue is purged as often as asked (SQS refuses a purge within 60 s of the last with PurgeQueueInProgress)
    world.sqs.purge_queue(QueueUrl=url)
    world.sqs.purge_queue(QueueUrl=url)
    # A deleted queue's name is free at once (SQS answers QueueDeletedRecently for 60 s), and the queue is new
    world.sqs.send_message(QueueUrl=url, MessageBody="m")
    world.sqs.delete_queue(QueueUrl=url)
    assert world.queue() == url
    assert world.counts(url) == (0, 0, 0)
    # A message's visibility may be extended past 12 hours from its first receive (SQS caps it there)
    world.sqs.send_message(QueueUrl=url, MessageBody="m")
    (message,) = world.receive(url)
    for _ in range(3):
        handle = message["ReceiptHandle"]
        world.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=43_200)
        clock.advance(40_000)
    assert world.counts(url) == (0, 1, 0)


@pytest.mark.parametrize(
    ("operation", "arguments"),
    [
        ("get_queue_url", {"QueueName": "missing"}),
        ("send_message", {"MessageBody": "m"}),
        ("receive_message", {}),
        ("delete_message", {"ReceiptHandle": "x"}),
        ("get_queue_attributes", {"AttributeNames": ["All"]}),
        ("purge_queue", {}),
        ("delete_queue", {}),
    ],
)
def test_an_unknown_queue_is_queue_does_not_exist(world: Embedded, operation: str, arguments: dict[str, Any]) -> None:
    if operation != "get_queue_url":
        arguments = arguments | {"QueueUrl": f"{ENDPOINT}/{ACCOUNT}/missing"}
    # botocore raises QueueDoesNotExist, with SQS's query-protocol code, as against SQS
    refused = error_of(getattr(world.sqs, operation), **arguments)
    assert refused[:2] == ("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue")


def test_fifo_queues_and_other_operations_are_refused_as_unsupported(world: Embedded) -> None:
    url = world.queue()
    refused = [
        error_of(world.sqs.create_queue, QueueName="orders.fifo", Attributes={"FifoQueue": "true"}),
        error_of(world.sqs.tag_queue, QueueUrl=url, Tags={"team": "x"}),
        error_of(world.sqs.list_queue_tags, QueueUrl=url),
        error_of(world.sqs.list_dead_letter_source_queues, QueueUrl=url),
        error_of(world.sqs.add_permission, QueueUrl=url, Label="l", AWSAccountIds=[ACCOUNT], Actions=["SendMessage"]),
    ]
    assert {(kind, code) for kind, code, _ in refused} == {
        ("UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation")
    }
    named = ["FIFO", "TagQueue", "ListQueueTags", "ListDeadLetterSourceQueues", "AddPermission"]
    assert [name in message for name, (_, _, message) in zip(named, refused, strict=True)] == [True] * len(named)


# --- waiting and threads (on the real clock) --------------------------------------------------------------------


def test_long_polling_returns_as_soon_as_a_message_is_sent(live: Embedded) -> None:
    url = live.queue()
    received: list[list[dict[str, Any]]] = []
    # Given a receive waiting up to 20 s on an empty queue
    waiting = threading.Thread(target=lambda: received.append(live.receive(url, WaitTimeSeconds=20)))
    waiting.start()
    time.sleep(0.3)
    assert received == []  # still waiting
    # When a message is sent from another thread, then the receive returns it long before its wait is over
    live.sqs.send_message(QueueUrl=url, MessageBody="awaited")
    waiting.join(timeout=10)
    assert not waiting.is_alive()
    assert [[message["Body"] for message in answer] for answer in received] == [["awaited"]]


def test_long_polling_on_an_empty_queue_returns_nothing_after_the_wait(live: Embedded) -> None:
    # Given a queue whose receives wait 1 s by default
    url = live.queue(ReceiveMessageWaitTimeSeconds="1")
    started = time.monotonic()
    # When a receive asks without a wait of its own, then it answers nothing, once the wait is over
    assert live.receive(url) == []
    assert time.monotonic() - started >= 0.9
    # And a receive asking for no wait answers at once, which it always may
    assert live.receive(url, WaitTimeSeconds=0) == []


def test_many_threads_sending_receiving_and_deleting_lose_and_duplicate_nothing(live: Embedded) -> None:
    # Given a queue whose visibility timeout outlasts the test: a message is received again only if lost
    url = live.queue(VisibilityTimeout="600")
    senders, per_sender, receivers = 8, 120, 8
    expected = {f"{sender}-{number}" for sender in range(senders) for number in range(per_sender)}
    bodies: list[str] = []
    lock = threading.Lock()
    failures: list[BaseException] = []

    def send(sender: int) -> None:
        for start in range(0, per_sender, 10):
            entries = [{"Id": f"e{number}", "MessageBody": f"{sender}-{number}"} for number in range(start, start + 10)]
            if start % 20:
                live.sqs.send_message_batch(QueueUrl=url, Entries=entries)
            else:
                for entry in entries:
                    live.sqs.send_message(QueueUrl=url, MessageBody=entry["MessageBody"])

    def receive() -> None:
        while True:
            with lock:
                if len(bodies) >= len(expected):
                    return
            messages = live.receive(url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            if messages:
                handles = [
                    {"Id": f"e{number}", "ReceiptHandle": m["ReceiptHandle"]} for number, m in enumerate(messages)
                ]
                live.sqs.delete_message_batch(QueueUrl=url, Entries=handles)
            with lock:
                bodies.extend(message["Body"] for message in messages)

    def run(target: Callable[..., None], *arguments: int) -> None:
        try:
            target(*arguments)
        except BaseException as failure:  # handed to the test's thread
            failures.append(failure)

    # When 8 threads send while 8 others receive and delete
    threads = [threading.Thread(target=run, args=(send, sender)) for sender in range(senders)]
    threads += [threading.Thread(target=run, args=(receive,)) for _ in range(receivers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    # Then every message was received exactly once, and the queue is empty
    assert Counter(bodies) == Counter(expected)
    assert live.counts(url) == (0, 0, 0)
