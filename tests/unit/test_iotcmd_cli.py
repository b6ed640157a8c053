"""iotcmd against a stand-in API on loopback: what it sends for each command and option, what it prints, and
its exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from iotcmd import exits
from iotcmd.app import app

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Sent:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeApi:
    """Answers (method, path, nextToken) with canned (status, headers, body); records what it was sent."""

    url: str = ""
    answers: dict[tuple[str, str], list[tuple[int, dict[str, str], Any]]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)

    def on(self, method: str, path: str, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.answers.setdefault((method, path), []).append((status, headers or {}, body))


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            fake.sent.append(
                Sent(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {name.lower(): value for name, value in self.headers.items()},
                    json.loads(raw) if raw else None,
                )
            )
            queue = fake.answers.get((self.command, parts.path)) or [(404, {}, {"error": "no such route"})]
            status, headers, body = queue.pop(0) if len(queue) > 1 else queue[0]
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


def run(api: FakeApi, *args: str) -> Any:
    return CliRunner().invoke(app, ["--url", api.url, *args])


COMMAND = {"commandId": "ota-42", "templateId": "ota", "status": "in_progress", "counts": {"SUCCEEDED": 2}}


def test_create_builds_the_body_from_the_file_and_the_options(api: FakeApi, tmp_path: Path) -> None:
    # Given a command file, and options that add to it and override it
    file = tmp_path / "command.yaml"
    file.write_text("templateId: old\ndocumentParameters:\n  version: '1.0'\n  channel: beta\n")
    api.on("POST", "/commands", 201, COMMAND, {"Location": "/commands/ota-42"})

    # When
    result = run(
        api, "commands", "create", str(file), "--template", "ota", "--target", "sim-001", "--target",
        "sim-002", "--param", "version=4.2=final", "--publish", "--id", "ota-42",
    )  # fmt: skip

    # Then the options win, repeated ones make lists, and a parameter's value may hold '='
    assert result.exit_code == 0, result.output
    (sent,) = api.sent
    assert sent.body == {
        "commandId": "ota-42",
        "templateId": "ota",
        "targets": ["sim-001", "sim-002"],
        "status": "in_progress",
        "documentParameters": {"version": "4.2=final", "channel": "beta"},
    }
    assert sent.headers["idempotency-key"].startswith("iotcmd-")
    assert "ota-42" in result.stdout


def test_a_given_idempotency_key_is_sent_as_is(api: FakeApi) -> None:
    api.on("POST", "/commands", 201, COMMAND, {"Location": "/commands/ota-42"})

    run(api, "commands", "create", "--template", "ota", "--target", "sim-001", "--idempotency-key", "release-7")

    assert api.sent[0].headers["idempotency-key"] == "release-7"


def test_a_param_without_equals_is_a_usage_error(api: FakeApi) -> None:
    result = run(api, "commands", "create", "--template", "ota", "--param", "version")

    assert result.exit_code == exits.USAGE
    assert "name=value" in result.output
    assert api.sent == []


def test_bad_yaml_is_a_usage_error_that_says_where(api: FakeApi, tmp_path: Path) -> None:
    file = tmp_path / "template.yaml"
    file.write_text("templateId: blink\ndocument: [unclosed\n")

    result = run(api, "templates", "create", str(file))

    assert result.exit_code == exits.USAGE
    assert "not valid YAML: line 3" in result.stderr
    assert str(file) in result.stderr
    assert api.sent == []


def test_a_file_that_is_not_a_mapping_is_refused(api: FakeApi, tmp_path: Path) -> None:
    file = tmp_path / "template.json"
    file.write_text('["blink"]')

    result = run(api, "templates", "create", str(file))

    assert result.exit_code == exits.USAGE
    assert "must hold a mapping" in result.stderr


def test_templates_create_reads_json_and_yaml_alike(api: FakeApi, tmp_path: Path) -> None:
    api.on("POST", "/templates", 201, None, {"Location": "/templates/blink"})
    fields = {"templateId": "blink", "operation": "blink", "document": '{"action": "blink"}'}
    (tmp_path / "t.json").write_text(json.dumps(fields))
    (tmp_path / "t.yml").write_text('templateId: blink\noperation: blink\ndocument: \'{"action": "blink"}\'\n')

    for name in ("t.json", "t.yml"):
        result = run(api, "templates", "create", str(tmp_path / name), "--output", "json")
        # The API answers 201 with no body: what is known is printed
        assert json.loads(result.stdout) == {"templateId": "blink", "location": "/templates/blink"}

    assert [sent.body for sent in api.sent] == [fields, fields]


def test_output_json_is_the_body_the_api_returned(api: FakeApi) -> None:
    api.on("GET", "/commands/ota-42", 200, COMMAND)

    result = run(api, "commands", "get", "ota-42", "--output", "json")

    assert result.exit_code == 0
    assert json.loads(result.stdout) == COMMAND


def test_output_table_shows_the_fields(api: FakeApi) -> None:
    api.on("GET", "/commands/ota-42", 200, COMMAND)

    result = run(api, "commands", "get", "ota-42")

    assert "in_progress" in result.stdout
    assert "SUCCEEDED 2" in result.stdout


def test_an_api_error_is_one_line_with_status_and_message(api: FakeApi) -> None:
    api.on("GET", "/commands/nope", 404, {"error": "command 'nope' not found"})

    result = run(api, "commands", "get", "nope")

    assert result.exit_code == exits.API_ERROR
    assert result.stderr.strip() == "iotcmd: HTTP 404: command 'nope' not found"
    assert result.stdout == ""


def test_no_answer_is_its_own_exit_status() -> None:
    result = CliRunner().invoke(app, ["--url", "http://127.0.0.1:9", "--timeout", "2", "templates", "get", "x"])

    assert result.exit_code == exits.UNREACHABLE
    assert "no answer from http://127.0.0.1:9" in result.stderr


def test_lists_follow_every_page(api: FakeApi) -> None:
    first = {"results": [{"templateId": "a"}], "pagination": {"maxResults": 1, "nextToken": "t1"}}
    last = {"results": [{"templateId": "b"}], "pagination": {"maxResults": 1}}
    api.on("GET", "/templates", 200, first)
    api.on("GET", "/templates", 200, last)

    result = run(api, "templates", "list", "--output", "json")

    assert json.loads(result.stdout) == {
        "results": [{"templateId": "a"}, {"templateId": "b"}],
        "pagination": {"maxResults": 1},
    }
    assert [sent.query.get("nextToken") for sent in api.sent] == [None, ["t1"]]


def test_executions_list_passes_the_status_filter(api: FakeApi) -> None:
    page = {"executions": [{"thingName": "sim-003", "status": "FAILED"}], "pagination": {"maxResults": 50}}
    api.on("GET", "/commands/ota-42/executions", 200, page)

    result = run(api, "executions", "list", "ota-42", "--status", "FAILED")

    assert api.sent[0].query == {"status": ["FAILED"]}
    assert "sim-003" in result.stdout


@pytest.mark.parametrize(
    ("verb", "status", "query"),
    [
        ("publish", "in_progress", {}),
        ("pause", "paused", {}),
        ("resume", "in_progress", {}),
        ("cancel", "cancelled", {}),
    ],
)
def test_lifecycle_verbs_patch_the_status(api: FakeApi, verb: str, status: str, query: dict[str, Any]) -> None:
    api.on("PATCH", "/commands/ota-42", 204)

    result = run(api, "commands", verb, "ota-42", "--output", "json")

    assert result.exit_code == 0
    assert (api.sent[0].body, api.sent[0].query) == ({"status": status}, query)
    assert json.loads(result.stdout) == {"commandId": "ota-42", "status": status, "location": "/commands/ota-42"}


def test_cancel_force_asks_for_force(api: FakeApi) -> None:
    api.on("PATCH", "/commands/ota-42", 204)

    run(api, "commands", "cancel", "ota-42", "--force")

    assert api.sent[0].query == {"force": ["true"]}


def test_rerun_sends_the_statuses_and_publishes(api: FakeApi) -> None:
    api.on("POST", "/commands/ota-42/rerun", 201, COMMAND | {"commandId": "again"}, {"Location": "/commands/again"})

    result = run(api, "commands", "rerun", "ota-42", "--status", "FAILED", "--status", "REJECTED", "--publish")

    assert api.sent[0].body == {"status": "in_progress", "statuses": ["FAILED", "REJECTED"]}
    assert "again" in result.stdout


def test_dry_run_shows_the_preview_readably(api: FakeApi) -> None:
    preview = {
        "targetCount": 12,
        "targets": [f"sim-{n:03d}" for n in range(1, 13)],
        "unknownTargets": ["thing/sim-404"],
        "errors": [{"field": "rolloutMaximumPerMinute", "message": "must be at least 1"}],
        "document": '{"action": "blink"}',
        "delivery": "job",
        "waves": [{"percentage": 20, "size": 2}, {"percentage": 100, "size": 10}],
        "ratePerMinute": 4,
        "startsAt": None,
        "estimatedDurationSeconds": 210.0,
    }
    api.on("POST", "/commands", 200, preview)

    result = run(api, "commands", "create", "--template", "blink", "--target", "sim-001", "--dry-run")

    assert api.sent[0].query == {"dryRun": ["true"]}
    assert "idempotency-key" not in api.sent[0].headers
    text = " ".join(result.stdout.split())
    assert "Would be refused: 1 problem(s)" in text
    assert "must be at least 1" in text
    assert "12: sim-001" in text
    assert "and 2 more" in text
    assert "20%: 2, 100%: 10" in text
    assert "3m 30s" in text


def test_a_throttled_request_is_sent_again(api: FakeApi) -> None:
    api.on("GET", "/templates/blink", 429, {"error": "slow down"}, {"Retry-After": "0"})
    api.on("GET", "/templates/blink", 200, {"templateId": "blink"})

    result = run(api, "templates", "get", "blink", "--output", "json")

    assert result.exit_code == 0
    assert len(api.sent) == 2


def test_global_options_come_from_the_environment(api: FakeApi) -> None:
    api.on("GET", "/templates/blink", 200, {"templateId": "blink"})

    result = CliRunner().invoke(
        app,
        ["templates", "get", "blink"],
        env={"IOTCMD_URL": api.url, "IOTCMD_API_KEY": "secret", "IOTCMD_OUTPUT": "json"},
    )

    assert json.loads(result.stdout) == {"templateId": "blink"}
    assert api.sent[0].headers["x-api-key"] == "secret"


def test_help_lists_the_exit_statuses() -> None:
    result = CliRunner().invoke(app, ["--help"])

    assert "Exit statuses" in result.stdout
    assert "6 --timeout" in " ".join(result.stdout.split()).replace("│", "")


def test_watch_gives_up_after_its_timeout(api: FakeApi) -> None:
    api.on("GET", "/commands/ota-42", 200, COMMAND | {"counts": {"QUEUED": 2}})

    result = run(api, "watch", "ota-42", "--timeout", "0", "--output", "json")

    assert result.exit_code == exits.TIMED_OUT
    assert json.loads(result.stdout)["counts"] == {"QUEUED": 2}


def test_watch_of_a_cancelled_command_has_its_own_exit_status(api: FakeApi) -> None:
    api.on("GET", "/commands/ota-42", 200, COMMAND | {"status": "cancelled", "counts": {"CANCELED": 2}})

    result = run(api, "watch", "ota-42")

    assert result.exit_code == exits.CANCELLED
    assert "ota-42 cancelled: 2/2 ended" in result.stdout


def test_watch_events_prints_each_event_once_and_goes_on_where_there_are_none(api: FakeApi) -> None:
    ended = {"commandId": "ota-42", "thingName": "sim-001", "status": "SUCCEEDED", "attempt": 1, "eventId": "e1"}
    event = {"seq": 1, "time": "t", "source": "iot-commands-service", "detailType": "Execution Ended", "detail": ended}
    api.on("GET", "/commands/ota-42", 200, COMMAND | {"status": "in_progress", "counts": {"SUCCEEDED": 1}})
    api.on("GET", "/commands/ota-42", 200, COMMAND | {"status": "in_progress", "counts": {"SUCCEEDED": 1}})
    api.on("GET", "/commands/ota-42", 200, COMMAND | {"status": "completed", "counts": {"SUCCEEDED": 2}})
    api.on("GET", "/_local/events", 200, {"events": [event], "next": 1})
    api.on("GET", "/_local/events", 200, {"events": [event], "next": 1})  # put twice: printed once
    api.on("GET", "/_local/events", 404, {"error": "no route"})

    result = run(api, "watch", "ota-42", "--events", "--interval", "0")

    assert result.exit_code == exits.OK
    assert result.stdout.count("Execution Ended: ota-42 sim-001 SUCCEEDED (attempt 1)") == 1
    asked = [sent.query.get("since") for sent in api.sent if sent.path == "/_local/events"]
    assert asked == [["0"], ["1"], ["1"]]


def test_a_line_longer_than_the_terminal_is_printed_whole_for_a_script_to_read(api: FakeApi) -> None:
    reason = "the device answered " + "at length " * 20
    ended = {"commandId": "ota-42", "thingName": "sim-001", "status": "FAILED", "attempt": 1, "statusReason": reason}
    event = {"seq": 1, "time": "t", "source": "iot-commands-service", "detailType": "Execution Ended", "detail": ended}
    api.on("GET", "/commands/ota-42", 200, COMMAND | {"status": "completed", "counts": {"FAILED": 2}})
    api.on("GET", "/_local/events", 200, {"events": [event], "next": 1})

    result = run(api, "watch", "ota-42", "--events", "--interval", "0")

    assert f"Execution Ended: ota-42 sim-001 FAILED (attempt 1) ({reason})\n" in result.stdout


def test_watch_without_the_events_route_follows_the_command_alone(api: FakeApi) -> None:
    api.on("GET", "/commands/ota-42", 200, COMMAND | {"status": "in_progress"})
    api.on("GET", "/commands/ota-42", 200, COMMAND | {"status": "completed"})

    result = run(api, "watch", "ota-42", "--events", "--interval", "0")

    assert result.exit_code == exits.OK
    assert [sent.path for sent in api.sent].count("/_local/events") == 1  # a 404: not asked again


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An AWS account (moto, which puts its credentials in the environment)."""
    from moto import mock_aws

    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


def deploy(name: str, outputs: dict[str, str]) -> None:
    import boto3

    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name="eu-west-1").create_stack(
        StackName=name, TemplateBody=json.dumps(template)
    )


def test_a_stack_is_reached_at_its_api_url_with_signed_requests(api: FakeApi, aws: Any) -> None:
    # Given a deployed stack whose API (IAM authorisation) answers at its ApiUrl output
    deploy("IotCommandsService", {"ApiUrl": api.url + "/prod", "FilesBucketName": "files"})
    api.on("GET", "/prod/templates/blink", 200, {"templateId": "blink"})

    # When
    result = CliRunner().invoke(
        app, ["--stack", "IotCommandsService", "--region", "eu-west-1", "templates", "get", "blink", "-o", "json"]
    )

    # Then the request went there, signed with SigV4 for execute-api in the stack's region
    assert result.exit_code == 0, result.output
    authorization = api.sent[0].headers["authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=")
    assert "/eu-west-1/execute-api/aws4_request, SignedHeaders=" in authorization


def test_a_stack_with_cognito_wants_a_token_and_sends_it(api: FakeApi, aws: Any) -> None:
    deploy("Cognito", {"ApiUrl": api.url + "/prod", "ApiOperatorUserPoolId5E7F9A1B": "eu-west-1_AbCdEf"})
    api.on("GET", "/prod/templates/blink", 200, {"templateId": "blink"})
    where = ["--stack", "Cognito", "--region", "eu-west-1"]

    refused = CliRunner().invoke(app, [*where, "templates", "get", "blink"])
    sent = CliRunner().invoke(app, [*where, "templates", "get", "blink"], env={"IOTCMD_TOKEN": "id-token"})

    assert refused.exit_code == exits.UNREACHABLE
    assert "give its ID token with --token" in refused.stderr
    assert sent.exit_code == 0, sent.output
    assert [request.headers["authorization"] for request in api.sent] == ["id-token"]


def test_an_unknown_stack_says_so(aws: Any) -> None:
    result = CliRunner().invoke(app, ["--stack", "Nope", "--region", "eu-west-1", "commands", "list"])

    assert result.exit_code == exits.UNREACHABLE
    assert "cannot read the stack Nope" in result.stderr


def test_jobs_list_follows_the_jobs_apis_top_level_token(api: FakeApi) -> None:
    api.on("GET", "/jobs", 200, {"jobs": [{"jobId": "a"}], "nextToken": "2"})
    api.on("GET", "/jobs", 200, {"jobs": [{"jobId": "b"}]})

    result = run(api, "jobs", "list", "--status", "IN_PROGRESS", "--output", "json")

    assert json.loads(result.stdout) == {"jobs": [{"jobId": "a"}, {"jobId": "b"}]}
    assert [sent.query for sent in api.sent] == [
        {"status": ["IN_PROGRESS"]},
        {"status": ["IN_PROGRESS"], "nextToken": ["2"]},
    ]


def test_the_command_line_loads_none_of_the_services_code() -> None:
    # It is a client of the HTTP API: it must run on a machine that has only the iotcmd package.
    code = (
        "import sys; from typer.testing import CliRunner; from iotcmd.app import app; "
        "CliRunner().invoke(app, ['commands', 'create', '--help']); "
        "print(sorted({name.split('.')[0] for name in sys.modules} & {'commands_core', 'local', 'stacks', 'lambdas'}))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT)

    assert loaded.stdout.strip() == "[]"
