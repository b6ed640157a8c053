"""Time, in one format everywhere it is stored: ISO 8601 UTC with a Z, as pydantic writes it, so that
timestamps sort as strings (index sort keys) and compare equal whichever code wrote them."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
