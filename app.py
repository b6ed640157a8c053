#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth` / `npx cdk deploy` (context `stage=prod` turns on deletion protection)."""

import sys
from pathlib import Path

# The stack reads the core's declarations (routes, tables) from the layer's source.
sys.path.insert(0, str(Path(__file__).resolve().parent / "layers" / "core" / "python"))

import aws_cdk as cdk

from stacks.checks import checks
from stacks.service_stack import ServiceStack

app = cdk.App()
ServiceStack(app, "IotCommandsService", production=app.node.try_get_context("stage") == "prod")
# cdk-nag's AWS Solutions checks run on every synth: a finding neither fixed nor acknowledged stops it.
cdk.Validations.of(app).add_plugins(checks())
app.synth()
