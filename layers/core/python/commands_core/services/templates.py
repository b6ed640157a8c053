"""Templates: registering, reading, listing, changing and deleting them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from commands_core.clock import now
from commands_core.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from commands_core.models.templates import Template, TemplateChanges, TemplateFields, TemplateSummary
from commands_core.pagination import Page
from commands_core.services import delivery
from commands_core.services.rendering import tokens_of
from commands_core.validation import check_id as check_name
from commands_core.validation import holds, parse


class TemplateStore(Protocol):
    def create(self, template: Template) -> None: ...
    def get(self, template_id: str) -> Template | None: ...
    def replace(self, template: Template, expected_version: int) -> None: ...
    def delete(self, template_id: str) -> bool: ...
    def page(self, max_results: int, next_token: str | None) -> Page[TemplateSummary]: ...


def create(store: TemplateStore, fields: TemplateFields) -> Template:
    check_tokens(fields)
    delivery.of(fields.delivery).check(fields)
    created = now()
    template = Template(**dict(fields), created_at=created, updated_at=created)
    try:
        store.create(template)
    except AlreadyExists:
        existing = store.get(fields.template_id)
        if existing is None or not holds(existing, fields):
            raise
        return existing  # the same request, retried: its first answer
    return template


def get(store: TemplateStore, template_id: str) -> Template:
    check_id(template_id)
    template = store.get(template_id)
    if template is None:
        raise NotFound("template", template_id)
    return template


def list_summaries(store: TemplateStore, max_results: int, next_token: str | None) -> Page[TemplateSummary]:
    return store.page(max_results, next_token)


def update(store: TemplateStore, template_id: str, changes: TemplateChanges) -> Template:
    """Merges the fields `changes` gives onto the template and validates the result as on create (a field given
    as null is refused there unless it may be null)."""
    current = get(store, template_id)
    if "template_id" in changes.model_fields_set and changes.template_id != template_id:
        raise InvalidInput("templateId", "must be absent or match the templateId of the path")
    given = changes.model_dump(by_alias=True, include=changes.model_fields_set)
    merged = parse(TemplateFields, current.model_dump(by_alias=True, include=set(TemplateFields.model_fields)) | given)
    check_tokens(merged)
    delivery.of(merged.delivery).check(merged)
    updated = Template(**dict(merged), created_at=current.created_at, updated_at=now(), version=current.version + 1)
    store.replace(updated, expected_version=current.version)
    return updated


def delete(store: TemplateStore, template_id: str, live_commands: Callable[[str], list[str]]) -> None:
    """Deleting an absent template is NotFound (404), also a DELETE retried after it succeeded, as AWS IoT answers
    for what is gone; a template that a draft or published (scheduled, in progress or paused) command uses is
    kept (409)."""
    check_id(template_id)
    if live := live_commands(template_id):
        shown = ", ".join(live[:10]) + (f" and {len(live) - 10} more" if len(live) > 10 else "")
        raise Conflict(f"template '{template_id}' is used by live commands: {shown}")
    if not store.delete(template_id):
        raise NotFound("template", template_id)


def check_id(template_id: str) -> None:
    check_name("templateId", template_id)


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
