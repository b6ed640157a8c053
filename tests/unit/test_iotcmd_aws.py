"""iotcmd against a deployed stack: its API URL read from the stack's outputs, and requests signed with SigV4
for execute-api (checked with botocore's own signer)."""

from __future__ import annotations

import datetime
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.stub import Stubber

from iotcmd import signing
from iotcmd.stack import StackError, outputs_of

URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/commands/ota-42"


def test_a_request_is_signed_for_execute_api_in_the_region() -> None:
    credentials = Credentials("AKIDEXAMPLE", "secret", "session-token")
    sign = signing.sigv4(credentials, "eu-west-1")
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    body = b'{"status": "paused"}'

    added = sign("PATCH", URL, body, headers)

    authorization = added["Authorization"]
    date = added["X-Amz-Date"][:8]
    assert authorization.startswith(
        f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{date}/eu-west-1/execute-api/aws4_request"
    )
    assert added["X-Amz-Security-Token"] == "session-token"
    # botocore's signer, given the same request at the same time, computes the same signature
    signed = headers | {name: value for name, value in added.items() if name != "Authorization"}
    request = AWSRequest(method="PATCH", url=URL, data=body, headers=signed)
    request.context["timestamp"] = added["X-Amz-Date"]
    signer = SigV4Auth(credentials, "execute-api", "eu-west-1")
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    assert authorization.endswith(f"Signature={expected}")


def test_the_region_is_read_from_an_api_gateway_url() -> None:
    assert signing.region_of(URL) == "eu-west-1"
    assert signing.region_of("http://127.0.0.1:8080") is None


def describe(outputs: list[dict[str, str]]) -> dict[str, Any]:
    created = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    stack = {"StackName": "IotCommandsService", "CreationTime": created, "StackStatus": "UPDATE_COMPLETE"}
    return {"Stacks": [stack | {"Outputs": outputs}]}


@pytest.fixture
def cloudformation() -> Any:
    return boto3.client("cloudformation", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b")


def test_the_api_url_comes_from_the_stack_outputs(cloudformation: Any) -> None:
    outputs = [
        {"OutputKey": "ApiUrl", "OutputValue": "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/"},
        {"OutputKey": "FilesBucketName", "OutputValue": "files"},
    ]
    with Stubber(cloudformation) as stub:
        stub.add_response("describe_stacks", describe(outputs), {"StackName": "IotCommandsService"})

        found = outputs_of(cloudformation, "IotCommandsService")

    assert found.api_url == "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/"
    assert found.user_pool_id is None  # IAM: requests are signed


def test_a_stack_with_its_own_user_pool_is_seen_as_cognito(cloudformation: Any) -> None:
    outputs = [
        {"OutputKey": "ApiUrl", "OutputValue": "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/"},
        {"OutputKey": "ApiOperatorUserPoolId0A1B2C3D", "OutputValue": "eu-west-1_AbCdEf"},
    ]
    with Stubber(cloudformation) as stub:
        stub.add_response("describe_stacks", describe(outputs), {"StackName": "IotCommandsService"})

        assert outputs_of(cloudformation, "IotCommandsService").user_pool_id == "eu-west-1_AbCdEf"


def test_a_missing_stack_says_so(cloudformation: Any) -> None:
    with Stubber(cloudformation) as stub:
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id Nope does not exist")

        with pytest.raises(StackError, match="Nope does not exist"):
            outputs_of(cloudformation, "Nope")


def test_a_stack_without_the_api_url_is_not_this_service(cloudformation: Any) -> None:
    with Stubber(cloudformation) as stub:
        stub.add_response("describe_stacks", describe([]), {"StackName": "Other"})

        with pytest.raises(StackError, match="no ApiUrl output"):
            outputs_of(cloudformation, "Other")
