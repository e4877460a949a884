"""Time to Live on the platform clock.

AWS deletes an expired item "within a few days"; lambda-emu deletes it when the platform clock reaches
its expiry (docs/aws-behaviour.md §DynamoDB: TTL): one clock timer, at the earliest expiry known, so a
manual clock settles and ``advance`` past an expiry deletes exactly the items due. A deletion is an
ordinary DeleteItem made by the service itself, so its stream record is a REMOVE, marked with the TTL
service's ``userIdentity`` (``expiring`` is true while it runs). Expiry values are read as DynamoDB
reads them: a Number attribute of epoch seconds; anything else never expires.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable
from typing import Any

from lambda_emu.emulator.platform.clock import Clock, Timer

#: (table name, item key, the expiry it was scheduled for): delete it if it still says so.
Expire = Callable[[str, dict[str, Any], float], None]


def ttl_attribute(table: Any) -> str | None:
    """The table's TTL attribute when TTL is on (moto keeps the setting on the table)."""
    ttl = getattr(table, "ttl", None) or {}
    if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
        name = ttl.get("AttributeName")
        return str(name) if name else None
    return None


def expiry(value: Any) -> float | None:
    if not isinstance(value, dict) or "N" not in value:
        return None
    try:
        return float(value["N"])
    except ValueError:
        return None


class TtlSweeper:
    def __init__(self, clock: Clock, expire: Expire) -> None:
        self.clock = clock
        self._expire = expire
        self._heap: list[tuple[float, int, str, str]] = []
        self._count = 0
        self._timer: Timer | None = None
        #: True while an expired item is being deleted (its REMOVE record carries the TTL identity).
        self.expiring = False

    def configure(self, table: Any, keys_of: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """TTL turned on or off for ``table``: schedule every item it holds (or none)."""
        self.forget(table.name)
        attribute = ttl_attribute(table)
        if attribute is None:
            return
        for item in table.all_items():
            attrs = item.to_json()["Attributes"]
            due = expiry(attrs.get(attribute))
            if due is not None:
                self._schedule(table.name, keys_of(attrs), due)
        self._arm()

    def item_written(self, table: Any, keys: dict[str, Any], item: dict[str, Any] | None) -> None:
        attribute = ttl_attribute(table)
        if attribute is None or item is None:
            return
        due = expiry(item.get(attribute))
        if due is not None:
            self._schedule(table.name, keys, due)
            self._arm()

    def forget(self, table_name: str) -> None:
        self._heap = [entry for entry in self._heap if entry[2] != table_name]
        heapq.heapify(self._heap)
        self._arm()

    def clear(self) -> None:
        self._heap.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self, table_name: str, keys: dict[str, Any], due: float) -> None:
        self._count += 1
        heapq.heappush(self._heap, (due, self._count, table_name, json.dumps(keys)))

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._heap:
            self._timer = self.clock.call_at(max(self._heap[0][0], self.clock.now()), self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = self.clock.now()
        while self._heap and self._heap[0][0] <= now:
            due, _, table_name, keys = heapq.heappop(self._heap)
            self.expiring = True
            try:
                self._expire(table_name, json.loads(keys), due)
            finally:
                self.expiring = False
        self._arm()
