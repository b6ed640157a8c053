"""Where the CLI talks and how it authenticates, from its global options (or their environment variables).

By default the local runtime; `--url` names any API; `--stack` reads a deployed stack's API URL from its
outputs. Requests to a stack are signed with SigV4 unless a Cognito token is given; `--auth` says so outright.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel

from iotcmd import signing
from iotcmd.client import Auth, Client
from iotcmd.stack import StackError, outputs_of

AuthMode = Literal["iam", "token", "none"]


class Settings(BaseModel):
    url: str | None = None
    stack: str | None = None
    region: str | None = None
    profile: str | None = None
    auth: AuthMode | None = None  # None: a token when one is given, else SigV4 for a stack, else nothing
    token: str | None = None
    api_key: str | None = None
    timeout: float = 30


class NotConnected(Exception):
    """The API's address or credentials could not be worked out."""


def local_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('PORT') or 8080}"


def connect(settings: Settings) -> Client:
    """A client for the API that `settings` name."""
    url = settings.url
    session = None
    if settings.stack and not url:
        session = _session(settings)
        try:
            outputs = outputs_of(session.client("cloudformation"), settings.stack)
        except StackError as error:
            raise NotConnected(str(error)) from error
        url = outputs.api_url
        if outputs.user_pool_id and not settings.token and settings.auth is None:
            raise NotConnected(
                f"the stack {settings.stack} authorises operators with Cognito: give its ID token with --token "
                "(or IOTCMD_TOKEN)"
            )
    url = url or local_url()
    mode = settings.auth or ("token" if settings.token else "iam" if settings.stack else "none")
    return Client(url, auth=_auth(mode, settings, url, session), api_key=settings.api_key, timeout=settings.timeout)


def _auth(mode: AuthMode, settings: Settings, url: str, session: Any) -> Auth | None:
    if mode == "none":
        return None
    if mode == "token":
        if not settings.token:
            raise NotConnected("--auth token needs --token (or IOTCMD_TOKEN)")
        return signing.bearer(settings.token)
    session = session or _session(settings)
    credentials = session.get_credentials()
    if credentials is None:
        raise NotConnected("no AWS credentials to sign requests with (see --profile)")
    region = settings.region or signing.region_of(url) or session.region_name
    if not region:
        raise NotConnected("no AWS region to sign requests for: give --region")
    return signing.sigv4(credentials, region)


def _session(settings: Settings) -> Any:
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        return boto3.Session(profile_name=settings.profile, region_name=settings.region)
    except BotoCoreError as error:
        raise NotConnected(str(error)) from error
