"""Templates: registering, reading, listing, changing and deleting them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from commands_core.errors import InvalidInput, NotFound
from commands_core.models import ID_PATTERN
from commands_core.models.templates import Template, TemplateFields, TemplateSummary
from commands_core.pagination import Page
from commands_core.services.rendering import tokens_of
from commands_core.validation import parse

_ID = re.compile(ID_PATTERN)


class TemplateStore(Protocol):
    def create(self, template: Template) -> None: ...
    def get(self, template_id: str) -> Template | None: ...
    def replace(self, template: Template, expected_version: int) -> None: ...
    def delete(self, template_id: str) -> None: ...
    def list(self, max_results: int, next_token: str | None) -> Page[TemplateSummary]: ...


def create(store: TemplateStore, fields: TemplateFields) -> Template:
    check_tokens(fields)
    now = datetime.now(UTC)
    template = Template(**dict(fields), created_at=now, updated_at=now)
    store.create(template)
    return template


def get(store: TemplateStore, template_id: str) -> Template:
    check_id(template_id)
    template = store.get(template_id)
    if template is None:
        raise NotFound("template", template_id)
    return template


def list_summaries(store: TemplateStore, max_results: int, next_token: str | None) -> Page[TemplateSummary]:
    return store.list(max_results, next_token)


def update(store: TemplateStore, template_id: str, changes: Mapping[str, Any]) -> Template:
    """Merges `changes` (the API's field names) onto the template and validates the result as on create."""
    current = get(store, template_id)
    if changes.get("templateId", template_id) != template_id:
        raise InvalidInput("templateId", "must be absent or match the templateId of the path")
    merged = parse(
        TemplateFields, current.model_dump(by_alias=True, include=set(TemplateFields.model_fields)) | dict(changes)
    )
    check_tokens(merged)
    updated = Template(
        **dict(merged), created_at=current.created_at, updated_at=datetime.now(UTC), version=current.version + 1
    )
    store.replace(updated, expected_version=current.version)
    return updated


def delete(store: TemplateStore, template_id: str) -> None:
    """Deleting an absent template succeeds, so that a retried DELETE gets the same answer."""
    check_id(template_id)
    store.delete(template_id)


def check_id(template_id: str) -> None:
    if not _ID.fullmatch(template_id):
        raise InvalidInput("templateId", "must be 1-64 of [A-Za-z0-9_-]")


def check_tokens(fields: TemplateFields) -> None:
    """Every token of the document is declared, and every declared name is used by the document."""
    tokens = tokens_of(fields.document)
    _check_declared("requiredDocumentParameters", tokens.parameters, set(fields.required_document_parameters), "${%s}")
    _check_declared("requiredFiles", tokens.files, set(fields.required_files), "${cdf:file:%s}")


def _check_declared(field: str, used: frozenset[str], declared: set[str], token: str) -> None:
    if undeclared := sorted(used - declared):
        tokens = ", ".join(token % name for name in undeclared)
        raise InvalidInput(field, f"the document uses {tokens} but {field} does not declare {', '.join(undeclared)}")
    if unused := sorted(declared - used):
        tokens = ", ".join(token % name for name in unused)
        raise InvalidInput(field, f"declares {', '.join(unused)} but the document never uses {tokens}")
