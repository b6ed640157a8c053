"""`iotcmd templates`: register, read, change and delete templates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import typer

from iotcmd.context import IdempotencyKeyOption, LimitOption, OutputOption, client_of, guarded, idempotency_key
from iotcmd.files import load_body
from iotcmd.lists import read_all
from iotcmd.output import Output, console, print_done, print_json, show_object, show_rows

app = typer.Typer(help="Templates: the documents commands are built from.", no_args_is_help=True)

FileArgument = Annotated[Path, typer.Argument(help="The template, a JSON or YAML file.")]


@app.command()
@guarded
def create(
    ctx: typer.Context, file: FileArgument, output: OutputOption = Output.table, key: IdempotencyKeyOption = None
) -> None:
    """Register a template from a file (POST /templates)."""
    body = load_body(file)
    answer = client_of(ctx).call("POST", "/templates", body=body, headers={"Idempotency-Key": idempotency_key(key)})
    created = {"templateId": body.get("templateId"), "location": answer.location}
    if output is Output.json:
        print_json(answer.body if answer.body is not None else created)
    else:
        console.print(f"Created template {created['templateId']} at {created['location']}")


@app.command("list")
@guarded
def list_(
    ctx: typer.Context,
    output: OutputOption = Output.table,
    limit: LimitOption = None,
) -> None:
    """List templates, every page."""
    body = read_all(client_of(ctx), "/templates", items="results", limit=limit)
    show_rows(body, output, "results", ["templateId", "description"])


@app.command()
@guarded
def get(ctx: typer.Context, template_id: str, output: OutputOption = Output.table) -> None:
    """Show a template."""
    body = client_of(ctx).call("GET", f"/templates/{quote(template_id, safe='')}").body
    show_object(body, output)


@app.command()
@guarded
def update(ctx: typer.Context, template_id: str, file: FileArgument, output: OutputOption = Output.table) -> None:
    """Change a template: the file's fields replace the template's (PATCH /templates/{id})."""
    path = f"/templates/{quote(template_id, safe='')}"
    client_of(ctx).call("PATCH", path, body=load_body(file))
    print_done({"templateId": template_id, "location": path}, f"Updated template {template_id}", output)


@app.command()
@guarded
def delete(ctx: typer.Context, template_id: str, output: OutputOption = Output.table) -> None:
    """Delete a template."""
    client_of(ctx).call("DELETE", f"/templates/{quote(template_id, safe='')}")
    print_done({"templateId": template_id, "deleted": True}, f"Deleted template {template_id}", output)
