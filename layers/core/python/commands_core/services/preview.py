"""Previews: what publishing a command would do, worked out by the code that publishes and expands it, with
nothing stored and nothing sent.

A preview runs every check publishing runs (services/commands.publication) collecting the problems instead of
stopping at the first, resolves the targets as the dispatch queue's expand does (services/targets.resolve), and
plans the rollout as the start step paces it (models/rollout.py). Its `errors` empty means a publish would
succeed now.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from commands_core.clock import now
from commands_core.errors import Conflict, InvalidInput, Problems
from commands_core.models import rollout, scheduling
from commands_core.models.commands import Command, FileRef, NewCommand
from commands_core.services import commands, targets
from commands_core.validation import parse_all

if TYPE_CHECKING:
    from commands_core.models.responses import Preview
    from commands_core.models.templates import Template
    from commands_core.services.ports import Ports

SHOWN = 100  # targets listed by name; `targetCount` counts every one
_TARGET_FIELDS = ("targets", "targetQuery", "rerunOf")


def of_new(ports: Ports, body: dict[str, Any], default_id: str | None = None) -> Preview:
    """The preview of POST /commands with this body (`?dryRun=true`): the problems of its fields, those a create
    would find, and those a publish would. A body that names no valid templateId is checked field by field."""
    problems = Problems(collect=True)
    new = parse_all(NewCommand, body, problems)
    if new is None:
        return _answer(problems, {}, [])
    command = commands.draft_of(new.fields(), commands.new_id(new.command_id, default_id))
    return of_created(ports, command, problems, new.command_id, files={})  # a new command has no file yet


def of_draft(ports: Ports, command_id: str) -> Preview:
    """The preview of publishing the draft now (POST /commands/{commandId}/preview)."""
    command = commands.get(ports, command_id)
    if command.status != "draft":
        raise Conflict(
            f"command '{command_id}' is {command.status}: only a draft is previewed "
            f"(GET /commands/{command_id} shows how its rollout goes)"
        )
    return of(ports, command, ports.templates.get(command.template_id), Problems(collect=True))


def of_created(
    ports: Ports, command: Command, problems: Problems, given_id: str | None, files: dict[str, FileRef]
) -> Preview:
    """The preview of creating `command` (not stored; its id `given_id` if the request names one) and publishing
    it with `files`: what the create would refuse, then what the publish would."""
    if given_id and ports.commands.get(given_id) is not None:
        problems.add(InvalidInput("commandId", f"command '{given_id}' already exists"))
    template = ports.templates.get(command.template_id)
    commands.check_fields(command, template, problems)
    return of(ports, command, template, problems, files)


def of(
    ports: Ports,
    command: Command,
    template: Template | None,
    problems: Problems,
    files: dict[str, FileRef] | None = None,
) -> Preview:
    """The preview of publishing `command` from `template`: a draft, or a new command not stored (`problems`
    holds what its create found); `files`: those it will have when published (else those it has)."""
    publication = commands.publication(ports, command, template, problems, files)
    planned = command.model_copy(update=publication)
    reached = [] if problems.about(*_TARGET_FIELDS) else sorted(targets.resolve(ports, planned).things)
    return _answer(problems, publication, reached, planned)


def _answer(
    problems: Problems, publication: dict[str, Any], reached: list[str], planned: Command | None = None
) -> Preview:
    config = planned.rollout() if planned else None
    waves = planned.waves if planned else None
    opens = scheduling.first_start(planned.scheduling_config if planned else None, now())
    sizes = rollout.wave_sizes(waves, len(reached))
    return {
        "targetCount": len(reached),
        "targets": reached[:SHOWN],
        "unknownTargets": publication.get("unknown_targets", []),
        "errors": [{"field": problem.field, "message": problem.reason} for problem in problems.found],
        "document": publication.get("document"),
        "delivery": publication.get("delivery"),
        "waves": [
            {"percentage": percentage, "size": size}
            for percentage, size in zip(waves.percentages if waves else [100], sizes, strict=True)
        ],
        "ratePerMinute": rollout.rate_now(config, 0, 0),
        "startsAt": scheduling.iso(opens) if opens else None,
        "estimatedDurationSeconds": rollout.start_seconds(config, waves, len(reached)),
    }
