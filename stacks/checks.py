"""cdk-nag's AWS Solutions checks, and the findings the stack acknowledges next to the constructs they concern.

cdk-nag 3 reports through CDK's policy validation: a finding is acknowledged with `Validations.of(construct)`,
which covers the construct and its children; an IAM5 finding names the one wildcard resource it is about.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Acknowledgment, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import Construct, IConstruct


def checks() -> AwsSolutionsChecks:
    return AwsSolutionsChecks()


def acknowledge(construct: IConstruct, reason: str, *rules: str) -> None:
    Validations.of(construct).acknowledge(*(Acknowledgment(id=rule, reason=reason) for rule in rules))


def acknowledge_wildcards(construct: IConstruct, resources: Iterable[str], reason: str) -> None:
    """IAM5 for exactly these wildcard resources (as cdk-nag renders them: `<LogicalId.Arn>/key/*`)."""
    acknowledge(construct, reason, *(f"AwsSolutions-IAM5[Resource::{resource}]" for resource in resources))


def arn_of(construct: Construct) -> str:
    """A resource's ARN as cdk-nag renders it in a finding."""
    resource = construct.node.default_child
    assert resource is not None
    return f"<{Stack.of(construct).get_logical_id(resource)}.Arn>"  # type: ignore[arg-type]
