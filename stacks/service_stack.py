"""The IoT Commands Service: storage, the core layer and the API, composed."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks.api import Api
from stacks.layer import CoreLayer
from stacks.storage import Storage


class ServiceStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, production: bool = False, **kwargs: object) -> None:
        super().__init__(scope, construct_id, description="IoT Commands Service", **kwargs)  # type: ignore[arg-type]
        storage = Storage(self, "Storage", production=production)
        layer = CoreLayer(self, "Core").layer
        api = Api(self, "Api", storage=storage, layer=layer)
        CfnOutput(self, "ApiUrl", value=api.rest_api.url)
        CfnOutput(self, "FilesBucketName", value=storage.buckets["files"].bucket_name)
