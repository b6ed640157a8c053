from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cdk.out")


@pytest.fixture(scope="session")
def template(cdk_out: Path) -> dict[str, Any]:
    """The stack synthesized once, as `cdk synth` would (no AWS account, no Docker)."""
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from stacks.service_stack import ServiceStack

    app = cdk.App(outdir=str(cdk_out))
    stack = ServiceStack(app, "IotCommandsService")
    return dict(Template.from_stack(stack).to_json())


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == kind}


ROOT = Path(__file__).resolve().parents[2]
