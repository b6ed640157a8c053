from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cdk.out")


def synthesize(outdir: Path, context: dict[str, str] | None = None) -> Any:
    """The stack synthesized into `outdir` with this CDK context, as `cdk synth -c key=value` would (no AWS
    account, no Docker); the stack is returned for checks that read the construct tree."""
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    import aws_cdk as cdk

    from stacks.service_stack import ServiceStack

    app = cdk.App(outdir=str(outdir), context=context)
    stack = ServiceStack(app, "IotCommandsService")
    app.synth()
    return stack


def template_of(stack: Any) -> dict[str, Any]:
    from aws_cdk.assertions import Template

    return dict(Template.from_stack(stack).to_json())


@pytest.fixture(scope="session")
def stack(cdk_out: Path) -> Any:
    """The stack synthesized once with the defaults."""
    return synthesize(cdk_out)


@pytest.fixture(scope="session")
def template(stack: Any) -> dict[str, Any]:
    return template_of(stack)


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == kind}


ROOT = Path(__file__).resolve().parents[2]
