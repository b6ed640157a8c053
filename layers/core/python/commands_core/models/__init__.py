"""Pydantic models of the API and of stored items."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo
from pydantic.alias_generators import to_camel

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
"""Template, command and file ids, parameter names: safe as DynamoDB keys, S3 key segments and IoT ids."""
THING_NAME_PATTERN = r"[a-zA-Z0-9:_-]{1,128}"
"""AWS IoT's thing and thing-group names (unanchored: ARNs embed it). ASCII only, so that no dot, slash,
percent sign or Unicode look-alike of them gets into a key or an AWS IoT call."""


STORED: dict[str, Any] = {"stored": True}
"""The validation context of an item read back from its table: `Model.model_validate(item, context=STORED)`."""


def read_back(info: ValidationInfo) -> bool:
    """Whether the data being validated is an item read back (STORED): a rule added after it was written refuses
    what a request asks, not what is already stored, which it would leave unreadable."""
    return isinstance(info.context, dict) and bool(info.context.get("stored"))


class ApiModel(BaseModel):
    """Python names in snake_case; the API's camelCase names on the wire and in error messages."""

    # defer_build: a model's validator is built when first used, so a function pays only for the models it uses.
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, defer_build=True)

    def to_api(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def absent_not_null(schema: dict[str, Any]) -> None:
    """The `json_schema_extra` of a field that may be left out but not be null (None stands for left out, and
    is refused when given): its schema is its type's alone."""
    schema.update(next(choice for choice in schema.pop("anyOf") if choice != {"type": "null"}))
    schema.pop("default", None)


def _true_or_false(value: Any) -> Any:
    if isinstance(value, str):
        if value.lower() not in ("true", "false"):
            raise ValueError("must be true or false")
        return value.lower() == "true"
    return value


QueryFlag = Annotated[bool, BeforeValidator(_true_or_false)]
"""A boolean query parameter: true or false (in any case), nothing else that pydantic would take (1, yes, on)."""


class PageQuery(ApiModel):
    """The query of a list route: page size and continuation token."""

    max_results: int = Field(default=25, ge=1, le=100)
    next_token: str | None = Field(default=None, min_length=1, max_length=4096)
