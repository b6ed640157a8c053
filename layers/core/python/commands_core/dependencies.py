"""The adapters a function uses, built from the settings on first use and then kept for the warm container."""

from __future__ import annotations

from functools import cache

from commands_core.adapters import aws
from commands_core.adapters.templates import TemplateRepository
from commands_core.settings import settings


@cache
def template_repository() -> TemplateRepository:
    return TemplateRepository(aws.client("dynamodb"), settings().templates_table)


def reset() -> None:
    """Forgets every cached client, adapter and setting (tests and the local runtime switch endpoints)."""
    for cached in (template_repository, aws.client, settings):
        cached.cache_clear()
