"""The command delivery (AWS IoT Commands) at scale, through the real handlers.

fanout_10k: one command published to 10,000 things (a thing group) with no rate limit, against the local
  endpoints (moto in server mode with the IoT Commands emulator in front, over HTTP): the wall seconds from the
  publishing request until every execution has started, the AWS calls the functions made (by operation;
  Lambda's own polling of the queue is not the functions' and is left out), and their ratio to the minimum:
  one StartCommandExecution per thing and one BatchWriteItem per 25 execution items.
rate_accuracy: 2,000 things at 600 a minute, on simulated time (moto in process, the dispatch queue's delays
  on the simulated clock): the most executions AWS IoT started in any 60-second window, and how long the
  rollout took.
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from commands_core import dependencies
from commands_core.adapters import aws as clients
from commands_core.adapters.queue import DispatchQueue
from commands_core.services import delivery, dispatch
from commands_core.services.delivery import command as command_delivery
from commands_core.wiring import CONSUMERS, ROUTES
from commands_core.wiring import functions as wiring_functions
from local import aws as local_aws
from local import moto_iot, queues
from local.api import Api, proxy_event
from local.lambdas import Functions
from local.simulated_time import SimulatedTime, most_in_a_window

GROUP = "bench-fleet"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    with mock.patch.dict(os.environ, env | {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "ERROR"}):
        dependencies.reset()
        try:
            yield
        finally:
            dependencies.reset()


def _fleet(size: int) -> None:
    """The things and their group, straight into moto's registry (setting up is not what is measured)."""
    from moto.iot.models import iot_backends

    backend = iot_backends[local_aws.ACCOUNT][local_aws.REGION]
    backend.create_thing_group(GROUP, "", {})
    for number in range(size):
        thing = backend.create_thing(f"bench-{number:05d}", "", None)
        backend.add_thing_to_thing_group(GROUP, None, thing.thing_name, thing.arn)


def _publish(functions: Functions, command: dict[str, Any]) -> None:
    api = Api(ROUTES, functions)
    for method, path, body in (
        ("POST", "/templates", {"templateId": "bench", "operation": "bench", "document": "{}", "delivery": "command"}),
        ("POST", "/commands", command),
    ):
        match = api.router.match(method, path)
        assert not isinstance(match, list)
        event = proxy_event(
            match,
            method=method,
            raw_path=path,
            query="",
            headers={"Content-Type": "application/json"},
            body=json.dumps(body).encode(),
        )
        response = api.invoke(match, event)
        if response["statusCode"] != 201:
            raise RuntimeError(f"{method} {path}: {response['statusCode']} {response.get('body')}")


def _counting() -> Counter[str]:
    """AWS calls of the service's clients (each attempt, retries included), by operation."""
    calls: Counter[str] = Counter()
    clients.session().events.register(
        "before-send", lambda event_name, **_: calls.update([event_name.split(".")[-1]]), unique_id="bench-calls"
    )
    return calls


def fanout_10k(things: int = 10_000) -> dict[str, Any]:
    port = free_port()
    env = local_aws.environment(port)
    iot_commands = local_aws.iot_commands(lambda topic, payload: None)  # the events are not what is measured
    server = local_aws.start_endpoint(port, iot_commands)
    try:
        with _environment(env):
            local_aws.create_resources(env)
            _fleet(things)
            calls = _counting()
            functions = Functions(function.function for function in wiring_functions())
            dispatching = tuple(consumer for consumer in CONSUMERS if consumer.queue == "dispatch")
            sqs = local_aws.client("sqs", env)
            started = time.perf_counter()
            target = f"arn:aws:iot:{local_aws.REGION}:{local_aws.ACCOUNT}:thinggroup/{GROUP}"
            _publish(
                functions, {"commandId": "fanout", "templateId": "bench", "status": "in_progress", "targets": [target]}
            )
            queues.drain(sqs, dispatching, env, functions)
            seconds = time.perf_counter() - started
            executions = len(iot_commands.executions("fanout"))
    finally:
        server.shutdown()
        server.close()
        clients.session().events.unregister("before-send", unique_id="bench-calls")
    minimum = things + math.ceil(things / 25)
    total = sum(calls.values())
    return {
        "things": things,
        "executions_started": executions,
        "wall_seconds": round(seconds, 1),
        "starts_per_second": round(executions / seconds),
        "aws_calls": dict(calls.most_common()),
        "aws_calls_total": total,
        "aws_calls_minimum": minimum,
        "ratio_to_minimum": round(total / minimum, 4),
        "target_ratio": 1.05,
    }


def rate_accuracy(things: int = 2_000, per_minute: int = 600) -> dict[str, Any]:
    from moto import mock_aws

    env = local_aws.environment(aws_port=None)
    clock = SimulatedTime(time.time())
    iot_commands = local_aws.iot_commands(lambda topic, payload: None, clock)
    events = clients.session().events
    events.register_first("before-send", iot_commands.botocore_hook, unique_id="bench-iot-commands")
    moto_iot.install()
    try:
        with (
            mock_aws(),
            _environment(env),
            clock.installed(delivery, dispatch, command_delivery),
            mock.patch.object(
                DispatchQueue, "send", lambda self, message, delay_seconds=0: clock.send(message, delay_seconds)
            ),
        ):
            local_aws.create_resources(env)
            _fleet(things)
            functions = Functions(function.function for function in wiring_functions())
            began = clock()
            wall = time.perf_counter()
            target = f"arn:aws:iot:{local_aws.REGION}:{local_aws.ACCOUNT}:thinggroup/{GROUP}"
            _publish(
                functions,
                {
                    "commandId": "paced",
                    "templateId": "bench",
                    "status": "in_progress",
                    "targets": [target],
                    "rolloutMaximumPerMinute": per_minute,
                },
            )
            steps = clock.run(
                lambda message: functions.invoke(
                    "commands_dispatch", sqs_event([message.model_dump_json(by_alias=True)], "dispatch")
                )
            )
            wall = time.perf_counter() - wall
            starts = sorted(execution["createdAt"] for execution in iot_commands.executions("paced"))
    finally:
        events.unregister("before-send", unique_id="bench-iot-commands")
    return {
        "things": things,
        "rollout_maximum_per_minute": per_minute,
        "executions_started": len(starts),
        "max_started_in_any_60_seconds": most_in_a_window(starts),
        "rollout_seconds": round(starts[-1] - began, 1),
        "ideal_seconds": 60 * math.ceil(things / per_minute - 1),
        "dispatch_steps": steps,
        "wall_seconds": round(wall, 1),
    }


def sqs_event(bodies: list[str], queue: str) -> dict[str, Any]:
    """An SQS event of these message bodies from the service's `queue`, as Lambda's event source delivers it."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "AQEB" + uuid.uuid4().hex,
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(time.time() * 1000))},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{local_aws.REGION}:{local_aws.ACCOUNT}:{local_aws.PREFIX}-{queue}",
                "awsRegion": local_aws.REGION,
            }
            for body in bodies
        ]
    }
