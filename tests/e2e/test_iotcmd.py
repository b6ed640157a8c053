"""The operators' command line, run as a subprocess against the local runtime: a whole rollout from a YAML
template to `watch` (whose exit status gates a pipeline), a failed rollout rerun, JSON output and API errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from iotcmd import exits
from tests.e2e.conftest import ROOT, Runtime, start, stop

GROUP = "arn:aws:iot:us-east-1:123456789012:thinggroup/simulated"
FLEET_SIZE = 4


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    # A runtime of its own: a thing of its fleet is told to fail.
    runtime = start({"FLEET_SIZE": str(FLEET_SIZE), "SIM_DELAY_SECONDS": "0.2"})
    yield runtime
    stop(runtime)


def iotcmd(runtime: Runtime, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed entry point next to this interpreter, else the package run as a module."""
    installed = Path(sys.executable).parent / "iotcmd"
    program = [str(installed)] if installed.exists() else [sys.executable, "-m", "iotcmd"]
    env = os.environ | {"IOTCMD_URL": runtime.url, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [*program, *args], check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def behave(runtime: Runtime, thing: str, behaviour: str) -> None:
    assert runtime.request("PUT", f"/_local/fleet/{thing}", {"simBehavior": behaviour})[0] == 200


def test_a_rollout_from_a_yaml_template_to_a_rerun_of_what_failed(runtime: Runtime, tmp_path: Path) -> None:
    # Given a template in a YAML file
    template = tmp_path / "blink.yaml"
    template.write_text(
        "templateId: cli-blink\noperation: blink\n"
        'document: \'{"action": "blink", "times": "${times}"}\'\nrequiredDocumentParameters: [times]\n'
    )
    created = iotcmd(runtime, "templates", "create", str(template))
    assert created.returncode == 0, created.stderr
    assert runtime.request("GET", "/templates/cli-blink")[2]["requiredDocumentParameters"] == ["times"]

    # When a command for the simulated fleet is published, and watched to its end
    first = iotcmd(
        runtime, "commands", "create", "--id", "cli-1", "--template", "cli-blink", "--target", GROUP,
        "--param", "times=3", "--publish",
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    watched = iotcmd(runtime, "watch", "cli-1", "--interval", "0.3", "--timeout", "60", "--events")

    # Then every execution succeeded: exit 0, and lines of progress (no terminal) up to "completed"
    assert watched.returncode == exits.OK, watched.stdout + watched.stderr
    assert f"cli-1 completed: {FLEET_SIZE}/{FLEET_SIZE} ended" in watched.stdout
    assert runtime.request("GET", "/_local/iot/jobs/cli-1")[2]["document"] == '{"action": "blink", "times": "3"}'

    # When one thing fails the next rollout
    behave(runtime, "sim-003", "fail")
    second = iotcmd(
        runtime, "commands", "create", "--id", "cli-2", "--template", "cli-blink", "--target", GROUP,
        "--param", "times=1", "--publish",
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    failed = iotcmd(runtime, "watch", "cli-2", "--interval", "0.3", "--timeout", "60", "--output", "json")

    # Then watch says so by its exit status, and its JSON lines end with the counts
    assert failed.returncode == exits.NOT_ALL_SUCCEEDED, failed.stdout + failed.stderr
    last = json.loads(failed.stdout.splitlines()[-1])
    assert (last["status"], last["counts"]) == ("completed", {"SUCCEEDED": FLEET_SIZE - 1, "FAILED": 1})

    # When the thing is fixed and the failed execution rerun
    behave(runtime, "sim-003", "succeed")
    rerun = iotcmd(runtime, "commands", "rerun", "cli-2", "--status", "FAILED", "--id", "cli-2b", "--publish")
    assert rerun.returncode == 0, rerun.stderr
    again = iotcmd(runtime, "watch", "cli-2b", "--interval", "0.3", "--timeout", "60")

    # Then the rerun reached that thing only, and succeeded
    assert again.returncode == exits.OK, again.stdout + again.stderr
    listed = iotcmd(runtime, "executions", "list", "cli-2b", "--output", "json")
    assert json.loads(listed.stdout)["executions"] == [{"thingName": "sim-003", "status": "SUCCEEDED"}]

    # And each rollout's lifecycle events are listed in order, each once: watch --events printed them as they came
    assert "Command Status Changed: cli-1 publish: draft -> in_progress" in watched.stdout
    things = [f"sim-{number:03}" for number in range(1, FLEET_SIZE + 1)]
    assert told(runtime, "cli-1") == [("publish", "in_progress"), *[(thing, "SUCCEEDED") for thing in things],
                                      ("complete", "completed")]  # fmt: skip
    assert told(runtime, "cli-2") == [("publish", "in_progress"),
                                      *[(thing, "FAILED" if thing == "sim-003" else "SUCCEEDED") for thing in things],
                                      ("complete", "completed")]  # fmt: skip
    assert told(runtime, "cli-2b") == [("publish", "in_progress"), ("sim-003", "SUCCEEDED"), ("complete", "completed")]


def told(runtime: Runtime, command_id: str) -> list[tuple[str, str]]:
    """The command's lifecycle events at /_local/events, once its `complete` is there (the events of an invocation
    are put as it ends): each status change as (event, status), each end as (thing, status), things in name order
    between the first and last change."""
    deadline = time.monotonic() + 10
    while True:
        status, _, listed = runtime.request("GET", f"/_local/events?commandId={command_id}&limit=1000")
        assert status == 200
        events = listed["events"]
        if (events and events[-1]["detail"].get("event") == "complete") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    seqs = [event["seq"] for event in events]
    assert seqs == sorted(set(seqs))  # in the order put
    ids = [event["detail"]["eventId"] for event in events]
    assert len(ids) == len(set(ids))  # none twice
    changes = [(e["detail"]["event"], e["detail"]["to"]) for e in events if e["detailType"] == "Command Status Changed"]
    ends = sorted(
        (e["detail"]["thingName"], e["detail"]["status"]) for e in events if e["detailType"] == "Execution Ended"
    )
    assert changes[1:-1] == [], changes  # nothing between publishing and completing
    return [changes[0], *ends, changes[-1]]


def test_output_json_is_the_body_the_api_returns(runtime: Runtime) -> None:
    assert (
        runtime.request("POST", "/templates", {"templateId": "cli-json", "operation": "x", "document": "{}"})[0] == 201
    )
    body = {"commandId": "cli-json", "templateId": "cli-json", "targets": ["sim-001"]}
    assert runtime.request("POST", "/commands", body)[0] == 201  # a draft: nothing changes it meanwhile

    shown = iotcmd(runtime, "commands", "get", "cli-json", "--output", "json")

    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == runtime.request("GET", "/commands/cli-json")[2]


def test_an_api_error_exits_non_zero_with_the_status_and_the_apis_message(runtime: Runtime) -> None:
    result = iotcmd(runtime, "commands", "get", "cli-none")

    assert result.returncode == exits.API_ERROR
    assert result.stderr.strip() == "iotcmd: HTTP 404: command 'cli-none' not found"


def test_a_dry_run_creates_nothing_and_says_what_would_refuse_it(runtime: Runtime) -> None:
    result = iotcmd(runtime, "commands", "create", "--template", "cli-none", "--target", "sim-001", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert "Would be refused" in result.stdout
    assert "templateId" in result.stdout
    commands = runtime.request("GET", "/commands")[2]["results"]
    assert all(command["templateId"] != "cli-none" for command in commands)


def test_the_readme_session_works_as_written(runtime: Runtime, tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Command line\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    installed = Path(sys.executable).parent / "iotcmd"
    program = str(installed) if installed.exists() else f"{sys.executable} -m iotcmd"
    behave(runtime, "sim-003", "fail")  # as the README's prose says
    try:
        result = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + block.replace(".venv/bin/iotcmd", program)],
            check=False,
            cwd=tmp_path,
            env=os.environ | {"IOTCMD_URL": runtime.url, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        behave(runtime, "sim-003", "succeed")

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"exit status {exits.NOT_ALL_SUCCEEDED}" in result.stdout
    assert "Would publish" in result.stdout
    command = json.loads(result.stdout[result.stdout.rindex('\n{\n  "templateId"') :])
    assert command == runtime.request("GET", "/commands/blink-1")[2]
    assert command["counts"] == {"SUCCEEDED": FLEET_SIZE - 1, "FAILED": 1}
