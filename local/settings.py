"""The local runtime's settings: environment variables read once at start, each checked, and a value the
runtime cannot start with said in one line that names its variable (not a traceback)."""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from local import CannotStart


class LocalSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    port: int = Field(default=8080, alias="PORT", ge=1, le=65535)
    aws_port: int = Field(default=4566, alias="AWS_PORT", ge=1, le=65535)
    fleet_size: int = Field(default=10, alias="FLEET_SIZE", ge=0)
    sim_delay_seconds: float = Field(default=0.5, alias="SIM_DELAY_SECONDS", ge=0)
    sim_slow_seconds: float = Field(default=10, alias="SIM_SLOW_SECONDS", ge=0)
    request_timeout_seconds: float = Field(default=10, alias="REQUEST_TIMEOUT_SECONDS", gt=0)
    schedule_seconds: float = Field(default=30, alias="SCHEDULE_SECONDS", gt=0)
    local_api_key: str | None = Field(default=None, alias="LOCAL_API_KEY")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LocalSettings:
        """The settings of `environ` (the process's); CannotStart naming every variable with a bad value."""
        environ = os.environ if environ is None else environ
        names = [field.alias for field in cls.model_fields.values() if field.alias]
        given = {name: environ[name] for name in names if environ.get(name)}  # set but empty: the default
        try:
            return cls.model_validate(given)
        except ValidationError as error:
            raise CannotStart(refusal(error, given)) from None


def refusal(error: ValidationError, given: Mapping[str, str]) -> str:
    """One line per variable pydantic refused: its name, the value given and what it must be."""
    lines = []
    for problem in error.errors(include_url=False):
        name = str(problem["loc"][0]) if problem["loc"] else "?"
        lines.append(f"{name}={given.get(name, '')!r}: {problem['msg'][0].lower()}{problem['msg'][1:]}")
    return "\n".join(lines)


def check_functions_settings() -> None:
    """CannotStart naming a bad tunable of the functions (INBOX_LEASE_SECONDS), which they would find only when
    first called."""
    from commands_core.settings import Settings

    try:
        Settings.from_env()
    except ValidationError as error:
        raise CannotStart(refusal(error, os.environ)) from None


def check_ports(settings: LocalSettings) -> None:
    """CannotStart naming the variable to change when one of the two ports is taken (or they are the same): a
    check before anything starts, so that it is the first and only thing said."""
    if settings.port == settings.aws_port:
        raise CannotStart(f"PORT and AWS_PORT are both {settings.port}: set one of them to another port")
    for port, variable in ((settings.port, "PORT"), (settings.aws_port, "AWS_PORT")):
        check_port(port, variable)


def check_port(port: int, variable: str) -> None:
    with socket.socket() as probe:
        # As the servers bind: a port whose last connections are closing (TIME_WAIT) is free for them.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise port_refused(error, port, variable) from None


def port_refused(error: OSError, port: int, variable: str) -> CannotStart:
    if error.errno == errno.EADDRINUSE:
        return CannotStart(f"port {port} is in use: set {variable} to another port")
    return CannotStart(f"port {port} cannot be used ({error.strerror}): set {variable} to another port")
