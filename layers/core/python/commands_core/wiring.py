"""The one wiring declaration: every route, as data.

The CDK stack builds an API Gateway method and a Lambda function per route from this list; the local runtime
serves the same list through the same handlers; each handler registers its own route from here, so a path
can't differ between the handler, the stack and the local runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Family = Literal["v1", "jobs", "status"]
Auth = Literal["iam", "api_key", "none"]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
ResourceName = Literal["templates", "commands", "files"]


@dataclass(frozen=True)
class Access:
    """What one function may do to one resource of `resources.py`: the IAM actions, nothing wider."""

    resource: ResourceName
    actions: tuple[str, ...]


@dataclass(frozen=True)
class Route:
    function: str  # the folder lambdas/<function>/ holding handler.py
    method: Method
    path: str  # API Gateway syntax: /templates/{templateId}
    family: Family
    access: tuple[Access, ...] = ()
    auth: Auth | None = None  # None: the family's default (FAMILY_AUTH)
    description: str = ""

    @property
    def resolver_rule(self) -> str:
        """The path in Powertools' resolver syntax: `{templateId}` becomes `<templateId>`."""
        return self.path.replace("{", "<").replace("}", ">")


FAMILY_AUTH: dict[Family, Auth] = {"v1": "iam", "jobs": "iam", "status": "api_key"}

_READ_TEMPLATE = Access("templates", ("dynamodb:GetItem",))
_LIST_TEMPLATES = Access("templates", ("dynamodb:Query",))
_WRITE_TEMPLATE = Access("templates", ("dynamodb:PutItem",))
_DELETE_TEMPLATE = Access("templates", ("dynamodb:DeleteItem",))

ROUTES: tuple[Route, ...] = (
    Route("templates_create", "POST", "/templates", "v1", (_WRITE_TEMPLATE,), description="Registers a new template."),
    Route("templates_list", "GET", "/templates", "v1", (_LIST_TEMPLATES,), description="Lists templates."),
    Route(
        "templates_get", "GET", "/templates/{templateId}", "v1", (_READ_TEMPLATE,), description="Returns a template."
    ),
    Route(
        "templates_update",
        "PATCH",
        "/templates/{templateId}",
        "v1",
        (_READ_TEMPLATE, _WRITE_TEMPLATE),
        description="Updates a template.",
    ),
    Route(
        "templates_delete",
        "DELETE",
        "/templates/{templateId}",
        "v1",
        (_DELETE_TEMPLATE,),
        description="Deletes a template.",
    ),
)

_BY_FUNCTION = {route.function: route for route in ROUTES}


def route(function: str) -> Route:
    """The route served by `lambdas/<function>/`."""
    return _BY_FUNCTION[function]


def auth_of(route: Route) -> Auth:
    return route.auth or FAMILY_AUTH[route.family]
