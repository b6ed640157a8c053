"""Templates: what a client writes, what is stored and returned."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, field_validator

from commands_core.models import ID_PATTERN, ApiModel, absent_not_null
from commands_core.models.jobs import JobSettings
from commands_core.validation import json_value

Name = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Delivery = Literal["job", "command", "inbox"]

DOCUMENT_MAX_BYTES = 32 * 1024
"""AWS IoT's limit on a job document and a command payload; a template can't need more."""


def _document(document: str) -> str:
    if len(document.encode()) > DOCUMENT_MAX_BYTES:
        raise ValueError(f"must be at most {DOCUMENT_MAX_BYTES} bytes (the AWS IoT limit)")
    try:
        json_value(document, unique_keys=True)
    except ValueError as error:
        raise ValueError(f"must be a string holding a JSON document ({error})") from None
    return document


Document = Annotated[str, StringConstraints(min_length=1), AfterValidator(_document)]
"""A JSON document as a string, within AWS IoT's limit."""
Operation = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class _TemplateBody(JobSettings):
    """A template's fields as a client writes them, none required: TemplateFields requires those a template has."""

    model_config = ConfigDict(extra="forbid")

    template_id: str | None = Field(default=None, json_schema_extra=absent_not_null)  # in a PATCH, the path's
    operation: Operation | None = Field(default=None, json_schema_extra=absent_not_null)
    description: str | None = Field(default=None, max_length=1024)
    document: Document | None = Field(default=None, json_schema_extra=absent_not_null)
    required_document_parameters: list[Name] = Field(default_factory=list, max_length=100)
    required_files: list[Name] = Field(default_factory=list, max_length=100)
    presigned_url_expires_in_seconds: int = Field(default=3600, ge=60, le=3600, strict=True)
    delivery: Delivery = "job"

    @field_validator("required_document_parameters", "required_files")
    @classmethod
    def _unique(cls, names: list[str]) -> list[str]:
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"lists {', '.join(duplicates)} more than once")
        return names


class TemplateFields(_TemplateBody):
    """The fields a client sets on create, and the result of a PATCH merged onto a template."""

    template_id: Name
    operation: Operation
    document: Document


class TemplateChanges(_TemplateBody):
    """The body of PATCH /templates/{templateId}: any of the fields (those left out keep their values; templateId,
    if given, is the path's); the result is validated as TemplateFields."""


class Template(TemplateFields):
    """A stored template, as returned by the API."""

    model_config = ConfigDict(extra="ignore")

    created_at: datetime
    updated_at: datetime
    version: int = Field(default=1, exclude=True)  # optimistic locking of PATCH; not part of the API


class TemplateSummary(ApiModel):
    template_id: str
    description: str | None = None
