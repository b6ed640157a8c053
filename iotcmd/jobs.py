"""`iotcmd jobs`: plain AWS IoT jobs, through the Jobs API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import typer

from iotcmd.context import IdempotencyKeyOption, LimitOption, OutputOption, client_of, guarded, idempotency_key
from iotcmd.files import load_body
from iotcmd.lists import read_all
from iotcmd.output import Output, show_object, show_rows

app = typer.Typer(help="Jobs: plain AWS IoT jobs, for what a command does not cover.", no_args_is_help=True)


@app.command()
@guarded
def create(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The job (POST /jobs body), a JSON or YAML file.")],
    output: OutputOption = Output.table,
    key: IdempotencyKeyOption = None,
) -> None:
    """Create a job from a file."""
    answer = client_of(ctx).call(
        "POST", "/jobs", body=load_body(file), headers={"Idempotency-Key": idempotency_key(key)}
    )
    show_object(answer.body, output)


@app.command("list")
@guarded
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only jobs in this status (IN_PROGRESS, COMPLETED, ...).")] = None,
    output: OutputOption = Output.table,
    limit: LimitOption = None,
) -> None:
    """List jobs, every page."""
    body = read_all(client_of(ctx), "/jobs", items="jobs", query={"status": status}, limit=limit, token_in="")
    show_rows(body, output, "jobs", ["jobId", "status", "targetSelection", "createdAt"])


@app.command()
@guarded
def get(ctx: typer.Context, job_id: str, output: OutputOption = Output.table) -> None:
    """Show a job."""
    body = client_of(ctx).call("GET", f"/jobs/{quote(job_id, safe='')}").body
    show_object(body, output, body.get("job", body))
