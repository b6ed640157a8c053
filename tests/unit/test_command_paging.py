"""Listing commands reads on when DynamoDB cuts a page at 1 MB (commands carry documents of up to 32 KB)."""

from __future__ import annotations

from typing import Any

from commands_core.adapters.commands import CommandRepository


class CuttingClient:
    """A DynamoDB client whose Query returns at most `cut` items per call, as the 1 MB limit would."""

    def __init__(self, items: list[dict[str, Any]], cut: int) -> None:
        self.items, self.cut, self.calls = items, cut, 0

    def query(self, **arguments: Any) -> dict[str, Any]:
        self.calls += 1
        start = int(arguments.get("ExclusiveStartKey", {}).get("position", {"N": "0"})["N"])
        size = min(arguments["Limit"], self.cut)
        response: dict[str, Any] = {"Items": self.items[start : start + size]}
        if start + size < len(self.items):
            response["LastEvaluatedKey"] = {"position": {"N": str(start + size)}}
        return response

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        return {"Responses": {}, "UnprocessedKeys": {}}  # no command has counts yet: drafts


def _item(number: int) -> dict[str, Any]:
    return {
        "commandId": {"S": f"c{number:02d}"},
        "itemKey": {"S": "command"},
        "commandStatus": {"S": "draft"},
        "templateId": {"S": "t"},
        "createdAt": {"S": f"2026-01-01T00:00:{59 - number:02d}Z"},
        "updatedAt": {"S": "2026-01-01T00:00:00Z"},
    }


def test_a_page_cut_short_by_dynamodb_is_read_on_to_the_size_asked() -> None:
    client = CuttingClient([_item(number) for number in range(30)], cut=7)

    page = CommandRepository(client, "commands").page(None, 20, None)

    assert [command.command_id for command in page.items] == [f"c{number:02d}" for number in range(20)]
    assert page.next_token is not None
    assert client.calls == 3  # 7 + 7 + 7 items: one more than asked says a next page exists


def test_the_last_page_has_no_token() -> None:
    client = CuttingClient([_item(number) for number in range(10)], cut=4)

    page = CommandRepository(client, "commands").page(None, 20, None)

    assert (len(page.items), page.next_token) == (10, None)
