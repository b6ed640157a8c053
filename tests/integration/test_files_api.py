"""Command files: multipart upload, deletion and presigned uploads, against moto."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest

from local.aws import client
from tests.conftest import HandlerClient
from tests.integration.conftest import multipart, upload


def test_an_upload_is_stored_under_the_commands_key_and_recorded(
    draft: str, api: HandlerClient, aws: dict[str, str]
) -> None:
    body, headers = multipart("file", b"\x89binary\x00\xff payload")

    reply = api.request("PUT", f"/commands/{draft}/files/firmware", body, headers=headers)

    assert reply.status == 201
    assert reply.headers["location"] == f"/commands/{draft}/files/firmware"
    stored = client("s3", aws).get_object(Bucket=aws["FILES_BUCKET"], Key=f"commands/{draft}/files/firmware")
    assert stored["Body"].read() == b"\x89binary\x00\xff payload"
    files = api.get(f"/commands/{draft}").json()["files"]
    assert files == {"firmware": f"s3://{aws['FILES_BUCKET']}/commands/{draft}/files/firmware"}


def test_a_file_the_template_does_not_require_is_a_400(draft: str, api: HandlerClient) -> None:
    body, headers = multipart("file", b"x")

    reply = api.request("PUT", f"/commands/{draft}/files/manual", body, headers=headers)

    assert reply.status == 400
    assert reply.json()["error"].startswith("fileId:")
    assert "firmware" in reply.json()["error"]


@pytest.mark.parametrize("file_id", ["..", "a.b", "x%2Fy"])
def test_a_file_id_that_could_escape_its_key_is_a_400(draft: str, api: HandlerClient, file_id: str) -> None:
    body, headers = multipart("file", b"x")

    reply = api.request("PUT", f"/commands/{draft}/files/{file_id}", body, headers=headers)

    assert reply.status == 400


def test_an_upload_without_the_file_field_is_a_400(draft: str, api: HandlerClient) -> None:
    body, headers = multipart("attachment", b"x")

    reply = api.request("PUT", f"/commands/{draft}/files/firmware", body, headers=headers)

    assert reply.status == 400
    assert reply.json()["error"].startswith("file:")


def test_an_upload_in_json_is_a_415(draft: str, api: HandlerClient) -> None:
    assert api.request("PUT", f"/commands/{draft}/files/firmware", {"file": "x"}).status == 415


def test_an_upload_to_an_unknown_command_is_a_404(api: HandlerClient, template: Callable[..., dict[str, Any]]) -> None:
    template()

    assert upload(api, "absent") == 404


def test_files_cannot_change_once_published(draft: str, api: HandlerClient) -> None:
    upload(api, draft)
    api.patch(f"/commands/{draft}", {"status": "in_progress"})

    assert upload(api, draft) == 400
    assert api.delete(f"/commands/{draft}/files/firmware").status == 400
    assert api.post(f"/commands/{draft}/files/firmware/upload-url", {}).status == 400


def test_a_file_put_through_a_presigned_url_is_found_at_publish(
    draft: str, api: HandlerClient, aws: dict[str, str]
) -> None:
    reply = api.post(f"/commands/{draft}/files/firmware/upload-url", {})
    assert reply.status == 200
    grant = reply.json()
    assert grant["method"] == "PUT"
    assert grant["expiresInSeconds"] > 0
    url = urllib.parse.urlsplit(grant["url"])
    assert url.path.endswith(f"/commands/{draft}/files/firmware")
    # The client PUTs to the URL; under moto's mock, put the same object the URL names.
    client("s3", aws).put_object(Bucket=aws["FILES_BUCKET"], Key=f"commands/{draft}/files/firmware", Body=b"big")

    assert api.patch(f"/commands/{draft}", {"status": "in_progress"}).status == 204

    assert api.get(f"/commands/{draft}").json()["files"] == {
        "firmware": f"s3://{aws['FILES_BUCKET']}/commands/{draft}/files/firmware"
    }
