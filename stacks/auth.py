"""How each API family is authorized in the deployed stack, read from CDK context (`-c v1Auth=cognito`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from commands_core import wiring

# iam: SigV4; cognito: a Cognito user pools authorizer; api_key: the usage plan's key; api_key+iam: both.
Mode = Literal["iam", "cognito", "api_key", "api_key+iam", "none"]

CONTEXT_KEYS: dict[wiring.Family, str] = {"v1": "v1Auth", "jobs": "jobsAuth", "status": "statusAuth"}
# The modes a deployer may choose; the default is the wiring's FAMILY_AUTH, `none` only when named.
ALLOWED: dict[wiring.Family, tuple[Mode, ...]] = {
    "v1": ("iam", "cognito", "none"),
    "jobs": ("iam", "cognito", "none"),
    "status": ("api_key", "api_key+iam", "none"),
}
USER_POOL_ARN_KEY = "cognitoUserPoolArn"


def modes(context: Callable[[str], Any]) -> dict[wiring.Family, Mode]:
    """Each family's mode: its context value, else its default; anything else stops the synth."""
    found: dict[wiring.Family, Mode] = {}
    for family, key in CONTEXT_KEYS.items():
        value = context(key)
        allowed = ALLOWED[family]
        chosen = wiring.FAMILY_AUTH[family] if value is None else str(value)
        mode = next((mode for mode in allowed if mode == chosen), None)
        if mode is None:
            raise ValueError(f"context {key}={value!r} is not one of: {', '.join(allowed)}")
        found[family] = mode
    return found
