"""Every AWS call a function makes is one its wiring entry declares, on the resource it declares it for, so
the deployed role allows it.

moto does not check IAM, so a missing permission would only show in AWS. This test records the calls each
function makes through a whole command's life and compares them with the declaration, which the stack turns
into the function's role (tests/infra checks that part).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from commands_core import resources
from commands_core.adapters import aws as clients
from commands_core.wiring import JOB_ROUTES, RULES, STATUS_ROUTES, functions
from local.aws import client as local_client
from tests.conftest import EmulatedCommands, HandlerClient
from tests.integration.conftest import group_arn, job_execution_event, sqs_event, thing_arn, upload

Grant = tuple[str, str]  # (resource of resources.py or "iot", IAM action)


def _grants(call: str, params: dict[str, Any], names: dict[str, str]) -> set[Grant]:  # noqa: PLR0911 - a case a service
    """The IAM grants an API call needs; `names` maps deployed resource names to resource names."""
    service, operation = call.split(":")
    if service == "sts":
        return set()  # GetCallerIdentity needs no permission
    if service == "iot-jobs-data":
        return {("iot", f"iot:{operation}")}  # the data plane's actions are in the iot namespace
    if service == "dynamodb":
        if operation == "TransactWriteItems":  # authorized as the item writes it holds
            return {
                (names[item[kind]["TableName"]], f"dynamodb:{kind}Item")
                for item in params["TransactItems"]
                for kind in item
            }
        tables = params["RequestItems"] if operation.startswith("Batch") else [params["TableName"]]
        return {(names[table], call) for table in tables}
    if service == "s3":
        bucket = names[params["Bucket"]]
        if operation == "CopyObject":  # the source read (a pinned version needs GetObjectVersion), the target put
            version = {(bucket, "s3:GetObjectVersion")} if "VersionId" in params["CopySource"] else set()
            return {(bucket, "s3:GetObject"), (bucket, "s3:PutObject"), *version}
        # HeadObject is authorized as GetObject; ListBucket makes a missing key a 404 rather than a 403.
        return {(bucket, "s3:GetObject"), (bucket, "s3:ListBucket")} if operation == "HeadObject" else {(bucket, call)}
    if service == "sqs":
        return {(names[params["QueueUrl"]], call)}
    if service == "events":
        return {(names[entry["EventBusName"]], call) for entry in params["Entries"]}
    grants = {("iot", call)}
    if operation in ("CreateJob", "UpdateJob", "CreateJobTemplate") and "presignedUrlConfig" in params:
        grants.add((names[params["presignedUrlConfig"]["roleArn"]], "iam:PassRole"))
    return grants


@pytest.fixture
def recorded(api: HandlerClient, aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, set[Grant]]:
    names = {aws[resource.env]: resource.name for resource in resources.ALL}
    grants: dict[str, set[Grant]] = defaultdict(set)
    current: list[str] = []
    invoke = api.functions.invoke

    def invoking(name: str, event: dict[str, Any]) -> dict[str, Any]:
        current.append(name)
        try:
            return invoke(name, event)
        finally:
            current.pop()

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        if current:
            grants[current[-1]] |= _grants(f"{model.service_model.signing_name}:{model.name}", params, names)

    created = clients.client

    def client(service: str, endpoint_url: str | None = None) -> Any:
        made = created(service, endpoint_url)
        made.meta.events.register("provide-client-params.*.*", record, unique_id="permissions-test")
        return made

    client.cache_clear = created.cache_clear  # type: ignore[attr-defined]
    monkeypatch.setattr(api.functions, "invoke", invoking)
    monkeypatch.setattr(clients, "client", client)
    return grants


def test_each_function_calls_only_what_its_role_will_allow(
    recorded: dict[str, set[Grant]],
    api: HandlerClient,
    template: Callable[..., dict[str, Any]],
    things: Callable[..., list[str]],
    iot: Any,
    iot_commands: EmulatedCommands,
) -> None:
    # A whole life: templates, a command of 150 targets (its group filled), files, publish, cancel, delete.
    template()
    template("spare", document=json.dumps({"a": 1}), requiredDocumentParameters=[], requiredFiles=[])
    api.get("/templates")
    api.get("/templates/spare")
    api.patch("/templates/spare", {"description": "x"})
    api.delete("/templates/spare")
    iot.create_thing_group(thingGroupName="site")
    names = things(*[f"dev-{number:03d}" for number in range(150)])
    things("member", group="site")
    body = {
        "commandId": "life",
        "templateId": "ota",
        "targets": [*names, group_arn("site")],
        "documentParameters": {"version": "1"},
    }
    assert api.post("/commands", body).status == 201
    assert upload(api, "life") == 201
    assert api.delete("/commands/life/files/firmware").status == 204
    assert api.post("/commands/life/files/firmware/upload-url", {}).status == 200
    # The client puts the file with the presigned URL; publishing finds it with a HEAD request.
    local_client("s3", api.env).put_object(
        Bucket=api.env["FILES_BUCKET"], Key="commands/life/files/firmware", Body=b"x"
    )
    assert api.get("/commands?status=draft").status == 200
    assert api.patch("/commands/life", {"status": "in_progress"}).status == 204
    api.drain()
    assert api.get("/commands/life").json()["jobId"] == "life"
    assert api.get("/commands/life/executions?status=QUEUED").status == 200
    assert api.get("/commands/life/executions/dev-001").status == 200
    assert api.delete("/commands/life/executions/dev-001").status == 204
    event = job_execution_event("life", "dev-002", "SUCCEEDED", int(time.time()))
    stray = job_execution_event("life", "stranger", "SUCCEEDED", int(time.time()))  # AWS IoT is asked about it
    assert api.functions.invoke("status_ingest", sqs_event([event, stray])) == {"batchItemFailures": []}
    assert api.functions.invoke("reconcile", {})["failed"] == 0
    assert api.patch("/commands/life?force=true", {"status": "cancelled"}).status == 204
    api.drain()
    assert api.delete("/commands/life").status == 204
    assert api.delete("/templates/ota").status == 204
    _roll_out_a_job_in_waves(api, template, iot, names[5:9])
    _use_the_command_delivery(api, template, iot_commands, names[:3])
    _use_the_jobs_api(api, names[:3])
    _use_the_status_api(api, template, names[3:5])
    _retry_the_creates(api, names[:1])
    _preview_and_rerun(api, template, names[9:11])

    declared = {
        entry.function: {(access.resource, action) for access in entry.access for action in access.actions}
        for entry in functions()
    }
    missing = {function: sorted(needed - declared[function]) for function, needed in recorded.items()}
    assert {function: grants for function, grants in missing.items() if grants} == {}
    assert set(recorded) >= {route.function for route in (*JOB_ROUTES, *STATUS_ROUTES)} | {
        "commands_create",
        "commands_preview",
        "commands_rerun",
        "commands_update",
        "commands_dispatch",
        "files_upload",
        "templates_delete",
        "targets_join",
    }


def _roll_out_a_job_in_waves(
    api: HandlerClient, template: Callable[..., dict[str, Any]], iot: Any, names: list[str]
) -> None:
    """A paced job with a retry policy: paused while publishing, its rate changed live, resumed; its executions
    end through events (AWS IoT's list read back before completing); a CONTINUOUS one whose group emptied, that a
    thing joins later (its registry event, then the reconciler's look for new members)."""
    from moto.iot.models import iot_backends

    from local import moto_iot
    from local.rules import matches, selected

    retry = {"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1}]}
    plain = {"document": json.dumps({"a": 1}), "requiredDocumentParameters": [], "requiredFiles": []}
    template("paced", **plain, jobExecutionsRetryConfig=retry)
    waves = {"percentages": [50, 100], "successThresholdPercentage": 50}
    body = {"commandId": "paced", "templateId": "paced", "status": "in_progress", "targets": names, "waves": waves}
    assert api.post("/commands", body).status == 201
    assert api.patch("/commands/paced", {"status": "paused"}).status == 204
    api.drain()
    assert api.patch("/commands/paced", {"rolloutMaximumPerMinute": 100}).status == 204
    assert api.patch("/commands/paced", {"status": "in_progress"}).status == 204
    api.drain()
    for name in names:
        iot_backends["123456789012"]["us-east-1"].job_executions[("paced", name)].status = "SUCCEEDED"
        event = job_execution_event("paced", name, "SUCCEEDED", int(time.time()))
        assert api.functions.invoke("status_ingest", sqs_event([event])) == {"batchItemFailures": []}
        api.drain()
    assert api.get("/commands/paced").json()["status"] == "completed"
    iot.create_thing_group(thingGroupName="emptied")
    iot.add_thing_to_thing_group(thingGroupName="emptied", thingName=names[0])
    body = {"commandId": "joiners", "templateId": "paced", "status": "in_progress", "type": "CONTINUOUS"}
    assert api.post("/commands", body | {"targets": [group_arn("emptied")], "waves": waves}).status == 201
    iot.remove_thing_from_thing_group(thingGroupName="emptied", thingName=names[0])
    api.drain()
    published: list[tuple[str, dict[str, Any]]] = []
    stop = moto_iot.on_registry_events(lambda topic, payload: published.append((topic, payload)))
    try:
        iot.create_thing_group(thingGroupName="annex", parentGroupName="emptied")
        iot.add_thing_to_thing_group(thingGroupName="annex", thingName=names[1])
    finally:
        stop()
    messages = [
        selected(rule, topic, payload)
        for topic, payload in published
        for rule in RULES
        if rule.queue == "membership" and matches(rule.topic_filter, topic) and rule.takes(topic)
    ]
    assert api.functions.invoke("targets_join", sqs_event(messages)) == {"batchItemFailures": []}
    api.drain()
    assert api.get("/commands/joiners").json()["joinedLate"] == 1
    iot.add_thing_to_thing_group(thingGroupName="emptied", thingName=names[2])  # its event lost
    assert api.functions.invoke("reconcile", {})["failed"] == 0
    api.drain()
    assert api.get("/commands/joiners").json()["joinedLate"] == 2
    assert api.patch("/commands/joiners", {"status": "cancelled"}).status == 204  # its groups no longer watched
    api.drain()


def _use_the_command_delivery(
    api: HandlerClient, template: Callable[..., dict[str, Any]], iot_commands: EmulatedCommands, names: list[str]
) -> None:
    # Delivery command: published, started, answered (a failure retried: a new execution started), read with its
    # result, reconciled, cancelled, deleted.
    retry = {"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1}]}
    plain = {"document": json.dumps({"a": 1}), "requiredDocumentParameters": [], "requiredFiles": []}
    template("direct", **plain, delivery="command", jobExecutionsRetryConfig=retry)
    body = {"commandId": "direct", "templateId": "direct", "status": "in_progress", "targets": names}
    assert api.post("/commands", body).status == 201
    api.drain()
    for name, status in ((names[0], "SUCCEEDED"), (names[1], "FAILED")):
        (execution,) = clients.client("iot").list_command_executions(targetArn=thing_arn(name))["commandExecutions"]
        iot_commands.emulator.device_response(name, execution["executionId"], {"status": status})
    assert api.functions.invoke("status_ingest", sqs_event(iot_commands.take_events())) == {"batchItemFailures": []}
    api.drain()  # the retry step starts the failed one's second attempt
    assert len(clients.client("iot").list_command_executions(targetArn=thing_arn(names[1]))["commandExecutions"]) == 2
    assert api.get(f"/commands/direct/executions/{names[0]}").status == 200
    assert api.functions.invoke("reconcile", {})["failed"] == 0
    assert api.patch("/commands/direct", {"status": "cancelled"}).status == 204
    api.drain()
    assert api.delete("/commands/direct").status == 202


def _retry_the_creates(api: HandlerClient, names: list[str]) -> None:
    # Each create twice with an Idempotency-Key (the second answered from the idempotency table), then again
    # without one (answered from the resource its explicit id names).
    template = {"templateId": "again", "operation": "x", "document": "{}"}
    command = {"commandId": "again", "templateId": "again", "targets": names}
    job = {"jobId": "again", "targets": names, "targetSelection": "SNAPSHOT", "document": "{}"}
    for path, body in (("/templates", template), ("/commands", command), ("/jobs", job)):
        first, again, retried = (
            api.post(path, body, headers={"Idempotency-Key": path}),
            api.post(path, body, headers={"Idempotency-Key": path}),
            api.post(path, body),
        )
        assert first.status == again.status == retried.status < 300, path


def _preview_and_rerun(api: HandlerClient, template: Callable[..., dict[str, Any]], names: list[str]) -> None:
    # Dry runs (targets expanded), a draft's preview (its files looked for), a rerun of a failed execution run dry,
    # then published at once (the source's file copied) and as a draft previewed (its things read from the source).
    document = json.dumps({"url": "${cdf:file:firmware}"})
    template("twice", document=document, requiredDocumentParameters=[], requiredFiles=["firmware"], delivery="inbox")
    body = {"commandId": "twice", "templateId": "twice", "targets": [*names, group_arn("site")]}
    assert api.post("/commands?dryRun=true", body).status == 200
    assert api.post("/commands", body).status == 201
    assert upload(api, "twice") == 201
    assert api.post("/commands/twice/preview", None).status == 200
    assert api.patch("/commands/twice", {"status": "in_progress"}).status == 204
    api.drain()
    assert api.get(f"/v2/command-inbox?device_id={names[0]}").status == 200
    assert api.request("PUT", f"/commands/v0/status/twice.{names[0]}", {"state": "Command Failure"}).status == 200
    assert api.post("/commands/twice/rerun?dryRun=true", {"statuses": ["FAILED"]}).status == 200
    rerun = {"statuses": ["FAILED"], "status": "in_progress"}
    assert api.post("/commands/twice/rerun", rerun, headers={"Idempotency-Key": "twice"}).status == 201
    assert api.post("/commands/twice/rerun", {"commandId": "thrice", "statuses": ["FAILED"]}).status == 201
    assert api.post("/commands/thrice/preview", None).status == 200
    api.drain()


def _use_the_jobs_api(api: HandlerClient, names: list[str]) -> None:
    # The Jobs API: every route once.
    job = {"targets": names[:2], "targetSelection": "CONTINUOUS", "jobId": "plain"}
    template_body = {"jobTemplateId": "t", "document": "{}", "description": "d", "presignedUrlConfig": {}}
    assert api.post("/job-templates", template_body).status == 200
    assert api.post("/jobs", job | {"jobTemplateId": "t", "presignedUrlConfig": {"expiresInSec": 60}}).status == 200
    for path in (
        "/jobs",
        "/jobs/plain",
        "/jobs/plain/document",
        f"/jobs/plain/things/{names[0]}",
        "/jobs/plain/status",
        f"/things/{names[0]}/jobs",
        "/job-templates",
        "/job-templates/t",
    ):
        assert api.get(path).status == 200, path
    assert api.request("PUT", "/jobs/plain", {"description": "x", "presignedUrlConfig": {}}).status == 200
    assert api.request("PUT", "/jobs/plain/associate", {"targets": [names[2]]}).status == 200
    assert api.request("PUT", f"/jobs/plain/things/{names[0]}/cancel", {}).status == 200
    assert api.request("DELETE", f"/jobs/plain/things/{names[0]}", {}).status == 200
    assert api.request("PUT", "/jobs/plain/cancel", {}).status == 200
    assert api.request("DELETE", "/jobs/plain", {}).status == 200
    assert api.delete("/job-templates/t").status == 200


def _use_the_status_api(api: HandlerClient, template: Callable[..., dict[str, Any]], names: list[str]) -> None:
    template("mailed", document=json.dumps({"a": 1}), requiredDocumentParameters=[], requiredFiles=[], delivery="inbox")
    body = {"commandId": "mailed", "templateId": "mailed", "status": "in_progress", "targets": names}
    assert api.post("/commands", body).status == 201
    api.drain()
    assert api.get(f"/v2/command-inbox?device_id={names[0]}").status == 200
    assert api.get("/commands/v0/status?exclude_internal_commands=true").status == 200
    assert api.get(f"/commands/v0/status?device={names[0]}").status == 200
    assert api.get(f"/commands/v0/status/mailed.{names[0]}").status == 200
    for thing in names:  # the last to end completes the command
        assert api.request("PUT", f"/commands/v0/status/mailed.{thing}", {"state": "Command Success"}).status == 200
