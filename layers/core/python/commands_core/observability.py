"""Powertools Logger and Metrics, set up once for every function.

Service name, namespace and log level come from the POWERTOOLS_* variables that the stack sets.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

SERVICE = "iot-commands"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="IoTCommands", service=SERVICE)
