"""A small handler that shows Lambda's at-least-once delivery.

- ``{"name": "Ada"}`` → a greeting.
- ``{"fail": true}`` → an unhandled exception, every time (an async invoke is retried twice, then dropped
  or sent to a dead-letter queue / on-failure destination).
- ``{"id": "order-1", "failFirst": 2}`` → fails the first 2 deliveries of that id, then succeeds: a retry
  delivers the *same* event again, so a handler must be idempotent. Deliveries are counted in /tmp,
  which survives between invocations of one execution environment (and its resets), as on Lambda.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

# Module globals live as long as the execution environment: warm invokes see them, cold starts don't.
STARTED = time.time()
invocations = 0


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global invocations
    invocations += 1
    print(f"request {context.aws_request_id}: invocation {invocations} of this environment")
    if event.get("fail"):
        raise RuntimeError("asked to fail (event.fail)")
    deliveries = _count_delivery(str(event["id"])) if "id" in event else 1
    if deliveries <= int(event.get("failFirst", 0)):
        raise RuntimeError(f"delivery {deliveries} of {event['id']} fails on purpose (failFirst)")
    return {
        "message": f"{os.environ.get('GREETING', 'Hello')}, {event.get('name', 'world')}!",
        "deliveries": deliveries,
        "warm": invocations > 1,
        "environmentAgeSeconds": round(time.time() - STARTED, 3),
    }


def _count_delivery(event_id: str) -> int:
    counter = Path(os.environ.get("TMPDIR", "/tmp")) / "deliveries.json"
    seen = json.loads(counter.read_text()) if counter.exists() else {}
    seen[event_id] = seen.get(event_id, 0) + 1
    counter.write_text(json.dumps(seen))
    return seen[event_id]
