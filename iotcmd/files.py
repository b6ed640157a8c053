"""Request bodies from files: a JSON or YAML mapping, with an error that says where a file went wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


class BadFile(Exception):
    """A file that cannot be read, or is not a JSON or YAML mapping."""


def load_body(path: Path) -> dict[str, Any]:
    """The mapping in `path`: JSON for `.json`, else YAML (of which JSON is a subset)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BadFile(f"{path}: cannot be read: {error}") from error
    if path.suffix.lower() == ".json":
        try:
            body = json.loads(text)
        except json.JSONDecodeError as error:
            raise BadFile(f"{path}: not valid JSON: line {error.lineno}, column {error.colno}: {error.msg}") from error
    else:
        try:
            body = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise BadFile(f"{path}: not valid YAML: {_where(error)}") from error
    if not isinstance(body, dict):
        raise BadFile(f"{path}: must hold a mapping (an object of fields), not {type(body).__name__}")
    return body


def _where(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark is not None else problem
