"""The template rules, against an in-memory store."""

from __future__ import annotations

import json
from typing import Any

import pytest

from commands_core.errors import Conflict, InvalidInput, NotFound
from commands_core.models.templates import Template, TemplateChanges, TemplateFields, TemplateSummary
from commands_core.pagination import Page
from commands_core.services import templates
from commands_core.validation import parse


class MemoryStore:
    def __init__(self) -> None:
        self.items: dict[str, Template] = {}

    def create(self, template: Template) -> None:
        if template.template_id in self.items:
            raise Conflict("exists")
        self.items[template.template_id] = template

    def get(self, template_id: str) -> Template | None:
        return self.items.get(template_id)

    def replace(self, template: Template, expected_version: int) -> None:
        if self.items[template.template_id].version != expected_version:
            raise Conflict("changed")
        self.items[template.template_id] = template

    def delete(self, template_id: str) -> bool:
        return self.items.pop(template_id, None) is not None

    def page(self, max_results: int, next_token: str | None) -> Page[TemplateSummary]:
        raise NotImplementedError


def fields(**overrides: Any) -> TemplateFields:
    data = {
        "templateId": "reboot",
        "operation": "reboot",
        "document": json.dumps({"delay": "${delay}", "image": "${cdf:file:firmware}"}),
        "requiredDocumentParameters": ["delay"],
        "requiredFiles": ["firmware"],
    } | overrides
    return parse(TemplateFields, data)


def changes(data: dict[str, Any]) -> TemplateChanges:
    return parse(TemplateChanges, data)


def test_a_created_template_has_defaults_and_timestamps() -> None:
    store = MemoryStore()

    template = templates.create(store, fields())

    assert store.items["reboot"] == template
    assert template.delivery == "job"
    assert template.presigned_url_expires_in_seconds == 3600
    assert template.created_at == template.updated_at


def test_an_undeclared_parameter_is_rejected_naming_the_declaration_field() -> None:
    with pytest.raises(InvalidInput) as raised:
        templates.create(MemoryStore(), fields(requiredDocumentParameters=[]))

    assert raised.value.field == "requiredDocumentParameters"
    assert "${delay}" in raised.value.reason


def test_a_declared_parameter_the_document_never_uses_is_rejected() -> None:
    with pytest.raises(InvalidInput) as raised:
        templates.create(MemoryStore(), fields(requiredDocumentParameters=["delay", "mode"]))

    assert raised.value.field == "requiredDocumentParameters"
    assert "mode" in raised.value.reason


def test_an_undeclared_file_and_an_unused_file_are_rejected_naming_required_files() -> None:
    for declared in ([], ["firmware", "manifest"]):
        with pytest.raises(InvalidInput) as raised:
            templates.create(MemoryStore(), fields(requiredFiles=declared))
        assert raised.value.field == "requiredFiles"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"templateId": "a" * 65}, "templateId"),
        ({"templateId": "has space"}, "templateId"),
        ({"templateId": ""}, "templateId"),
        ({"document": "{not json"}, "document"),
        ({"document": {"a": 1}}, "document"),
        ({"document": json.dumps({"pad": "x" * 33_000})}, "document"),
        ({"presignedUrlExpiresInSeconds": 59}, "presignedUrlExpiresInSeconds"),
        ({"presignedUrlExpiresInSeconds": 3601}, "presignedUrlExpiresInSeconds"),
        ({"delivery": "carrier-pigeon"}, "delivery"),
        ({"requiredFiles": ["firmware", "firmware"]}, "requiredFiles"),
        ({"requiredFiles": ["../etc"]}, "requiredFiles.0"),
        ({"operation": ""}, "operation"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_invalid_fields_are_named(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        fields(**overrides)

    assert raised.value.field == field


def test_update_merges_changes_and_bumps_the_version() -> None:
    store = MemoryStore()
    created = templates.create(store, fields())

    updated = templates.update(store, "reboot", changes({"description": "Reboots", "delivery": "inbox"}))

    assert store.items["reboot"] == updated
    assert (updated.description, updated.delivery, updated.operation) == ("Reboots", "inbox", "reboot")
    assert updated.version == created.version + 1
    assert updated.created_at == created.created_at
    assert updated.updated_at >= created.updated_at


def test_update_validates_the_merged_template_as_on_create() -> None:
    store = MemoryStore()
    templates.create(store, fields())

    with pytest.raises(InvalidInput) as raised:
        templates.update(store, "reboot", changes({"document": json.dumps({"only": "${delay}"})}))

    assert raised.value.field == "requiredFiles"
    assert store.items["reboot"].version == 1


def test_update_rejects_a_body_template_id_that_differs_from_the_path() -> None:
    store = MemoryStore()
    templates.create(store, fields())

    with pytest.raises(InvalidInput) as raised:
        templates.update(store, "reboot", changes({"templateId": "other"}))

    assert raised.value.field == "templateId"
    templates.update(store, "reboot", changes({"templateId": "reboot", "description": "same id is fine"}))


def test_update_of_a_missing_template_is_not_found() -> None:
    with pytest.raises(NotFound):
        templates.update(MemoryStore(), "absent", changes({"description": "x"}))


def test_a_delete_retried_after_it_succeeded_is_not_found() -> None:
    store = MemoryStore()
    templates.create(store, fields())

    templates.delete(store, "reboot", lambda _: [])

    assert store.items == {}
    with pytest.raises(NotFound):
        templates.delete(store, "reboot", lambda _: [])


def test_an_invalid_path_id_is_a_400_before_any_lookup() -> None:
    with pytest.raises(InvalidInput) as raised:
        templates.get(MemoryStore(), "../../etc")

    assert raised.value.field == "templateId"
