"""The templates table adapter: conditional writes against moto."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commands_core import dependencies
from commands_core.errors import Conflict, NotFound
from commands_core.models.templates import Template


def stored(version: int = 1, description: str = "first") -> Template:
    now = datetime.now(UTC)
    return Template(
        template_id="reboot",
        operation="reboot",
        document="{}",
        description=description,
        created_at=now,
        updated_at=now,
        version=version,
    )


@pytest.mark.usefixtures("aws")
def test_a_write_based_on_a_stale_read_is_a_conflict_and_keeps_the_newer_one() -> None:
    repository = dependencies.template_repository()
    repository.create(stored())
    repository.replace(stored(version=2, description="second writer"), expected_version=1)

    with pytest.raises(Conflict):
        repository.replace(stored(version=2, description="first writer, stale"), expected_version=1)

    current = repository.get("reboot")
    assert current is not None
    assert (current.description, current.version) == ("second writer", 2)


@pytest.mark.usefixtures("aws")
def test_a_write_to_a_template_deleted_meanwhile_is_not_found_and_does_not_recreate_it() -> None:
    repository = dependencies.template_repository()
    repository.create(stored())
    repository.delete("reboot")

    with pytest.raises(NotFound):
        repository.replace(stored(version=2), expected_version=1)

    assert repository.get("reboot") is None
