"""The tokens of a template's document.

`${name}` and `${cdf:parameter:name}` refer to a parameter, `${cdf:file:name}` to a file; `${aws:...}` tokens
belong to AWS IoT (for example its presigned-URL placeholder) and are left for it to resolve.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from commands_core.errors import InvalidInput
from commands_core.models.templates import DOCUMENT_MAX_BYTES
from commands_core.validation import json_value

_TOKEN = re.compile(r"\$\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PARAMETER_PREFIX = "cdf:parameter:"
_FILE_PREFIX = "cdf:file:"
_AWS_PREFIX = "aws:"


@dataclass(frozen=True)
class DocumentTokens:
    parameters: frozenset[str]
    files: frozenset[str]


def tokens_of(document: str) -> DocumentTokens:
    """The parameter and file names a document refers to; InvalidInput for a token that is neither."""
    parameters: set[str] = set()
    files: set[str] = set()
    for match in _TOKEN.finditer(document):
        token = match.group(1)
        if token.startswith(_AWS_PREFIX):
            continue
        if token.startswith(_FILE_PREFIX):
            names, name = files, token.removeprefix(_FILE_PREFIX)
        else:
            names, name = parameters, token.removeprefix(_PARAMETER_PREFIX)
        if not _NAME.fullmatch(name):
            raise InvalidInput(
                "document",
                f"token {match.group(0)} is neither a parameter (${{name}}, ${{cdf:parameter:name}}) nor a file "
                "(${cdf:file:name}) with a name of 1-64 of [A-Za-z0-9_-]",
            )
        names.add(name)
    return DocumentTokens(frozenset(parameters), frozenset(files))


def render(document: str, parameters: dict[str, str], file_urls: dict[str, str], reserved: int = 0) -> str:
    """The document with every parameter and file token replaced.

    A template's document parses as JSON and token names hold no quote or backslash, so every token sits inside
    a JSON string; each value is inserted JSON-escaped, in one pass (a value that looks like a token stays as
    it is), so any value survives intact and can never add structure. A value's `$` is written `\\u0024`:
    the device reads the same text, but AWS IoT, which resolves `${aws:...}` placeholders in the document's
    text, finds none a value brought. `${aws:...}` tokens of the template are kept for AWS IoT.

    InvalidInput naming documentParameters when the result, plus `reserved` bytes (room for what later
    replaces the placeholders), exceeds AWS IoT's limit (checked as it grows: a short document repeating a
    long value cannot take the function's memory), or when values in object keys make a key appear twice.
    """
    grown = len(document.encode()) + reserved

    def replace(match: re.Match[str]) -> str:
        nonlocal grown
        token = match.group(1)
        if token.startswith(_AWS_PREFIX):
            return match.group(0)
        if token.startswith(_FILE_PREFIX):
            value = json.dumps(file_urls[token.removeprefix(_FILE_PREFIX)], ensure_ascii=False)[1:-1]
        else:
            value = json.dumps(parameters[token.removeprefix(_PARAMETER_PREFIX)], ensure_ascii=False)[1:-1]
            value = value.replace("$", "\\u0024")
        grown += len(value.encode()) - len(match.group(0).encode())
        if grown > DOCUMENT_MAX_BYTES:
            raise InvalidInput(
                "documentParameters", f"the rendered document exceeds AWS IoT's {DOCUMENT_MAX_BYTES} bytes"
            )
        return value

    rendered = _TOKEN.sub(replace, document)
    try:
        json_value(rendered, unique_keys=True)
    except ValueError as error:  # only a key filled in by a value can repeat: the template's keys are unique
        raise InvalidInput("documentParameters", f"the rendered document {error}") from None
    return rendered


def iot_presigned_placeholder(bucket: str, key: str) -> str:
    """AWS IoT replaces this with a presigned URL when a device fetches the job document."""
    return f"${{aws:iot:s3-presigned-url:https://s3.amazonaws.com/{bucket}/{key}}}"


def presign_files(document: str, bucket: str, key_prefix: str, presign: Callable[[str], str]) -> str:
    """The document with the placeholders of the command's own files (keys under `key_prefix` in `bucket`)
    replaced by URLs the service presigned: the command and inbox deliveries have no AWS IoT to resolve them."""
    placeholder = re.compile(
        re.escape(f"${{aws:iot:s3-presigned-url:https://s3.amazonaws.com/{bucket}/{key_prefix}") + r"([^}]+)\}"
    )
    return placeholder.sub(lambda match: json.dumps(presign(key_prefix + match.group(1)))[1:-1], document)
