"""The tables, buckets, queues, roles and event bus of commands_core.resources, as CloudFormation resources."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from commands_core import resources
from stacks.checks import acknowledge, acknowledge_wildcards, arn_of


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, production: bool) -> None:
        super().__init__(scope, construct_id)
        # S3 delivers access logs under a bucket policy, not the legacy ACL, also where cdk.json is not read (tests).
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        self.tables = {table.name: self._table(table, production) for table in resources.TABLES}
        self.access_logs = self._access_logs()
        self.buckets = {bucket.name: self._bucket(bucket) for bucket in resources.BUCKETS}
        self.dead_letter_alarms: list[cloudwatch.Alarm] = []
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        self.queues = {queue.name: self._queue(queue) for queue in resources.QUEUES}
        self.roles = {resources.PRESIGN.name: self._presign_role()}
        # The lifecycle events' bus; its rules and targets are stacks/lifecycle_events.py's.
        self.buses = {bus.name: events.EventBus(self, f"{bus.name.capitalize()}Bus") for bus in resources.BUSES}

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
            time_to_live_attribute=table.expiry_attribute,
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
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{bucket.name}/",
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _access_logs(self) -> s3.Bucket:
        """Where S3 writes the server access logs of the service's buckets (who read or wrote which file)."""
        access_logs = s3.Bucket(
            self,
            "AccessLogsBucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,  # the only encryption S3 log delivery writes to
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            access_logs,
            "The bucket that receives server access logs: logging it into itself would log its own log deliveries.",
            "AwsSolutions-S1",
        )
        return access_logs

    def _queue(self, queue: resources.Queue) -> sqs.Queue:
        name = queue.name.capitalize()
        dead_letters, alarm = dead_letter_queue(
            self, name, f"Messages of the {queue.name} queue failed {queue.max_receive_count} times"
        )
        self.dead_letter_alarms.append(alarm)
        self.dead_letter_queues[queue.name] = dead_letters
        return sqs.Queue(
            self,
            f"{name}Queue",
            visibility_timeout=Duration.seconds(queue.visibility_timeout_seconds),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=queue.max_receive_count),
        )

    def _presign_role(self) -> iam.Role:
        """Assumed by AWS IoT to presign a job document's file URLs: it may read the published copies of command
        files (what devices are sent), nothing else."""
        role = iam.Role(
            self,
            "PresignRole",
            assumed_by=iam.ServicePrincipal("iot.amazonaws.com"),
            description="AWS IoT presigns the S3 URLs of command files in job documents with this role",
        )
        files = self.buckets[resources.FILES.name].arn_for_objects("commands/*/published/*")
        role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[files]))
        acknowledge_wildcards(
            role,
            [f"{arn_of(self.buckets[resources.FILES.name])}/commands/*/published/*"],
            "AWS IoT presigns the published copy of any command's files: their keys are named by command and file ids.",
        )
        return role


def _string(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


def _projection(index: resources.Index) -> dynamodb.ProjectionType:
    if index.include is None:
        return dynamodb.ProjectionType.ALL
    return dynamodb.ProjectionType.INCLUDE if index.include else dynamodb.ProjectionType.KEYS_ONLY


def dead_letter_queue(scope: Construct, name: str, alarm_description: str) -> tuple[sqs.Queue, cloudwatch.Alarm]:
    """A dead-letter queue (`<name>DeadLetters`: 14 days, encrypted, TLS only) and its alarm on the first message
    in it, which needs a person."""
    dead_letters = sqs.Queue(
        scope,
        f"{name}DeadLetters",
        retention_period=Duration.days(14),
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
    )
    alarm = dead_letters.metric_approximate_number_of_messages_visible(period=Duration.minutes(1)).create_alarm(
        scope,
        f"{name}DeadLettersAlarm",
        alarm_description=alarm_description,
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    return dead_letters, alarm
