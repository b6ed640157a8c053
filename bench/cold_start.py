"""cold_start: the whole cold start of each function, next to a hand-written function making the same AWS calls.

What is timed is a function's first request in a fresh process (bench/first_request.py), from just before the
process is spawned to the moment the handler's response is in hand: the interpreter's start, the imports, the
clients, the request's work and its AWS calls.

1. Each function answers one representative request (the route's usual success; a queue message or a schedule
   event as its event source delivers it) once, in a fresh process, against the embedded AWS endpoint holding
   the state it needs (seeded through the real handlers). botocore hooks record every AWS call it makes, with
   the raw HTTP response, and the handler's own response (bench/replay.py).
2. From that recording, its hand-written twin is generated: `import json` and `import boto3` only, clients at
   module scope, the same calls in the same order with the params written literally, and a response of the
   same shape.
3. Timed, both talk to a loopback replay server answering each request at once with the recorded response of
   the same key, so that both pay exactly the same for AWS. Rounds interleave, for each function, the
   service's handler, its twin and a bare `python -c "import boto3"`; figures are medians over the rounds.

cold_start_vs_handwritten: per function, the median of the service's handler over that of its twin; the
  import-only line (spawn to the end of the handler's import, over the bare `import boto3`) is kept beside it.
rss_first_request: the peak RSS of each process at its response (VmHWM: see bench/first_request.py).
"""

from __future__ import annotations

import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.delivery import free_port, sqs_event
from bench.replay import Recording, Replay, ReplayServer, handwritten
from commands_core.observability import SERVICE
from commands_core.wiring import CONSUMERS, ROUTES, Route
from commands_core.wiring import functions as wiring_functions
from local import aws as local_aws

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "core" / "python"
FIRST_REQUEST = ROOT / "bench" / "first_request.py"
TARGET = 1.25
_ROUTES = {route.function: route for route in ROUTES}


def measure(rounds: int = 11) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cold-start-") as scratch:
        recordings = record_all(Path(scratch))
        twins = _write_twins(Path(scratch), recordings)
        with ReplayServer().serving() as server:
            times = _time(server, Path(scratch), recordings, twins, rounds)
    return _figures(times, rounds)


# --- 1. The representative requests, against the embedded endpoint, with the state each needs ---------------


def record_all(scratch: Path) -> dict[str, Recording]:
    """Every function's recording, in the order of `_requests` (each request's effects are the next one's state)."""
    from local import moto_iot

    port = free_port()
    env = local_aws.environment(port) | {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "ERROR"}
    os.environ.update(env)  # the seeding handlers, in this process, reach the endpoint as the recorded ones do
    endpoint = local_aws.start_endpoint(port, local_aws.iot_commands(lambda topic, payload: None))
    membership: list[dict[str, Any]] = []
    stop_listening = moto_iot.on_registry_events(lambda topic, payload: membership.append(payload | {"topic": topic}))
    try:
        local_aws.create_resources(env)
        world = _World(env, membership)
        recordings: dict[str, Recording] = {}
        for function, event in _requests(world):
            recordings[function] = _record(scratch, function, event, _deployed(env))
    finally:
        stop_listening()
        endpoint.shutdown()
        endpoint.close()
    missing = {function.function for function in wiring_functions()} - recordings.keys()
    if missing:
        raise RuntimeError(f"no representative request for {', '.join(sorted(missing))}")
    return recordings


class _World:
    """The service's state, seeded through its real handlers in this process, and the events its functions
    receive, built as the deployed event sources build them."""

    def __init__(self, env: dict[str, str], membership: list[dict[str, Any]]) -> None:
        from local.api import Api
        from local.lambdas import Functions

        self.env = env
        self.functions = Functions(function.function for function in wiring_functions())
        self.api = Api(ROUTES, self.functions)
        self.iot = local_aws.client("iot", env)
        self.sqs = local_aws.client("sqs", env)
        self.membership = membership
        from commands_core.observability import logger

        logger.setLevel("ERROR")  # the seeding's own logs say nothing the bench needs

    def http(self, method: str, target: str, body: Any = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """The API Gateway proxy event of a request (local/api.py's, as the deployed API sends them)."""
        from urllib.parse import urlsplit

        from local.api import proxy_event

        url = urlsplit(target)
        match = self.api.router.match(method, url.path)
        if isinstance(match, list):
            raise RuntimeError(f"no route for {method} {url.path}")
        payload = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
        sent = {"Content-Type": "application/json"} if payload else {}
        return proxy_event(
            match, method=method, raw_path=url.path, query=url.query, headers=sent | (headers or {}), body=payload
        )

    def seed(self, method: str, target: str, body: Any = None, headers: dict[str, str] | None = None) -> None:
        """A request the state needs, answered by its handler here (not recorded)."""
        event = self.http(method, target, body, headers)
        match = self.api.router.match(method, event["path"])
        assert not isinstance(match, list)
        response = self.api.invoke(match, event)
        if response["statusCode"] >= 300:
            raise RuntimeError(f"seeding {method} {target}: {response['statusCode']} {response.get('body')}")

    def drain(self) -> None:
        """The queues' consumers run until the queues are empty, as their event sources would run them."""
        from local import queues

        queues.drain(self.sqs, CONSUMERS, self.env, self.functions)

    def things(self, *names: str, group: str | None = None) -> None:
        if group:
            self.iot.create_thing_group(thingGroupName=group)
        for name in names:
            self.iot.create_thing(thingName=name)
            if group:
                self.iot.add_thing_to_thing_group(thingGroupName=group, thingName=name)

    def next_message(self, queue: str) -> dict[str, Any]:
        """The SQS event of the next message waiting in `queue`, which is then taken off the queue."""
        (consumer,) = (consumer for consumer in CONSUMERS if consumer.queue == queue)
        from local.queues import queue_url

        url = queue_url(consumer, self.env)
        (message,) = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"])["Messages"]
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return sqs_event([message["Body"]], queue)


def _thing_arn(name: str) -> str:
    return f"arn:aws:iot:{local_aws.REGION}:{local_aws.ACCOUNT}:thing/{name}"


def _group_arn(name: str) -> str:
    return f"arn:aws:iot:{local_aws.REGION}:{local_aws.ACCOUNT}:thinggroup/{name}"


PLAIN: dict[str, Any] = {
    "templateId": "plain",
    "operation": "reboot",
    "document": json.dumps({"op": "reboot", "delay": "${delay}"}),
    "requiredDocumentParameters": ["delay"],
    "requiredFiles": [],
}
PARAMETERS = {"documentParameters": {"delay": "5"}}


def _multipart(field: str, content: bytes) -> tuple[bytes, dict[str, str]]:
    boundary = "----bench7MA4YWxkTrZu0gW"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="firmware.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


Requests = Iterator[tuple[str, dict[str, Any]]]  # function, event


def _requests(world: _World) -> Requests:
    """Each function's representative request, in an order where each finds the state it needs (seeded in
    between, or left by an earlier one)."""
    world.things("dev-1", "dev-2", "dev-3")
    yield from _templates(world)
    yield from _published(world)
    yield from _drafts(world)
    yield from _continuous(world)
    yield from _status(world)
    yield from _jobs(world)


def _templates(world: _World) -> Requests:
    yield "templates_create", world.http("POST", "/templates", PLAIN)
    world.seed("POST", "/templates", PLAIN | {"templateId": "spare"})
    firmware = json.dumps({"op": "update", "delay": "${delay}", "url": "${cdf:file:firmware}"})
    world.seed("POST", "/templates", PLAIN | {"templateId": "ota", "document": firmware, "requiredFiles": ["firmware"]})
    world.seed("POST", "/templates", PLAIN | {"templateId": "mailbox", "delivery": "inbox"})
    yield "templates_list", world.http("GET", "/templates")
    yield "templates_get", world.http("GET", "/templates/plain")
    yield "templates_update", world.http("PATCH", "/templates/plain", {"description": "Reboots a device"})
    yield "templates_delete", world.http("DELETE", "/templates/spare")


def _published(world: _World) -> Requests:
    """A command published at once, its dispatch step, its executions and their events, a rerun."""
    command = {"commandId": "reboot", "templateId": "plain", "status": "in_progress", "targets": ["dev-1", "dev-2"]}
    yield "commands_create", world.http("POST", "/commands", command | PARAMETERS)
    yield "commands_dispatch", world.next_message("dispatch")
    world.drain()
    yield "commands_list", world.http("GET", "/commands")
    yield "commands_get", world.http("GET", "/commands/reboot")
    yield "executions_list", world.http("GET", "/commands/reboot/executions")
    yield "executions_get", world.http("GET", "/commands/reboot/executions/dev-1")
    yield "status_ingest", sqs_event([json.dumps(_job_execution_event("reboot", "dev-1", "SUCCEEDED"))], "status")
    yield "executions_cancel", world.http("DELETE", "/commands/reboot/executions/dev-2")
    world.drain()
    yield "reconcile", _scheduled_event()
    rerun = {"commandId": "again", "statuses": ["SUCCEEDED"]}
    yield "commands_rerun", world.http("POST", "/commands/reboot/rerun", rerun)


def _drafts(world: _World) -> Requests:
    """A draft: its file, a preview, then published by an update; another draft, deleted."""
    world.seed("POST", "/commands", {"commandId": "draft", "templateId": "ota", "targets": ["dev-1"]} | PARAMETERS)
    body, headers = _multipart("file", b"\x00\x01firmware")
    yield "files_upload", world.http("PUT", "/commands/draft/files/firmware", body, headers)
    yield "files_upload_url", world.http("POST", "/commands/draft/files/firmware/upload-url", {})
    yield "commands_preview", world.http("POST", "/commands/draft/preview")
    yield "commands_update", world.http("PATCH", "/commands/draft", {"status": "in_progress"})
    world.drain()
    world.seed("POST", "/commands", {"commandId": "scrap", "templateId": "ota", "targets": ["dev-1"]} | PARAMETERS)
    world.seed("PUT", "/commands/scrap/files/firmware", body, headers)
    yield "files_delete", world.http("DELETE", "/commands/scrap/files/firmware")
    yield "commands_delete", world.http("DELETE", "/commands/scrap")


def _continuous(world: _World) -> Requests:
    """A CONTINUOUS command on a group, which a thing then joins."""
    world.things("dev-4", group="fleet")
    continuous = {"commandId": "watch", "templateId": "plain", "status": "in_progress", "type": "CONTINUOUS"}
    world.seed("POST", "/commands", continuous | {"targets": [_group_arn("fleet")]} | PARAMETERS)
    world.drain()
    world.membership.clear()
    world.iot.add_thing_to_thing_group(thingGroupName="fleet", thingName="dev-3")
    yield "targets_join", sqs_event([json.dumps(world.membership[-1])], "membership")
    world.drain()


def _status(world: _World) -> Requests:
    """The Command Status API and the device inbox, of a command delivered to the inbox."""
    mail = {"commandId": "mail", "templateId": "mailbox", "status": "in_progress", "targets": ["dev-1", "dev-2"]}
    world.seed("POST", "/commands", mail | PARAMETERS)
    world.drain()
    yield "status_list", world.http("GET", "/commands/v0/status")
    yield "status_get", world.http("GET", "/commands/v0/status/mail.dev-1")
    yield "inbox_fetch", world.http("GET", "/v2/command-inbox?device_id=dev-2")
    yield "status_update", world.http("PUT", "/commands/v0/status/mail.dev-1", {"state": "Command Success"})


def _jobs(world: _World) -> Requests:
    """The AWS IoT Jobs API: a job, its executions, a CONTINUOUS one, job templates."""
    job = {"jobId": "job-a", "targets": ["dev-1", _thing_arn("dev-2")], "document": json.dumps({"op": "x"})}
    yield "jobs_create", world.http("POST", "/jobs", job)
    yield "jobs_list", world.http("GET", "/jobs")
    yield "jobs_get", world.http("GET", "/jobs/job-a")
    yield "jobs_document", world.http("GET", "/jobs/job-a/document")
    yield "jobs_update", world.http("PUT", "/jobs/job-a", {"description": "Reboots"})
    yield "job_executions_get", world.http("GET", "/jobs/job-a/things/dev-1")
    yield "job_executions_of_job", world.http("GET", "/jobs/job-a/status")
    yield "job_executions_of_thing", world.http("GET", "/things/dev-1/jobs")
    yield "job_executions_cancel", world.http("PUT", "/jobs/job-a/things/dev-1/cancel", {})
    yield "job_executions_delete", world.http("DELETE", "/jobs/job-a/things/dev-1", {})
    world.things("dev-5", group="late")
    continuous = {"jobId": "job-open", "targets": [_group_arn("fleet")], "targetSelection": "CONTINUOUS"}
    world.seed("POST", "/jobs", job | continuous)
    yield "jobs_associate", world.http("PUT", "/jobs/job-open/associate", {"targets": [_group_arn("late")]})
    yield "jobs_cancel", world.http("PUT", "/jobs/job-a/cancel", {"comment": "not needed"})
    yield "jobs_delete", world.http("DELETE", "/jobs/job-a", {"force": True})
    template = {"jobTemplateId": "reboot-template", "document": json.dumps({"op": "x"}), "description": "Reboots"}
    yield "job_templates_create", world.http("POST", "/job-templates", template)
    yield "job_templates_list", world.http("GET", "/job-templates")
    yield "job_templates_get", world.http("GET", "/job-templates/reboot-template")
    yield "job_templates_delete", world.http("DELETE", "/job-templates/reboot-template")


def _job_execution_event(job_id: str, thing: str, status: str) -> dict[str, Any]:
    """A `$aws/events/jobExecution/<jobId>/<status>` event as the topic rule delivers it (with its topic)."""
    timestamp = int(time.time())
    return {
        "eventType": "JOB_EXECUTION",
        "eventId": str(uuid.uuid4()),
        "timestamp": timestamp,
        "operation": status.lower(),
        "jobId": job_id,
        "thingArn": _thing_arn(thing),
        "status": status,
        "statusDetails": {},
        "topic": f"$aws/events/jobExecution/{job_id}/{status.lower()}",
    }


def _scheduled_event() -> dict[str, Any]:
    """EventBridge's scheduled event, as the schedule delivers it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": local_aws.ACCOUNT,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": local_aws.REGION,
        "resources": [f"arn:aws:events:{local_aws.REGION}:{local_aws.ACCOUNT}:rule/reconcile"],
        "detail": {},
    }


def _deployed(env: dict[str, str]) -> dict[str, str]:
    """The environment of a deployed function (the stack's variables) on `env`'s endpoint: a fresh process
    inherits nothing else but PATH."""
    return {name: value for name, value in env.items() if not name.startswith("POWERTOOLS_")} | {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join((str(LAYER), str(ROOT))),  # the layer, and bench/ for the recording
        "POWERTOOLS_SERVICE_NAME": SERVICE,
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    }


def _record(scratch: Path, function: str, event: dict[str, Any], env: dict[str, str]) -> Recording:
    event_path = scratch / f"{function}.json"
    event_path.write_text(json.dumps(event))
    out = scratch / f"{function}.pickle"
    folder = str(ROOT / "lambdas" / function)
    child = "import sys; from bench.replay import record; record(*sys.argv[1:])"
    command = [sys.executable, "-c", child, folder, str(event_path), function, str(out)]
    env |= {"AWS_LAMBDA_FUNCTION_NAME": function}
    run = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if run.returncode:
        raise RuntimeError(f"{function}: recording failed\n{run.stderr[-3000:]}")
    with out.open("rb") as file:
        recording: Recording = pickle.load(file)
    _check(function, _outcome(recording.response), f"recorded: {run.stdout[-3000:]}")
    return recording


def _outcome(response: Any) -> dict[str, Any]:
    from bench.first_request import outcome

    return outcome(response)


def _check(function: str, outcome: dict[str, Any], detail: str) -> None:
    """The response must be the function's success: a status its route answers on success, no failed message."""
    route = _ROUTES.get(function)
    if isinstance(route, Route):
        ok = outcome["status"] in {reply.status for reply in route.replies}
    else:
        ok = not outcome["failures"]
    if not ok:
        raise RuntimeError(f"{function}: not its success ({outcome}); {detail}")


# --- 2. The hand-written twins --------------------------------------------------------------------------------


def _write_twins(scratch: Path, recordings: dict[str, Recording]) -> dict[str, Path]:
    folders: dict[str, Path] = {}
    for function, recording in recordings.items():
        folder = scratch / "handwritten" / function
        folder.mkdir(parents=True)
        (folder / "handler.py").write_text(handwritten(recording))
        folders[function] = folder
    return folders


# --- 3. Timing, against the replay server ---------------------------------------------------------------------

Times = dict[str, dict[str, list[float]]]  # function -> measure -> seconds (or kilobytes, for rss)


def _time(
    server: ReplayServer, scratch: Path, recordings: dict[str, Recording], twins: dict[str, Path], rounds: int
) -> Times:
    """Rounds of, per function, its handler, its twin and a bare `import boto3`, each a fresh process."""
    env = _deployed(local_aws.environment(server.server_address[1]))
    env["PYTHONPATH"] = str(LAYER)  # as deployed: the layer; the handler's folder is put on the path by the runner
    times: Times = {function: {} for function in recordings}
    events = {function: scratch / f"{function}.json" for function in recordings}  # written when recorded
    boto3: list[float] = []
    for _ in range(rounds):
        for function, recording in recordings.items():
            for side, folder in (("service", ROOT / "lambdas" / function), ("handwritten", twins[function])):
                imported, answered, rss = _first_request(server, recording, folder, events[function], env)
                for name, value in ((f"{side}_import", imported), (side, answered), (f"{side}_rss", rss)):
                    times[function].setdefault(name, []).append(value)
            boto3.append(_import_boto3(env))
    times["_import_boto3"] = {"seconds": boto3}
    return times


def _first_request(
    server: ReplayServer, recording: Recording, folder: Path, event: Path, env: dict[str, str]
) -> tuple[float, float, float]:
    """Spawn to import done, spawn to response, peak RSS (kB): one fresh process answering the recorded event."""
    function = recording.function
    server.replay = Replay(recording.calls)
    command = [sys.executable, str(FIRST_REQUEST), str(folder), str(event), function]
    env = env | {"AWS_LAMBDA_FUNCTION_NAME": function}
    started = time.monotonic()
    run = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if run.returncode:
        raise RuntimeError(f"{function} ({folder}): failed\n{run.stderr[-3000:]}")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    _check(function, result, f"{folder}: {run.stdout[-1000:]}")
    if server.replay.missed:
        raise RuntimeError(f"{function} ({folder}): calls the recording has no answer for: {server.replay.missed}")
    return result["imported"] - started, result["answered"] - started, result["peak_rss_kb"]


def _import_boto3(env: dict[str, str]) -> float:
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-c", "import boto3, time; print(time.monotonic())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(run.stdout) - started


def _figures(times: Times, rounds: int) -> dict[str, Any]:
    def ms(values: list[float]) -> float:
        return round(statistics.median(values) * 1000, 1)

    def mb(values: list[float]) -> float:
        return round(statistics.median(values) / 1024, 1)

    def ratio(values: list[float], over: float) -> float:
        return round(statistics.median(values) / over, 3)

    boto3 = statistics.median(times.pop("_import_boto3")["seconds"])
    whole = {function: ratio(t["service"], statistics.median(t["handwritten"])) for function, t in times.items()}
    imports = {function: ratio(t["service_import"], boto3) for function, t in times.items()}
    rss = {
        function: {"service_mb": mb(t["service_rss"]), "handwritten_mb": mb(t["handwritten_rss"])}
        for function, t in times.items()
    }
    return {
        "cold_start_vs_handwritten": {
            "max": max(whole.values()),
            "target": TARGET,
            "per_handler": whole,
            "median_ms": {
                function: {"service": ms(t["service"]), "handwritten": ms(t["handwritten"])}
                for function, t in times.items()
            },
            "median_import_boto3_ms": round(boto3 * 1000, 1),
            "import_only": {"max": max(imports.values()), "per_handler": imports},
            "runs_each": rounds,
            "python": sys.version.split()[0],
        },
        "rss_first_request": {
            "per_handler": rss,
            "max_service_mb": max(entry["service_mb"] for entry in rss.values()),
            "max_handwritten_mb": max(entry["handwritten_mb"] for entry in rss.values()),
        },
    }
