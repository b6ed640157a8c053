"""The embedded AWS endpoint (moto in server mode) and the service's resources in it."""

from __future__ import annotations

import logging
from typing import Any

from commands_core import resources

REGION = "us-east-1"
PREFIX = "iot-commands-local"


def environment(aws_port: int | None) -> dict[str, str]:
    """What a function sees locally: the endpoint (None: boto3's default), fake credentials, resource names."""
    env = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    if aws_port is not None:
        env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{aws_port}"
    for resource in resources.ALL:
        env[resource.env] = f"{PREFIX}-{resource.name}"
    return env


def start_endpoint(port: int) -> Any:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server


def create_resources(env: dict[str, str]) -> None:
    """The tables and the bucket, from the same definitions as the stack; existing ones are kept."""
    import boto3

    session = boto3.session.Session(region_name=REGION)
    # Without AWS_ENDPOINT_URL (tests under moto's in-process mock) the default endpoint is the mocked one.
    dynamodb = session.client("dynamodb", endpoint_url=env.get("AWS_ENDPOINT_URL"))
    existing = set(dynamodb.list_tables()["TableNames"])
    for table in resources.TABLES:
        if env[table.env] not in existing:
            dynamodb.create_table(**table_definition(table, env[table.env]))
    s3 = session.client("s3", endpoint_url=env.get("AWS_ENDPOINT_URL"))
    for bucket in resources.BUCKETS:
        s3.create_bucket(Bucket=env[bucket.env])


def table_definition(table: resources.Table, name: str) -> dict[str, Any]:
    """CreateTable arguments for `table` (on-demand, as in the stack)."""

    def key_schema(partition: str, sort: str | None) -> list[dict[str, str]]:
        schema = [{"AttributeName": partition, "KeyType": "HASH"}]
        return schema + ([{"AttributeName": sort, "KeyType": "RANGE"}] if sort else [])

    definition: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": key, "AttributeType": "S"} for key in table.key_attributes],
        "KeySchema": key_schema(table.partition_key, table.sort_key),
    }
    if table.indexes:
        definition["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": key_schema(index.partition_key, index.sort_key),
                "Projection": _projection(index),
            }
            for index in table.indexes
        ]
    return definition


def _projection(index: resources.Index) -> dict[str, Any]:
    if index.include is None:
        return {"ProjectionType": "ALL"}
    if not index.include:
        return {"ProjectionType": "KEYS_ONLY"}
    return {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.include)}
