"""The functions' configuration: one model, read from the environment once, on first use."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, validate_by_name=True, validate_by_alias=True, defer_build=True)

    # The resources' aliases are the variable names of resources.py; a test keeps the two in step.
    templates_table: str = Field(alias="TEMPLATES_TABLE", min_length=1)
    commands_table: str = Field(alias="COMMANDS_TABLE", min_length=1)
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=1)
    files_bucket: str = Field(alias="FILES_BUCKET", min_length=1)
    dispatch_queue_url: str = Field(alias="DISPATCH_QUEUE_URL", min_length=1)
    status_queue_url: str = Field(alias="STATUS_QUEUE_URL", min_length=1)
    membership_queue_url: str = Field(alias="MEMBERSHIP_QUEUE_URL", min_length=1)
    presign_role_arn: str = Field(alias="PRESIGN_ROLE_ARN", min_length=1)
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)
    # Tunables, with a default: the stack sets none of them. How long an inbox execution handed out (SENT) is
    # its device's to acknowledge before the next fetch hands it out again (its answer may have been lost).
    inbox_lease_seconds: int = Field(default=60, alias="INBOX_LEASE_SECONDS", ge=1)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        names = [field.alias for field in cls.model_fields.values() if field.alias]
        # A variable not set is left out, so that a tunable gets its default and a resource is reported missing.
        return cls.model_validate({name: environ[name] for name in names if name in environ})


@cache
def settings() -> Settings:
    """The settings of this process. Read lazily so that importing a handler needs no environment."""
    return Settings.from_env()
