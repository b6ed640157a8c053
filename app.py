#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth` / `npx cdk deploy` (context `stage=prod` turns on deletion protection)."""

import sys
from pathlib import Path

# The stack reads the core's declarations (routes, tables) from the layer's source.
sys.path.insert(0, str(Path(__file__).resolve().parent / "layers" / "core" / "python"))

import aws_cdk as cdk

from stacks.service_stack import ServiceStack

app = cdk.App()
ServiceStack(app, "IotCommandsService", production=app.node.try_get_context("stage") == "prod")
app.synth()
