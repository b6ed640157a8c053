"""What the CLI prints: the API's body as JSON (`--output json`), or tables (`--output table`, the default);
errors as one line on stderr."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.table import Table

# A line is never broken at the terminal's width: a script or a pipeline reads it whole (tables still fit the width).
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


class Output(StrEnum):
    table = "table"
    json = "json"


def print_json(body: Any) -> None:
    """The body as JSON, unstyled, so that it can be piped."""
    console.out(json.dumps(body, indent=2), highlight=False)


def print_object(body: Mapping[str, Any], title: str | None = None) -> None:
    """One resource: a row per field."""
    table = Table(title=title, show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, value in body.items():
        table.add_row(name, text_of(value))
    console.print(table)


def print_rows(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], title: str | None = None) -> None:
    """A list: a row per item, the named fields as columns."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(text_of(row.get(column)) for column in columns))
    console.print(table)


def text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and all(isinstance(item, int | float) for item in value.values()):
        return ", ".join(f"{name} {count}" for name, count in value.items())  # counts
    return json.dumps(value)


def show_object(body: Any, output: Output, shown: Mapping[str, Any] | None = None) -> None:
    """One resource as the API returned it (JSON), or `shown` (the body unless given) as a row per field."""
    if output is Output.json:
        print_json(body)
    else:
        print_object(body if shown is None else shown)


def show_rows(body: Mapping[str, Any], output: Output, items: str, columns: Sequence[str]) -> None:
    """A list as the API returned it (JSON), or its `items` as a table of the named columns."""
    if output is Output.json:
        print_json(body)
    else:
        print_rows(body[items], columns)


def print_done(known: Mapping[str, Any], message: str, output: Output) -> None:
    """A write the API answered without a body: what is known of it (JSON), or a sentence."""
    if output is Output.json:
        print_json(known)
    else:
        console.print(message, markup=False, highlight=False)


def print_error(message: str) -> None:
    errors.print(f"iotcmd: {message}", markup=False, highlight=False, soft_wrap=True)
