"""What the journal records of a stream mapping's batch: its sourceDetail and the decision taken on it.

The detail names the mapping, the shard (as the source shows it), the first and last sequence numbers,
the record count and how many bisections made the batch; the decision says what happens to the records
that failed (bisect, retry, the on-failure destination, discard), else where the checkpoint moved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.clock import iso8601

if TYPE_CHECKING:
    from lambda_emu.emulator.services.lambda_.mappings import EventSourceMapping
    from lambda_emu.event_sources.kinesis.lanes import Batch
    from lambda_emu.event_sources.kinesis.records import RecordFormat
    from lambda_emu.event_sources.kinesis.retry_policy import Decision, Response


def batch_detail(mapping: EventSourceMapping, record_format: RecordFormat, shard_id: str,
                 batch: Batch) -> dict[str, Any]:
    records = batch.records
    return {
        "eventSourceArn": mapping.event_source_arn,
        "mappingUuid": mapping.uuid,
        "shardId": shard_id,
        "firstSequenceNumber": record_format.sequence_number(records[0]) if records else None,
        "lastSequenceNumber": record_format.sequence_number(records[-1]) if records else None,
        "records": len(records),
        "bisectDepth": batch.depth,
    }


def batch_decision(mapping: EventSourceMapping, record_format: RecordFormat, checkpoint: str, batch: Batch,
                   decision: Decision, response: Response, invoked_ok: bool) -> dict[str, Any]:
    """The journal's decision: what happens to the records that failed (else the checkpoint, the lane's
    ``checkpoint`` when no record of the batch is done)."""
    records = batch.records
    if decision.split and decision.done == 0:
        ends = (*decision.split[1:], len(records))
        return {"action": "bisect", "into": [b - a for a, b in zip(decision.split, ends, strict=True)]}
    if decision.retry_at is not None:
        reason = "FunctionError" if not invoked_ok else (
            "PartialBatchFailure" if response.failed_from is not None else "FunctionError")
        return {"action": "retry", "at": iso8601(decision.retry_at), "reason": reason}
    if decision.condition is not None:
        target = mapping.on_failure
        if target:
            return {"action": "destination", "target": target, "condition": decision.condition}
        return {"action": "discard", "reason": decision.condition}
    if decision.done and records:
        last = records[decision.done - 1]
        return {"action": "checkpoint", "sequenceNumber": record_format.sequence_number(last)}
    return {"action": "checkpoint", "sequenceNumber": checkpoint}
