from collections.abc import Callable
from typing import Any

import pytest

from commands_core.errors import InvalidInput
from commands_core.models.commands import Command, CommandFields
from commands_core.validation import parse

ARN = "arn:aws:iot:us-east-1:123456789012"
AT = "2024-05-01T12:00:00Z"
CRITERIA = {"failureType": "FAILED", "thresholdPercentage": 50, "minNumberOfExecutedThings": 10}


def fields(**data: Any) -> CommandFields:
    return parse(CommandFields, {"templateId": "t1", **data})


def command(**data: Any) -> Command:
    return parse(Command, {"templateId": "t1", "commandId": "c1", "createdAt": AT, "updatedAt": AT, **data})


def rejection(build: Callable[..., object], **data: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as raised:
        build(**data)
    return raised.value


# commandId


def test_v0_is_reserved_as_a_command_id() -> None:
    error = rejection(command, commandId="v0")

    assert error.field == "commandId"
    assert "reserved" in error.reason


@pytest.mark.parametrize("command_id", ["", "x" * 65, "has space", "a/b", "a.b", "ü", "abc\n", "v0/status"])
def test_a_command_id_outside_the_id_alphabet_or_length_is_rejected(command_id: str) -> None:
    assert rejection(command, commandId=command_id).field == "commandId"


@pytest.mark.parametrize("command_id", ["a", "x" * 64, "A-z_09", "V0", "v00"])
def test_a_command_id_of_1_to_64_id_characters_is_accepted(command_id: str) -> None:
    assert command(commandId=command_id).command_id == command_id


# targets


@pytest.mark.parametrize(
    "target",
    [
        "thing-1",
        "thing_with:colons",
        "t" * 128,
        f"{ARN}:thing/thing-1",
        f"{ARN}:thinggroup/group-1",
        "arn:aws-us-gov:iot:us-gov-west-1:123456789012:thing/x",
        "arn:aws-cn:iot:cn-north-1:123456789012:thinggroup/g",
    ],
)
def test_each_kind_of_target_is_accepted(target: str) -> None:
    assert fields(targets=["ok", target]).targets == ["ok", target]


@pytest.mark.parametrize(
    "target",
    [
        "arn:aws:iot:us-east-1:123:thing/x",
        "has space",
        "",
        "t" * 129,
        "thing/x",
        f"{ARN}:thing/",
        f"{ARN}:thinggroup/has space",
        f"{ARN}:policy/p",
        "arn:aws:iot:us-east-1:123456789012:thing/x/y",
        "arn:aws:s3:::bucket",
        "arn:aws:iot:us-east-1:123456789012:thinggroup",
    ],
)
def test_a_malformed_target_is_rejected_naming_its_position(target: str) -> None:
    # Given two good targets and a malformed third
    targets = ["thing-1", f"{ARN}:thinggroup/g", target]

    # When the command is validated
    error = rejection(fields, targets=targets)

    # Then the error names the third target
    assert error.field == "targets.2"


def test_at_most_1000_targets_are_accepted() -> None:
    assert len(fields(targets=[f"t{i}" for i in range(1000)]).targets) == 1000
    assert rejection(fields, targets=[f"t{i}" for i in range(1001)]).field == "targets"


# rollout, type, parameters, unknown fields


@pytest.mark.parametrize("rate", [0, -1, 1001])
def test_a_rollout_rate_outside_1_to_1000_is_rejected(rate: int) -> None:
    assert rejection(fields, rolloutMaximumPerMinute=rate).field == "rolloutMaximumPerMinute"


@pytest.mark.parametrize("rate", [1, 1000])
def test_a_rollout_rate_of_1_to_1000_is_accepted(rate: int) -> None:
    assert fields(rolloutMaximumPerMinute=rate).rollout_maximum_per_minute == rate


@pytest.mark.parametrize("command_type", ["SNAPSHOT", "CONTINUOUS"])
def test_snapshot_and_continuous_commands_are_accepted(command_type: str) -> None:
    assert fields(type=command_type).type == command_type


def test_a_command_is_a_snapshot_by_default() -> None:
    assert fields().type == "SNAPSHOT"


@pytest.mark.parametrize("command_type", ["snapshot", "ONCE", ""])
def test_any_other_command_type_is_rejected(command_type: str) -> None:
    assert rejection(fields, type=command_type).field == "type"


def test_numbers_in_document_parameters_are_kept_as_their_text() -> None:
    # Given parameters given as JSON numbers
    parameters = {"delay": 5, "ratio": 2.5, "mode": "fast"}

    # When the command is validated
    parsed = fields(documentParameters=parameters)

    # Then they are strings, as written
    assert parsed.document_parameters == {"delay": "5", "ratio": "2.5", "mode": "fast"}
    assert parsed.to_api()["documentParameters"] == {"delay": "5", "ratio": "2.5", "mode": "fast"}


def test_a_document_parameter_with_an_invalid_name_is_rejected() -> None:
    assert rejection(fields, documentParameters={"bad name": "x"}).field.startswith("documentParameters")


def test_a_document_parameter_value_longer_than_8192_characters_is_rejected() -> None:
    assert fields(documentParameters={"p": "x" * 8192}).document_parameters["p"] == "x" * 8192
    assert rejection(fields, documentParameters={"p": "x" * 8193}).field == "documentParameters.p"


def test_a_document_parameter_that_is_not_valid_unicode_is_rejected() -> None:
    assert rejection(fields, documentParameters={"p": "half an emoji \ud83d"}).field == "documentParameters.p"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param({"bogus": 1}, "bogus", id="top-level"),
        pytest.param({"files": {"f": "s3://b/k"}}, "files", id="read-only-files"),
        pytest.param({"targetQuery": {"types": ["a"], "bogus": 1}}, "targetQuery.bogus", id="in-target-query"),
        pytest.param({"abortConfig": {"criteriaList": [CRITERIA], "bogus": 1}}, "abortConfig.bogus", id="in-abort"),
        pytest.param(
            {"timeoutConfig": {"inProgressTimeoutInMinutes": 5, "bogus": 1}}, "timeoutConfig.bogus", id="in-timeout"
        ),
    ],
)
def test_unknown_fields_are_rejected_by_name(data: dict[str, Any], field: str) -> None:
    error = rejection(fields, **data)

    assert error.field == field
    assert error.reason == "is not a field of this resource"


def test_template_id_is_required() -> None:
    with pytest.raises(InvalidInput) as raised:
        parse(CommandFields, {})

    assert raised.value.field == "templateId"


# job settings


@pytest.mark.parametrize(
    ("criterion", "field"),
    [
        ({"thresholdPercentage": 0}, "thresholdPercentage"),
        ({"thresholdPercentage": -5}, "thresholdPercentage"),
        ({"thresholdPercentage": 100.5}, "thresholdPercentage"),
        ({"minNumberOfExecutedThings": 0}, "minNumberOfExecutedThings"),
        ({"failureType": "SUCCEEDED"}, "failureType"),
        ({"action": "STOP"}, "action"),
    ],
)
def test_abort_criteria_outside_their_bounds_are_rejected(criterion: dict[str, Any], field: str) -> None:
    error = rejection(fields, abortConfig={"criteriaList": [CRITERIA, CRITERIA | criterion]})

    assert error.field == f"abortConfig.criteriaList.1.{field}"


@pytest.mark.parametrize(
    "criterion",
    [
        {"thresholdPercentage": 0.1},
        {"thresholdPercentage": 100},
        {"minNumberOfExecutedThings": 1},
        {"failureType": "ALL"},
    ],
)
def test_abort_criteria_within_their_bounds_are_accepted(criterion: dict[str, Any]) -> None:
    parsed = fields(abortConfig={"criteriaList": [CRITERIA | criterion]})

    assert parsed.to_api()["abortConfig"] == {"criteriaList": [{"action": "CANCEL", **CRITERIA, **criterion}]}


@pytest.mark.parametrize("count", [0, 5])
def test_abort_config_takes_1_to_4_criteria(count: int) -> None:
    assert rejection(fields, abortConfig={"criteriaList": [CRITERIA] * count}).field == "abortConfig.criteriaList"


@pytest.mark.parametrize("minutes", [1, 10080])
def test_an_in_progress_timeout_of_1_to_10080_minutes_is_accepted(minutes: int) -> None:
    parsed = fields(timeoutConfig={"inProgressTimeoutInMinutes": minutes})

    assert parsed.to_api()["timeoutConfig"] == {"inProgressTimeoutInMinutes": minutes}


@pytest.mark.parametrize("minutes", [0, 10081])
def test_an_in_progress_timeout_outside_1_to_10080_minutes_is_rejected(minutes: int) -> None:
    error = rejection(fields, timeoutConfig={"inProgressTimeoutInMinutes": minutes})

    assert error.field == "timeoutConfig.inProgressTimeoutInMinutes"


def retry(retries: int) -> dict[str, Any]:
    return {"criteriaList": [{"failureType": "FAILED", "numberOfRetries": retries}]}


@pytest.mark.parametrize("retries", [0, 10])
def test_0_to_10_retries_are_accepted(retries: int) -> None:
    assert fields(jobExecutionsRetryConfig=retry(retries)).to_api()["jobExecutionsRetryConfig"] == retry(retries)


@pytest.mark.parametrize("retries", [-1, 11])
def test_retries_outside_0_to_10_are_rejected(retries: int) -> None:
    error = rejection(fields, jobExecutionsRetryConfig=retry(retries))

    assert error.field == "jobExecutionsRetryConfig.criteriaList.0.numberOfRetries"


# Command.to_api


def test_the_api_shows_files_as_s3_uris_and_hides_dispatch_state() -> None:
    # Given a stored command with files and dispatch state
    stored = command(
        files={
            "image": {"bucketName": "bucket", "s3ObjectKey": "commands/c1/files/image"},
            "config": {"bucketName": "other", "s3ObjectKey": "a b/c.json"},
        },
        version=7,
        dispatchStep="start",
        leaseUntil=AT,
        groupName="cmd-c1",
        dispatchCursor="t-1",
        dispatched=3,
        waveCounts=[{"SUCCEEDED": 1}],
        pausedAtGate=True,
    )

    # When it is shown by the API
    shown = stored.to_api()

    # Then files are S3 URIs and the internal fields are absent
    assert shown["files"] == {"image": "s3://bucket/commands/c1/files/image", "config": "s3://other/a b/c.json"}
    internal = {"version", "dispatchStep", "leaseUntil", "groupName", "dispatchCursor", "dispatched", "waveCounts"}
    assert (internal | {"pausedAtGate"}).isdisjoint(shown)
    assert shown["commandId"] == "c1"
    assert shown["templateId"] == "t1"
    assert shown["status"] == "draft"


@pytest.mark.parametrize("threshold", [5e-324, 0.001, 10.999, 0, 100.01])
def test_an_abort_threshold_aws_iot_cannot_take_is_rejected_not_stored(threshold: float) -> None:
    # Given an abort criterion whose threshold has more than two decimals, or is out of range (found by fuzzing:
    # 5e-324 reached DynamoDB, which cannot hold it, and the API answered 500)
    criteria = {**CRITERIA, "thresholdPercentage": threshold}
    # When a command carries it, then it is a 400 naming the field
    error = rejection(fields, abortConfig={"criteriaList": [criteria]})
    assert error.field == "abortConfig.criteriaList.0.thresholdPercentage"


@pytest.mark.parametrize("threshold", [0.01, 10.9, 10.99, 33.33, 100])
def test_an_abort_threshold_of_up_to_two_decimals_is_accepted(threshold: float) -> None:
    criteria = {**CRITERIA, "thresholdPercentage": threshold}
    assert fields(abortConfig={"criteriaList": [criteria]}).abort_config is not None
