"""What every command shares: the connection from the global options, `--output`, and one mapping of failures to
an error line and an exit status."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Annotated, ParamSpec, TypeVar

import typer

from iotcmd import exits
from iotcmd.client import ApiError, Client, Unreachable
from iotcmd.connection import NotConnected, Settings, connect
from iotcmd.files import BadFile
from iotcmd.output import Output, print_error

OutputOption = Annotated[
    Output,
    typer.Option("--output", "-o", envvar="IOTCMD_OUTPUT", help="table (readable) or json (the API's body)."),
]
LimitOption = Annotated[int | None, typer.Option(help="At most this many (default: every page).")]
IdempotencyKeyOption = Annotated[
    str | None,
    typer.Option(
        "--idempotency-key",
        envvar="IOTCMD_IDEMPOTENCY_KEY",
        help="Sent as Idempotency-Key: running the same create again with the same key creates nothing more. "
        "Without it, a key is made for this run only (the CLI's own retries of the request reuse it).",
    ),
]

P = ParamSpec("P")
R = TypeVar("R")


def client_of(ctx: typer.Context) -> Client:
    settings = ctx.find_root().obj
    return connect(settings if isinstance(settings, Settings) else Settings())


def idempotency_key(given: str | None) -> str:
    return given or f"iotcmd-{uuid.uuid4()}"


def guarded(command: Callable[P, R]) -> Callable[P, R]:
    """`command`, its failures turned into one line on stderr and the exit status that says which."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except ApiError as error:
            print_error(str(error))
            raise typer.Exit(exits.API_ERROR) from error
        except BadFile as error:
            print_error(str(error))
            raise typer.Exit(exits.USAGE) from error
        except (Unreachable, NotConnected) as error:
            print_error(str(error))
            raise typer.Exit(exits.UNREACHABLE) from error

    return run


def parameters(pairs: list[str]) -> dict[str, str]:
    """`name=value` options as a mapping (the value may hold `=`)."""
    found: dict[str, str] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise typer.BadParameter(f"{pair!r} is not name=value", param_hint="--param")
        found[name] = value
    return found
