"""What the CLI needs of a deployed stack, read from its CloudFormation outputs."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

# The stack's outputs (stacks/): ApiUrl at the top; the operators' user pool's, when the stack made one, inside
# the Api construct, so CloudFormation names them with the construct's prefix and a hash suffix.
API_URL = "ApiUrl"
USER_POOL_ID = "OperatorUserPoolId"


class StackOutputs(BaseModel):
    api_url: str
    user_pool_id: str | None = None  # set: the stack authorises operators with its own Cognito user pool


class StackError(Exception):
    """The stack or its outputs could not be read."""


def outputs_of(cloudformation: Any, stack_name: str) -> StackOutputs:
    """The outputs of `stack_name`, read with a boto3 CloudFormation client."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except (BotoCoreError, ClientError) as error:
        raise StackError(f"cannot read the stack {stack_name}: {error}") from error
    found = {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}
    if API_URL not in found:
        raise StackError(f"the stack {stack_name} has no {API_URL} output: is it this service's stack?")
    pool = next((value for key, value in found.items() if key.startswith(f"Api{USER_POOL_ID}")), None)
    return StackOutputs(api_url=found[API_URL], user_pool_id=pool)
