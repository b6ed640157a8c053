"""A list read page by page, as one body in the API's own shape."""

from __future__ import annotations

from typing import Any

from iotcmd.client import Client


def read_all(
    client: Client,
    path: str,
    *,
    items: str,
    query: dict[str, str | list[str] | None] | None = None,
    limit: int | None = None,
    token_in: str = "pagination",
) -> dict[str, Any]:
    """The pages of `path` joined: the first page's body with every page's `items` (at most `limit`) and the last
    page's pagination (no nextToken once every page was read). One page is returned as the API sent it."""
    body: dict[str, Any] | None = None
    for answer in client.pages(path, query=query, token_in=token_in):
        page = dict(answer.body)
        if body is None:
            body = page
        else:
            body[items] = [*body[items], *page[items]]
            if token_in:
                body[token_in] = page.get(token_in)
            else:
                body.pop("nextToken", None)
                body.update({"nextToken": page["nextToken"]} if page.get("nextToken") else {})
        if limit is not None and len(body[items]) >= limit:
            body[items] = body[items][:limit]
            break
    assert body is not None  # pages() yields at least one page
    return body
