"""The embedded endpoint's DynamoDB through boto3 unchanged: what it answers matches moto's DynamoDB operation by
operation (DynamoDB's answer where the two differ, said so), its errors are DynamoDB's, its writes stay atomic
and isolated under threads, a Query reads its partition only, and items live in SQLite, not in memory."""

from __future__ import annotations

import gc
import json
import random
import re
import tempfile
import threading
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.exceptions import ClientError

from commands_core import resources
from local.aws import table_definition
from local.dynamodb import Dynamodb, Rows
from local.wire import check_output

REGION = "us-east-1"
ENDPOINT = "https://dynamodb.us-east-1.amazonaws.com"
COMMANDS = "commands"
PLAIN = "plain"
# DynamoDB answers these though botocore's model says otherwise: an on-demand table has made no decrease today,
# and a batch with nothing left over answers an empty map.
KNOWN_MODEL_MISMATCHES = (
    "ProvisionedThroughput.NumberOfDecreasesToday' failed to satisfy constraint: Member must have value greater",
    "Value {} at 'UnprocessedItems' failed to satisfy constraint: Member must have length greater",
    "Value {} at 'UnprocessedKeys' failed to satisfy constraint: Member must have length greater",
)
# What moto answers that DynamoDB does not unless asked (ReturnConsumedCapacity, ReturnItemCollectionMetrics).
UNASKED = ("ResponseMetadata", "ConsumedCapacity", "ItemCollectionMetrics")
NAMES = {"#s": "queued", "#t": "done", "#name": "name", "#status": "status", "#from": "queued", "#to": "running"}
VALUES: dict[str, dict[str, Any]] = {
    ":zero": {"N": "0"},
    ":one": {"N": "1"},
    ":two": {"N": "2"},
    ":five": {"N": "5"},
    ":ten": {"N": "10"},
    ":half": {"N": "0.5"},
    ":alpha": {"S": "alpha"},
    ":beta": {"S": "beta"},
    ":al": {"S": "al"},
    ":x": {"S": "x"},
    ":z": {"S": "z"},
    ":zz": {"SS": ["z", "zz"]},
    ":xs": {"SS": ["x"]},
    ":seven": {"NS": ["7"]},
    ":more": {"L": [{"S": "c"}, {"N": "3"}]},
    ":first": {"L": [{"S": "first"}]},
    ":N": {"S": "N"},
    ":queued": {"S": "queued"},
    ":running": {"S": "running"},
    ":counts": {"M": {"queued": {"N": "1"}}},
}
# botocore reads a service's model once per loader: one loader for every client here keeps each test quick.
_LOADER = botocore.loaders.create_loader()


def placeholders(*expressions: str) -> dict[str, Any]:
    """ExpressionAttributeNames and ExpressionAttributeValues with the placeholders the expressions use, and
    only those (DynamoDB refuses unused ones)."""
    tokens = set(re.findall(r"[#:][A-Za-z0-9_]+", " ".join(expressions)))
    arguments: dict[str, Any] = {}
    if names := {token: NAMES[token] for token in sorted(tokens) if token.startswith("#")}:
        arguments["ExpressionAttributeNames"] = names
    if values := {token: VALUES[token] for token in sorted(tokens) if token.startswith(":")}:
        arguments["ExpressionAttributeValues"] = values
    return arguments


def client_of(emulator: Dynamodb | None, problems: list[str] | None = None) -> Any:
    """A DynamoDB client answered in process by the emulator (registered first on its session, so the endpoint
    is never reached) or, without one, by moto's in-process mock; the emulator's successful responses, as
    botocore parsed them, are checked against the operation's output shape into `problems`."""
    core = botocore.session.Session()
    core.register_component("data_loader", _LOADER)
    session = boto3.session.Session(
        botocore_session=core, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    if emulator is not None:
        session.events.register_first("before-send", emulator.botocore_hook)

        def check(http_response: Any, parsed: dict[str, Any], model: Any, **kwargs: Any) -> None:
            if http_response.status_code < 300 and problems is not None:
                found = check_output("dynamodb", model.name, parsed)
                problems.extend(f"{model.name}: {problem}" for problem in found if not _known(problem))

        session.events.register("after-call", check)
    return session.client("dynamodb", endpoint_url=ENDPOINT)


def _known(problem: str) -> bool:
    return any(mismatch in problem for mismatch in KNOWN_MODEL_MISMATCHES)


def create_tables(client: Any) -> None:
    """The service's commands table (its real definition: five sparse indexes) and a small hash-only table."""
    client.create_table(**table_definition(resources.COMMANDS, COMMANDS))
    client.create_table(
        TableName=PLAIN,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )


@pytest.fixture(autouse=True)
def _no_configured_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    # moto's mock recognises AWS's endpoint only; a configured one would take the clients elsewhere.
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def emulator() -> Iterator[Dynamodb]:
    emulator = Dynamodb()
    yield emulator
    emulator.close()


@pytest.fixture
def dynamo(emulator: Dynamodb) -> Iterator[Any]:
    """A client of the emulator, with both tables; every successful answer fits its output shape."""
    problems: list[str] = []
    client = client_of(emulator, problems)
    create_tables(client)
    yield client
    assert problems == []


def error_of(call: Callable[..., object], **arguments: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**arguments)
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def canonical(value: Any) -> Any:
    """An answer with its sets in one order (a set has none) and without what moto adds unasked."""
    if isinstance(value, dict):
        return {
            key: sorted(entry) if key in ("SS", "NS", "BS") else canonical(entry)
            for key, entry in value.items()
            if key not in UNASKED
        }
    if isinstance(value, list):
        return [canonical(entry) for entry in value]
    return value


def outcome(client: Any, operation: str, arguments: dict[str, Any]) -> Any:
    """What a call answers, comparable between the two: the response, or the error's code (with a cancelled
    transaction's reasons: each item's code and, when asked for, its old item)."""
    try:
        return canonical(getattr(client, operation)(**arguments))
    except ClientError as error:
        failed: dict[str, Any] = {"error": error.response["Error"]["Code"]}
        if "CancellationReasons" in error.response:
            failed["reasons"] = [
                {key: canonical(value) for key, value in reason.items() if key != "Message"}
                for reason in error.response["CancellationReasons"]
            ]
        if "Item" in error.response:
            failed["item"] = canonical(error.response["Item"])
        return failed


def item_key(item: dict[str, Any]) -> tuple[str, str]:
    return (item.get("commandId") or item["id"])["S"], item.get("itemKey", {"S": ""})["S"]


class Pair:
    """The emulator and moto's DynamoDB, each behind a boto3 client, sent the same requests."""

    def __init__(self, emulated: Any, moto: Any) -> None:
        self.emulated, self.moto = emulated, moto

    def same(self, operation: str, **arguments: Any) -> Any:
        """The emulator's answer, once found equal to moto's."""
        ours, theirs = outcome(self.emulated, operation, arguments), outcome(self.moto, operation, arguments)
        assert ours == theirs, f"{operation}({arguments})"
        return ours

    def same_page(self, operation: str, **arguments: Any) -> Any:
        """One page of a Query or Scan with a Limit, compared with moto's. The one deliberate difference: a page
        that stopped at the Limit carries a LastEvaluatedKey even when nothing follows, as DynamoDB's does (moto
        leaves it out); the page after it is then empty and the last."""
        ours, theirs = outcome(self.emulated, operation, arguments), outcome(self.moto, operation, arguments)
        if "LastEvaluatedKey" in ours and "LastEvaluatedKey" not in theirs and "error" not in theirs:
            assert ours["ScannedCount"] == arguments["Limit"]
            following = canonical(
                getattr(self.emulated, operation)(**arguments, ExclusiveStartKey=ours["LastEvaluatedKey"])
            )
            assert (following.get("Items", []), following["Count"], "LastEvaluatedKey" in following) == ([], 0, False)
            ours = {key: value for key, value in ours.items() if key != "LastEvaluatedKey"}
        assert ours == theirs, f"{operation}({arguments})"
        return ours

    def same_pages(self, operation: str, ordered: bool = True, **arguments: Any) -> list[Any]:
        """Every page of a Query or Scan (until no LastEvaluatedKey), each client paging on its own keys: the
        items of all pages together and their count are the same (the emulator's last page may be empty)."""
        collected = []
        for client in (self.emulated, self.moto):
            items: list[Any] = []
            counted = pages = 0
            request = dict(arguments)
            while True:
                page = canonical(getattr(client, operation)(**request))
                items += page.get("Items", [])
                counted += page["Count"]
                pages += 1
                assert pages <= 1000, "paging does not end"
                if "LastEvaluatedKey" not in page:
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            collected.append((items if ordered else sorted(items, key=item_key), counted))
        assert collected[0] == collected[1], f"{operation}({arguments})"
        return list(collected[0][0])


@pytest.fixture
def pair(emulator: Dynamodb) -> Iterator[Pair]:
    """Both, with both tables and the same items: four commands (the last with no template: sparse in byTemplate),
    six executions each (only queued ones in the inbox index), and plain items of every attribute type."""
    from moto import mock_aws

    problems: list[str] = []
    with mock_aws():
        pair = Pair(client_of(emulator, problems), client_of(None))
        for client in (pair.emulated, pair.moto):
            create_tables(client)
        for item in seed_items():
            pair.same("put_item", TableName=COMMANDS if "commandId" in item else PLAIN, Item=item)
        yield pair
    assert problems == []


RICH = {
    "n": {"N": "5"},
    "name": {"S": "alpha"},
    "counts": {"M": {"queued": {"N": "2"}, "done": {"N": "0"}}},
    "tags": {"SS": ["x", "y"]},
    "numbers": {"NS": ["1", "2.5"]},
    "blobs": {"BS": ["AAE=", "AgM="]},
    "l": {"L": [{"S": "a"}, {"N": "1"}, {"M": {"deep": {"S": "d"}}}]},
    "flag": {"BOOL": True},
    "nothing": {"NULL": True},
    "bin": {"B": "AAEC"},
}


def seed_items() -> list[dict[str, Any]]:
    statuses = ["queued", "running", "succeeded", "failed", "queued", "timed_out"]
    items: list[dict[str, Any]] = []
    for number in range(4):
        command: dict[str, Any] = {
            "commandId": {"S": f"cmd-{number}"},
            "itemKey": {"S": "command"},
            "kind": {"S": "command"},
            "commandStatus": {"S": ["draft", "in_progress", "in_progress", "done"][number]},
            "createdAt": {"S": f"2026-01-0{number + 1}T00:00:00Z"},
            "counts": {"M": {"queued": {"N": "2"}, "running": {"N": "1"}}},
        }
        if number < 3:
            command["templateRef"] = {"S": "ota" if number % 2 == 0 else "reboot"}
        items.append(command)
        for thing in range(6):
            execution = {
                "commandId": {"S": f"cmd-{number}"},
                "itemKey": {"S": f"exec#dev-{thing}"},
                "thingName": {"S": f"dev-{thing}"},
                "createdAt": {"S": f"2026-01-0{number + 1}T00:0{thing}:00Z"},
                "status": {"S": statuses[thing]},
            }
            if statuses[thing] == "queued":
                execution |= {"inboxThing": {"S": f"dev-{thing}"}, "queuedAt": {"S": f"2026-01-0{number + 1}-{thing}"}}
            items.append(execution)
    items += [{"id": {"S": key}} | RICH for key in ("a", "a-NONE", "a-ALL_OLD", "a-ALL_NEW")]
    items += [{"id": {"S": f"p{number}"}, "n": {"N": str(number)}, "name": {"S": "beta"}} for number in range(5)]
    return items


# --- single items, against moto -------------------------------------------------------------------------------


def test_puts_gets_and_deletes_with_conditions_match_moto(pair: Pair) -> None:
    # Given an item, when it is put again only if absent, then the put fails, with the old item when asked
    new = {"id": {"S": "new"}, "n": {"N": "1"}}
    absent = "attribute_not_exists(id)"
    pair.same("put_item", TableName=PLAIN, Item=new, ConditionExpression=absent)
    failed = pair.same("put_item", TableName=PLAIN, Item=new, ConditionExpression=absent)
    assert failed == {"error": "ConditionalCheckFailedException"}
    failed = pair.same(
        "put_item", TableName=PLAIN, Item=new, ConditionExpression=absent, ReturnValuesOnConditionCheckFailure="ALL_OLD"
    )
    assert failed["item"] == new

    # When it is replaced, then ALL_OLD returns what it was; a new item returns nothing
    replaced = pair.same("put_item", TableName=PLAIN, Item=new | {"n": {"N": "2"}}, ReturnValues="ALL_OLD")
    assert replaced == {"Attributes": new}
    assert pair.same("put_item", TableName=PLAIN, Item={"id": {"S": "other"}}, ReturnValues="ALL_OLD") == {}

    # Then reads return the item, a projection of it (nested paths, a list element, every type), or nothing
    assert pair.same("get_item", TableName=PLAIN, Key={"id": {"S": "new"}})["Item"]["n"] == {"N": "2"}
    projection = "n, #name, counts.#s, l[0], bin, tags, numbers, blobs, nothing, flag"
    projected = pair.same(
        "get_item", TableName=PLAIN, Key={"id": {"S": "a"}}, ProjectionExpression=projection, **placeholders(projection)
    )
    assert projected["Item"]["counts"] == {"M": {"queued": {"N": "2"}}}
    assert projected["Item"]["l"] == {"L": [{"S": "a"}]}
    assert pair.same("get_item", TableName=PLAIN, Key={"id": {"S": "missing"}}) == {}

    # When deletes are conditional, then a failing one keeps the item and a passing one returns it
    failed = pair.same(
        "delete_item", TableName=PLAIN, Key={"id": {"S": "new"}}, ConditionExpression="attribute_exists(absent)"
    )
    assert failed == {"error": "ConditionalCheckFailedException"}
    condition = {"ConditionExpression": "n = :two"} | placeholders("n = :two")
    deleted = pair.same("delete_item", TableName=PLAIN, Key={"id": {"S": "new"}}, ReturnValues="ALL_OLD", **condition)
    assert deleted["Attributes"]["n"] == {"N": "2"}
    assert pair.same("delete_item", TableName=PLAIN, Key={"id": {"S": "new"}}, ReturnValues="ALL_OLD") == {}
    assert pair.same("get_item", TableName=PLAIN, Key={"id": {"S": "new"}}) == {}


CONDITIONS = [
    ("n < :ten", True),
    ("n <= :five", True),
    ("n > :ten", False),
    ("n >= :five", True),
    ("n = :five", True),
    ("n <> :five", False),
    ("n BETWEEN :one AND :ten", True),
    ("n BETWEEN :ten AND :ten", False),
    ("#name IN (:alpha, :beta)", True),
    ("#name IN (:beta, :x)", False),
    ("begins_with(#name, :al)", True),
    ("begins_with(#name, :x)", False),
    ("contains(tags, :x)", True),
    ("contains(tags, :z)", False),
    ("size(l) > :two", True),
    ("size(#name) = :five", True),
    ("attribute_type(n, :N)", True),
    ("attribute_exists(counts.queued) AND counts.#s > :one", True),
    ("counts.#t > :zero", False),
    ("counts.#t > :zero OR n > :one", True),
    ("NOT attribute_exists(absent) AND (n < :one OR flag = :x)", False),
    ("attribute_not_exists(counts.#status)", True),
    ("numbers = :half", False),
]


def test_conditions_hold_or_fail_as_in_moto(pair: Pair) -> None:
    update = "SET hits = if_not_exists(hits, :zero) + :one"
    hits = 0
    for condition, holds in CONDITIONS:
        # When the item a is updated under each condition in turn
        answer = pair.same(
            "update_item",
            TableName=PLAIN,
            Key={"id": {"S": "a"}},
            UpdateExpression=update,
            ConditionExpression=condition,
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
            **placeholders(update, condition),
        )
        # Then it changes when the condition holds, and otherwise fails returning the item as it is
        if holds:
            hits += 1
            assert answer["Attributes"]["hits"] == {"N": str(hits)}, condition
        else:
            assert answer["error"] == "ConditionalCheckFailedException", condition
            assert answer["item"].get("hits") == ({"N": str(hits)} if hits else None), condition


UPDATES = [
    "SET n = n + :five, counts.#s = counts.#s - :one, counts.#t = if_not_exists(counts.#t, :zero) + :one",
    "SET counts.#status = if_not_exists(counts.#status, :zero) + :two",
    "SET l = list_append(l, :more)",
    "SET l = list_append(:first, l)",
    "SET l[1] = :ten, newer = :alpha",
    "REMOVE flag, counts.#t, l[0]",
    "ADD n :five, tags :zz, numbers :seven, fresh :one",
    "DELETE tags :xs",
    "SET n = :half - n",
    "SET created = :counts",
]


def test_update_expressions_change_items_as_in_moto(pair: Pair) -> None:
    # Given copies of one item, when each update applies in turn, returning nothing, the old or the new item
    # (and once to an item that does not exist yet)
    for update in UPDATES:
        for returning in ("NONE", "ALL_OLD", "ALL_NEW"):
            for key in (f"a-{returning}", f"new-{returning}"):
                if key.startswith("new") and update.endswith("list_append(:first, l)"):
                    continue  # moto fails with an AssertionError; DynamoDB's error is among the errors below
                pair.same(
                    "update_item",
                    TableName=PLAIN,
                    Key={"id": {"S": key}},
                    UpdateExpression=update,
                    ReturnValues=returning,
                    **placeholders(update),
                )
                # Then the item reads back the same after each
                pair.same("get_item", TableName=PLAIN, Key={"id": {"S": key}})


def test_updated_old_returns_the_changed_top_level_attributes_as_they_were_as_in_moto(pair: Pair) -> None:
    # Given the item a, when top-level attributes change, one is added and one removed, with UPDATED_OLD
    update = "SET n = n + :one, newer = :alpha REMOVE flag ADD tags :zz"
    answer = pair.same(
        "update_item",
        TableName=PLAIN,
        Key={"id": {"S": "a"}},
        UpdateExpression=update,
        ReturnValues="UPDATED_OLD",
        **placeholders(update),
    )
    # Then the attributes that were there are returned as they were (the set too)
    assert answer == {"Attributes": {"n": {"N": "5"}, "flag": {"BOOL": True}, "tags": {"SS": ["x", "y"]}}}


def test_updated_values_are_the_paths_the_expression_names_as_dynamodb_returns_them(dynamo: Any) -> None:
    # Deliberately not moto's answer: moto returns the whole top-level attribute for a nested UPDATED_OLD, and
    # for UPDATED_NEW leaves out an attribute added or set to the value it had; DynamoDB returns the paths the
    # expression names.
    counts = {"M": {"queued": {"N": "2"}, "done": {"N": "0"}}}
    dynamo.put_item(TableName=PLAIN, Item={"id": {"S": "a"}, "n": {"N": "1"}, "counts": counts})
    update = "SET counts.#s = counts.#s - :one, n = :one, newer = :alpha ADD tags :zz"
    expected = {
        "UPDATED_OLD": {"counts": {"M": {"queued": {"N": "2"}}}, "n": {"N": "1"}},
        "UPDATED_NEW": {
            "counts": {"M": {"queued": {"N": "0"}}},
            "n": {"N": "1"},
            "newer": {"S": "alpha"},
            "tags": {"SS": ["z", "zz"]},
        },
    }
    for returning, attributes in expected.items():
        answer = dynamo.update_item(
            TableName=PLAIN,
            Key={"id": {"S": "a"}},
            UpdateExpression=update,
            ReturnValues=returning,
            **placeholders(update),
        )
        assert answer["Attributes"] == attributes
    # And a path that did not exist before has no old value
    answer = dynamo.update_item(
        TableName=PLAIN,
        Key={"id": {"S": "a"}},
        UpdateExpression="SET fresh = :one",
        ReturnValues="UPDATED_OLD",
        **placeholders(":one"),
    )
    assert "Attributes" not in answer


def test_a_projection_of_several_list_elements_keeps_each_in_index_order(dynamo: Any) -> None:
    # Deliberately not moto's answer: moto keeps one element of the list; DynamoDB keeps each path asked for.
    listed = {"L": [{"S": "a"}, {"N": "1"}, {"M": {"deep": {"S": "d"}, "other": {"S": "o"}}}]}
    dynamo.put_item(TableName=PLAIN, Item={"id": {"S": "a"}, "l": listed})
    # When element 0 and a key of element 2 are projected, with paths that lead nowhere
    projection = "l[2].deep, l[0], absent, l[7]"
    item = dynamo.get_item(TableName=PLAIN, Key={"id": {"S": "a"}}, ProjectionExpression=projection)["Item"]
    # Then the list holds both, in index order, and nothing else is there
    assert item == {"l": {"L": [{"S": "a"}, {"M": {"deep": {"S": "d"}}}]}}


def test_a_set_grown_by_add_is_returned_as_it_was_before(dynamo: Any) -> None:
    # Given an item with a string set
    dynamo.put_item(TableName=PLAIN, Item={"id": {"S": "a"}, "tags": {"SS": ["x"]}})
    # When a value is added to the set, with the old item asked back
    answer = dynamo.update_item(
        TableName=PLAIN,
        Key={"id": {"S": "a"}},
        UpdateExpression="ADD tags :zz",
        ReturnValues="ALL_OLD",
        **placeholders(":zz"),
    )
    # Then the old item has the set as it was, and the item has it grown
    assert answer["Attributes"]["tags"] == {"SS": ["x"]}
    assert sorted(dynamo.get_item(TableName=PLAIN, Key={"id": {"S": "a"}})["Item"]["tags"]["SS"]) == ["x", "z", "zz"]


# --- reads of many, against moto ------------------------------------------------------------------------------


def s(value: str) -> dict[str, str]:
    return {"S": value}


TABLE_QUERIES = [
    ("commandId = :c", {":c": s("cmd-1")}),
    ("commandId = :c AND itemKey = :k", {":c": s("cmd-1"), ":k": s("exec#dev-2")}),
    ("commandId = :c AND itemKey < :k", {":c": s("cmd-1"), ":k": s("exec#dev-2")}),
    ("commandId = :c AND itemKey <= :k", {":c": s("cmd-1"), ":k": s("exec#dev-2")}),
    ("commandId = :c AND itemKey > :k", {":c": s("cmd-1"), ":k": s("exec#dev-2")}),
    ("commandId = :c AND itemKey >= :k", {":c": s("cmd-1"), ":k": s("exec#dev-2")}),
    ("commandId = :c AND itemKey BETWEEN :a AND :b", {":c": s("cmd-2"), ":a": s("exec#dev-1"), ":b": s("exec#dev-4")}),
    ("commandId = :c AND begins_with(itemKey, :p)", {":c": s("cmd-3"), ":p": s("exec#")}),
    ("commandId = :c AND begins_with(itemKey, :p)", {":c": s("cmd-3"), ":p": s("command")}),
    ("commandId = :c", {":c": s("cmd-9")}),
]
INDEX_QUERIES = [
    ("byKind", "kind = :k", {":k": s("command")}),
    ("byKind", "kind = :k AND createdAt > :t", {":k": s("command"), ":t": s("2026-01-02")}),
    (
        "byStatus",
        "commandStatus = :s AND createdAt BETWEEN :a AND :b",
        {":s": s("in_progress"), ":a": s("2026-01-02"), ":b": s("2026-01-03T00:00:00Z")},
    ),
    ("byTemplate", "templateRef = :t", {":t": s("ota")}),
    ("byThing", "thingName = :t", {":t": s("dev-3")}),
    ("byThing", "thingName = :t AND begins_with(createdAt, :p)", {":t": s("dev-0"), ":p": s("2026-01-02")}),
    ("byThing", "thingName = :t AND createdAt <= :c", {":t": s("dev-1"), ":c": s("2026-01-03T00:01:00Z")}),
    ("byThing", "thingName = :t AND createdAt < :c", {":t": s("dev-1"), ":c": s("2026-01-03T00:01:00Z")}),
    ("byThing", "thingName = :t AND createdAt >= :c", {":t": s("dev-5"), ":c": s("2026-01-02T00:05:00Z")}),
    ("inbox", "inboxThing = :t", {":t": s("dev-0")}),
    ("inbox", "inboxThing = :t AND queuedAt = :q", {":t": s("dev-4"), ":q": s("2026-01-02-4")}),
    ("inbox", "inboxThing = :t", {":t": s("dev-1")}),  # sparse: dev-1's executions are never queued
]


def check_query(pair: Pair, query: dict[str, Any]) -> None:
    """The query whole, backwards, counted, filtered and projected, then a page at a time by every limit either
    way, with and without its filter: the same items, in the same order, as moto finds."""
    query = query | {"TableName": COMMANDS}
    found = pair.same("query", **query)
    assert pair.same("query", **query, ScanIndexForward=False)["Items"] == found["Items"][::-1]
    assert pair.same("query", **query, Select="COUNT")["Count"] == found["Count"]
    condition = "#status IN (:queued, :running) OR attribute_exists(kind)"
    filtered = query | {"FilterExpression": condition} | placeholders(condition)
    filtered["ExpressionAttributeValues"] |= query["ExpressionAttributeValues"]
    pair.same("query", **filtered)
    pair.same(
        "query", **query, ProjectionExpression="thingName, #status", ExpressionAttributeNames={"#status": "status"}
    )
    for limit in (1, 3):
        for forward in (True, False):
            pair.same_page("query", **query, Limit=limit, ScanIndexForward=forward)
            pair.same_pages("query", **query, Limit=limit, ScanIndexForward=forward)
            pair.same_pages("query", **filtered, Limit=limit, ScanIndexForward=forward)


def test_table_queries_find_sort_filter_project_count_and_page_as_in_moto(pair: Pair) -> None:
    for key, values in TABLE_QUERIES:
        check_query(pair, {"KeyConditionExpression": key, "ExpressionAttributeValues": values})


def test_index_queries_find_sort_filter_project_count_and_page_as_in_moto(pair: Pair) -> None:
    # The indexes are sparse: only the items that carry an index's keys are in it
    for index, key, values in INDEX_QUERIES:
        check_query(pair, {"IndexName": index, "KeyConditionExpression": key, "ExpressionAttributeValues": values})


def test_a_query_that_ends_exactly_at_its_limit_says_more_may_follow_as_dynamodb_does(dynamo: Any) -> None:
    # Deliberately not moto's answer (it leaves LastEvaluatedKey out when nothing follows)
    for number in range(3):
        dynamo.put_item(TableName=COMMANDS, Item={"commandId": s("c"), "itemKey": s(f"k{number}")})
    query = {
        "TableName": COMMANDS,
        "KeyConditionExpression": "commandId = :c",
        "ExpressionAttributeValues": {":c": s("c")},
    }
    # When a page stops at its Limit with nothing after it
    page = dynamo.query(**query, Limit=3)
    # Then it carries a LastEvaluatedKey, and the next page is empty and the last
    assert (page["Count"], page["LastEvaluatedKey"]) == (3, {"commandId": s("c"), "itemKey": s("k2")})
    following = dynamo.query(**query, Limit=3, ExclusiveStartKey=page["LastEvaluatedKey"])
    assert (following["Items"], "LastEvaluatedKey" in following) == ([], False)
    # And a page that stops before its Limit carries none
    assert "LastEvaluatedKey" not in dynamo.query(**query, Limit=4)


def test_scans_of_the_table_and_of_an_index_find_the_same_items_as_moto(pair: Pair) -> None:
    # Scan order is DynamoDB's to choose: the items are compared, whatever their order
    condition = "attribute_exists(inboxThing) OR n > :two"
    for scan in ({"TableName": COMMANDS}, {"TableName": COMMANDS, "IndexName": "inbox"}, {"TableName": PLAIN}):
        whole = pair.same_pages("scan", ordered=False, **scan)
        assert whole
        for limit in (1, 4, 7):
            assert pair.same_pages("scan", ordered=False, **scan, Limit=limit) == whole
        pair.same_pages("scan", ordered=False, **scan, Limit=3, FilterExpression=condition, **placeholders(condition))
        assert pair.same("scan", **scan, Select="COUNT")["Count"] == len(whole)


def test_index_pages_do_not_lose_or_repeat_items_that_share_an_index_key(dynamo: Any) -> None:
    # Given items with one index key and sort key (they differ only by their table key)
    for number in range(12):
        item = {"commandId": s(f"c{number % 5}"), "itemKey": s(f"k{number}"), "thingName": s("t"), "createdAt": s("x")}
        dynamo.put_item(TableName=COMMANDS, Item=item)
    query = {
        "TableName": COMMANDS,
        "IndexName": "byThing",
        "KeyConditionExpression": "thingName = :t",
        "ExpressionAttributeValues": {":t": s("t")},
    }
    whole = [item_key(item) for item in dynamo.query(**query)["Items"]]
    assert len(set(whole)) == 12
    # When they are read a page at a time, either way
    for limit in (1, 2, 5):
        for forward in (True, False):
            seen: list[tuple[str, str]] = []
            start: dict[str, Any] = {}
            while True:
                page = dynamo.query(**query, Limit=limit, ScanIndexForward=forward, **start)
                seen += [item_key(item) for item in page["Items"]]
                if "LastEvaluatedKey" not in page:
                    break
                start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
            # Then every item comes once, in the order of a whole read
            assert seen == (whole if forward else whole[::-1])


def test_batches_write_and_read_as_in_moto(pair: Pair) -> None:
    # Given a batch of puts and deletes over both tables
    requests = {
        PLAIN: [{"PutRequest": {"Item": {"id": s(f"b{number}"), "n": {"N": str(number)}}}} for number in range(8)]
        + [{"DeleteRequest": {"Key": {"id": s("p1")}}}, {"DeleteRequest": {"Key": {"id": s("never")}}}],
        COMMANDS: [{"DeleteRequest": {"Key": {"commandId": s("cmd-0"), "itemKey": s("exec#dev-0")}}}],
    }
    # When it is written, then nothing is left unprocessed and the tables hold the same items
    assert pair.same("batch_write_item", RequestItems=requests) == {"UnprocessedItems": {}}
    pair.same_pages("scan", ordered=False, TableName=PLAIN)
    inbox = {
        "IndexName": "inbox",
        "KeyConditionExpression": "inboxThing = :t",
        "ExpressionAttributeValues": {":t": s("dev-0")},
    }
    pair.same("query", TableName=COMMANDS, **inbox)

    # When items are read by batch, with a projection, then the same are found (in no particular order)
    keys = [{"id": s(name)} for name in ("b0", "b7", "p1", "a", "missing")]
    wanted = {
        PLAIN: {"Keys": keys, "ProjectionExpression": "id, n, #name", "ExpressionAttributeNames": {"#name": "name"}},
        COMMANDS: {"Keys": [{"commandId": s("cmd-1"), "itemKey": s("command")}]},
    }
    answers = [outcome(client, "batch_get_item", {"RequestItems": wanted}) for client in (pair.emulated, pair.moto)]
    for answer in answers:
        answer["Responses"] = {name: sorted(items, key=item_key) for name, items in answer["Responses"].items()}
    assert answers[0] == answers[1]
    assert [item["id"]["S"] for item in answers[0]["Responses"][PLAIN]] == ["a", "b0", "b7"]


def test_transactions_write_all_or_nothing_with_reasons_as_in_moto(pair: Pair) -> None:
    execution = {"commandId": s("cmd-1"), "itemKey": s("exec#dev-0")}
    command = {"commandId": s("cmd-1"), "itemKey": s("command")}

    def transaction(status_from: str) -> list[dict[str, Any]]:
        return [
            {
                "Update": {
                    "TableName": COMMANDS,
                    "Key": execution,
                    "UpdateExpression": "SET #status = :to_status",
                    "ConditionExpression": "#status = :from_status",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {":from_status": s(status_from), ":to_status": s("running")},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            {
                "Update": {
                    "TableName": COMMANDS,
                    "Key": command,
                    "UpdateExpression": MOVE,
                    "ConditionExpression": "counts.#from > :zero",
                    **placeholders(MOVE, "counts.#from > :zero"),
                }
            },
            {"Put": {"TableName": PLAIN, "Item": {"id": s("log"), "from": s(status_from)}}},
            {
                "ConditionCheck": {
                    "TableName": PLAIN,
                    "Key": {"id": s("a")},
                    "ConditionExpression": "attribute_exists(id)",
                }
            },
        ]

    # When a transaction's condition fails, then it is cancelled with each item's reason and changes nothing
    cancelled = pair.same("transact_write_items", TransactItems=transaction("succeeded"))
    assert cancelled["error"] == "TransactionCanceledException"
    assert [reason["Code"] for reason in cancelled["reasons"]] == ["ConditionalCheckFailed", "None", "None", "None"]
    assert cancelled["reasons"][0]["Item"]["status"] == s("queued")
    assert pair.same("get_item", TableName=PLAIN, Key={"id": s("log")}) == {}

    # When every condition holds, then every item changes
    assert pair.same("transact_write_items", TransactItems=transaction("queued")) == {}
    pair.same("get_item", TableName=COMMANDS, Key=execution)
    moved = pair.same("get_item", TableName=COMMANDS, Key=command)["Item"]["counts"]
    assert moved == {"M": {"queued": {"N": "1"}, "running": {"N": "2"}}}
    pair.same("get_item", TableName=PLAIN, Key={"id": s("log")})

    # And the items read back together the same
    gets = [{"Get": {"TableName": COMMANDS, "Key": key}} for key in (execution, command)]
    gets += [{"Get": {"TableName": PLAIN, "Key": {"id": s(key)}}} for key in ("missing", "a")]
    assert pair.same("transact_get_items", TransactItems=gets)["Responses"][2] == {}
    # With a projection, the emulator answers as DynamoDB does (moto ignores a projection here)
    gets[3]["Get"] |= {"ProjectionExpression": "n, counts.#s", "ExpressionAttributeNames": {"#s": "queued"}}
    answer = pair.emulated.transact_get_items(TransactItems=gets)["Responses"][3]
    assert answer == {"Item": {"n": {"N": "5"}, "counts": {"M": {"queued": {"N": "2"}}}}}


# --- errors ---------------------------------------------------------------------------------------------------

KEY = {"commandId": s("c"), "itemKey": s("k")}
BIG = 400 * 1024


def get(key: dict[str, Any] = KEY, table: str = COMMANDS, **extra: Any) -> tuple[str, dict[str, Any]]:
    return "get_item", {"TableName": table, "Key": key} | extra


def put(item: dict[str, Any], table: str = PLAIN, **extra: Any) -> tuple[str, dict[str, Any]]:
    return "put_item", {"TableName": table, "Item": item} | extra


def update(expression: str, values: dict[str, Any] | None = None, **extra: Any) -> tuple[str, dict[str, Any]]:
    arguments = {"TableName": PLAIN, "Key": {"id": s("b")}, "UpdateExpression": expression} | extra
    return "update_item", arguments | ({"ExpressionAttributeValues": values} if values else {})


def query(key: str, values: dict[str, Any], **extra: Any) -> tuple[str, dict[str, Any]]:
    arguments = {"TableName": COMMANDS, "KeyConditionExpression": key, "ExpressionAttributeValues": values}
    return "query", arguments | extra


def puts(count: int) -> list[dict[str, Any]]:
    return [{"PutRequest": {"Item": {"id": s(f"b{number}")}}} for number in range(count)]


def refused(
    call: tuple[str, dict[str, Any]], fragment: str, code: str = "ValidationException"
) -> tuple[tuple[str, dict[str, Any]], str, str]:
    """A mistaken call, the code DynamoDB refuses it with and a part of its message."""
    return call, code, fragment


ERRORS: dict[str, tuple[tuple[str, dict[str, Any]], str, str]] = {
    "unused names": refused(get(ProjectionExpression="a", ExpressionAttributeNames={"#x": "x"}), "unused"),
    "names without an expression": refused(
        get(ExpressionAttributeNames={"#x": "x"}), "only be specified when using expressions"
    ),
    "unused values": refused(update("SET a = :a", {":a": s("a"), ":b": s("b")}), "unused"),
    "undefined name": refused(get(ProjectionExpression="#x"), "not defined"),
    "undefined value": refused(update("SET a = :a"), "not defined"),
    "key without its sort key": refused(get({"commandId": s("c")}), "does not match the schema"),
    "key with another attribute": refused(get(KEY | {"other": s("x")}), "does not match the schema"),
    "key of the wrong type": refused(get(KEY | {"itemKey": {"N": "1"}}), "Type mismatch for key"),
    "index key of the wrong type": refused(put(KEY | {"kind": {"N": "1"}}, COMMANDS), "Type mismatch for Index Key"),
    "empty string key": refused(get(KEY | {"commandId": s("")}), "empty string"),
    "empty string index key": refused(put(KEY | {"thingName": s("")}, COMMANDS), "empty string"),
    "put without its sort key": refused(put({"commandId": s("c")}, COMMANDS), "Missing the key itemKey"),
    "consistent read on an index": refused(
        query("kind = :k", {":k": s("x")}, IndexName="byKind", ConsistentRead=True), "global secondary indexes"
    ),
    "unknown index": refused(
        query("kind = :k", {":k": s("x")}, IndexName="nope"), "does not have the specified index: nope"
    ),
    "key condition on another attribute": refused(
        query("commandId = :c AND kind = :k", {":c": s("c"), ":k": s("k")}), "missed key schema element"
    ),
    "key condition of the wrong type": refused(
        query("commandId = :c", {":c": {"N": "1"}}), "does not match schema type"
    ),
    "item over 400 KB": refused(put({"id": s("big"), "d": s("x" * (BIG - 5))}), "Item size has exceeded"),
    "update over 400 KB": refused(update("SET d = :d", {":d": s("x" * BIG)}), "Item size"),
    "batch over 25 requests": refused(("batch_write_item", {"RequestItems": {PLAIN: puts(26)}}), "25"),
    "batch with a key twice": refused(
        ("batch_write_item", {"RequestItems": {PLAIN: [*puts(1), {"DeleteRequest": {"Key": {"id": s("b0")}}}]}}),
        "duplicates",
    ),
    "batch get with a key twice": refused(
        ("batch_get_item", {"RequestItems": {PLAIN: {"Keys": [{"id": s("b")}, {"id": s("b")}]}}}), "duplicates"
    ),
    "transaction over 100 items": refused(
        (
            "transact_write_items",
            {"TransactItems": [{"Put": {"TableName": PLAIN, "Item": {"id": s(f"t{n}")}}} for n in range(101)]},
        ),
        "100",
    ),
    "transaction touching an item twice": refused(
        (
            "transact_write_items",
            {
                "TransactItems": [
                    {"Put": {"TableName": PLAIN, "Item": {"id": s("t")}}},
                    {
                        "ConditionCheck": {
                            "TableName": PLAIN,
                            "Key": {"id": s("t")},
                            "ConditionExpression": "attribute_exists(id)",
                        }
                    },
                ]
            },
        ),
        "multiple operations on one item",
    ),
    "missing table": refused(get({"id": s("b")}, "nope"), "not found", "ResourceNotFoundException"),
    "missing table in a transaction": refused(
        ("transact_write_items", {"TransactItems": [{"Put": {"TableName": "nope", "Item": {"id": s("t")}}}]}),
        "not found",
        "ResourceNotFoundException",
    ),
    "legacy Expected": refused(put({"id": s("b")}, Expected={"id": {"Exists": False}}), "legacy parameter Expected"),
    "legacy AttributesToGet": refused(
        get({"id": s("b")}, PLAIN, AttributesToGet=["id"]), "legacy parameter AttributesToGet"
    ),
    "legacy KeyConditions": refused(
        (
            "query",
            {
                "TableName": COMMANDS,
                "KeyConditions": {"commandId": {"ComparisonOperator": "EQ", "AttributeValueList": [s("c")]}},
            },
        ),
        "legacy parameter KeyConditions",
    ),
    "legacy ScanFilter": refused(
        ("scan", {"TableName": PLAIN, "ScanFilter": {"n": {"ComparisonOperator": "NOT_NULL"}}}),
        "legacy parameter ScanFilter",
    ),
    "legacy AttributeUpdates": refused(
        ("update_item", {"TableName": PLAIN, "Key": {"id": s("b")}, "AttributeUpdates": {"n": {"Action": "DELETE"}}}),
        "legacy parameter AttributeUpdates",
    ),
    "a number that is not one": refused(put({"id": s("b"), "n": {"N": "abc"}}), "numeric"),
    "a number too large": refused(put({"id": s("b"), "n": {"N": "1e200"}}), "Number overflow"),
    "a number set with a word": refused(put({"id": s("b"), "n": {"NS": ["1", "x"]}}), "numeric"),
    "a condition value that is not a number": refused(
        put({"id": s("b")}, ConditionExpression="n > :n", ExpressionAttributeValues={":n": {"N": "x"}}), "numeric"
    ),
    "an update value that is not a number": refused(update("SET n = :n", {":n": {"N": "1..2"}}), "numeric"),
    "an empty set": refused(put({"id": s("b"), "e": {"SS": []}}), "string set may not be empty"),
    "a set with a value twice": refused(put({"id": s("b"), "e": {"SS": ["a", "a"]}}), "duplicates"),
    "a reserved word in a projection": refused(
        get({"id": s("b")}, PLAIN, ProjectionExpression="id, status"), "reserved keyword: status"
    ),
    "overlapping projection paths": refused(get({"id": s("b")}, PLAIN, ProjectionExpression="a, a.b"), "overlap"),
    "a reserved word in a condition": refused(
        put({"id": s("b")}, ConditionExpression="attribute_exists(status)"), "reserved keyword"
    ),
    "list_append of nothing": refused(
        update("SET l = list_append(:l, l)", {":l": {"L": [s("x")]}}), "refers to an attribute that does not exist"
    ),
    "updating a key": refused(update("SET id = :n", {":n": s("x")}), "part of the key"),
    "a projection with only the count": refused(
        query("commandId = :c", {":c": s("c")}, Select="COUNT", ProjectionExpression="kind"),
        "Cannot specify the ProjectionExpression",
    ),
    "all attributes of an index that projects some": refused(
        query("templateRef = :t", {":t": s("t")}, IndexName="byTemplate", Select="ALL_ATTRIBUTES"),
        "projection type is not ALL",
    ),
    "projected attributes of a table": refused(
        query("commandId = :c", {":c": s("c")}, Select="ALL_PROJECTED_ATTRIBUTES"),
        "only when Querying using an IndexName",
    ),
    "an invalid ReturnValues": refused(put({"id": s("b")}, ReturnValues="ALL_NEW"), "Return values"),
    # Not emulated, and said so
    "a parallel scan": refused(("scan", {"TableName": PLAIN, "Segment": 0, "TotalSegments": 2}), "parallel scans"),
    "a table keyed by a number": refused(
        (
            "create_table",
            {
                "TableName": "numbers",
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "N"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            },
        ),
        "strings or binary only",
    ),
}


@pytest.fixture(scope="module")
def refusing() -> Iterator[Any]:
    """One emulator for the mistakes: none of them changes anything."""
    emulator = Dynamodb()
    client = client_of(emulator)
    create_tables(client)
    yield client
    emulator.close()


@pytest.mark.parametrize("mistake", list(ERRORS))
def test_mistakes_are_refused_with_dynamodbs_errors(refusing: Any, mistake: str) -> None:
    (operation, arguments), code, fragment = ERRORS[mistake]
    # When the request is sent, then it fails with DynamoDB's error code and message
    refused_code, message = error_of(getattr(refusing, operation), **arguments)
    assert (refused_code, fragment.lower() in message.lower()) == (code, True), message
    # And it changed nothing
    assert refusing.scan(TableName=PLAIN)["Count"] == refusing.scan(TableName=COMMANDS)["Count"] == 0


def test_an_item_of_exactly_400_kb_is_taken_and_one_byte_more_is_not(dynamo: Any) -> None:
    # Given items whose names and values add up to 400 KB ("id" + "big" + "d" = 6 bytes), and one byte more
    exact = {"id": s("big"), "d": s("x" * (BIG - 6))}
    dynamo.put_item(TableName=PLAIN, Item=exact)
    over = exact | {"d": s("x" * (BIG - 5))}
    assert error_of(dynamo.put_item, TableName=PLAIN, Item=over)[0] == "ValidationException"
    # Then the first is kept whole
    assert dynamo.get_item(TableName=PLAIN, Key={"id": s("big")})["Item"] == exact


def test_tables_are_created_once_described_listed_and_deleted(dynamo: Any) -> None:
    # When a table is created again, then DynamoDB's ResourceInUseException
    definition = table_definition(resources.COMMANDS, COMMANDS)
    assert error_of(dynamo.create_table, **definition)[0] == "ResourceInUseException"
    # Then it is described with its keys and indexes, and counts its items
    dynamo.put_item(TableName=COMMANDS, Item=KEY)
    table = dynamo.describe_table(TableName=COMMANDS)["Table"]
    assert (table["TableStatus"], table["ItemCount"], table["KeySchema"]) == ("ACTIVE", 1, definition["KeySchema"])
    indexes = {index["IndexName"]: index["Projection"] for index in table["GlobalSecondaryIndexes"]}
    assert indexes["byTemplate"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["commandStatus"]}
    assert set(indexes) == {index.name for index in resources.COMMANDS.indexes}
    assert dynamo.list_tables()["TableNames"] == [COMMANDS, PLAIN]
    # When it is deleted, then it and its items are gone
    dynamo.delete_table(TableName=COMMANDS)
    assert error_of(dynamo.describe_table, TableName=COMMANDS)[0] == "ResourceNotFoundException"
    dynamo.create_table(**definition)
    assert dynamo.scan(TableName=COMMANDS)["Count"] == 0


def test_what_the_emulator_does_not_reproduce_is_as_its_docstring_says(dynamo: Any) -> None:
    # Numbers are kept as written (DynamoDB would answer 1.5 and 100)
    dynamo.put_item(TableName=PLAIN, Item={"id": s("n"), "n": {"N": "1.50"}, "m": {"N": "1E2"}})
    item = dynamo.get_item(TableName=PLAIN, Key={"id": s("n")})["Item"]
    assert (item["n"], item["m"]) == ({"N": "1.50"}, {"N": "1E2"})
    # An error that depends on an item fails a transaction as a ValidationException (DynamoDB would cancel it
    # with a ValidationError reason), and changes nothing
    dynamo.put_item(TableName=PLAIN, Item={"id": s("text"), "t": s("words")})
    items = [
        {"Put": {"TableName": PLAIN, "Item": {"id": s("created")}}},
        {
            "Update": {
                "TableName": PLAIN,
                "Key": {"id": s("text")},
                "UpdateExpression": "ADD t :one",
                **placeholders(":one"),
            }
        },
    ]
    assert error_of(dynamo.transact_write_items, TransactItems=items)[0] == "ValidationException"
    assert dynamo.get_item(TableName=PLAIN, Key={"id": s("created")}).get("Item") is None


# --- atomicity and isolation under threads (the emulator only: moto is not thread-safe) -------------------------

STATUSES = ["queued", "running", "succeeded", "failed"]
MOVE = "SET counts.#from = counts.#from - :one, counts.#to = if_not_exists(counts.#to, :zero) + :one"


def run_threads(count: int, work: Callable[[int], None]) -> None:
    """Runs work(0..count-1) on as many threads, started together; re-raises the first failure."""
    barrier = threading.Barrier(count)
    failures: list[BaseException] = []

    def run(number: int) -> None:
        try:
            barrier.wait()
            work(number)
        except BaseException as failure:  # handed to the test's thread
            failures.append(failure)

    threads = [threading.Thread(target=run, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def move(execution: int, status_from: str, status_to: str) -> list[dict[str, Any]]:
    """The service's status move: the execution from the status it is believed to have to another, and its
    command's counts with it, in one transaction."""
    return [
        {
            "Update": {
                "TableName": COMMANDS,
                "Key": {"commandId": s("cmd"), "itemKey": s(f"exec#{execution:02d}")},
                "UpdateExpression": "SET #status = :to",
                "ConditionExpression": "#status = :from",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {":from": s(status_from), ":to": s(status_to)},
            }
        },
        {
            "Update": {
                "TableName": COMMANDS,
                "Key": {"commandId": s("cmd"), "itemKey": s("command")},
                "UpdateExpression": MOVE,
                "ConditionExpression": "counts.#from > :zero",
                "ExpressionAttributeNames": {"#from": status_from, "#to": status_to},
                "ExpressionAttributeValues": {":one": {"N": "1"}, ":zero": {"N": "0"}},
            }
        },
    ]


MOVED = ("moved",)


def test_concurrent_status_moves_keep_the_counts_equal_to_the_statuses(dynamo: Any) -> None:
    # Given a command with 40 executions, all queued, and their counts on the command item
    executions, workers, moves = 40, 16, 40
    command = {"commandId": s("cmd"), "itemKey": s("command")}
    dynamo.put_item(TableName=COMMANDS, Item=command | {"counts": {"M": {"queued": {"N": str(executions)}}}})
    for number in range(executions):
        dynamo.put_item(
            TableName=COMMANDS, Item={"commandId": s("cmd"), "itemKey": s(f"exec#{number:02d}"), "status": s("queued")}
        )
    outcomes: Counter[tuple[str, ...]] = Counter()

    def work(worker: int) -> None:
        # Beliefs about an execution's status are often stale, and a third of the moves are sent twice (as a
        # redelivered event would be): conflicts, duplicates and cancellations abound.
        chooser = random.Random(worker)
        for _ in range(moves):
            transaction = move(chooser.randrange(executions), *chooser.sample(STATUSES, 2))
            for _ in range(2 if chooser.random() < 0.3 else 1):
                try:
                    dynamo.transact_write_items(TransactItems=transaction)
                    outcomes[MOVED] += 1
                except ClientError as error:
                    reasons = error.response.get("CancellationReasons", [])
                    outcomes[(error.response["Error"]["Code"], *(reason["Code"] for reason in reasons))] += 1

    # When 16 threads move executions at once
    run_threads(workers, work)

    # Then the counts equal the statuses exactly: no move was lost, applied twice or applied in part
    found = dynamo.query(
        TableName=COMMANDS,
        KeyConditionExpression="commandId = :c AND begins_with(itemKey, :e)",
        ExpressionAttributeValues={":c": s("cmd"), ":e": s("exec#")},
    )["Items"]
    statuses = Counter(item["status"]["S"] for item in found)
    counts = dynamo.get_item(TableName=COMMANDS, Key=command)["Item"]["counts"]["M"]
    assert {status: int(count["N"]) for status, count in counts.items() if count["N"] != "0"} == dict(statuses)
    assert sum(statuses.values()) == executions
    # And a move was cancelled only for its execution's status (the counts of a status an execution has are never
    # zero), both ways many times
    cancelled = "TransactionCanceledException", "ConditionalCheckFailed"
    assert set(outcomes) <= {MOVED, (*cancelled, "None"), (*cancelled, "ConditionalCheckFailed")}, outcomes
    assert outcomes[MOVED] > 50
    assert outcomes.total() - outcomes[MOVED] > 50


def test_a_cancelled_transaction_leaves_no_partial_change(dynamo: Any) -> None:
    # Given items, and a transaction whose first items would succeed and whose last fails
    dynamo.put_item(TableName=PLAIN, Item={"id": s("kept"), "n": {"N": "1"}})
    dynamo.put_item(TableName=PLAIN, Item={"id": s("kept2")})
    items = [
        {"Put": {"TableName": PLAIN, "Item": {"id": s("created")}}},
        {
            "Update": {
                "TableName": PLAIN,
                "Key": {"id": s("kept")},
                "UpdateExpression": "SET n = :two",
                "ExpressionAttributeValues": {":two": {"N": "2"}},
            }
        },
        {"Delete": {"TableName": PLAIN, "Key": {"id": s("kept2")}}},
        {
            "ConditionCheck": {
                "TableName": PLAIN,
                "Key": {"id": s("missing")},
                "ConditionExpression": "attribute_exists(id)",
            }
        },
    ]
    # When it runs, then it is cancelled, naming the failing item
    with pytest.raises(ClientError) as raised:
        dynamo.transact_write_items(TransactItems=items)
    reasons = [reason["Code"] for reason in raised.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    # And nothing of it happened
    kept = sorted(dynamo.scan(TableName=PLAIN)["Items"], key=item_key)
    assert kept == [{"id": s("kept"), "n": {"N": "1"}}, {"id": s("kept2")}]


def test_concurrent_conditional_puts_of_one_key_create_it_once(dynamo: Any) -> None:
    created: list[tuple[int, int]] = []
    refused: Counter[str] = Counter()

    def claim(worker: int) -> None:
        for key in range(40):
            try:
                item = {"id": s(f"k{key}"), "owner": {"N": str(worker)}}
                dynamo.put_item(TableName=PLAIN, Item=item, ConditionExpression="attribute_not_exists(id)")
                created.append((key, worker))
            except ClientError as error:
                refused[error.response["Error"]["Code"]] += 1

    # When 16 threads each try to create the same 40 keys, only if absent
    run_threads(16, claim)

    # Then each key was created once, by the thread its item names; the others were told it exists
    assert sorted(key for key, _ in created) == list(range(40))
    assert refused == {"ConditionalCheckFailedException": 15 * 40}
    owners = {item["id"]["S"]: item["owner"]["N"] for item in dynamo.scan(TableName=PLAIN)["Items"]}
    assert owners == {f"k{key}": str(worker) for key, worker in created}


def test_a_transactional_read_never_sees_half_a_transaction(dynamo: Any) -> None:
    # Given two items whose numbers add up to 100, moved between by transactions
    for name in ("left", "right"):
        dynamo.put_item(TableName=PLAIN, Item={"id": s(name), "n": {"N": "50"}})
    done = threading.Event()
    seen: list[tuple[int, int]] = []

    def transfer(worker: int) -> None:
        chooser = random.Random(worker)
        for _ in range(40):
            source, target = chooser.sample(["left", "right"], 2)
            amount = {":a": {"N": str(chooser.randint(1, 5))}}
            dynamo.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": PLAIN,
                            "Key": {"id": s(source)},
                            "UpdateExpression": "SET n = n - :a",
                            "ExpressionAttributeValues": amount,
                        }
                    },
                    {
                        "Update": {
                            "TableName": PLAIN,
                            "Key": {"id": s(target)},
                            "UpdateExpression": "SET n = n + :a",
                            "ExpressionAttributeValues": amount,
                        }
                    },
                ]
            )

    def read() -> None:
        gets = [{"Get": {"TableName": PLAIN, "Key": {"id": s(name)}}} for name in ("left", "right")]
        while not done.is_set():
            answers = dynamo.transact_get_items(TransactItems=gets)["Responses"]
            left, right = (int(answer["Item"]["n"]["N"]) for answer in answers)
            seen.append((left, right))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        # When 8 threads transfer while another reads both items together
        run_threads(8, transfer)
    finally:
        done.set()
        reader.join()

    # Then every pair read adds up, and the reads saw the numbers change
    assert [pair for pair in seen if sum(pair) != 100] == []
    assert len(set(seen)) > 1


# --- memory and reading shape ---------------------------------------------------------------------------------


def test_a_query_reads_only_its_partition_and_stops_at_its_limit(dynamo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given 40 commands of 25 items each
    for command in range(40):
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        "commandId": s(f"c{command:02d}"),
                        "itemKey": s(f"k{item:02d}"),
                        "thingName": s(f"t{item % 5}"),
                        "createdAt": s(f"{command:02d}"),
                    }
                }
            }
            for item in range(25)
        ]
        dynamo.batch_write_item(RequestItems={COMMANDS: requests})
    decoded: list[tuple[str, str]] = []
    select = Rows.select

    def counted(self: Rows, sql: str, parameters: tuple[Any, ...]) -> Iterator[tuple[int, Any]]:
        for size, item in select(self, sql, parameters):
            decoded.append((item["commandId"]["S"], item["thingName"]["S"]))
            yield size, item

    monkeypatch.setattr(Rows, "select", counted)

    # When one command's items are queried, then only its 25 rows are read
    found = dynamo.query(TableName=COMMANDS, **placeholder_query("commandId = :c", c="c17"))
    assert (found["Count"], len(decoded), {command for command, _ in decoded}) == (25, 25, {"c17"})

    # When a page of 3 is asked, then 3 rows are read
    decoded.clear()
    dynamo.query(TableName=COMMANDS, Limit=3, **placeholder_query("commandId = :c", c="c03"))
    assert len(decoded) == 3

    # When part of an index partition is queried, then only its rows are read
    decoded.clear()
    found = dynamo.query(
        TableName=COMMANDS,
        IndexName="byThing",
        **placeholder_query("thingName = :t AND createdAt >= :c", t="t3", c="35"),
    )
    assert (found["Count"], len(decoded), {thing for _, thing in decoded}) == (25, 25, {"t3"})


def placeholder_query(key_condition: str, **values: str) -> dict[str, Any]:
    return {
        "KeyConditionExpression": key_condition,
        "ExpressionAttributeValues": {f":{k}": s(v) for k, v in values.items()},
    }


def heap_growth(emulator: Dynamodb, target: dict[str, str], bodies: list[bytes]) -> int:
    """The bytes the Python heap grew by while the emulator answered the requests, each a 200."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for body in bodies:
            answer = emulator.handle("POST", ENDPOINT, target, body)
            assert answer is not None
            assert answer[0] == 200, answer
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_twenty_thousand_items_live_in_sqlite_not_in_the_python_heap(emulator: Dynamodb) -> None:
    # Given a table, and 20,000 items of about 1 KB in BatchWriteItem requests of 25, as the wire carries them
    # (to the emulator's HTTP entry point: through boto3 the tracing would take three times as long)
    client = client_of(emulator)
    create_tables(client)
    target = {"X-Amz-Target": "DynamoDB_20120810.BatchWriteItem"}
    filler = "x" * 1000
    bodies = [
        json.dumps(
            {
                "RequestItems": {
                    PLAIN: [
                        {"PutRequest": {"Item": {"id": s(f"{batch:03d}-{number:02d}"), "data": s(filler)}}}
                        for number in range(25)
                    ]
                }
            }
        ).encode()
        for batch in range(800)
    ]
    assert emulator.handle("POST", ENDPOINT, target, bodies[0])
    # When they are written while the Python heap is traced
    grown = heap_growth(emulator, target, bodies[1:])
    # Then they are all there
    assert client.describe_table(TableName=PLAIN)["Table"]["ItemCount"] == 20_000
    # And the heap grew by far less than they take: as Python objects they would take about 30 MB (about 1.5 KB
    # each), while SQLite's pages are not on the Python heap; 3 MB leaves room for caches and allocator noise,
    # yet fails if even a tenth of the items were kept in memory.
    assert grown < 3 * 1024 * 1024, f"the Python heap grew by {grown} bytes"


def test_conditional_updates_leave_nothing_behind_on_the_heap(emulator: Dynamodb) -> None:
    # Given an item with a few attributes, as the service's counts item has
    client = client_of(emulator)
    create_tables(client)
    client.put_item(TableName=PLAIN, Item={"id": s("counts"), "SUCCEEDED": {"N": "0"}, "label": s("x" * 200)})
    target = {"X-Amz-Target": "DynamoDB_20120810.UpdateItem"}
    body = json.dumps(
        {
            "TableName": PLAIN,
            "Key": {"id": s("counts")},
            "UpdateExpression": "ADD #status :one",
            "ConditionExpression": "attribute_exists(id) AND #status >= :zero",
            "ExpressionAttributeNames": {"#status": "SUCCEEDED"},
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":zero": {"N": "0"}},
        }
    ).encode()
    assert emulator.handle("POST", ENDPOINT, target, body)
    # When it is updated 3,000 times, each update with a condition, while the Python heap is traced
    grown = heap_growth(emulator, target, [body] * 3_000)
    # Then every update counted
    counts = client.get_item(TableName=PLAIN, Key={"id": s("counts")})["Item"]["SUCCEEDED"]
    assert counts == {"N": "3001"}
    # And the heap did not keep what each evaluation made: an item kept per update (as moto's models keep every
    # instance made) would take over 3 MB here; 1 MB leaves room for caches and allocator noise.
    assert grown < 1024 * 1024, f"the Python heap grew by {grown} bytes"


def test_closing_the_emulator_removes_its_temporary_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Given an emulator holding an item, its file in a temporary folder of its own
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    emulator = Dynamodb()
    client = client_of(emulator)
    create_tables(client)
    client.put_item(TableName=PLAIN, Item={"id": s("a")})
    assert [path.name for path in tmp_path.rglob("*.sqlite")] == ["items.sqlite"]
    # When it is closed (twice: the second is harmless), then nothing of it is left
    emulator.close()
    emulator.close()
    assert list(tmp_path.iterdir()) == []


def test_consumed_capacity_is_what_dynamodb_charges_for_the_items_sizes(dynamo: Any) -> None:
    """Units from the items' sizes: writes per KB of the larger image, reads per 4 KB (half when eventually
    consistent), transactions twice, each index entry a write of what it projects; nothing unless asked."""
    text = {"S": "x" * 1500}  # an item of about 1.5 KB
    total = {"ReturnConsumedCapacity": "TOTAL"}
    put = dynamo.put_item(TableName=PLAIN, Item={"id": {"S": "a"}, "body": text}, **total)
    assert put["ConsumedCapacity"] == {
        "TableName": PLAIN,
        "CapacityUnits": 2.0,
        "ReadCapacityUnits": 0.0,
        "WriteCapacityUnits": 2.0,
    }
    assert "ConsumedCapacity" not in dynamo.get_item(TableName=PLAIN, Key={"id": {"S": "a"}})
    read = dynamo.get_item(TableName=PLAIN, Key={"id": {"S": "a"}}, **total)["ConsumedCapacity"]
    assert read["ReadCapacityUnits"] == 0.5
    read = dynamo.get_item(TableName=PLAIN, Key={"id": {"S": "a"}}, ConsistentRead=True, **total)
    assert read["ConsumedCapacity"]["ReadCapacityUnits"] == 1.0
    missing = dynamo.get_item(TableName=PLAIN, Key={"id": {"S": "none"}}, **total)["ConsumedCapacity"]
    assert missing["ReadCapacityUnits"] == 0.5  # a read that finds nothing still costs its minimum

    grown = dynamo.update_item(
        TableName=PLAIN,
        Key={"id": {"S": "a"}},
        UpdateExpression="SET more = :more",
        ExpressionAttributeValues={":more": {"S": "y" * 3500}},
        **total,
    )
    assert grown["ConsumedCapacity"]["WriteCapacityUnits"] == 5.0  # the larger image: about 5 KB after
    shrunk = dynamo.update_item(TableName=PLAIN, Key={"id": {"S": "a"}}, UpdateExpression="REMOVE more", **total)
    assert shrunk["ConsumedCapacity"]["WriteCapacityUnits"] == 5.0  # ... and before

    dynamo.put_item(TableName=PLAIN, Item={"id": {"S": "b"}, "body": text})
    transaction = dynamo.transact_write_items(
        TransactItems=[
            {"Update": {"TableName": PLAIN, "Key": {"id": {"S": "a"}}, "UpdateExpression": "REMOVE body"}},
            {
                "ConditionCheck": {
                    "TableName": PLAIN,
                    "Key": {"id": {"S": "b"}},
                    "ConditionExpression": "size(body) > :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ],
        **total,
    )
    assert transaction["ConsumedCapacity"] == [
        {"TableName": PLAIN, "CapacityUnits": 8.0, "ReadCapacityUnits": 0.0, "WriteCapacityUnits": 8.0}
    ]

    items = [{"commandId": {"S": "c"}, "itemKey": {"S": f"E#{number}"}, "body": text} for number in range(3)]
    dynamo.batch_write_item(RequestItems={COMMANDS: [{"PutRequest": {"Item": item}} for item in items]})
    query = dynamo.query(
        TableName=COMMANDS,
        KeyConditionExpression="commandId = :c",
        FilterExpression="attribute_not_exists(body)",  # the filter drops all three: they were read all the same
        ExpressionAttributeValues={":c": {"S": "c"}},
        **total,
    )
    assert (query["Count"], query["ConsumedCapacity"]["ReadCapacityUnits"]) == (0, 1.0)  # 4.5 KB: 2 units, halved


def test_consumed_capacity_counts_each_index_entry_a_write_changes(dynamo: Any) -> None:
    indexes = {"ReturnConsumedCapacity": "INDEXES"}
    key = {"commandId": {"S": "c"}, "itemKey": {"S": "E#t"}}
    item = key | {
        "thingName": {"S": "t"},
        "createdAt": {"S": "2026"},
        "inboxThing": {"S": "t"},
        "queuedAt": {"S": "2026"},
        "phase": {"S": "QUEUED"},
    }
    created = dynamo.put_item(TableName=COMMANDS, Item=item, **indexes)["ConsumedCapacity"]
    assert created["Table"]["WriteCapacityUnits"] == 1.0
    assert created["GlobalSecondaryIndexes"] == {
        "byThing": {"CapacityUnits": 1.0, "ReadCapacityUnits": 0.0, "WriteCapacityUnits": 1.0},
        "inbox": {"CapacityUnits": 1.0, "ReadCapacityUnits": 0.0, "WriteCapacityUnits": 1.0},
    }
    assert created["WriteCapacityUnits"] == 3.0

    def update(expression: str, **values: Any) -> dict[str, Any]:
        answer = dynamo.update_item(
            TableName=COMMANDS,
            Key=key,
            UpdateExpression=expression,
            **({"ExpressionAttributeValues": {name: {"S": value} for name, value in values.items()}} if values else {}),
            **indexes,
        )
        written = answer["ConsumedCapacity"].get("GlobalSecondaryIndexes", {})
        return {name: units["WriteCapacityUnits"] for name, units in written.items()}

    # inbox projects every attribute, byThing its keys only: a change of another attribute writes inbox alone.
    assert update("SET phase = :s", **{":s": "SUCCEEDED"}) == {"inbox": 1.0}
    assert update("SET templateRef = :r", **{":r": "tpl"}) == {"inbox": 1.0, "byTemplate": 1.0}  # joins byTemplate
    # byTemplate projects its keys and commandStatus only: another attribute's change does not touch its entry.
    assert update("SET note = :n", **{":n": "hello"}) == {"inbox": 1.0}
    assert update("SET thingName = :t", **{":t": "u"}) == {"inbox": 1.0, "byThing": 2.0}  # moved: out and in
    assert update("REMOVE inboxThing") == {"inbox": 1.0}  # left the sparse index: its entry removed
