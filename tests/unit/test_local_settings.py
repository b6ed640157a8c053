"""Every environment variable the local runtime reads is in the README's table, with its default; a value it
cannot take is refused naming the variable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from commands_core.settings import Settings
from local import CannotStart
from local.settings import LocalSettings

ROOT = Path(__file__).resolve().parents[2]
# os.environ.get("X"), os.environ["X"], os.environ.setdefault("X", ...), os.getenv("X"), Field(alias="X") (a
# WSGI environ's keys are not the process's)
_READS = re.compile(r'(?:os\.environ(?:\.get|\.setdefault)?[(\[]|os\.getenv\(|alias=)\s*"([A-Z][A-Z0-9_]*)"')


def _read_by_the_runtime() -> set[str]:
    names = {name for source in (ROOT / "local").glob("*.py") for name in _READS.findall(source.read_text())}
    # The functions' tunables (the resource names are the runtime's own, set for them).
    tunables = {field.alias for field in Settings.model_fields.values() if not field.is_required() and field.alias}
    return names | tunables


def _documented() -> dict[str, str]:
    """The README's `## Local runtime` table: variable -> default."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Local runtime\n", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \| ([^|]+?) \|", section, re.M))


def test_the_local_runtime_section_comes_right_before_layout() -> None:
    headings = re.findall(r"^## (.+)$", (ROOT / "README.md").read_text(), re.M)
    assert headings[headings.index("Local runtime") + 1] == "Layout"


def test_every_variable_the_local_runtime_reads_is_in_the_readme_with_its_default() -> None:
    read = _read_by_the_runtime()
    assert {"FLEET_SIZE", "PORT", "SCHEDULE_SECONDS", "INBOX_LEASE_SECONDS"} <= read  # the scan finds them

    documented = _documented()

    assert sorted(read - documented.keys()) == []
    for field in LocalSettings.model_fields.values():
        assert field.alias
        assert documented[field.alias] == ("none" if field.default is None else f"{field.default:g}")


@pytest.mark.parametrize(
    ("name", "value"), [("FLEET_SIZE", "ten"), ("PORT", "80.5"), ("SCHEDULE_SECONDS", "0"), ("AWS_PORT", "70000")]
)
def test_a_value_the_runtime_cannot_take_is_one_line_naming_its_variable(name: str, value: str) -> None:
    with pytest.raises(CannotStart) as refused:
        LocalSettings.from_env({name: value})

    assert str(refused.value).startswith(f"{name}={value!r}: ")
    assert "\n" not in str(refused.value)


def test_variables_not_set_or_empty_take_their_defaults() -> None:
    settings = LocalSettings.from_env({"FLEET_SIZE": "", "LOCAL_API_KEY": ""})

    assert (settings.fleet_size, settings.port, settings.local_api_key) == (10, 8080, None)
