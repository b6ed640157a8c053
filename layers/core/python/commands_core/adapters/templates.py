"""The templates table."""

from __future__ import annotations

from typing import Any

from commands_core.adapters.aws import error_code
from commands_core.adapters.dynamo import from_item, to_item
from commands_core.errors import AlreadyExists, Conflict, NotFound
from commands_core.models import STORED
from commands_core.models.templates import Template, TemplateSummary
from commands_core.pagination import Page, decode_token, encode_token
from commands_core.resources import TEMPLATES

_KIND = "template"
_LIST_INDEX = TEMPLATES.indexes[0].name


class TemplateRepository:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def create(self, template: Template) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self._item(template),
                ConditionExpression="attribute_not_exists(templateId)",
            )
        except Exception as error:
            if error_code(error) == "ConditionalCheckFailedException":
                raise AlreadyExists(f"template '{template.template_id}' already exists") from None
            raise

    def get(self, template_id: str) -> Template | None:
        response = self._client.get_item(
            TableName=self._table, Key={"templateId": {"S": template_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return Template.model_validate(from_item(item), context=STORED) if item else None

    def replace(self, template: Template, expected_version: int) -> None:
        """Writes `template` only if nobody changed it since it was read at `expected_version`."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self._item(template),
                ConditionExpression="version = :expected",
                ExpressionAttributeValues={":expected": {"N": str(expected_version)}},
            )
        except Exception as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            if self.get(template.template_id) is None:
                raise NotFound("template", template.template_id) from None
            raise Conflict(f"template '{template.template_id}' was changed at the same time; retry") from None

    def delete(self, template_id: str) -> bool:
        """Deletes the template in one conditional write; False when there was none."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"templateId": {"S": template_id}},
                ConditionExpression="attribute_exists(templateId)",
            )
        except Exception as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def page(self, max_results: int, next_token: str | None) -> Page[TemplateSummary]:
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": _LIST_INDEX,
            "KeyConditionExpression": "kind = :kind",
            "ExpressionAttributeValues": {":kind": {"S": _KIND}},
            # One more than asked tells whether a next page exists, so the last page carries no token.
            "Limit": max_results + 1,
        }
        if next_token:
            after = decode_token(next_token, frozenset({"templateId"}))
            query["ExclusiveStartKey"] = {"kind": {"S": _KIND}, "templateId": {"S": after["templateId"]}}
        items = [from_item(item) for item in self._client.query(**query)["Items"]]
        page = [TemplateSummary.model_validate(item, context=STORED) for item in items[:max_results]]
        token = encode_token({"templateId": page[-1].template_id}) if len(items) > max_results else None
        return Page(page, token)

    @staticmethod
    def _item(template: Template) -> dict[str, Any]:
        data = template.model_dump(mode="json", by_alias=True)
        return to_item(data | {"kind": _KIND, "version": template.version})
