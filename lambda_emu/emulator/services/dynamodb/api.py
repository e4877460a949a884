"""Amazon DynamoDB (JSON 1.0, ``DynamoDB_20120810.*``) on lambda-emu's endpoint and clock.

Input arrives validated against botocore's model; the tables, items and the expression language are
moto's DynamoDB backend used in-process (:mod:`.engine`, imported on the first request). What is
lambda-emu's own is around it: the platform clock (creation times, stream labels, TTL), the streams
(every write's old and new item, coalesced per item per request, so a write that changes nothing
leaves no record and a failed transaction none at all) and TTL deletions (:mod:`.ttl`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.clock import Clock
from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.protocol.service import Service
from lambda_emu.emulator.services.dynamodb import engine as engine_module
from lambda_emu.emulator.services.dynamodb.streams import StreamRegistry, TableStream
from lambda_emu.emulator.services.dynamodb.ttl import TtlSweeper, expiry, ttl_attribute

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.state import StateStore

Params = dict[str, Any]
Result = dict[str, Any]

#: The operations served (moto's handler has one method for each).
OPERATIONS = frozenset({
    "CreateTable", "DescribeTable", "ListTables", "DeleteTable", "UpdateTable",
    "UpdateTimeToLive", "DescribeTimeToLive", "TagResource", "UntagResource", "ListTagsOfResource",
    "PutItem", "GetItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "BatchGetItem", "Query", "Scan",
    "TransactWriteItems", "TransactGetItems", "DescribeLimits", "DescribeEndpoints",
    "DescribeContinuousBackups", "UpdateContinuousBackups",
})
#: Operations that may change items (their changes become stream records and TTL schedules).
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})

Change = tuple[Any, dict[str, Any] | None, dict[str, Any] | None]

#: ``--creation-delays``: how long a new table stays CREATING on the platform clock (AWS: seconds for a
#: small on-demand table).
TABLE_CREATION_SECONDS = 5.0
#: What a table still CREATING answers (AWS refuses item operations until it is ACTIVE).
TABLE_OPERATIONS_WHILE_CREATING = frozenset({"DescribeTable", "CreateTable", "DeleteTable", "ListTables",
                                             "TagResource", "UntagResource", "ListTagsOfResource",
                                             "DescribeTimeToLive", "DescribeLimits", "DescribeEndpoints",
                                             "DescribeContinuousBackups"})


class _ChangeHook:
    """Sits where moto keeps a table's stream shard: moto calls ``add(old, new)`` on every write."""

    def __init__(self, table: Any, sink: list[Change]) -> None:
        self.table = table
        self.sink = sink

    def add(self, old: Any, new: Any) -> None:
        self.sink.append((self.table,
                          None if old is None else old.to_json()["Attributes"],
                          None if new is None else new.to_json()["Attributes"]))

    def __deepcopy__(self, memo: dict[int, Any]) -> _ChangeHook:
        # A transaction copies its tables to roll back; the copies report to the same place.
        return self


def item_key(table: Any, item: dict[str, Any]) -> dict[str, Any]:
    keys = {table.hash_key_attr: item[table.hash_key_attr]}
    if table.range_key_attr is not None:
        keys[table.range_key_attr] = item[table.range_key_attr]
    return keys


def _constant(record: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: record


def _key_reader(table: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda item: item_key(table, item)


class DynamoDBService(Service):
    service_name = "dynamodb"

    def __init__(self, clock: Clock, *, region: str, account_id: str, state: StateStore | None = None,
                 creation_delay: float = 0.0) -> None:
        self.clock = clock
        #: --creation-delays: seconds a new table stays CREATING (0: ACTIVE at once).
        self.creation_delay = creation_delay
        #: Tables still CREATING: name → when they become ACTIVE (platform clock).
        self.creating: dict[str, float] = {}
        #: --state-dir: tables (as created, with their TTL setting) and items are written through;
        #: streams and their records are not kept (a restored table's stream starts empty).
        self.state = state
        self.region = region
        self.account_id = account_id
        self.streams = StreamRegistry()
        #: The enabled stream of each table, by table name.
        self.active: dict[str, TableStream] = {}
        self._engine: engine_module.TableEngine | None = None
        self._changes: list[Change] = []
        self.ttl = TtlSweeper(clock, self._expire)

    # ---- the protocol layer's contract ---------------------------------------------------------

    def operation(self, name: str) -> Callable[[Params], Awaitable[Result]] | None:
        if name not in OPERATIONS:
            return None

        async def call(params: Params) -> Result:
            return await self.call(name, params)

        call.__name__ = name
        return call

    def json_error_type(self, error: AwsError) -> tuple[str, str]:
        # DynamoDB's __type names the shape with its namespace; SDKs read the part after '#'.
        return f"com.amazonaws.dynamodb.v20120810#{error.code}", error.query_code

    # ---- lifecycle -------------------------------------------------------------------------------

    async def engine(self) -> engine_module.TableEngine:
        if self._engine is None:
            await engine_module.load()
            if self._engine is None:
                self._engine = engine_module.TableEngine(self.region, self.account_id)
        return self._engine

    def reset(self) -> None:
        self.creating.clear()
        if self.state is not None:
            self.state.delete_all("ddb-table")
            self.state.delete_all("ddb-item")
        self._engine = None
        self.streams.clear()
        self.active.clear()
        self.ttl.clear()
        self._changes.clear()

    async def stop(self) -> None:
        self.ttl.clear()

    # ---- operations ------------------------------------------------------------------------------

    def engine_now(self) -> engine_module.TableEngine:
        """The engine, imported here and now if need be (the template loader runs synchronously)."""
        if self._engine is None:
            self._engine = engine_module.TableEngine(self.region, self.account_id)
        return self._engine

    # What the template loader calls (the protocol layer finds every operation through ``operation``).
    def CreateTable(self, params: Params) -> Result:
        return self.call_now(self.engine_now(), "CreateTable", params)

    def UpdateTimeToLive(self, params: Params) -> Result:
        return self.call_now(self.engine_now(), "UpdateTimeToLive", params)

    async def call(self, name: str, params: Params) -> Result:
        engine = await self.engine()
        return self.call_now(engine, name, params)

    def call_now(self, engine: engine_module.TableEngine, name: str, params: Params) -> Result:
        if self.creating and name not in TABLE_OPERATIONS_WHILE_CREATING:
            self._refuse_while_creating(params)
        self._changes.clear()
        try:
            result = engine.call(name, params)
        except Exception:
            self._changes.clear()
            raise
        if name == "CreateTable":
            result = self._created(engine, params["TableName"], params.get("StreamSpecification"))
            self._save_table(engine, params["TableName"], params)
        elif name == "UpdateTable":
            result = self._updated(engine, params["TableName"], params.get("StreamSpecification"), result)
            self._save_table(engine, params["TableName"])
        elif name == "DeleteTable":
            self._deleted(params["TableName"])
        elif name == "UpdateTimeToLive":
            table = engine.table(params["TableName"])
            if table is not None:
                self.ttl.configure(table, _key_reader(table))
                self._save_table(engine, params["TableName"])
        if self._changes:
            self._publish()
        if self.creating or (name == "CreateTable" and self.creation_delay > 0):
            self._creating_status(name, params, result)
        _as_aws_describes(result.get("TableDescription") or result.get("Table"), created=name == "CreateTable")
        return result

    # ---- --creation-delays: CREATING, then ACTIVE ------------------------------------------------

    def _is_creating(self, table: str) -> bool:
        ready = self.creating.get(table)
        if ready is None:
            return False
        if self.clock.now() >= ready:
            del self.creating[table]
            return False
        return True

    def _refuse_while_creating(self, params: Params) -> None:
        names = {params.get("TableName")} | set(params.get("RequestItems") or ())
        for entry in params.get("TransactItems") or ():
            names |= {request.get("TableName") for request in entry.values()}
        for table in names:
            if isinstance(table, str) and self._is_creating(table):
                raise AwsError("ResourceNotFoundException", "Requested resource not found")

    def _creating_status(self, name: str, params: Params, result: Result) -> None:
        table = params.get("TableName")
        if not isinstance(table, str):
            return
        if name == "CreateTable" and self.creation_delay > 0:
            self.creating[table] = self.clock.now() + self.creation_delay
        elif name == "DeleteTable":
            self.creating.pop(table, None)
        described = result.get("TableDescription") or result.get("Table")
        if described is not None and name in ("CreateTable", "DescribeTable") and self._is_creating(table):
            described["TableStatus"] = "CREATING"

    # ---- tables: the clock, the hook, the stream -------------------------------------------------

    def _install(self, table: Any) -> None:
        table.stream_shard = _ChangeHook(table, self._changes)

    def _describe(self, engine: engine_module.TableEngine, name: str) -> Result:
        return {"TableDescription": engine.call("DescribeTable", {"TableName": name})["Table"]}

    def _created(self, engine: engine_module.TableEngine, name: str, spec: dict[str, Any] | None) -> Result:
        table = engine.table(name)
        assert table is not None
        table.created_at = datetime.fromtimestamp(self.clock.now_ms() / 1000, tz=UTC)
        self._install(table)
        if spec and spec.get("StreamEnabled"):
            self._new_stream(table, spec)
        return self._describe(engine, name)

    def _new_stream(self, table: Any, spec: dict[str, Any]) -> None:
        stream = TableStream(self.clock, table_name=table.name, table_arn=table.table_arn,
                             view_type=spec.get("StreamViewType") or "NEW_AND_OLD_IMAGES", region=self.region,
                             key_schema=list(table.schema))
        self.streams.add(stream)
        self.active[table.name] = stream
        table.latest_stream_label = stream.label

    def _updated(self, engine: engine_module.TableEngine, name: str, spec: dict[str, Any] | None,
                 result: Result) -> Result:
        table = engine.table(name)
        if table is None:
            return result
        if spec is not None:
            current = self.active.pop(name, None)
            if current is not None:
                current.enabled = False
            if spec.get("StreamEnabled"):
                self._new_stream(table, spec)
            elif current is not None:
                table.latest_stream_label = current.label
        self._install(table)
        return self._describe(engine, name)

    # ---- the state directory (--state-dir) ---------------------------------------------------------

    def _save_table(self, engine: engine_module.TableEngine, name: str, created: Params | None = None) -> None:
        if self.state is None:
            return
        saved = self.state.get("ddb-table", name) or {}
        definition = dict(created) if created is not None else saved.get("definition", {})
        definition.pop("StreamSpecification", None)
        definition.pop("Tags", None)
        table = engine.table(name)
        if table is None:
            return
        stream = self.active.get(name)
        record = {
            "definition": definition,
            "stream": {"StreamEnabled": True, "StreamViewType": stream.view_type} if stream is not None else None,
            "ttl": dict(getattr(table, "ttl", None) or {}),
        }
        self.state.put("ddb-table", name, lambda: record)

    def restore(self) -> None:
        """--state-dir: the tables and items an earlier run accepted (moto is imported now, at start)."""
        if self.state is None:
            return
        engine = self.engine_now()
        tables = list(self.state.load("ddb-table"))
        for name, record in tables:
            params = dict(record["definition"])
            if record.get("stream"):
                params["StreamSpecification"] = record["stream"]
            self.call_now(engine, "CreateTable", params)
            self.creating.pop(name, None)  # a restored table was ACTIVE before
            ttl = record.get("ttl") or {}
            if ttl.get("AttributeName"):
                table = engine.table(name)
                if table is not None:
                    table.ttl = ttl
        for key, item in self.state.load("ddb-item"):
            name = key.split("/", 1)[0]
            table = engine.table(name)
            if table is not None:
                # Straight into moto's table: a restored item is no new write (no stream record).
                table.stream_shard = None
                table.put_item(item)
                self._install(table)
        for name, _record in tables:
            table = engine.table(name)
            if table is not None:
                self.ttl.configure(table, _key_reader(table))

    def _deleted(self, name: str) -> None:
        if self.state is not None:
            self.state.delete("ddb-table", name)
            self.state.delete_owned("ddb-item", name)
        stream = self.active.pop(name, None)
        if stream is not None:
            stream.enabled = False
        self.ttl.forget(name)

    # ---- stream records and TTL schedules ------------------------------------------------------

    def _publish(self) -> None:
        """The request's writes, one per item: the item before the request, the item after it."""
        merged: dict[tuple[str, str], list[Any]] = {}
        for table, old, new in self._changes:
            item = new if new is not None else old
            assert item is not None
            keys = item_key(table, item)
            slot = (table.name, json.dumps(keys, sort_keys=True))
            entry = merged.get(slot)
            if entry is None:
                merged[slot] = [table, keys, old, new]
            else:
                entry[3] = new
        self._changes.clear()
        for table, keys, old, new in merged.values():
            if old == new:
                continue  # a write that changes nothing: no stream record, as on AWS
            self.ttl.item_written(table, keys, new)
            if self.state is not None:
                item_key_text = f"{table.name}/{json.dumps(keys, sort_keys=True)}"
                if new is None:
                    self.state.delete("ddb-item", item_key_text)
                else:
                    self.state.put("ddb-item", item_key_text, _constant(new), owner=table.name)
            stream = self.active.get(table.name)
            if stream is not None:
                stream.append(keys, old, new, ttl=self.ttl.expiring)

    def _expire(self, table_name: str, keys: dict[str, Any], due: float) -> None:
        """The TTL sweeper's deletion: the item is removed if its TTL attribute still says it expired."""
        if self._engine is None:
            return
        table = self._engine.table(table_name)
        if table is None:
            return
        item = self._engine.call("GetItem", {"TableName": table_name, "Key": keys, "ConsistentRead": True}).get("Item")
        attribute = ttl_attribute(table)
        if item is None or attribute is None or expiry(item.get(attribute)) != due:
            return
        self.call_now(self._engine, "DeleteItem", {"TableName": table_name, "Key": keys})


def _as_aws_describes(described: Any, *, created: bool = False) -> None:
    """A table's description as AWS writes it (LocalStack's AWS-recorded CreateTable/UpdateTable snapshots):
    no empty secondary-index lists, and a ``TableId``, one UUID per table (a re-created table gets another);
    CreateTable's answer has no ``WarmThroughput`` yet (UpdateTable's and DescribeTable's do)."""
    if not isinstance(described, dict):
        return
    if created:
        described.pop("WarmThroughput", None)
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if described.get(key) == []:
            del described[key]
    if "TableArn" in described and "TableId" not in described:
        seed = f"{described['TableArn']}@{described.get('CreationDateTime')}"
        described["TableId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, seed))
