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
from lambda_emu.emulator.services.dynamodb.streams import RECORD_KIND, STREAM_KIND, StreamRegistry, TableStream
from lambda_emu.emulator.services.dynamodb.ttl import TtlSweeper, expiry, ttl_attribute
from lambda_emu.emulator.services.kinesis.streams import DEFAULT_RETENTION_HOURS

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
        #: --state-dir: tables (as created, with their TTL setting and tags), items, streams and their
        #: records are written through.
        self.state = state
        self.region = region
        self.account_id = account_id
        self.streams = StreamRegistry()
        #: The enabled stream of each table, by table name.
        self.active: dict[str, TableStream] = {}
        self._engine: engine_module.TableEngine | None = None
        self._changes: list[Change] = []
        #: --state-dir: each table's CreateTable parameters (less its stream and tags, kept on their own).
        self._definitions: dict[str, Params] = {}
        #: --state-dir: each table's UpdateTable parameters since (less the stream), replayed in order on
        #: restore, so billing mode, throughput, indexes and the like come back as they were last set.
        self._updates: dict[str, list[Params]] = {}
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
            for kind in ("ddb-table", "ddb-item", STREAM_KIND, RECORD_KIND):
                self.state.delete_all(kind)
        self._engine = None
        self.streams.clear()
        self.active.clear()
        self.ttl.clear()
        self._changes.clear()
        self._definitions.clear()
        self._updates.clear()

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
        reenabled = self._reenabling(engine, params) if name == "UpdateTable" else None
        was_on_demand = name == "UpdateTable" and _on_demand(engine.table(params.get("TableName", "")))
        try:
            result = engine.call(name, params)
        except Exception:
            self._changes.clear()
            if reenabled is not None:
                reenabled[0].latest_stream_label = reenabled[1]
            raise
        if name == "CreateTable":
            result = self._created(engine, params["TableName"], params.get("StreamSpecification"))
            self._save_table(engine, params["TableName"], params)
        elif name == "UpdateTable":
            table = engine.table(params["TableName"])
            if table is not None and not was_on_demand and _on_demand(table):
                table.on_demand_since = datetime.fromtimestamp(self.clock.now_ms() / 1000, tz=UTC)
            result = self._updated(engine, params["TableName"], params.get("StreamSpecification"), result)
            self._save_table(engine, params["TableName"], updated=params)
        elif name == "DeleteTable":
            self._deleted(params["TableName"])
        elif name == "UpdateTimeToLive":
            table = engine.table(params["TableName"])
            if table is not None:
                self.ttl.configure(table, _key_reader(table))
                self._save_table(engine, params["TableName"])
        elif name in ("TagResource", "UntagResource"):
            self._tagged(engine, params["ResourceArn"])
        if self._changes:
            self._publish()
        if self.creating or (name == "CreateTable" and self.creation_delay > 0):
            self._creating_status(name, params, result)
        described = result.get("TableDescription") or result.get("Table")
        _as_aws_describes(described, created=name == "CreateTable",
                          on_demand_since=getattr(engine.table(params.get("TableName", "")), "on_demand_since", None))
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
                             key_schema=list(table.schema), state=self.state)
        self.streams.add(stream)
        self.active[table.name] = stream
        table.latest_stream_label = stream.label

    def _reenabling(self, engine: engine_module.TableEngine, params: Params) -> tuple[Any, str] | None:
        """A stream turned on again after it was turned off: AWS gives the table a new stream (moto
        refuses any table that ever had one), so moto is shown a table without a stream label; the
        label it had comes back if the update fails."""
        spec = params.get("StreamSpecification") or {}
        table = engine.table(params["TableName"]) if spec.get("StreamEnabled") else None
        if table is None or table.name in self.active or not table.latest_stream_label:
            return None
        label = table.latest_stream_label
        table.latest_stream_label = None
        return table, label

    def _updated(self, engine: engine_module.TableEngine, name: str, spec: dict[str, Any] | None,
                 result: Result) -> Result:
        table = engine.table(name)
        if table is None:
            return result
        if spec is not None:
            current = self.active.pop(name, None)
            if current is not None:
                current.disable()
            if spec.get("StreamEnabled"):
                self._new_stream(table, spec)
            elif current is not None:
                table.latest_stream_label = current.label
        self._install(table)
        return self._describe(engine, name)

    # ---- tags ----------------------------------------------------------------------------------

    def _tagged(self, engine: engine_module.TableEngine, arn: str) -> None:
        table = next((t for t in engine.backend.tables.values() if t.table_arn == arn), None)
        if table is None:
            return
        # TagResource with a key the table has already replaces its value (moto appends a second one).
        latest = {tag["Key"]: tag for tag in table.tags}
        table.tags = list(latest.values())
        self._save_table(engine, table.name)

    # ---- the state directory (--state-dir) ---------------------------------------------------------

    def _save_table(self, engine: engine_module.TableEngine, name: str, created: Params | None = None,
                    updated: Params | None = None) -> None:
        if self.state is None:
            return
        if created is not None:
            definition = dict(created)
            definition.pop("StreamSpecification", None)
            definition.pop("Tags", None)
            self._definitions[name] = definition
            self._updates[name] = []
        if updated is not None:
            update = {key: value for key, value in updated.items() if key != "StreamSpecification"}
            if len(update) > 1:  # more than its TableName
                self._updates.setdefault(name, []).append(update)
        definition = self._definitions.get(name, {})
        table = engine.table(name)
        if table is None:
            return
        stream = self.active.get(name)
        on_demand_since = getattr(table, "on_demand_since", None)
        record = {
            "definition": definition,
            "updates": list(self._updates.get(name, [])),
            "on_demand_since": on_demand_since.timestamp() if on_demand_since is not None else None,
            "created_at": table.created_at.timestamp(),
            "stream": {"StreamEnabled": True, "StreamViewType": stream.view_type} if stream is not None else None,
            # The table's last stream (DescribeTable's LatestStreamArn), also once it is turned off.
            "latest_stream_label": table.latest_stream_label,
            "ttl": dict(getattr(table, "ttl", None) or {}),
            "tags": [dict(tag) for tag in table.tags],
        }
        self.state.put("ddb-table", name, lambda: record)

    def restore(self) -> None:
        """--state-dir: the tables, items and streams an earlier run accepted (moto is imported now, at
        start). Streams come back with their ARNs, shard IDs and records' sequence numbers, before any
        event source mapping resumes on them (app.py), so a mapping goes on from its checkpoint."""
        state = self.state
        if state is None:
            return
        engine = self.engine_now()
        tables = list(state.load("ddb-table"))
        for name, record in tables:
            # No StreamSpecification: the table's own streams come back below, not a new one.
            self.call_now(engine, "CreateTable", dict(record["definition"]))
            self.creating.pop(name, None)  # a restored table was ACTIVE before
            for update in record.get("updates") or []:
                engine.call("UpdateTable", dict(update))  # straight to the engine: no stream, no new record
            self._updates[name] = list(record.get("updates") or [])
            table = engine.table(name)
            if table is None:
                continue
            if record.get("on_demand_since") is not None:
                table.on_demand_since = datetime.fromtimestamp(record["on_demand_since"], tz=UTC)
            if "created_at" in record:
                table.created_at = datetime.fromtimestamp(record["created_at"], tz=UTC)
            table.tags = list(record.get("tags") or [])
            ttl = record.get("ttl") or {}
            if ttl.get("AttributeName"):
                table.ttl = ttl
        self._restore_streams(state)
        for name, record in tables:
            table = engine.table(name)
            if table is not None:
                self._reattach_stream(table, record)
                self._save_table(engine, name)
        for key, item in state.load("ddb-item"):
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

    def _restore_streams(self, state: StateStore) -> None:
        """Every stream still readable, in creation order (ListStreams'), with its records within 24 h
        retention; what retention or a stream's 24 hours after being disabled dropped goes from DIR too."""
        streams = sorted((TableStream.restored(self.clock, record, region=self.region, state=state)
                          for _arn, record in state.load(STREAM_KIND)), key=lambda s: s.created_at)
        for stream in streams:
            self.streams.add(stream)
        live = {stream.arn: stream for stream in self.streams}  # iterating drops the expired ones
        horizon = self.clock.now() - DEFAULT_RETENTION_HOURS * 3600
        for key, saved in state.load(RECORD_KIND):
            arn, counter = key.rsplit("/", 1)
            owner = live.get(arn)
            if owner is None or saved["at"] < horizon:
                state.delete(RECORD_KIND, key)
            else:
                owner.restore_record(int(counter), saved)

    def _reattach_stream(self, table: Any, record: dict[str, Any]) -> None:
        """The table's enabled stream (the one it had), or its last stream's label once turned off."""
        spec = record.get("stream")
        stream = next((s for s in self.streams if s.enabled and s.table_arn == table.table_arn), None)
        if spec and spec.get("StreamEnabled"):
            if stream is None:
                # A state directory from before streams were kept: a new, empty stream.
                self._new_stream(table, spec)
            else:
                table.stream_specification = {"StreamEnabled": True, "StreamViewType": stream.view_type}
                table.latest_stream_label = stream.label
                self.active[table.name] = stream
        elif record.get("latest_stream_label"):
            table.latest_stream_label = record["latest_stream_label"]
        self._install(table)

    def _deleted(self, name: str) -> None:
        self._definitions.pop(name, None)
        self._updates.pop(name, None)
        if self.state is not None:
            self.state.delete("ddb-table", name)
            self.state.delete_owned("ddb-item", name)
        stream = self.active.pop(name, None)
        if stream is not None:
            stream.disable()  # readable for 24 hours more, as on AWS
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


def _on_demand(table: Any) -> bool:
    return table is not None and table.billing_mode == "PAY_PER_REQUEST"


def _as_aws_describes(described: Any, *, created: bool = False, on_demand_since: datetime | None = None) -> None:
    """A table's description as AWS writes it (LocalStack's AWS-recorded CreateTable/UpdateTable/DescribeTable
    snapshots): no empty secondary-index lists, and a ``TableId``, one UUID per table (a re-created table gets
    another); CreateTable's answer has no ``WarmThroughput`` yet and its ``BillingModeSummary`` only the mode
    (UpdateTable's and DescribeTable's have both, and an on-demand table's summary says since when it is:
    ``LastUpdateToPayPerRequestDateTime``, its creation or the UpdateTable that switched it)."""
    if not isinstance(described, dict):
        return
    if created:
        described.pop("WarmThroughput", None)
    summary = described.get("BillingModeSummary")
    if not created and isinstance(summary, dict) and summary.get("BillingMode") == "PAY_PER_REQUEST":
        summary["LastUpdateToPayPerRequestDateTime"] = on_demand_since or described.get("CreationDateTime")
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if described.get(key) == []:
            del described[key]
    if "TableArn" in described and "TableId" not in described:
        seed = f"{described['TableArn']}@{described.get('CreationDateTime')}"
        described["TableId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, seed))
