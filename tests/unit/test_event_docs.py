"""docs/events.md: its schemas are the models', never stale, and say what a detail on the bus holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from commands_core.models.lifecycle_events import CommandStatusChanged, ExecutionEnded, LifecycleEvent
from local import event_docs

AT = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def test_the_committed_page_has_the_schemas_the_code_generates() -> None:
    committed = event_docs.PAGE.read_text()

    assert committed == event_docs.render(committed), (
        "docs/events.md's schemas differ from the models: run `python -m local.event_docs`"
    )


def _detail_fits_its_schema(event: LifecycleEvent) -> None:
    schema = event_docs.schemas()[event.DETAIL_TYPE]
    detail = json.loads(event.detail())
    assert set(schema["required"]) <= set(detail)
    assert set(detail) <= set(schema["properties"])
    for name, value in detail.items():
        allowed = schema["properties"][name]
        choices = allowed.get("anyOf", [allowed])
        assert any(value in choice.get("enum", [value]) for choice in choices), name


def test_a_draft_s_deletion_has_a_null_delivery_and_no_status_reason() -> None:
    event = CommandStatusChanged.model_validate(
        {
            "eventId": CommandStatusChanged.id_of("c", AT, 1, "delete"),
            "commandId": "c",
            "templateId": "t",
            "delivery": None,
            "event": "delete",
            "from": "draft",
            "to": "deleted",
            "counts": {},
            "time": AT,
        }
    )

    detail = json.loads(event.detail())

    assert detail["delivery"] is None
    assert "statusReason" not in detail
    assert (detail["from"], detail["to"], detail["time"]) == ("draft", "deleted", "2026-01-05T10:00:00Z")
    _detail_fits_its_schema(event)


def test_an_execution_s_end_has_the_contract_s_fields() -> None:
    event = ExecutionEnded(
        event_id=ExecutionEnded.id_of("c", "t-1", 2, "SUCCEEDED"),
        command_id="c",
        thing_name="t-1",
        status="SUCCEEDED",
        attempt=2,
        status_reason="done",
        delivery="job",
        time=AT,
    )

    assert set(json.loads(event.detail())) == {
        "eventId",
        "commandId",
        "thingName",
        "status",
        "attempt",
        "statusReason",
        "delivery",
        "time",
    }
    _detail_fits_its_schema(event)


def test_the_same_change_has_the_same_id_and_different_changes_never_share_one() -> None:
    assert ExecutionEnded.id_of("c", "t", 1, "FAILED") == ExecutionEnded.id_of("c", "t", 1, "FAILED")
    ids = {
        ExecutionEnded.id_of("c", "t", 1, "FAILED"),
        ExecutionEnded.id_of("c", "t", 2, "FAILED"),
        ExecutionEnded.id_of("c", "t", 1, "SUCCEEDED"),
        ExecutionEnded.id_of("c", "u", 1, "FAILED"),
        CommandStatusChanged.id_of("c", AT, 1, "pause"),
        CommandStatusChanged.id_of("c", AT, 3, "pause"),  # paused again, after a resume
        CommandStatusChanged.id_of("c", AT.replace(minute=1), 1, "pause"),  # another command of the same id
    }
    assert len(ids) == 7
