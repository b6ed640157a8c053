"""The limits and patterns of body fields that go into keys, AWS IoT calls and documents."""

from __future__ import annotations

from typing import Any

import pytest

from commands_core.errors import InvalidInput
from commands_core.models.commands import (
    READ_ONLY_FIELDS,
    CommandChanges,
    CommandFields,
    NewCommand,
    TargetQuery,
)
from commands_core.models.templates import TemplateChanges, TemplateFields
from commands_core.services.targets import fleet_query
from commands_core.validation import parse

ARABIC_INDIC_ACCOUNT = "\u0661" * 12  # twelve Unicode digits that are not 0-9


def refused(model: type[Any], data: dict[str, Any]) -> InvalidInput:
    with pytest.raises(InvalidInput) as raised:
        parse(model, data)
    return raised.value


def test_document_parameters_that_could_never_fit_a_rendered_document_are_refused() -> None:
    # Given values that together hold more than AWS IoT's 32 KB document (each within its own 8 KB)
    parameters = {f"p{number}": "x" * 8192 for number in range(4)} | {"last": "x"}

    # When a command is given them, it is refused naming documentParameters and the limit
    error = refused(CommandFields, {"templateId": "t", "documentParameters": parameters})
    assert error.field == "documentParameters"
    assert "32768" in error.reason

    # And 32 KB of values in all are taken
    parameters.pop("last")
    assert parse(CommandFields, {"templateId": "t", "documentParameters": parameters}).document_parameters


def test_a_target_arn_whose_account_is_not_ascii_digits_is_refused() -> None:
    target = f"arn:aws:iot:us-east-1:{ARABIC_INDIC_ACCOUNT}:thing/device"

    assert refused(CommandFields, {"templateId": "t", "targets": [target]}).field == "targets.0"


def test_a_range_comparison_with_digits_other_than_0_to_9_is_refused() -> None:
    query = parse(TargetQuery, {"gt": [{"field": "battery", "value": "\u0665\u0660"}]})

    with pytest.raises(InvalidInput) as raised:
        fleet_query(query)

    assert raised.value.field == "targetQuery.gt.0.value"


def test_an_ancestor_path_longer_than_any_thing_group_hierarchy_is_refused() -> None:
    path = "/" + "/".join(["g" * 128] * 8)  # AWS IoT nests thing groups 7 deep

    assert refused(TargetQuery, {"ancestorPath": path}).field == "ancestorPath"


def test_a_template_document_naming_a_key_twice_is_refused() -> None:
    # Given a document whose object names a key twice (parsers disagree on which one counts)
    document = '{"action": "reboot", "action": "wipe"}'

    # Then the template is refused naming the document and the key
    error = refused(TemplateFields, {"templateId": "t", "operation": "o", "document": document})
    assert error.field == "document"
    assert "'action' twice" in error.reason


@pytest.mark.parametrize("model", [NewCommand, CommandChanges])
def test_a_field_the_service_keeps_is_refused_saying_how_it_is_set(model: type[Any]) -> None:
    for name, reason in READ_ONLY_FIELDS.items():
        error = refused(model, {"templateId": "t", name: "x"})
        assert (error.field, error.reason) == (name, reason)


def test_a_command_is_created_as_a_draft_or_published_and_with_an_id_only_when_one_is_given() -> None:
    for status in ("completed", None, 5):
        error = refused(NewCommand, {"templateId": "t", "status": status, "files": {}})  # the status is told first
        assert (error.field, error.reason) == ("status", "must be draft or in_progress when a command is created")
    assert refused(NewCommand, {"templateId": "t", "commandId": None}).field == "commandId"
    assert parse(NewCommand, {"templateId": "t"}).command_id is None  # left out: the service generates one


def test_a_status_change_names_a_status() -> None:
    assert refused(CommandChanges, {"status": 5}).reason == "must be a string: in_progress, paused or cancelled"
    assert refused(CommandChanges, {"status": "sideways"}).reason == (
        "can be changed to in_progress, paused or cancelled, not to sideways"
    )


@pytest.mark.parametrize("model", [CommandChanges, TemplateChanges])
def test_a_patch_is_any_of_the_fields_and_knows_which_were_given(model: type[Any]) -> None:
    # Given a body with one field, set to null where null is a value
    changes = parse(model, {"rolloutMaximumPerMinute": None})

    # Then that field alone is given; fields a resource must have are not required
    assert changes.model_fields_set == {"rollout_maximum_per_minute"}
    assert refused(model, {"bogus": 1}).field == "bogus"
