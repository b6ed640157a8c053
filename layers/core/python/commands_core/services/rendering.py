"""The tokens of a template's document.

`${name}` and `${cdf:parameter:name}` refer to a parameter, `${cdf:file:name}` to a file; `${aws:...}` tokens
belong to AWS IoT (for example its presigned-URL placeholder) and are left for it to resolve.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from commands_core.errors import InvalidInput

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
