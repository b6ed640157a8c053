"""The `iotcmd` command line: nouns (templates, commands, executions, jobs), then verbs; and `watch`."""

from __future__ import annotations

from typing import Annotated

import typer

from iotcmd import commands, executions, exits, jobs, templates, watch
from iotcmd.connection import AuthMode, Settings

app = typer.Typer(
    help="Operate the IoT Commands Service through its HTTP API: the local runtime by default, or a deployed "
    "stack (--stack) or any URL (--url).",
    epilog=exits.HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(templates.app, name="templates")
app.add_typer(commands.app, name="commands")
app.add_typer(executions.app, name="executions")
app.add_typer(jobs.app, name="jobs")
app.command(name="watch", epilog=exits.HELP)(watch.watch)


@app.callback()
def connection(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(envvar="IOTCMD_URL", help="The API's URL (default: the local runtime, http://127.0.0.1:$PORT)."),
    ] = None,
    stack: Annotated[
        str | None, typer.Option(envvar="IOTCMD_STACK", help="A deployed stack's name: its ApiUrl output is used.")
    ] = None,
    region: Annotated[
        str | None, typer.Option(envvar="IOTCMD_REGION", help="The stack's AWS region (default: the profile's).")
    ] = None,
    profile: Annotated[str | None, typer.Option(envvar="IOTCMD_PROFILE", help="The AWS profile to use.")] = None,
    auth: Annotated[
        AuthMode | None,
        typer.Option(
            envvar="IOTCMD_AUTH",
            help="iam (SigV4), token (--token) or none. Default: token when one is given, else iam with --stack, "
            "else none.",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar="IOTCMD_TOKEN", help="A Cognito ID token, for a stack deployed with v1Auth=cognito."),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar=["IOTCMD_API_KEY", "LOCAL_API_KEY"], help="Sent as x-api-key: the stack's API key, or LOCAL_API_KEY."
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(envvar="IOTCMD_TIMEOUT", help="Seconds to wait for an answer.")] = 30,
) -> None:
    ctx.obj = Settings(
        url=url, stack=stack, region=region, profile=profile, auth=auth, token=token, api_key=api_key, timeout=timeout
    )


def main() -> None:
    app(prog_name="iotcmd")
