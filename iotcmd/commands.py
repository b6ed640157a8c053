"""`iotcmd commands`: create (or preview) commands, move them through their lifecycle, rerun them, read them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from iotcmd import preview
from iotcmd.client import Answer
from iotcmd.context import (
    IdempotencyKeyOption,
    LimitOption,
    OutputOption,
    client_of,
    guarded,
    idempotency_key,
    parameters,
)
from iotcmd.files import load_body
from iotcmd.lists import read_all
from iotcmd.output import Output, console, print_done, print_json, show_object, show_rows

app = typer.Typer(help="Commands: a template's document sent to things, rolled out and followed.", no_args_is_help=True)

PublishOption = Annotated[bool, typer.Option("--publish", help="Publish at once (status in_progress), not a draft.")]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Show what publishing would do (?dryRun=true); nothing is created.")
]


def _path(command_id: str) -> str:
    return f"/commands/{quote(command_id, safe='')}"


@app.command()
@guarded
def create(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help="The command, a JSON or YAML file (options override it).")] = None,
    command_id: Annotated[
        str | None, typer.Option("--id", help="The command's id (default: the API makes one).")
    ] = None,
    template: Annotated[str | None, typer.Option(help="The template's id.")] = None,
    target: Annotated[
        list[str] | None, typer.Option(help="A thing name, thing ARN or thing-group ARN; repeat for more.")
    ] = None,
    param: Annotated[list[str] | None, typer.Option(help="A document parameter, name=value; repeat for more.")] = None,
    rate: Annotated[
        int | None, typer.Option(help="rolloutMaximumPerMinute: at most this many starts a minute.")
    ] = None,
    publish: PublishOption = False,
    dry_run: DryRunOption = False,
    output: OutputOption = Output.table,
    key: IdempotencyKeyOption = None,
) -> None:
    """Create a command from a file and/or options, as a draft or published (--publish)."""
    body: dict[str, Any] = load_body(file) if file else {}
    extra: dict[str, Any] = {
        "commandId": command_id,
        "templateId": template,
        "targets": target or None,
        "rolloutMaximumPerMinute": rate,
        "status": "in_progress" if publish else None,
    }
    body |= {name: value for name, value in extra.items() if value is not None}
    if param:
        body["documentParameters"] = dict(body.get("documentParameters") or {}) | parameters(param)
    client = client_of(ctx)
    if dry_run:
        answer = client.call("POST", "/commands", query={"dryRun": "true"}, body=body)
        _show_preview(answer, output)
        return
    answer = client.call("POST", "/commands", body=body, headers={"Idempotency-Key": idempotency_key(key)})
    _show_created(answer, output, "Created")


@app.command()
@guarded
def rerun(
    ctx: typer.Context,
    command_id: str,
    status: Annotated[
        list[str] | None,
        typer.Option(
            help="Rerun the executions that ended in this status; repeat for more "
            "(default: every status but SUCCEEDED and CANCELED)."
        ),
    ] = None,
    new_id: Annotated[str | None, typer.Option("--id", help="The new command's id.")] = None,
    publish: PublishOption = False,
    dry_run: DryRunOption = False,
    output: OutputOption = Output.table,
    key: IdempotencyKeyOption = None,
) -> None:
    """Make a new command for the things whose executions of COMMAND_ID ended in the given statuses."""
    body: dict[str, Any] = {"status": "in_progress" if publish else "draft"}
    body |= {"statuses": status} if status else {}
    body |= {"commandId": new_id} if new_id else {}
    client = client_of(ctx)
    path = _path(command_id) + "/rerun"
    if dry_run:
        _show_preview(client.call("POST", path, query={"dryRun": "true"}, body=body), output)
        return
    answer = client.call("POST", path, body=body, headers={"Idempotency-Key": idempotency_key(key)})
    _show_created(answer, output, f"Rerun of {command_id}:")


@app.command("list")
@guarded
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only commands in this status.")] = None,
    output: OutputOption = Output.table,
    limit: LimitOption = None,
) -> None:
    """List commands, every page."""
    body = read_all(client_of(ctx), "/commands", items="results", query={"status": status}, limit=limit)
    show_rows(body, output, "results", ["commandId", "templateId", "status", "counts", "percentComplete"])


@app.command()
@guarded
def get(ctx: typer.Context, command_id: str, output: OutputOption = Output.table) -> None:
    """Show a command: its status, counts per execution status and rollout."""
    body = client_of(ctx).call("GET", _path(command_id)).body
    show_object(body, output)


def _change(
    ctx: typer.Context, command_id: str, status: str, verb: str, output: Output, *, force: bool = False
) -> None:
    path = _path(command_id)
    client_of(ctx).call("PATCH", path, query={"force": "true" if force else None}, body={"status": status})
    print_done({"commandId": command_id, "status": status, "location": path}, f"{verb} {command_id}", output)


@app.command()
@guarded
def publish(ctx: typer.Context, command_id: str, output: OutputOption = Output.table) -> None:
    """Publish a draft (or start a scheduled command now)."""
    _change(ctx, command_id, "in_progress", "Published", output)


@app.command()
@guarded
def pause(ctx: typer.Context, command_id: str, output: OutputOption = Output.table) -> None:
    """Pause a rollout: nothing more starts; what started goes on."""
    _change(ctx, command_id, "paused", "Paused", output)


@app.command()
@guarded
def resume(ctx: typer.Context, command_id: str, output: OutputOption = Output.table) -> None:
    """Resume a paused rollout where it stopped."""
    _change(ctx, command_id, "in_progress", "Resumed", output)


ForceOption = Annotated[bool, typer.Option("--force", help="Also the executions in progress.")]


@app.command()
@guarded
def cancel(
    ctx: typer.Context, command_id: str, force: ForceOption = False, output: OutputOption = Output.table
) -> None:
    """Cancel a command and its pending executions."""
    _change(ctx, command_id, "cancelled", "Cancelled", output, force=force)


@app.command()
@guarded
def delete(
    ctx: typer.Context, command_id: str, force: ForceOption = False, output: OutputOption = Output.table
) -> None:
    """Delete a draft, or cancel a published command and mark it deleted."""
    path = _path(command_id)
    answer = client_of(ctx).call("DELETE", path, query={"force": "true" if force else None})
    pending = answer.status == 202  # AWS IoT still holds the deletion of its command
    print_done(
        {"commandId": command_id, "deleted": not pending, "location": path},
        f"{'Deleting' if pending else 'Deleted'} {command_id}",
        output,
    )


def _show_created(answer: Answer, output: Output, verb: str) -> None:
    body = answer.body if isinstance(answer.body, dict) else {}
    command_id = body.get("commandId") or (answer.location or "").rsplit("/", 1)[-1]
    if output is Output.json:
        print_json(answer.body if answer.body is not None else {"commandId": command_id, "location": answer.location})
        return
    status = body.get("status", "draft")
    console.print(f"{verb} command {command_id} ({status}) at {answer.location}", markup=False, highlight=False)


def _show_preview(answer: Answer, output: Output) -> None:
    if output is Output.json:
        print_json(answer.body)
    else:
        preview.show(answer.body)
