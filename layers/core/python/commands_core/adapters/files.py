"""The command files bucket."""

from __future__ import annotations

from typing import Any

from commands_core.adapters.aws import error_code


class FileStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self.bucket = bucket

    def put(self, key: str, body: bytes, content_type: str) -> str | None:
        """Stores the object; its version id."""
        response = self._client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
        version = response.get("VersionId")
        return str(version) if version else None

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=key)

    def version(self, key: str) -> str | None:
        """The current version id of the object ("null" where the bucket keeps no versions); None if absent."""
        try:
            response = self._client.head_object(Bucket=self.bucket, Key=key)
        except Exception as error:
            if error_code(error) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return str(response.get("VersionId") or "null")

    def exists(self, key: str) -> bool:
        return self.version(key) is not None

    def copy(self, source_key: str, version_id: str | None, key: str) -> None:
        """A server-side copy of one version of an object."""
        source = {"Bucket": self.bucket, "Key": source_key}
        if version_id and version_id != "null":
            source["VersionId"] = version_id
        self._client.copy_object(Bucket=self.bucket, Key=key, CopySource=source)

    def upload_url(self, key: str, expires_in: int) -> str:
        return self._presign("put_object", key, expires_in)

    def download_url(self, key: str, expires_in: int) -> str:
        return self._presign("get_object", key, expires_in)

    def _presign(self, operation: str, key: str, expires_in: int) -> str:
        params = {"Bucket": self.bucket, "Key": key}
        return str(self._client.generate_presigned_url(operation, Params=params, ExpiresIn=expires_in))
