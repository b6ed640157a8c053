"""`iotcmd executions`: each thing's execution of a command."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import typer

from iotcmd.context import LimitOption, OutputOption, client_of, guarded
from iotcmd.lists import read_all
from iotcmd.output import Output, print_json, print_object, print_rows, show_rows

app = typer.Typer(help="Executions: a command on one thing.", no_args_is_help=True)


@app.command("list")
@guarded
def list_(
    ctx: typer.Context,
    command_id: str,
    status: Annotated[str | None, typer.Option(help="Only executions in this status (SUCCEEDED, FAILED, ...).")] = None,
    output: OutputOption = Output.table,
    limit: LimitOption = None,
) -> None:
    """List a command's executions, every page."""
    path = f"/commands/{quote(command_id, safe='')}/executions"
    body = read_all(client_of(ctx), path, items="executions", query={"status": status}, limit=limit)
    show_rows(body, output, "executions", ["thingName", "status"])


@app.command()
@guarded
def get(ctx: typer.Context, command_id: str, thing_name: str, output: OutputOption = Output.table) -> None:
    """Show one thing's execution of a command, with its history."""
    path = f"/commands/{quote(command_id, safe='')}/executions/{quote(thing_name, safe='')}"
    body = client_of(ctx).call("GET", path).body
    if output is Output.json:
        print_json(body)
        return
    for execution in body.get("executions", []):  # the API answers a list of one
        history = execution.get("history") or []
        print_object({name: value for name, value in execution.items() if name != "history"})
        if history:
            columns = list(dict.fromkeys(name for entry in history for name in entry))
            print_rows(history, columns, title="history")
