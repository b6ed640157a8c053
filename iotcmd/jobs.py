"""`iotcmd jobs`: plain AWS IoT jobs, through the Jobs API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from iotcmd.context import IdempotencyKeyOption, OutputOption, client_of, guarded, idempotency_key
from iotcmd.files import load_body
from iotcmd.output import Output, print_json, print_object

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
    if output is Output.json:
        print_json(answer.body)
    else:
        print_object(answer.body)
