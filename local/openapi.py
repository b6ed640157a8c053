"""The OpenAPI 3 document of the service, generated from the code: every route of the wiring declaration, its
parameters, body and replies from the types the route names (the ones its handler and service parse and
answer with), its errors from its family's error mapping. `make openapi` writes it to docs/openapi.json.

Only this module imports every route's types; a function imports its own (cold start).
"""

from __future__ import annotations

import copy
import importlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from commands_core.api.http import RETRY_LATER
from commands_core.errors import RetryLater
from commands_core.wiring import FAMILY_AUTH, ROUTES, Family, Route, TypeRef

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"
_REF = "#/components/schemas/{model}"
_RESPONSES = "commands_core.models.responses"


@dataclass(frozen=True)
class _Shape:
    """What a family's routes share: the module mapping its errors, its media types, whether every body is
    wrapped in its envelope, and its error body."""

    module: str
    media_types: tuple[str, ...]
    enveloped: bool
    error_body: TypeRef


_FAMILIES: dict[Family, _Shape] = {
    "v1": _Shape(
        "commands_core.api.v1",
        ("application/vnd.aws-cdf-v1.0+json", "application/json"),
        False,
        f"{_RESPONSES}:ErrorBody",
    ),
    "jobs": _Shape("commands_core.api.jobs", ("application/json",), False, f"{_RESPONSES}:ErrorBody"),
    "status": _Shape("commands_core.api.status", ("application/json",), True, f"{_RESPONSES}:Envelope"),
}
_SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "iam": {
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "description": "AWS Signature Version 4 (IAM); or a Cognito token when the stack is deployed with one.",
        "x-amazon-apigateway-authtype": "awsSigv4",
    },
    "api_key": {"type": "apiKey", "name": "x-api-key", "in": "header", "description": "The API key of the stack."},
}


def document(routes: Iterable[Route] = ROUTES) -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        for index, path in enumerate(route.paths):
            operation = _operation(route, schemas)
            operation["operationId"] = route.function if index == 0 else f"{route.function}_{index}"
            paths.setdefault(path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",  # its schemas are JSON Schema 2020-12, as pydantic writes them,
        "info": {
            "title": "IoT Commands Service",
            "version": "1.0.0",
            "description": "Generated from the code (local/openapi.py): do not edit; run `make openapi`.",
        },
        "paths": paths,
        "components": {"schemas": dict(sorted(schemas.components.items())), "securitySchemes": _SECURITY_SCHEMES},
    }


def _operation(route: Route, schemas: _Schemas) -> dict[str, Any]:
    shape = _FAMILIES[route.family]
    operation: dict[str, Any] = {"tags": [route.family], "summary": route.description}
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    if route.query:
        parameters += _query_parameters(schemas.schema(route.query, "validation", inline=True))
    parameters += [
        {"name": flag, "in": "query", "required": False, "schema": {"type": "string", "enum": ["true", "false"]}}
        for flag in route.flags
    ]
    parameters += [
        {"name": header.name, "in": "header", "required": header.required, "description": header.description}
        | {"schema": {"type": "string"}}
        for header in route.headers
    ]
    if parameters:
        operation["parameters"] = parameters
    if route.body:
        operation["requestBody"] = _request_body(route, shape, schemas)
    operation["responses"] = _responses(route, shape, schemas)
    auth = FAMILY_AUTH[route.family]
    operation["security"] = [] if auth == "none" else [{auth: []}]
    return operation


def _query_parameters(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", ()))
    parameters = []
    for name, declared in schema.get("properties", {}).items():
        field = {key: value for key, value in declared.items() if key != "title"}
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": field}
        if field.get("type") == "array":  # one parameter, its values comma separated
            parameter |= {"style": "form", "explode": False}
        parameters.append(parameter)
    return parameters


def _request_body(route: Route, shape: _Shape, schemas: _Schemas) -> dict[str, Any]:
    body = route.body
    assert body is not None
    if body.file_field:
        form = {
            "type": "object",
            "properties": {body.file_field: {"type": "string", "format": "binary"}},
            "required": [body.file_field],
        }
        return {"required": True, "content": {"multipart/form-data": {"schema": form}}}
    assert body.model is not None
    schema = schemas.schema(body.model, "validation", partial=body.partial)
    return {"required": body.required, "content": {media: {"schema": schema} for media in shape.media_types}}


def _responses(route: Route, shape: _Shape, schemas: _Schemas) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for reply in route.replies:
        response: dict[str, Any] = {"description": HTTPStatus(reply.status).phrase}
        if reply.body or shape.enveloped:
            content = schemas.schema(reply.body, "serialization") if reply.body else {}
            schema = _enveloped(schemas, content) if shape.enveloped else content
            response["content"] = {media: {"schema": schema} for media in shape.media_types}
        if reply.headers:
            response["headers"] = {name: {"schema": {"type": "string"}} for name in reply.headers}
        responses[str(reply.status)] = response
    error = schemas.schema(shape.error_body, "serialization")
    errors: dict[int, list[str]] = {}
    retry_after: set[int] = set()
    for kind, status in _statuses(shape).items():
        errors.setdefault(int(status), []).append(kind.__name__)
        if issubclass(kind, RetryLater):
            retry_after.add(int(status))
    if FAMILY_AUTH[route.family] == "api_key":
        errors.setdefault(HTTPStatus.UNAUTHORIZED, []).append("no valid API key")
    errors.setdefault(HTTPStatus.INTERNAL_SERVER_ERROR, []).append("an unexpected error (no internals told)")
    for status, kinds in sorted(errors.items()):
        response = {
            "description": f"{HTTPStatus(status).phrase}: {', '.join(kinds)}",
            "content": {media: {"schema": error} for media in shape.media_types},
        }
        if status in retry_after:
            response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
        responses[str(status)] = response
    return responses


def _statuses(shape: _Shape) -> dict[type, int]:
    """The family's error statuses, and those every family shares (api/http.map_errors)."""
    return {**RETRY_LATER, **_module(shape.module).STATUSES}


def _enveloped(schemas: _Schemas, content: dict[str, Any]) -> dict[str, Any]:
    envelope = copy.deepcopy(schemas.schema(f"{_RESPONSES}:Envelope", "serialization", inline=True))
    envelope["properties"]["content"] = content or {"type": "null"}
    envelope.pop("title", None)
    return envelope


class _Schemas:
    """JSON schemas of the code's types, named models and TypedDicts gathered as components."""

    def __init__(self) -> None:
        self.components: dict[str, dict[str, Any]] = {}

    def schema(
        self, ref: TypeRef, mode: JsonSchemaMode, *, inline: bool = False, partial: bool = False
    ) -> dict[str, Any]:
        kind = _type(ref)
        generated = TypeAdapter(kind).json_schema(mode=mode, by_alias=True, ref_template=_REF)
        for name, definition in generated.pop("$defs", {}).items():
            self._add(name, definition)
        if partial:
            generated.pop("required", None)
            generated["title"] = f"{generated.get('title', ref)} (any of its fields)"
            return generated
        name = getattr(kind, "__name__", None)
        if inline or generated.get("type") != "object" or not name:
            return generated
        self._add(name, generated)
        return {"$ref": _REF.format(model=name)}

    def _add(self, name: str, schema: dict[str, Any]) -> None:
        if self.components.setdefault(name, schema) != schema:
            # Two types of one name: validation and serialization differ (a field with a default).
            self.components[name] = _merged(self.components[name], schema)


def _merged(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """One component for a model's validation and serialization schemas: a field required in one of them is
    optional in the merged one."""
    if first.get("properties", {}).keys() != second.get("properties", {}).keys():
        raise ValueError(f"two types named {first.get('title')}: rename one")
    merged = copy.deepcopy(first)
    merged["required"] = sorted(set(first.get("required", ())) & set(second.get("required", ())))
    if not merged["required"]:
        merged.pop("required")
    return merged


def _type(ref: TypeRef) -> Any:
    module, _, name = ref.partition(":")
    return getattr(_module(module), name)


@cache
def _module(name: str) -> ModuleType:
    return importlib.import_module(name)


def render() -> str:
    return json.dumps(document(), indent=2) + "\n"


_SWAGGER_ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png")
_TYPES = {".css": "text/css", ".js": "application/javascript", ".png": "image/png"}
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>IoT Commands Service API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"><link rel="icon" href="/docs/favicon-32x32.png"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script><script src="/docs/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout"});
</script>
</body>
</html>
"""


def pages() -> dict[str, tuple[str, bytes]]:
    """What the local runtime serves besides the API: the document at /openapi.json (generated at start, so it
    is the running code's) and Swagger UI at /docs, from the files of the pinned swagger-ui-py (Swagger UI 5,
    which reads OpenAPI 3.1; served from here, it works offline)."""
    from swagger_ui.utils import SWAGGER_UI_PY_ROOT  # type: ignore[import-untyped]

    assets = Path(SWAGGER_UI_PY_ROOT) / "static"
    served = {
        "/openapi.json": ("application/json", render().encode()),
        "/docs": ("text/html; charset=utf-8", _PAGE.encode()),
    }
    for name in _SWAGGER_ASSETS:
        served[f"/docs/{name}"] = (_TYPES[Path(name).suffix], (assets / name).read_bytes())
    return served


def main() -> None:
    DOCUMENT.write_text(render())
    print(f"wrote {DOCUMENT.relative_to(Path.cwd()) if DOCUMENT.is_relative_to(Path.cwd()) else DOCUMENT}")


if __name__ == "__main__":
    main()
