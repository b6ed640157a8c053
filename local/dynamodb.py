"""The embedded endpoint's DynamoDB: the operations the service uses, over DynamoDB's JSON wire protocol, with
items in SQLite.

moto's DynamoDB keeps every item as Python objects, takes no lock, copies a whole table for each
TransactWriteItems and reads every item of a table for each Query: at fleet scale it loses updates under
concurrent requests, grows memory without bound and slows down with every command. This emulator keeps what
DynamoDB guarantees and the service relies on:

- Each request is atomic, and TransactWriteItems is all or nothing: writes run one at a time, each inside one
  SQLite transaction that commits when the request succeeds and rolls back otherwise, so a condition and the
  change it guards are never interleaved with another write (TransactGetItems runs alone too).
- Reads never wait for writes: each reads the last committed state (SQLite's write-ahead log) on a connection
  of its own, and every read is strongly consistent.
- A Query reads its partition only, in key order (byte order of the UTF-8 or binary key, as DynamoDB sorts),
  through a table's rows or an index's; it stops after `Limit` items or 1 MB, evaluates the filter after the
  limit, and pages with LastEvaluatedKey, which it returns whenever it stopped early (so a last page may be
  empty, as DynamoDB's may). Sparse indexes hold only the items that carry their keys.
- Items live in a temporary SQLite file, removed when the emulator goes away: memory holds only what a request
  is working on.
- Requests are checked against botocore's model of DynamoDB; expressions (condition, update, filter, key
  condition) are parsed and evaluated by moto's expression engine; expression attribute names and values must
  all be used, and all used ones given, and the values be valid attribute values; key attributes (and key
  condition values) must match the table's schema; Select must suit the projection and the index.
- Where moto's DynamoDB answers otherwise, this emulator answers as DynamoDB: a ProjectionExpression keeps
  each path asked for (list elements in index order; reserved words and overlapping paths refused); UPDATED_OLD
  and UPDATED_NEW return the paths the update expression names, as they were or are, changed or not; a
  TransactGetItems applies its projections; key types, empty index keys, duplicate keys in a batch and batches
  over 25 requests are refused.
- ReturnConsumedCapacity (TOTAL or INDEXES) answers the units DynamoDB charges, from the items' sizes: a read
  a unit per 4 KB (half for an eventually consistent one; a Query or Scan sums the items it read, before its
  filter, and rounds once), a write a unit per KB of the larger of the item before and after (a delete: the item
  it removed), each at least one; a transaction's items twice (a ConditionCheck as a write of the item it
  checks); and each secondary index entry written (added, removed, or changed in what it projects: a moved key
  is a removal and an addition) as a write of its projected size.

What it cannot reproduce: throttling, and capacity or per-partition limits (it counts units, it never refuses them);
the units of a request that fails (DynamoDB charges a failed conditional write but answers an error, so no client
sees them either); eventually consistent reads (an index is up to date as soon as a write commits, where DynamoDB's
lag); TransactionConflict (writes never overlap); TTL expiry, streams, backups, PartiQL, UpdateTable and the legacy
(non-expression) parameters, which are refused; tables keyed by numbers (keys are strings or binary); numbers are
kept as written (DynamoDB normalizes them: 1.50 reads back as 1.5); inside TransactWriteItems, an error that depends
on an item (an operand of the wrong type, an item grown past 400 KB) fails the request with a ValidationException,
where DynamoDB cancels it with a ValidationError reason.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import math
import queue
import re
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from local.wire import ApiError, Checker, Emulator, json_operation, model

_TARGET = "DynamoDB_20120810."
_ERRORS = "com.amazonaws.dynamodb.v20120810#"
PAGE_BYTES = 1024 * 1024  # a Query or Scan stops once it has read this much (DynamoDB's 1 MB)
ITEM_BYTES = 400 * 1024
MAX_TRANSACTION_ITEMS = 100
MAX_BATCH_WRITE = 25
MAX_BATCH_GET = 100
_PLACEHOLDER = re.compile(r"[#:][A-Za-z0-9_]+")
_UNSUPPORTED = ("Expected", "AttributesToGet", "KeyConditions", "QueryFilter", "ScanFilter", "AttributeUpdates")

_SCHEMA = (
    # sk and isk are b"" where a table or an index has no sort key; size is the item's DynamoDB size.
    "CREATE TABLE IF NOT EXISTS items (tbl TEXT, pk BLOB, sk BLOB, size INTEGER, data TEXT,"
    " PRIMARY KEY (tbl, pk, sk)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS entries (tbl TEXT, idx TEXT, ipk BLOB, isk BLOB, pk BLOB, sk BLOB,"
    " PRIMARY KEY (tbl, idx, ipk, isk, pk, sk)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS entries_of_item ON entries (tbl, pk, sk)",
)


def _error(code: str, message: str, **extra: Any) -> ApiError:
    error = ApiError(code, message)
    error.body |= extra
    return error


def _invalid(message: str) -> ApiError:
    return _error("ValidationException", message)


# --- storage --------------------------------------------------------------------------------------------------


class Store:
    """A SQLite database with one writer at a time and any number of readers."""

    def __init__(self) -> None:
        self._folder = tempfile.mkdtemp(prefix="iot-commands-dynamodb-")
        self._path = str(Path(self._folder) / "items.sqlite")
        self._writer = self._connect()
        for statement in _SCHEMA:
            self._writer.execute(statement)
        self._lock = threading.RLock()
        self._depth = 0
        self._owner: int | None = None
        self._readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._connections: list[sqlite3.Connection] = [self._writer]
        self._pool = threading.Lock()  # guards _connections, so that a new reader never waits for a write
        self._closed = False

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        # The data lives as long as the process: durability on disk buys nothing, speed does.
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA busy_timeout=30000")
        return connection

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        """Runs the block alone, as one transaction (re-entrant: a nested block joins the outer one)."""
        with self._lock:
            if self._depth == 0:
                self._writer.execute("BEGIN IMMEDIATE")
                self._owner = threading.get_ident()
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None
                    self._writer.execute("ROLLBACK")
                raise
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._writer.execute("COMMIT")

    @contextlib.contextmanager
    def all_or_nothing(self) -> Iterator[None]:
        """Inside a write: the block's changes stay only if it completes."""
        self._writer.execute("SAVEPOINT block")
        try:
            yield
        except BaseException:
            self._writer.execute("ROLLBACK TO block")
            self._writer.execute("RELEASE block")
            raise
        self._writer.execute("RELEASE block")

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A connection to read from: the writer's inside a write (it must see its own changes), else one of
        the readers, each seeing the last commit."""
        if self._owner == threading.get_ident():
            yield self._writer
            return
        try:
            connection = self._readers.get_nowait()
        except queue.Empty:
            connection = self._connect()
            with self._pool:
                self._connections.append(connection)
        try:
            yield connection
        finally:
            self._readers.put(connection)

    def change(self, sql: str, parameters: tuple[Any, ...] = ()) -> None:
        if self._owner != threading.get_ident():
            raise RuntimeError("a change outside a write")
        self._writer.execute(sql, parameters)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._pool:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(sqlite3.Error):
                connection.close()
        shutil.rmtree(self._folder, ignore_errors=True)


# --- items ----------------------------------------------------------------------------------------------------

Wire = dict[str, Any]  # an item or key as the wire carries it: {"name": {"S": "..."}}


def key_bytes(value: Mapping[str, Any]) -> bytes:
    """A key value ({"S": ...} or {"B": base64}) as bytes whose order is DynamoDB's: UTF-8 for strings (the
    order of code points), the bytes themselves for binary."""
    ((kind, raw),) = value.items()
    return raw.encode() if kind == "S" else base64.b64decode(raw)


def to_moto(item: Wire | None) -> Any:
    """A wire item as moto's Item, which moto's expressions evaluate (None stays None)."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    if item is None:
        return None
    attrs = LimitedSizeDict.__new__(LimitedSizeDict)  # its size check ran when the item was written
    dict.__init__(attrs)
    for name, value in item.items():
        dict.__setitem__(attrs, name, DynamoType(value))
    # Not Item(...) nor Item.__new__: moto's models list every instance made, for good, so each evaluation would stay.
    moto_item: Any = object.__new__(Item)
    moto_item.attrs, moto_item.hash_key, moto_item.range_key = attrs, None, None
    return moto_item


def from_moto(item: Any) -> Wire:
    return {name: _value(value) for name, value in item.attrs.items()}


def _value(value: Any) -> Any:
    inner = value.value
    if isinstance(inner, list) and value.type == "L":
        inner = [_value(entry) for entry in inner]
    elif isinstance(inner, dict):
        inner = {name: _value(entry) for name, entry in inner.items()}
    return {value.type: inner}


def item_size(item: Wire) -> int:
    """An item's size as DynamoDB counts it: names and values in bytes (numbers about a byte per two digits)."""
    return sum(len(name.encode()) + _size(value) for name, value in item.items())


def _size(value: Mapping[str, Any]) -> int:
    ((kind, raw),) = value.items()
    scalar = _SCALAR_SIZE.get(kind)
    if scalar is not None:
        return scalar(raw)
    if kind in ("SS", "NS", "BS"):
        return sum(_size({kind[0]: entry}) for entry in raw)
    if kind == "L":
        return 3 + sum(1 + _size(entry) for entry in raw)
    return 3 + sum(1 + len(name.encode()) + _size(entry) for name, entry in raw.items())


_SCALAR_SIZE: dict[str, Callable[[Any], int]] = {
    "S": lambda raw: len(raw.encode()),
    "N": lambda raw: len(raw.strip("-").replace(".", "")) // 2 + 1,
    "B": lambda raw: len(raw) * 3 // 4,
    "BOOL": lambda raw: 1,
    "NULL": lambda raw: 1,
}


@dataclass
class Table:
    """A table's schema (moto's Table, which moto's expression code and index projections read) and its rows."""

    spec: Any  # moto's Table
    created: float
    ttl: dict[str, Any] = field(default_factory=lambda: {"TimeToLiveStatus": "DISABLED"})

    @property
    def name(self) -> str:
        return str(self.spec.name)

    @property
    def keys(self) -> list[str]:
        return list(self.spec.table_key_attrs)

    def key_of(self, item: Wire) -> tuple[bytes, bytes]:
        sort = self.spec.range_key_attr
        return key_bytes(item[self.spec.hash_key_attr]), key_bytes(item[sort]) if sort else b""

    def index(self, name: str | None) -> Any:
        if not name:
            return None
        indexes = {index.name: index for index in self.spec.all_indexes()}
        if name not in indexes:
            raise _invalid(f"The table does not have the specified index: {name}")
        return indexes[name]

    def projected(self, index: Any, item: Wire) -> Wire:
        """What of an item the index holds: every attribute, its keys, or its keys and the ones it includes."""
        projection = index.projection or {}
        kind = projection.get("ProjectionType", "ALL")
        if kind == "ALL":
            return item
        kept = {*self.keys, *(key["AttributeName"] for key in index.schema)}
        kept |= set(projection.get("NonKeyAttributes") or []) if kind == "INCLUDE" else set()
        return {name: value for name, value in item.items() if name in kept}

    def position(self, index: Any, item: Wire) -> tuple[bytes, bytes] | None:
        """Where the item sits in the index; None when it lacks a key attribute of the index (a sparse index)."""
        position = []
        for role in ("HASH", "RANGE"):
            names = [key["AttributeName"] for key in index.schema if key["KeyType"] == role]
            if not names:
                position.append(b"")
            elif names[0] in item:
                position.append(key_bytes(item[names[0]]))
            else:
                return None
        return position[0], position[1]


class Rows:
    """Reading and writing items and their index entries."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, table: Table, key: tuple[bytes, bytes]) -> Wire | None:
        with self.store.reading() as connection:
            row = connection.execute(
                "SELECT data FROM items WHERE tbl = ? AND pk = ? AND sk = ?", (table.name, *key)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, table: Table, item: Wire) -> None:
        key = table.key_of(item)
        self.store.change(
            "INSERT OR REPLACE INTO items (tbl, pk, sk, size, data) VALUES (?, ?, ?, ?, ?)",
            (table.name, *key, item_size(item), json.dumps(item, separators=(",", ":"))),
        )
        self.store.change("DELETE FROM entries WHERE tbl = ? AND pk = ? AND sk = ?", (table.name, *key))
        for index in table.spec.all_indexes():
            position = table.position(index, item)
            if position is not None:
                self.store.change(
                    "INSERT INTO entries (tbl, idx, ipk, isk, pk, sk) VALUES (?, ?, ?, ?, ?, ?)",
                    (table.name, index.name, *position, *key),
                )

    def delete(self, table: Table, key: tuple[bytes, bytes]) -> None:
        self.store.change("DELETE FROM items WHERE tbl = ? AND pk = ? AND sk = ?", (table.name, *key))
        self.store.change("DELETE FROM entries WHERE tbl = ? AND pk = ? AND sk = ?", (table.name, *key))

    def drop(self, table: Table) -> None:
        self.store.change("DELETE FROM items WHERE tbl = ?", (table.name,))
        self.store.change("DELETE FROM entries WHERE tbl = ?", (table.name,))

    def count(self, table: Table) -> int:
        with self.store.reading() as connection:
            return int(connection.execute("SELECT COUNT(*) FROM items WHERE tbl = ?", (table.name,)).fetchone()[0])

    def select(self, sql: str, parameters: tuple[Any, ...]) -> Iterator[tuple[int, Wire]]:
        """(size, item) of each row a SELECT of size and data finds, read as the caller goes."""
        with self.store.reading() as connection:
            cursor = connection.execute(sql, parameters)
            try:
                for size, data in cursor:
                    yield size, json.loads(data)
            finally:
                cursor.close()  # ends the statement's read snapshot when the caller stops early


# --- expressions ----------------------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _update_ast(expression: str) -> Any:
    """A parsed UpdateExpression (moto's validator copies it before changing it, so one parse serves all)."""
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

    return UpdateExpressionParser.make(expression)


def _moto_errors() -> tuple[type[Exception], ...]:
    from moto.core.exceptions import JsonRESTError

    return (JsonRESTError,)


def _from_moto_error(error: Exception) -> ApiError:
    """moto's expression errors as this emulator answers them."""
    kind = str(getattr(error, "error_type", "ValidationException")).rsplit("#", 1)[-1]
    message = str(getattr(error, "message", None) or getattr(error, "exception_msg", None) or error)
    return _error(kind, message)


def _condition(expression: str | None, request: Mapping[str, Any]) -> Any:
    """The parsed condition or filter (None without one)."""
    if not expression:
        return None
    from moto.dynamodb.comparisons import get_filter_expression

    try:
        return get_filter_expression(
            expression, request.get("ExpressionAttributeNames"), request.get("ExpressionAttributeValues")
        )
    except _moto_errors() as error:
        raise _from_moto_error(error) from None
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise _invalid(f"Invalid ConditionExpression: {error}") from None


def _holds(condition: Any, item: Wire | None) -> bool:
    return condition is None or bool(condition.expr(to_moto(item)))


DocumentPath = tuple[str | int, ...]  # a document path: attribute and map key names, and list indexes
_PATH_STEP = re.compile(r"(#?[A-Za-z0-9_]+)((?:\[\s*\d+\s*\])*)")


def _projection(request: Mapping[str, Any]) -> list[DocumentPath]:
    """The document paths of the request's ProjectionExpression ([] without one), checked as DynamoDB does:
    names not reserved words, no two paths overlapping."""
    expression = request.get("ProjectionExpression")
    if expression is None:
        return []
    names = request.get("ExpressionAttributeNames") or {}
    paths: list[DocumentPath] = []
    for text in expression.split(","):
        path: list[str | int] = []
        for part in text.split("."):
            match = _PATH_STEP.fullmatch(part.strip())
            if match is None or match.group(1)[0].isdigit():
                raise _invalid(f'Invalid ProjectionExpression: Syntax error; token: "{part.strip()}"')
            name = match.group(1)
            if not name.startswith("#") and name.upper() in _reserved_words():
                raise _invalid(
                    f"Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: {name}"
                )
            path.append(str(names.get(name, name)))
            path.extend(int(index) for index in re.findall(r"\d+", match.group(2)))
        paths.append(tuple(path))
    _check_overlaps("ProjectionExpression", paths)
    return paths


@lru_cache(maxsize=1)
def _reserved_words() -> frozenset[str]:
    from moto.dynamodb.parsing.reserved_keywords import ReservedKeywords

    return frozenset(ReservedKeywords.get_reserved_keywords())


def _check_overlaps(what: str, paths: list[DocumentPath]) -> None:
    for index, one in enumerate(paths):
        for other in paths[index + 1 :]:
            if one[: len(other)] == other or other[: len(one)] == one:
                shown = ", ".join(str(step) for step in one), ", ".join(str(step) for step in other)
                raise _invalid(
                    f"Invalid {what}: Two document paths overlap with each other; must remove or rewrite one of these"
                    f" paths; path one: [{shown[0]}], path two: [{shown[1]}]"
                )


def _projected(item: Wire, paths: list[DocumentPath]) -> Wire:
    """The parts of an item at `paths` (all of it without paths), as DynamoDB projects them: maps keep the keys
    asked for, lists the elements asked for, in index order; paths that lead nowhere are left out."""
    if not paths:
        return item
    tree: dict[str | int, Any] = {}
    for path in paths:
        value: Any = {"M": item}
        for step in path:
            inner = value.get("M" if isinstance(step, str) else "L")
            if inner is None or (step not in inner if isinstance(step, str) else step >= len(inner)):
                break
            value = inner[step]
        else:
            node = tree
            for step in path[:-1]:
                node = node.setdefault(step, {})
            node[path[-1]] = _Leaf(value)
    return {str(name): _wire(branch) for name, branch in tree.items()}


@dataclass(frozen=True)
class _Leaf:
    value: Any


def _wire(node: Any) -> Any:
    if isinstance(node, _Leaf):
        return node.value
    if all(isinstance(step, int) for step in node):
        return {"L": [_wire(node[index]) for index in sorted(node)]}
    return {"M": {name: _wire(branch) for name, branch in node.items()}}


def _update_paths(expression: str, names: Mapping[str, str]) -> list[DocumentPath]:
    """The document paths an UpdateExpression sets, removes, adds to or deletes from."""
    from moto.dynamodb.parsing.ast_nodes import (  # type: ignore[attr-defined]
        ExpressionAttribute,
        ExpressionAttributeName,
        ExpressionSelector,
        UpdateExpressionAddAction,
        UpdateExpressionDeleteAction,
        UpdateExpressionRemoveAction,
        UpdateExpressionSetAction,
    )

    kinds = [UpdateExpressionSetAction, UpdateExpressionRemoveAction, UpdateExpressionAddAction]
    actions = _update_ast(expression.strip()).find_clauses([*kinds, UpdateExpressionDeleteAction])
    paths: list[DocumentPath] = []
    for action in actions:
        path: list[str | int] = []
        for step in action.children[0].children:
            if isinstance(step, ExpressionAttribute):
                path.append(step.get_attribute_name())
            elif isinstance(step, ExpressionAttributeName):
                placeholder = step.get_attribute_name_placeholder()
                path.append(names.get(placeholder, placeholder))
            elif isinstance(step, ExpressionSelector):
                path.append(step.get_index())
        paths.append(tuple(path))
    return paths


def _check_placeholders(request: Mapping[str, Any], expressions: tuple[str, ...]) -> None:
    """Every expression attribute name and value given is used, and every one used is given; the values are
    valid attribute values."""
    used = {token for name in expressions if request.get(name) for token in _PLACEHOLDER.findall(request[name])}
    for given, sign, kind in (
        (request.get("ExpressionAttributeNames"), "#", "Names"),
        (request.get("ExpressionAttributeValues"), ":", "Values"),
    ):
        if given == {}:
            raise _invalid(f"ExpressionAttribute{kind} must not be empty")
        if given and not any(request.get(name) is not None for name in expressions):
            raise _invalid(f"ExpressionAttribute{kind} can only be specified when using expressions")
        for placeholder in given or {}:
            if placeholder not in used:
                raise _invalid(
                    f"Value provided in ExpressionAttribute{kind} unused in expressions: keys: {{{placeholder}}}"
                )
        for placeholder in used:
            if placeholder.startswith(sign) and placeholder not in (given or {}):
                what = "attribute name" if sign == "#" else "attribute value"
                raise _invalid(f"An expression {what} used in expression is not defined; {what}: {placeholder}")
    for placeholder, value in (request.get("ExpressionAttributeValues") or {}).items():
        try:
            _check_value(value, placeholder)
        except ApiError as error:
            raise _invalid(
                f"ExpressionAttributeValues contains invalid value: {error.body['message']} for key {placeholder}"
            ) from None


def _check_values(item: Wire) -> None:
    for name, value in item.items():
        _check_value(value, name)
    if item_size(item) > ITEM_BYTES:
        raise _invalid("Item size has exceeded the maximum allowed size")


def _check_value(value: Mapping[str, Any], where: str) -> None:
    if len(value) != 1:
        raise _invalid(f"Supplied AttributeValue has more than one datatypes set, must contain exactly one: {where}")
    ((kind, raw),) = value.items()
    if kind == "N":
        _check_number(raw)
    elif kind in ("SS", "NS", "BS"):
        if not raw:
            word = {"SS": "string", "NS": "number", "BS": "binary"}[kind]
            raise _invalid(f"One or more parameter values were invalid: An {word} set may not be empty: {where}")
        if len(set(raw)) != len(raw):
            raise _invalid(f"Input collection {raw} contains duplicates: {where}")
        if kind == "NS":
            for number in raw:
                _check_number(number)
    elif kind == "NULL" and raw is not True:
        raise _invalid("Null attribute value types must have the value of true")
    elif kind == "L":
        for entry in raw:
            _check_value(entry, where)
    elif kind == "M":
        for name, entry in raw.items():
            _check_value(entry, f"{where}.{name}")


def _check_number(text: str) -> None:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise _invalid(f"The parameter cannot be converted to a numeric value: {text}") from None
    digits = len(number.normalize().as_tuple().digits) if number else 1
    if not number.is_finite() or text != text.strip() or digits > 38:
        raise _invalid(f"The parameter cannot be converted to a numeric value: {text}")
    if number and not Decimal("1e-130") <= abs(number) < Decimal("1e126"):
        raise _invalid("Number overflow. Attempting to store a number with magnitude outside the supported range")


# --- the service ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Read:
    """A Query or Scan: where it reads, and how."""

    table: Table
    index: Any
    limit: int | None
    start: Wire | None
    forward: bool
    filter: Any
    projection: list[DocumentPath]
    count_only: bool
    consistent: bool


READ_UNIT_BYTES, WRITE_UNIT_BYTES = 4 * 1024, 1024


@dataclass
class Consumed:
    """The capacity units one request consumes, by table and index (None: the table itself)."""

    transactional: bool = False  # a transaction's items cost twice
    # (table, None) or (table, (kind of index, its name)): [read units, write units]
    units: dict[tuple[str, tuple[str, str] | None], list[float]] = field(default_factory=dict)

    def read(self, table: Table, size: int, *, consistent: bool, index: Any = None) -> None:
        weight = 2.0 if self.transactional else 1.0 if consistent else 0.5
        self._add(table, index, 0, weight * math.ceil(max(size, 1) / READ_UNIT_BYTES))

    def write(self, table: Table, old: Wire | None, new: Wire | None) -> None:
        """A write that turns the item `old` into `new` (None: absent), with the index entries it changes."""
        size = max(item_size(old) if old else 0, item_size(new) if new else 0)
        self._add(table, None, 1, (2.0 if self.transactional else 1.0) * _write_units(size))
        for index in table.spec.all_indexes():
            before = table.position(index, old) if old else None
            after = table.position(index, new) if new else None
            was = table.projected(index, old) if old and before else None
            now = table.projected(index, new) if new and after else None
            if before is not None and before == after:  # in place: charged only if what it projects changed
                if was != now:
                    self._add(table, index, 1, _write_units(max(item_size(was or {}), item_size(now or {}))))
                continue
            for entry in (was, now):  # removed, added, or moved (both)
                if entry is not None:
                    self._add(table, index, 1, _write_units(item_size(entry)))

    def _add(self, table: Table, index: Any, kind: int, units: float) -> None:
        group = "GlobalSecondaryIndexes" if index in table.spec.global_indexes else "LocalSecondaryIndexes"
        where = None if index is None else (group, index.name)
        self.units.setdefault((table.name, where), [0.0, 0.0])[kind] += units

    def answer(self, detail: str) -> list[dict[str, Any]]:
        """ConsumedCapacity, one entry per table: TOTAL, or INDEXES with the table's and each index's share."""
        tables: dict[str, dict[str, Any]] = {}
        for (table, index), (read, write) in self.units.items():
            entry = tables.setdefault(table, {"TableName": table} | _capacity(0.0, 0.0))
            entry |= _capacity(entry["ReadCapacityUnits"] + read, entry["WriteCapacityUnits"] + write)
            if detail == "INDEXES":
                if index is None:
                    entry["Table"] = _capacity(read, write)
                else:
                    group, name = index
                    entry.setdefault(group, {})[name] = _capacity(read, write)
        return list(tables.values())


def _write_units(size: int) -> int:
    return math.ceil(max(size, 1) / WRITE_UNIT_BYTES)


def _capacity(read: float, write: float) -> dict[str, float]:
    return {"CapacityUnits": read + write, "ReadCapacityUnits": read, "WriteCapacityUnits": write}


class Dynamodb(Emulator):
    """The emulated DynamoDB of one account and region."""

    def __init__(self, *, account: str = "123456789012", region: str = "us-east-1") -> None:
        self._account, self._region = account, region
        self._store = Store()
        self._rows = Rows(self._store)
        self._tables: dict[str, Table] = {}
        self._counting = threading.local()  # the Consumed of the request this thread answers, when asked for
        self._operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "CreateTable": self._create_table,
            "DescribeTable": self._describe_table,
            "ListTables": self._list_tables,
            "DeleteTable": self._delete_table,
            "UpdateTimeToLive": self._update_time_to_live,
            "DescribeTimeToLive": self._describe_time_to_live,
            "GetItem": self._get_item,
            "PutItem": self._put_item,
            "UpdateItem": self._update_item,
            "DeleteItem": self._delete_item,
            "Query": self._query,
            "Scan": self._scan,
            "BatchGetItem": self._batch_get_item,
            "BatchWriteItem": self._batch_write_item,
            "TransactGetItems": self._transact_get_items,
            "TransactWriteItems": self._transact_write_items,
        }
        # Run alone, each one SQLite transaction: every change, and the transactional read.
        self._serialized = frozenset(
            {
                "CreateTable",
                "DeleteTable",
                "UpdateTimeToLive",
                "PutItem",
                "UpdateItem",
                "DeleteItem",
                "BatchWriteItem",
                "TransactWriteItems",
                "TransactGetItems",
            }
        )

    def close(self) -> None:
        self._store.close()

    def __del__(self) -> None:
        self._store.close()

    # --- transport ---

    def route(self, method: str, url: str, headers: Mapping[str, Any]) -> str | None:
        return json_operation(method, headers, _TARGET)

    def answer(self, route: str, url: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": str(uuid.uuid4())}
        try:
            if route not in self._operations:
                raise _invalid(f"the embedded endpoint's DynamoDB does not emulate {route}")
            request = _read(route, body)
            if unsupported := [name for name in _UNSUPPORTED if name in request]:
                raise _invalid(f"the embedded endpoint takes expressions, not the legacy parameter {unsupported[0]}")
            detail = request.get("ReturnConsumedCapacity", "NONE")
            self._counting.now = consumed = Consumed() if detail in ("TOTAL", "INDEXES") else None
            if route in self._serialized:
                with self._store.write():
                    output = self._operations[route](request)
            else:
                output = self._operations[route](request)
            if consumed is not None and consumed.units:
                entries = consumed.answer(detail)
                output["ConsumedCapacity"] = entries if route.startswith(("Batch", "Transact")) else entries[0]
            return 200, headers, json.dumps(output, separators=(",", ":")).encode()
        except ApiError as error:
            body_out = {"__type": _ERRORS + error.code} | error.body
            return 400, headers | {"x-amzn-ErrorType": error.code}, json.dumps(body_out).encode()
        finally:
            self._counting.now = None

    def _consumed(self) -> Consumed | None:
        return getattr(self._counting, "now", None)

    # --- tables ---

    def _table(self, name: str) -> Table:
        table = self._tables.get(name.rsplit("/", 1)[-1])
        if table is None:
            raise _error("ResourceNotFoundException", f"Requested resource not found: Table: {name} not found")
        return table

    def _create_table(self, request: dict[str, Any]) -> dict[str, Any]:
        from moto.dynamodb.models.table import Table as MotoTable

        name = request["TableName"]
        if name in self._tables:
            raise _error("ResourceInUseException", f"Table already exists: {name}")
        declared = {
            attribute["AttributeName"]: attribute["AttributeType"] for attribute in request["AttributeDefinitions"]
        }
        schemas = [request["KeySchema"]] + [
            index["KeySchema"]
            for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes")
            for index in request.get(kind, [])
        ]
        for schema in schemas:
            for key in schema:
                if declared.get(key["AttributeName"]) not in ("S", "B"):
                    raise _invalid(
                        f"{key['AttributeName']}: the embedded endpoint keys tables and indexes by declared strings "
                        "or binary only"
                    )
        spec = MotoTable(  # type: ignore[abstract]
            name,
            account_id=self._account,
            region=self._region,
            schema=request["KeySchema"],
            attr=request["AttributeDefinitions"],
            throughput=request.get("ProvisionedThroughput"),
            billing_mode=request.get("BillingMode", "PROVISIONED"),
            indexes=request.get("LocalSecondaryIndexes"),
            global_indexes=request.get("GlobalSecondaryIndexes"),
            tags=request.get("Tags"),
        )
        self._tables[name] = Table(spec, time.time())
        return {"TableDescription": self._description(self._tables[name])}

    def _description(self, table: Table) -> dict[str, Any]:
        described: dict[str, Any] = table.spec.describe(base_key="Table")["Table"]
        described |= {"ItemCount": self._rows.count(table), "CreationDateTime": table.created}
        plain: dict[str, Any] = json.loads(json.dumps(described, default=str))
        return plain

    def _describe_table(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"Table": self._description(self._table(request["TableName"]))}

    def _list_tables(self, request: dict[str, Any]) -> dict[str, Any]:
        names = sorted(name for name in self._tables if name > request.get("ExclusiveStartTableName", ""))
        limit = request.get("Limit", 100)
        more = len(names) > limit
        return {"TableNames": names[:limit]} | ({"LastEvaluatedTableName": names[limit - 1]} if more else {})

    def _delete_table(self, request: dict[str, Any]) -> dict[str, Any]:
        table = self._table(request["TableName"])
        described = self._description(table)
        self._rows.drop(table)
        del self._tables[table.name]
        return {"TableDescription": described | {"TableStatus": "DELETING"}}

    def _update_time_to_live(self, request: dict[str, Any]) -> dict[str, Any]:
        table = self._table(request["TableName"])
        specification = request["TimeToLiveSpecification"]
        table.ttl = {
            "TimeToLiveStatus": "ENABLED" if specification["Enabled"] else "DISABLED",
            "AttributeName": specification["AttributeName"],
        }
        return {"TimeToLiveSpecification": specification}

    def _describe_time_to_live(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"TimeToLiveDescription": self._table(request["TableName"]).ttl}

    # --- keys ---

    def _key(self, table: Table, key: Wire) -> tuple[bytes, bytes]:
        """The row key of a request's Key: exactly the table's key attributes, of their declared types."""
        if set(key) != set(table.keys):
            raise _invalid("The provided key element does not match the schema")
        self._check_key_values(table, key)
        return table.key_of(key)

    def _check_key_values(self, table: Table, item: Wire) -> None:
        declared = {attribute["AttributeName"]: attribute["AttributeType"] for attribute in table.spec.attr}
        for name in table.spec.attribute_keys:
            value = item.get(name)
            if value is None:
                continue
            ((kind, raw),) = value.items()
            if kind != declared[name]:
                is_index_key = name not in table.keys
                what = "Type mismatch for Index Key" if is_index_key else "Type mismatch for key"
                raise _invalid(
                    f"One or more parameter values were invalid: {what} {name} "
                    f"expected: {declared[name]} actual: {kind}"
                )
            if raw == "":
                raise _invalid(
                    "One or more parameter values are not valid. The AttributeValue for a key attribute cannot "
                    f"contain an empty string value. Key: {name}"
                )

    # --- one item ---

    def _get_item(self, request: dict[str, Any]) -> dict[str, Any]:
        table = self._table(request["TableName"])
        _check_placeholders(request, ("ProjectionExpression",))
        paths = _projection(request)  # checked whether or not the item exists
        item = self._rows.get(table, self._key(table, request["Key"]))
        if consumed := self._consumed():
            consumed.read(table, item_size(item or {}), consistent=request.get("ConsistentRead", False))
        return {} if item is None else {"Item": _projected(item, paths)}

    def _put_item(self, request: dict[str, Any]) -> dict[str, Any]:
        table = self._table(request["TableName"])
        item = request["Item"]
        missing = [name for name in table.keys if name not in item]
        if missing:
            raise _invalid(f"One or more parameter values were invalid: Missing the key {missing[0]} in the item")
        self._check_key_values(table, item)
        _check_values(item)
        if request.get("ReturnValues", "NONE") not in ("NONE", "ALL_OLD"):
            raise _invalid("Return values set to invalid value")
        _check_placeholders(request, ("ConditionExpression",))
        key = table.key_of(item)
        current = self._rows.get(table, key)
        self._guard(request, current)
        self._rows.put(table, item)
        if consumed := self._consumed():
            consumed.write(table, current, item)
        return {"Attributes": current} if request.get("ReturnValues") == "ALL_OLD" and current else {}

    def _guard(self, request: Mapping[str, Any], current: Wire | None) -> None:
        if not _holds(_condition(request.get("ConditionExpression"), request), current):
            extra = (
                {"Item": current} if current and request.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" else {}
            )
            raise _error("ConditionalCheckFailedException", "The conditional request failed", **extra)

    def _update_item(self, request: dict[str, Any]) -> dict[str, Any]:
        table = self._table(request["TableName"])
        returning = request.get("ReturnValues", "NONE")
        if returning not in ("NONE", "ALL_OLD", "ALL_NEW", "UPDATED_OLD", "UPDATED_NEW"):
            raise _invalid("Return values set to invalid value")
        _check_placeholders(request, ("UpdateExpression", "ConditionExpression"))
        key = self._key(table, request["Key"])
        current = self._rows.get(table, key)
        self._guard(request, current)
        updated = self._updated(table, request, current or dict(request["Key"]))
        self._check_key_values(table, updated)
        _check_values(updated)
        self._rows.put(table, updated)
        if consumed := self._consumed():
            consumed.write(table, current, updated)
        if returning == "ALL_OLD":
            return {"Attributes": current} if current else {}
        if returning == "ALL_NEW":
            return {"Attributes": updated}
        if returning == "NONE" or not request.get("UpdateExpression"):
            return {}
        # The paths the expression names, changed or not, as they were or are (nested paths alone, not the
        # whole top-level attribute), as DynamoDB answers.
        paths = _update_paths(request["UpdateExpression"], request.get("ExpressionAttributeNames") or {})
        shown = _projected((current or {}) if returning == "UPDATED_OLD" else updated, paths)
        return {"Attributes": shown} if shown else {}

    def _updated(self, table: Table, request: Mapping[str, Any], item: Wire) -> Wire:
        """The item once the UpdateExpression is applied (moto's validator and executor)."""
        expression = request.get("UpdateExpression")
        if not expression:
            return item
        from moto.dynamodb.parsing.executors import UpdateExpressionExecutor
        from moto.dynamodb.parsing.validators import UpdateExpressionValidator

        names = request.get("ExpressionAttributeNames") or {}
        values = request.get("ExpressionAttributeValues") or {}
        # A copy: moto's executor changes sets in place, and `item` is also the old image the request may return.
        moto_item = to_moto(copy.deepcopy(item))
        try:
            validated = UpdateExpressionValidator(
                _update_ast(expression.strip()),
                expression_attribute_names=names,
                expression_attribute_values=values,
                item=moto_item,
                table=table.spec,
            ).validate()
            validated.normalize()
            UpdateExpressionExecutor(validated, moto_item, names).execute()
        except _moto_errors() as error:
            raise _from_moto_error(error) from None
        except AssertionError:
            # moto's validator asserts where a function's argument (list_append's second) names no attribute.
            raise _invalid("The provided expression refers to an attribute that does not exist in the item") from None
        return from_moto(moto_item)

    def _delete_item(self, request: dict[str, Any]) -> dict[str, Any]:
        table = self._table(request["TableName"])
        if request.get("ReturnValues", "NONE") not in ("NONE", "ALL_OLD"):
            raise _invalid("Return values set to invalid value")
        _check_placeholders(request, ("ConditionExpression",))
        key = self._key(table, request["Key"])
        current = self._rows.get(table, key)
        self._guard(request, current)
        self._rows.delete(table, key)
        if consumed := self._consumed():
            consumed.write(table, current, None)
        return {"Attributes": current} if request.get("ReturnValues") == "ALL_OLD" and current else {}

    # --- reads of many ---

    def _query(self, request: dict[str, Any]) -> dict[str, Any]:
        from moto.dynamodb.parsing.key_condition_expression import parse_expression

        read = self._read(request, ("KeyConditionExpression", "FilterExpression", "ProjectionExpression"))
        schema = (read.index or read.table.spec).schema
        try:
            hashes, ranges, _ = parse_expression(
                key_condition_expression=request["KeyConditionExpression"],
                expression_attribute_values=request.get("ExpressionAttributeValues") or {},
                expression_attribute_names=request.get("ExpressionAttributeNames") or {},
                schema=schema,
            )
        except _moto_errors() as error:
            raise _from_moto_error(error) from None
        except KeyError:
            raise _invalid("Query condition missed key schema element") from None
        if len(hashes) != 1 or len(ranges) > 1:
            raise _invalid("Query key condition not supported: one partition key and at most one sort key")
        declared = {attribute["AttributeName"]: attribute["AttributeType"] for attribute in read.table.spec.attr}
        for name, values in [(hashes[0][0], [hashes[0][1]]), *((name, values) for name, _, values in ranges)]:
            if any(set(value) != {declared[name]} for value in values):
                raise _invalid(
                    "One or more parameter values were invalid: Condition parameter type does not match schema type"
                )
        partition = key_bytes(hashes[0][1])
        table, index, forward = read.table, read.index, read.forward
        order = "ASC" if forward else "DESC"
        column = "e.isk" if index is not None else "sk"
        clause, operands = _range_clause(column, *(ranges[0][1:] if ranges else (None, [])))
        if index is not None:
            sql = f"{_BY_INDEX} WHERE e.tbl = ? AND e.idx = ? AND e.ipk = ?{clause}"
            parameters: tuple[Any, ...] = (table.name, index.name, partition, *operands)
            if read.start:
                sql += f" AND (e.isk, e.pk, e.sk) {'>' if forward else '<'} (?, ?, ?)"
                parameters += (*self._index_start(read), *self._table_start(read))
            sql += f" ORDER BY e.isk {order}, e.pk {order}, e.sk {order}"
        else:
            sql = f"SELECT size, data FROM items WHERE tbl = ? AND pk = ?{clause}"
            parameters = (table.name, partition, *operands)
            if read.start:
                sql += f" AND sk {'>' if forward else '<'} ?"
                parameters += (self._table_start(read)[1],)
            sql += f" ORDER BY sk {order}"
        return self._page(read, self._rows.select(sql, parameters))

    def _scan(self, request: dict[str, Any]) -> dict[str, Any]:
        read = self._read(request, ("FilterExpression", "ProjectionExpression"))
        table, index = read.table, read.index
        if request.get("Segment") is not None or request.get("TotalSegments") is not None:
            raise _invalid("the embedded endpoint does not emulate parallel scans")
        if index is not None:
            sql = f"{_BY_INDEX} WHERE e.tbl = ? AND e.idx = ?"
            parameters: tuple[Any, ...] = (table.name, index.name)
            if read.start:
                sql += " AND (e.ipk, e.isk, e.pk, e.sk) > (?, ?, ?, ?)"
                parameters += (*(table.position(index, read.start) or (b"", b"")), *self._table_start(read))
            sql += " ORDER BY e.ipk, e.isk, e.pk, e.sk"
        else:
            sql = "SELECT size, data FROM items WHERE tbl = ?"
            parameters = (table.name,)
            if read.start:
                sql += " AND (pk, sk) > (?, ?)"
                parameters += self._table_start(read)
            sql += " ORDER BY pk, sk"
        return self._page(read, self._rows.select(sql, parameters))

    def _read(self, request: Mapping[str, Any], expressions: tuple[str, ...]) -> _Read:
        table = self._table(request["TableName"])
        index = table.index(request.get("IndexName"))
        if index is not None and request.get("ConsistentRead") and index in table.spec.global_indexes:
            raise _invalid("Consistent reads are not supported on global secondary indexes")
        _check_placeholders(request, expressions)
        select = request.get("Select")
        _check_select(select, request.get("ProjectionExpression"), index)
        return _Read(
            table=table,
            index=index,
            limit=request.get("Limit"),
            start=request.get("ExclusiveStartKey"),
            forward=request.get("ScanIndexForward", True),
            filter=_condition(request.get("FilterExpression"), request),
            projection=_projection(request),
            count_only=select == "COUNT",
            consistent=request.get("ConsistentRead", False),
        )

    def _table_start(self, read: _Read) -> tuple[bytes, bytes]:
        start = read.start or {}
        try:
            return read.table.key_of(start)
        except (KeyError, ValueError):
            raise _invalid(
                "The provided starting key is invalid: The provided key element does not match the schema"
            ) from None

    def _index_start(self, read: _Read) -> tuple[bytes]:
        names = [key["AttributeName"] for key in read.index.schema if key["KeyType"] == "RANGE"]
        if not names:
            return (b"",)
        try:
            return (key_bytes((read.start or {})[names[0]]),)
        except (KeyError, ValueError):
            raise _invalid("The provided starting key is invalid: it lacks the index's sort key") from None

    def _page(self, read: _Read, found: Iterator[tuple[int, Wire]]) -> dict[str, Any]:
        evaluated: list[Wire] = []
        total = 0
        last_key = None
        try:
            for size, item in found:
                # Stops once it has read `limit` items or 1 MB, as DynamoDB does, also when nothing follows: the
                # client then gets an empty last page, as it may from DynamoDB.
                evaluated.append(item)
                total += size
                if (read.limit is not None and len(evaluated) >= read.limit) or total >= PAGE_BYTES:
                    last_key = self._last_key(read, item)
                    break
        finally:
            close = getattr(found, "close", None)
            if close is not None:
                close()
        results = evaluated
        if read.index is not None:
            results = [read.table.projected(read.index, item) for item in results]
        if consumed := self._consumed():  # what it read, before the filter; an index's entries as projected
            read_bytes = sum(map(item_size, results)) if read.index is not None else total
            consumed.read(read.table, read_bytes, consistent=read.consistent, index=read.index)
        if read.filter is not None:
            results = [item for item in results if _holds(read.filter, item)]
        answer: dict[str, Any] = {"Count": len(results), "ScannedCount": len(evaluated)}
        if not read.count_only:
            answer["Items"] = [_projected(item, read.projection) for item in results]
        if last_key is not None:
            answer["LastEvaluatedKey"] = last_key
        return answer

    def _last_key(self, read: _Read, item: Wire) -> Wire:
        names = list(read.table.keys)
        if read.index is not None:
            names += [key["AttributeName"] for key in read.index.schema]
        return {name: item[name] for name in dict.fromkeys(names)}

    def _batch_get_item(self, request: dict[str, Any]) -> dict[str, Any]:
        wanted = request["RequestItems"]
        if sum(len(entry["Keys"]) for entry in wanted.values()) > MAX_BATCH_GET:
            raise _invalid("Too many items requested for the BatchGetItem call")
        responses: dict[str, list[Wire]] = {}
        for name, entry in wanted.items():
            table = self._table(name)
            _check_placeholders(entry, ("ProjectionExpression",))
            keys = [self._key(table, key) for key in entry["Keys"]]
            if len(set(keys)) != len(keys):
                raise _invalid("Provided list of item keys contains duplicates")
            paths = _projection(entry)
            found = [self._rows.get(table, key) for key in keys]
            if consumed := self._consumed():
                for item in found:
                    consumed.read(table, item_size(item or {}), consistent=entry.get("ConsistentRead", False))
            responses[name] = [_projected(item, paths) for item in found if item is not None]
        return {"Responses": responses, "UnprocessedKeys": {}}

    def _transact_get_items(self, request: dict[str, Any]) -> dict[str, Any]:
        entries = request["TransactItems"]
        if len(entries) > MAX_TRANSACTION_ITEMS:
            raise _invalid(f"Member must have length less than or equal to {MAX_TRANSACTION_ITEMS}: transactItems")
        answers = []
        if consumed := self._consumed():
            consumed.transactional = True
        for entry in entries:
            get = entry["Get"]
            table = self._table(get["TableName"])
            _check_placeholders(get, ("ProjectionExpression",))
            paths = _projection(get)
            item = self._rows.get(table, self._key(table, get["Key"]))
            if consumed:
                consumed.read(table, item_size(item or {}), consistent=True)
            answers.append({} if item is None else {"Item": _projected(item, paths)})
        return {"Responses": answers}

    # --- writes of many ---

    def _batch_write_item(self, request: dict[str, Any]) -> dict[str, Any]:
        batches = request["RequestItems"]
        if sum(len(requests) for requests in batches.values()) > MAX_BATCH_WRITE:
            raise _invalid(f"Too many items requested for the BatchWriteItem call (at most {MAX_BATCH_WRITE})")
        planned: list[tuple[Table, Wire | None, tuple[bytes, bytes]]] = []
        for name, requests in batches.items():
            table = self._table(name)
            for entry in requests:
                if len(entry) != 1:
                    raise _invalid("Supplied AttributeValue has more than one datatypes set, must contain exactly one")
                if "PutRequest" in entry:
                    item = entry["PutRequest"]["Item"]
                    if any(name not in item for name in table.keys):
                        raise _invalid("The provided key element does not match the schema")
                    self._check_key_values(table, item)
                    _check_values(item)
                    planned.append((table, item, table.key_of(item)))
                else:
                    planned.append((table, None, self._key(table, entry["DeleteRequest"]["Key"])))
        if len({(table.name, key) for table, _, key in planned}) != len(planned):
            raise _invalid("Provided list of item keys contains duplicates")
        consumed = self._consumed()
        for table, item, key in planned:
            if consumed:
                consumed.write(table, self._rows.get(table, key), item)
            if item is None:
                self._rows.delete(table, key)
            else:
                self._rows.put(table, item)
        return {"UnprocessedItems": {}}

    def _transact_write_items(self, request: dict[str, Any]) -> dict[str, Any]:
        """All or nothing: every item's condition is checked and its change made inside one block, rolled
        back as a whole when any item fails."""
        entries = request["TransactItems"]
        if len(entries) > MAX_TRANSACTION_ITEMS:
            raise _invalid(f"Member must have length less than or equal to {MAX_TRANSACTION_ITEMS}: transactItems")
        touched: set[tuple[str, tuple[bytes, bytes]]] = set()
        reasons: list[dict[str, Any]] = []
        if consumed := self._consumed():
            consumed.transactional = True

        class Cancelled(Exception):
            pass

        try:
            with self._store.all_or_nothing():
                for entry in entries:
                    if len(entry) != 1:
                        raise _invalid("TransactItems can only contain one of Check, Put, Update or Delete")
                    ((kind, operation),) = entry.items()
                    table = self._table(operation["TableName"])
                    keyed = operation["Item"] if kind == "Put" else operation["Key"]
                    identity = (table.name, table.key_of(keyed) if kind == "Put" else self._key(table, keyed))
                    if identity in touched:
                        raise _invalid("Transaction request cannot include multiple operations on one item")
                    touched.add(identity)
                    reasons.append(self._transact_one(kind, operation))
                if any(reason["Code"] != "None" for reason in reasons):
                    raise Cancelled
        except Cancelled:
            codes = ", ".join(reason["Code"] for reason in reasons)
            raise _error(
                "TransactionCanceledException",
                f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
                CancellationReasons=reasons,
            ) from None
        return {}

    def _transact_one(self, kind: str, operation: dict[str, Any]) -> dict[str, Any]:
        """One item of a transaction: its cancellation reason ({"Code": "None"} when it went through). Errors of
        the request itself (validation) are raised: they fail the whole request, not one item."""
        try:
            if kind == "ConditionCheck":
                table = self._table(operation["TableName"])
                _check_placeholders(operation, ("ConditionExpression",))
                checked = self._rows.get(table, self._key(table, operation["Key"]))
                self._guard(operation, checked)
                if consumed := self._consumed():
                    consumed.write(table, checked, checked)
            elif kind == "Put":
                self._put_item(operation)
            elif kind == "Update":
                self._update_item(operation)
            elif kind == "Delete":
                self._delete_item(operation)
            else:
                raise _invalid(f"Unsupported transaction operation {kind}")
        except ApiError as error:
            if error.code != "ConditionalCheckFailedException":
                raise
            reason = {"Code": "ConditionalCheckFailed", "Message": error.body["message"]}
            return reason | ({"Item": error.body["Item"]} if "Item" in error.body else {})
        return {"Code": "None"}


_BY_INDEX = "SELECT i.size, i.data FROM entries e JOIN items i ON i.tbl = e.tbl AND i.pk = e.pk AND i.sk = e.sk"
_COMPARISONS = {"=": "= ?", "<": "< ?", "<=": "<= ?", ">": "> ?", ">=": ">= ?"}


def _check_select(select: str | None, projection: str | None, index: Any) -> None:
    """Select as DynamoDB allows it: with a ProjectionExpression only SPECIFIC_ATTRIBUTES, which needs one;
    projected attributes only of an index; all attributes only of an index that projects them all."""
    if select is None:
        return
    if select == "SPECIFIC_ATTRIBUTES" and not projection:
        raise _invalid(
            "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES"
        )
    if select != "SPECIFIC_ATTRIBUTES" and projection:
        chosen = "only the Count" if select == "COUNT" else select
        raise _invalid(f"Cannot specify the ProjectionExpression when choosing to get {chosen}")
    if select == "ALL_PROJECTED_ATTRIBUTES" and index is None:
        raise _invalid("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName")
    if select == "ALL_ATTRIBUTES" and index is not None and (index.projection or {}).get("ProjectionType") != "ALL":
        raise _invalid(
            "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global "
            f"secondary index {index.name} because its projection type is not ALL"
        )


def _range_clause(column: str, comparison: str | None, values: list[Any]) -> tuple[str, tuple[bytes, ...]]:
    """SQL for a key condition on the sort key (byte order is DynamoDB's order)."""
    if comparison is None:
        return "", ()
    operands = tuple(key_bytes(value) for value in values)
    upper = comparison.upper()
    if upper in _COMPARISONS:
        return f" AND {column} {_COMPARISONS[upper]}", operands[:1]
    if upper == "BETWEEN":
        return f" AND {column} BETWEEN ? AND ?", operands[:2]
    if upper == "BEGINS_WITH":
        return f" AND substr({column}, 1, length(?)) = ?", (operands[0], operands[0])
    raise _invalid(f"Invalid KeyConditionExpression: {comparison} is not a key condition")


def _read(operation_name: str, body: bytes) -> dict[str, Any]:
    """The request's members, checked against botocore's model (its values left as the wire has them)."""
    try:
        request = json.loads(body) if body else {}
    except ValueError:
        raise _error("SerializationException", "The request body is not valid JSON") from None
    if not isinstance(request, dict):
        raise _error("SerializationException", "The request body must be a JSON object")
    checker = Checker()
    checker.check(model("dynamodb").operation_model(operation_name).input_shape, request, "")
    if checker.problems:
        raise _invalid(checker.message())
    return request
