"""The local runtime as a user meets it: HTTP on loopback, the README's flow, clean shutdown."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from http.client import HTTPException
from pathlib import Path
from typing import Any

from commands_core.wiring import CONSUMERS, ROUTES
from local.fleet import BEHAVIOURS
from tests.e2e.conftest import ROOT, Runtime, ended, launch, start


def test_the_templates_flow_of_the_readme_works_over_http(local_runtime: Runtime) -> None:
    document = json.dumps({"action": "reboot", "delaySeconds": "${delay}"})
    template = {
        "templateId": "e2e-reboot",
        "operation": "reboot",
        "document": document,
        "requiredDocumentParameters": ["delay"],
    }

    status, headers, _ = local_runtime.request("POST", "/templates", template)
    assert (status, headers["location"]) == (201, "/templates/e2e-reboot")

    status, headers, body = local_runtime.request("GET", "/templates/e2e-reboot")
    assert status == 200
    assert headers["content-type"] == "application/vnd.aws-cdf-v1.0+json"
    assert body["document"] == document

    status, _, body = local_runtime.request("GET", "/templates?maxResults=100")
    assert status == 200
    assert "e2e-reboot" in [summary["templateId"] for summary in body["results"]]

    status, _, _ = local_runtime.request("PATCH", "/templates/e2e-reboot", {"description": "Reboots later"})
    assert status == 204
    assert local_runtime.request("GET", "/templates/e2e-reboot")[2]["description"] == "Reboots later"

    assert local_runtime.request("DELETE", "/templates/e2e-reboot")[0] == 204
    assert local_runtime.request("GET", "/templates/e2e-reboot")[0] == 404


def test_paths_are_served_with_and_without_a_trailing_slash(local_runtime: Runtime) -> None:
    assert local_runtime.request("GET", "/templates/")[0] == 200
    status, _, body = local_runtime.request("GET", "/templates/absent/")
    assert (status, body) == (404, {"error": "template 'absent' not found"})


def test_every_declared_route_reaches_its_handler(local_runtime: Runtime) -> None:
    for route in ROUTES:
        path = route.path.replace("{templateId}", "probe").replace("{commandId}", "probe").replace("{fileId}", "probe")
        status, _, body = local_runtime.request(route.method, path, {} if route.method in ("POST", "PATCH") else None)
        assert status != 405, route
        assert status < 500, route
        assert not (body or {}).get("error", "").startswith("no route"), route


def test_unknown_paths_are_404_and_wrong_methods_405_with_json_bodies(local_runtime: Runtime) -> None:
    status, _, body = local_runtime.request("GET", "/nowhere")
    assert status == 404
    assert "error" in body

    status, headers, body = local_runtime.request("PUT", "/templates")
    assert status == 405
    assert set(headers["allow"].split(", ")) == {"GET", "POST"}
    assert "error" in body


def test_invalid_input_never_gives_a_5xx(local_runtime: Runtime) -> None:
    for body in ([1], "text", {"templateId": None}, {"document": 3}):
        assert local_runtime.request("POST", "/templates", body)[0] == 400


def _stopped_cleanly(code: int, output: str) -> None:
    assert code == 0
    assert output.splitlines()[-1] == "stopped"
    assert output.count("stopped") == 1
    assert "Traceback" not in output, output


def test_sigterm_with_requests_in_flight_stops_the_runtime_within_5_s_and_each_request_is_logged(
    tmp_path: Path,
) -> None:
    runtime = start({"TMPDIR": str(tmp_path)})
    assert any(tmp_path.iterdir())  # the embedded DynamoDB keeps its items in a file there
    answered, done = threading.Event(), threading.Event()

    def client() -> None:
        while not done.is_set():
            try:
                runtime.request("GET", "/templates")
                answered.set()
            except (OSError, HTTPException, ValueError):  # the runtime going away under the request
                done.wait(0.05)

    clients = [threading.Thread(target=client) for _ in range(8)]
    for thread in clients:
        thread.start()
    try:
        assert answered.wait(timeout=10)
        runtime.process.send_signal(signal.SIGTERM)
        runtime.process.send_signal(signal.SIGINT)  # a second signal, while it stops, changes nothing

        code, output = ended(runtime, timeout=5)
    finally:
        done.set()
        for thread in clients:
            thread.join()

    _stopped_cleanly(code, output)
    assert '"GET /templates" 200' in output
    assert not any(tmp_path.iterdir())  # and removed it when it stopped


def test_ctrl_c_during_start_up_stops_the_runtime_within_5_s() -> None:
    runtime = launch({"FLEET_SIZE": "2000"})  # creating a fleet that large takes a while
    deadline = time.monotonic() + 60
    while runtime.process.poll() is None and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", runtime.aws_port), timeout=1).close()
            break  # the AWS endpoint is up: the runtime is creating its resources and its fleet
        except OSError:
            time.sleep(0.1)

    runtime.process.send_signal(signal.SIGINT)
    time.sleep(0.1)
    runtime.process.send_signal(signal.SIGINT)  # pressed twice
    code, output = ended(runtime, timeout=5)

    _stopped_cleanly(code, output)
    assert "Ctrl-C stops" not in output  # it was still starting


def _readme_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [block.split("```", 1)[0] for block in text.split("```sh\n")[1:]]


def test_the_readme_walkthroughs_work_as_written(local_runtime: Runtime, tmp_path: Path) -> None:
    # The quick start block starts the runtime; the others talk to it.
    walkthroughs = [block for block in _readme_blocks() if "curl" in block]
    assert len(walkthroughs) >= 2
    script = "set -euo pipefail\n" + "\n".join(walkthroughs).replace("http://127.0.0.1:8080", local_runtime.url)

    result = subprocess.run(
        ["bash", "-c", script], check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert "HTTP/1.1 201" in result.stdout
    assert '"jobId":"ota-42"' in result.stdout
    assert "requiredDocumentParameters: the document uses ${undeclared}" in result.stdout
    assert '"commandId":"blink-all"' in result.stdout
    status, _, job = local_runtime.request("GET", "/_local/iot/jobs/ota-42")
    assert status == 200
    assert json.loads(job["document"])["version"] == "4.2.0"
    command = local_runtime.request("GET", "/commands/ota-42")[2]
    assert command["rollout"]["ratePerMinute"] == 100  # the rollout paces the job at the command's rate
    careful = local_runtime.request("GET", "/commands/careful")[2]
    assert [wave["size"] for wave in careful["rollout"]["waves"]] == [1, 4, 5]
    pilot = local_runtime.request("GET", "/commands/pilot-blink")[2]  # two joined of three: maximumTargets
    assert (pilot["status"], pilot["joinedLate"], sum(pilot["counts"].values())) == ("in_progress", 2, 3)


def test_a_command_for_more_than_100_things_is_published_through_the_running_queue_consumer(
    local_runtime: Runtime,
) -> None:
    document = json.dumps({"action": "blink"})
    local_runtime.request("POST", "/templates", {"templateId": "e2e-blink", "operation": "blink", "document": document})
    names = [f"sim-{number:03d}" for number in range(1, 11)] * 11  # the fleet, named 110 times: de-duplicated
    body = {"commandId": "e2e-many", "templateId": "e2e-blink", "status": "in_progress", "targets": names}

    status, _, created = local_runtime.request("POST", "/commands", body)

    assert status == 201
    assert created["status"] == "in_progress"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        command = local_runtime.request("GET", "/commands/e2e-many")[2]
        if command.get("jobId") and command["rollout"]["started"] == 10:
            break
        time.sleep(0.2)
    assert command["jobId"] == "e2e-many"
    assert sum(command["counts"].values()) == 10
    assert "SCHEDULED" not in command["counts"]  # each added to the job's group


def test_broken_request_framing_is_a_400_and_chunked_bodies_are_read(local_runtime: Runtime) -> None:
    host, port = local_runtime.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(b"POST /templates HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
        assert connection.recv(200).startswith(b"HTTP/1.1 400")

    body = json.dumps({"templateId": "e2e-chunked", "operation": "x", "document": "{}"}).encode()
    chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(
            b"POST /templates HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n" + chunked
        )
        assert connection.recv(200).startswith(b"HTTP/1.1 201")


def test_the_simulated_fleet_answers_as_each_thing_is_told_and_the_command_completes(local_runtime: Runtime) -> None:
    behaviours = {"sim-004": "fail", "sim-005": "reject", "sim-006": "ignore"}
    for thing, behaviour in behaviours.items():
        assert local_runtime.request("PUT", f"/_local/fleet/{thing}", {"simBehavior": behaviour})[0] == 200
    local_runtime.request("POST", "/templates", {"templateId": "e2e-fleet", "operation": "x", "document": "{}"})
    things = ["sim-004", "sim-005", "sim-006", "sim-007"]
    body = {"commandId": "e2e-fleet", "templateId": "e2e-fleet", "status": "in_progress", "targets": things}
    assert local_runtime.request("POST", "/commands", body)[0] == 201

    deadline = time.monotonic() + 30
    command: dict[str, object] = {}
    while time.monotonic() < deadline:
        command = local_runtime.request("GET", "/commands/e2e-fleet")[2]
        if command["counts"] == {"FAILED": 1, "REJECTED": 1, "QUEUED": 1, "SUCCEEDED": 1}:
            break
        time.sleep(0.3)
    assert command["counts"] == {"FAILED": 1, "REJECTED": 1, "QUEUED": 1, "SUCCEEDED": 1}
    assert command["status"] == "in_progress"  # sim-006 ignores its execution: not every one has ended

    assert local_runtime.request("DELETE", "/commands/e2e-fleet/executions/sim-006")[0] == 204
    executions = local_runtime.request("GET", "/commands/e2e-fleet/executions?status=CANCELED")[2]
    assert executions["executions"] == [{"thingName": "sim-006", "status": "CANCELED"}]
    for thing in behaviours:
        local_runtime.request("PUT", f"/_local/fleet/{thing}", {"simBehavior": "succeed"})


def test_a_message_published_locally_reaches_the_matching_rules(local_runtime: Runtime) -> None:
    status, _, body = local_runtime.request(
        "POST",
        "/_local/iot/publish",
        {"topic": "$aws/events/jobExecution/none/succeeded", "payload": {"eventType": "JOB_EXECUTION"}},
    )
    assert (status, body) == (200, {"rules": ["job_execution_events"]})
    assert local_runtime.request("POST", "/_local/iot/publish", {"topic": "a/b", "payload": {}})[2] == {"rules": []}
    assert local_runtime.request("POST", "/_local/iot/publish", {"topic": 3})[0] == 400


def test_the_simulated_fleet_answers_commands_delivered_by_aws_iot_commands(local_runtime: Runtime) -> None:
    behaviours = {"sim-008": "fail", "sim-009": "ignore", "sim-010": "reject"}
    for thing, behaviour in behaviours.items():
        assert local_runtime.request("PUT", f"/_local/fleet/{thing}", {"simBehavior": behaviour})[0] == 200
    template = {"templateId": "e2e-direct", "operation": "x", "document": "{}", "delivery": "command"}
    assert local_runtime.request("POST", "/templates", template | {"executionTimeoutSeconds": 2})[0] == 201
    things = ["sim-007", "sim-008", "sim-009", "sim-010"]
    body = {"commandId": "e2e-direct", "templateId": "e2e-direct", "status": "in_progress", "targets": things}
    assert local_runtime.request("POST", "/commands", body)[0] == 201

    deadline = time.monotonic() + 30
    command: dict[str, object] = {}
    while time.monotonic() < deadline and command.get("status") != "completed":
        command = local_runtime.request("GET", "/commands/e2e-direct")[2]
        time.sleep(0.3)
    # sim-009 never answers: AWS IoT Commands times it out after 2 s
    assert command["counts"] == {"SUCCEEDED": 1, "FAILED": 1, "TIMED_OUT": 1, "REJECTED": 1}
    assert command["status"] == "completed"
    (execution,) = local_runtime.request("GET", "/commands/e2e-direct/executions/sim-007")[2]["executions"]
    assert execution["result"] == {"simulated": {"B": True}, "thing": {"S": "sim-007"}}
    in_aws = local_runtime.request("GET", "/_local/iot/commands/e2e-direct")[2]["executions"]
    assert execution["executionId"] in {item["executionId"] for item in in_aws}
    for thing in behaviours:
        local_runtime.request("PUT", f"/_local/fleet/{thing}", {"simBehavior": "succeed"})


def test_the_jobs_api_creates_lists_follows_cancels_and_deletes_a_job(local_runtime: Runtime) -> None:
    for thing in ("sim-001", "sim-002"):  # the simulated fleet would finish the job before it can be cancelled
        local_runtime.request("PUT", f"/_local/fleet/{thing}", {"simBehavior": "ignore"})
    body = {"targets": ["sim-001", "sim-002"], "targetSelection": "SNAPSHOT", "document": "{}", "jobId": "e2e-job"}
    status, _, created = local_runtime.request("POST", "/jobs", body)
    assert (status, created["created"], created["jobId"]) == (200, True, "e2e-job")
    assert "e2e-job" in {job["jobId"] for job in local_runtime.request("GET", "/jobs")[2]["jobs"]}
    assert local_runtime.request("GET", "/jobs/e2e-job")[2]["job"]["status"] == "IN_PROGRESS"
    for path in ("/jobs/e2e-job/status", "/jobs-executions/jobs/e2e-job"):
        listed = local_runtime.request("GET", path)[2]["executionSummaries"]
        assert {item["thingArn"].rsplit("/", 1)[1] for item in listed} == {"sim-001", "sim-002"}
    for path in ("/things/sim-001/jobs", "/jobs-executions/things/sim-001"):
        assert "e2e-job" in {item["jobId"] for item in local_runtime.request("GET", path)[2]["executionSummaries"]}
    assert local_runtime.request("GET", "/jobs/e2e-job/things/sim-001")[2]["execution"]["jobId"] == "e2e-job"

    assert local_runtime.request("PUT", "/jobs/e2e-job/cancel", {"force": True})[2] == {"canceled": True}
    assert local_runtime.request("DELETE", "/jobs/e2e-job", {"force": True})[2] == {"deleted": True}
    status, _, missing = local_runtime.request("GET", "/jobs/e2e-job")
    assert (status, missing) == (404, {"error": "job 'e2e-job' not found"})
    for thing in ("sim-001", "sim-002"):
        local_runtime.request("PUT", f"/_local/fleet/{thing}", {"simBehavior": "succeed"})


def test_the_jobs_api_keeps_job_templates(local_runtime: Runtime) -> None:
    body = {"jobTemplateId": "e2e-template", "document": '{"op": "reboot"}', "description": "Reboot"}
    assert local_runtime.request("POST", "/job-templates", body)[2]["created"] is True
    listed = local_runtime.request("GET", "/job-templates")[2]["JobTemplates"]
    assert "e2e-template" in {item["jobTemplateId"] for item in listed}
    assert local_runtime.request("GET", "/job-templates/e2e-template")[2]["jobTemplate"]["description"] == "Reboot"
    assert local_runtime.request("DELETE", "/job-templates/e2e-template")[2] == {"deleted": True}
    assert local_runtime.request("GET", "/job-templates/e2e-template")[0] == 404
    status, _, refused = local_runtime.request("POST", "/job-templates", {"description": "no document"})
    assert (status, refused["error"].split(":")[0]) == (422, "document")


def test_simulated_inbox_devices_fetch_their_commands_and_report_every_state(local_runtime: Runtime) -> None:
    behaviours = {"sim-004": "succeed", "sim-005": "reject", "sim-006": "ignore"}
    for thing, behaviour in behaviours.items():
        assert local_runtime.request("PUT", f"/_local/fleet/{thing}", {"simBehavior": behaviour})[0] == 200
    template = {"templateId": "e2e-inbox", "operation": "x", "document": "{}", "delivery": "inbox"}
    assert local_runtime.request("POST", "/templates", template)[0] == 201
    body = {"commandId": "e2e-inbox", "templateId": "e2e-inbox", "status": "in_progress", "targets": list(behaviours)}
    assert local_runtime.request("POST", "/commands", body)[0] == 201

    deadline = time.monotonic() + 30
    states: dict[str, str] = {}
    while time.monotonic() < deadline and states != {"sim-004": "Command Success", "sim-005": "Command Failure"}:
        listed = local_runtime.request("GET", "/commands/v0/status/?request=e2e-inbox&limit=10")[2]["content"]
        states = {item["device"]: item["state"] for item in listed["results"] if item["device"] != "sim-006"}
        time.sleep(0.3)
    assert states == {"sim-004": "Command Success", "sim-005": "Command Failure"}
    succeeded = local_runtime.request("GET", "/commands/v0/status/e2e-inbox.sim-004/")[2]["content"]
    assert [step["state"] for step in succeeded["history"]] == [
        "Command Queued",
        "Command Initiated",
        "Command Acknowledged",
        "Command In Progress",
        "Command Success",
    ]
    ignored = local_runtime.request("GET", "/commands/v0/status/e2e-inbox.sim-006")[2]["content"]
    assert ignored["state"] == "Command Initiated"  # fetched, never answered
    for thing in behaviours:
        local_runtime.request("PUT", f"/_local/fleet/{thing}", {"simBehavior": "succeed"})


def _retried_once(local_runtime: Runtime, thing: str, behaviour: str) -> dict[str, tuple[dict[str, Any], Any]]:
    """For each delivery, a command to `thing` (told to `behaviour`) under a retry policy of one retry for FAILED:
    the command once completed (or after 30 s) and the thing's execution of it."""
    assert local_runtime.request("PUT", f"/_local/fleet/{thing}", {"simBehavior": behaviour})[0] == 200
    retry = {"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1}]}
    for delivery in ("job", "command", "inbox"):
        name = f"e2e-{behaviour}-{delivery}"
        template = {"templateId": name, "operation": "x", "document": "{}", "delivery": delivery}
        assert local_runtime.request("POST", "/templates", template | {"jobExecutionsRetryConfig": retry})[0] == 201
        body = {"commandId": name, "templateId": name, "status": "in_progress", "targets": [thing]}
        assert local_runtime.request("POST", "/commands", body)[0] == 201

    outcome = {}
    for delivery in ("job", "command", "inbox"):
        deadline = time.monotonic() + 30
        command: dict[str, Any] = {}
        while time.monotonic() < deadline and command.get("status") != "completed":
            command = local_runtime.request("GET", f"/commands/e2e-{behaviour}-{delivery}")[2]
            time.sleep(0.3)
        (execution,) = local_runtime.request("GET", f"/commands/e2e-{behaviour}-{delivery}/executions/{thing}")[2][
            "executions"
        ]
        outcome[delivery] = (command, execution)
    local_runtime.request("PUT", f"/_local/fleet/{thing}", {"simBehavior": "succeed"})
    return outcome


def test_the_simulated_fleet_answers_each_attempt_a_retry_policy_starts(local_runtime: Runtime) -> None:
    for delivery, (command, execution) in _retried_once(local_runtime, "sim-009", "fail").items():
        assert (command["status"], command["counts"]) == ("completed", {"FAILED": 1}), delivery
        assert execution["attempt"] == 2, delivery  # the device failed both attempts


def test_a_fail_once_thing_fails_its_first_attempt_and_succeeds_its_retry(local_runtime: Runtime) -> None:
    for delivery, (command, execution) in _retried_once(local_runtime, "sim-008", "fail-once").items():
        assert (command["status"], command["counts"]) == ("completed", {"SUCCEEDED": 1}), delivery
        assert execution["attempt"] == 2, delivery  # failed the first attempt, succeeded the retry
        assert [entry["to"] for entry in execution["history"] if entry["to"] in ("FAILED", "SUCCEEDED")] == [
            "FAILED",
            "SUCCEEDED",
        ], delivery


def test_the_root_links_to_what_a_newcomer_opens_as_json_and_as_a_page_for_a_browser(local_runtime: Runtime) -> None:
    wanted = ["/docs", "/openapi.json", "/_local/health", "/_local/fleet", "/_local/events", "/_local/calls"]

    status, headers, body = local_runtime.request("GET", "/")
    assert (status, headers["content-type"]) == (200, "application/json")
    assert [link["href"] for link in body["links"]] == wanted

    request = urllib.request.Request(local_runtime.url + "/", headers={"Accept": "text/html,*/*;q=0.8"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["content-type"].startswith("text/html")
        page = response.read().decode()
    assert all(f'href="{path}"' in page for path in wanted)
    said = "".join(local_runtime.output)  # and what make run prints when it has started names them too
    assert all(path in said.split("Ctrl-C stops")[0].split("what to open")[1] for path in wanted)


def test_health_says_what_is_running(local_runtime: Runtime) -> None:
    status, _, body = local_runtime.request("GET", "/_local/health")

    assert (status, body["status"], body["down"]) == (200, "ok", [])
    assert body["awsEndpoint"] == {"url": f"http://127.0.0.1:{local_runtime.aws_port}", "reachable": True}
    assert set(body["queueConsumers"]) == {consumer.function for consumer in CONSUMERS}
    assert set(body["queueConsumers"].values()) == {"running"}
    assert body["fleet"]["things"] == 10


def test_the_fleet_is_listed_in_pages_over_http(local_runtime: Runtime) -> None:
    status, _, first = local_runtime.request("GET", "/_local/fleet?limit=6")
    assert (status, len(first["things"]), first["total"]) == (200, 6, 10)
    status, _, rest = local_runtime.request("GET", f"/_local/fleet?limit=6&nextToken={first['nextToken']}")
    assert (status, rest["nextToken"]) == (200, None)

    listed = first["things"] + rest["things"]
    assert [thing["thingName"] for thing in listed] == [f"sim-{number:03d}" for number in range(1, 11)]
    assert all(thing["simBehavior"] in BEHAVIOURS and "simulated" in thing["thingGroups"] for thing in listed)
    assert local_runtime.request("GET", "/_local/fleet?limit=many")[:3:2] == (
        400,
        {"error": "limit: must be a whole number from 1 to 250"},
    )
