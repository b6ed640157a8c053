"""The tables and the bucket of commands_core.resources, as CloudFormation resources."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from commands_core import resources


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, production: bool) -> None:
        super().__init__(scope, construct_id)
        self.tables = {table.name: self._table(table, production) for table in resources.TABLES}
        self.buckets = {bucket.name: self._bucket(bucket) for bucket in resources.BUCKETS}

    def _table(self, table: resources.Table, production: bool) -> dynamodb.TableV2:
        return dynamodb.TableV2(
            self,
            f"{table.name.capitalize()}Table",
            partition_key=_string(table.partition_key),
            sort_key=_string(table.sort_key) if table.sort_key else None,
            global_secondary_indexes=[
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name=index.name,
                    partition_key=_string(index.partition_key),
                    sort_key=_string(index.sort_key) if index.sort_key else None,
                    projection_type=_projection(index),
                    non_key_attributes=list(index.include) if index.include else None,
                )
                for index in table.indexes
            ],
            billing=dynamodb.Billing.on_demand(),
            encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=production,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _bucket(self, bucket: resources.Bucket) -> s3.Bucket:
        return s3.Bucket(
            self,
            f"{bucket.name.capitalize()}Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=Duration.days(30))],
            removal_policy=RemovalPolicy.RETAIN,
        )


def _string(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


def _projection(index: resources.Index) -> dynamodb.ProjectionType:
    if index.include is None:
        return dynamodb.ProjectionType.ALL
    return dynamodb.ProjectionType.INCLUDE if index.include else dynamodb.ProjectionType.KEYS_ONLY
