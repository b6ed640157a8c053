"""Emulation of Lambda's SQS event sources: each consumer of the wiring polls its queue, gets the messages as
an SQS event, and the messages it does not report as failed are deleted (failed ones come back after the
visibility timeout, then go to the dead-letter queue)."""

from __future__ import annotations

import threading
from typing import Any

from commands_core import resources
from commands_core.wiring import Consumer
from local import aws as local_aws
from local.lambdas import Functions


def queue_url(consumer: Consumer, env: dict[str, str]) -> str:
    (queue,) = (queue for queue in resources.QUEUES if queue.name == consumer.queue)
    return env[queue.env]


def poll_once(sqs: Any, consumer: Consumer, url: str, functions: Functions, wait_seconds: int = 0) -> int:
    """Receives one batch and invokes the consumer with it; the number of messages received. The messages it
    does not report as failed are deleted in one request, as Lambda's event source does."""
    messages = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=consumer.batch_size,
        WaitTimeSeconds=wait_seconds,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    if not messages:
        return 0
    event = {"Records": [_record(message, _arn(url)) for message in messages]}
    try:
        response = functions.invoke(consumer.function, event)
    except Exception:  # the whole batch failed: every message comes back after the visibility timeout
        return len(messages)
    failed = {failure["itemIdentifier"] for failure in (response or {}).get("batchItemFailures", [])}
    done = [
        {"Id": str(number), "ReceiptHandle": message["ReceiptHandle"]}
        for number, message in enumerate(messages)
        if message["MessageId"] not in failed
    ]
    if done:
        sqs.delete_message_batch(QueueUrl=url, Entries=done)
    return len(messages)


def _arn(url: str) -> str:
    """The queue's ARN, from its URL (.../<account>/<name>), as the records of its event source carry it."""
    account, name = url.rstrip("/").rsplit("/", 2)[1:]
    return f"arn:aws:sqs:{local_aws.REGION}:{account}:{name}"


def drain(
    sqs: Any, consumers: tuple[Consumer, ...], env: dict[str, str], functions: Functions, limit: int = 10_000
) -> int:
    """Polls every consumer until its queue has nothing visible (tests); the number of messages handled."""
    handled = 0
    while handled < limit:
        batch = sum(poll_once(sqs, consumer, queue_url(consumer, env), functions) for consumer in consumers)
        if not batch:
            return handled
        handled += batch
    raise RuntimeError(f"queues still had messages after {limit}")


def start(
    consumers: tuple[Consumer, ...], env: dict[str, str], functions: Functions, stop: threading.Event
) -> list[threading.Thread]:
    def loop(consumer: Consumer) -> None:
        sqs = local_aws.client("sqs", env)
        url = queue_url(consumer, env)
        while not stop.is_set():
            try:
                poll_once(sqs, consumer, url, functions, wait_seconds=1)
            except Exception as error:  # the endpoint is going away at shutdown, or a passing fault
                if not stop.is_set():
                    print(f"{consumer.function}: polling failed: {error!r}")
                stop.wait(1)

    threads = [
        threading.Thread(target=loop, args=(consumer,), daemon=True, name=consumer.function) for consumer in consumers
    ]
    for thread in threads:
        thread.start()
    return threads


def _record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }
