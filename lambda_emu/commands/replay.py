"""`lambda-emu replay`: captured or hand-written events sent again through their original source.

What a SOURCE is comes from its content:

1. a JSON-lines capture (``up --record``, or ``GET /_emu/invocations?format=jsonl``): each captured
   event once — async events invoked with InvocationType=Event, SQS messages sent again to their
   queue, Kinesis records put again to their stream with their partition keys, sync events invoked;
2. an event file, or a folder of them (``sam local invoke -e`` style): invoked on ``--function``;
3. an async invocation record from an OnSuccess / OnFailure destination: its ``requestPayload``
   invoked again on the function its ``requestContext.functionArn`` names;
4. a message body from a function's dead-letter queue (with ``--function``), or ``--from-queue``:
   lambda-emu drains that queue into the function;
5. an SQS or Kinesis event (``{"Records": [...]}``): its messages / records sent again to the queue /
   stream their ``eventSourceARN`` names (or ``--to-queue`` / ``--to-stream``).

The deliveries are made by lambda-emu (``POST /_emu/replay``), so ``--timing original`` keeps the
recorded spacing on the platform clock: a manual clock plays them on ``clock advance`` / ``settle``.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from lambda_emu.commands.client import Client, EmuError, add_endpoint, endpoint_of

CAPTURE_SOURCES = ("sync", "async", "sqs", "kinesis")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "replay", help="send captured or saved events again through their source",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.dedent("""\
            Send events again through their original source. SOURCE is detected from its content:
              1. a JSON-lines capture (`up --record`, or GET /_emu/invocations?format=jsonl): each event once,
                 through its source (async: InvocationType=Event; SQS: to its queue; Kinesis: to its stream);
              2. an event file or a folder of them: invoked on --function;
              3. an async invocation record from an OnSuccess/OnFailure destination: its requestPayload,
                 invoked again on its function;
              4. a message body from a dead-letter queue (with --function), or --from-queue to drain a queue;
              5. an SQS or Kinesis event ({"Records": [...]}): re-sent to the queue/stream of its
                 eventSourceARN (or --to-queue / --to-stream).
            """),
        epilog=textwrap.dedent("""\
            examples:
              lambda-emu replay capture.jsonl --timing original
              lambda-emu replay events/ --function OrderFn
              lambda-emu replay on-failure-record.json
              lambda-emu replay --from-queue arn:aws:sqs:us-east-1:000000000000:orders-dlq --function OrderFn
              lambda-emu replay sqs-event.json --to-queue http://127.0.0.1:3001/000000000000/orders --dry-run
            """))
    parser.add_argument("sources", metavar="SOURCE", nargs="*", help="files or folders ('-': stdin)")
    parser.add_argument("--function", help="the function events are invoked on (event files, DLQ bodies)")
    parser.add_argument("--invocation-type", choices=["Event", "RequestResponse"],
                        help="how events are invoked (default: as recorded; RequestResponse for event files, "
                             "Event for --from-queue)")
    parser.add_argument("--timing", choices=["now", "original"], default="now",
                        help="now (default), or keep the recorded spacing between events on the platform clock")
    parser.add_argument("--dry-run", action="store_true", help="print what would be replayed, replay nothing")
    parser.add_argument("--from-queue", metavar="QUEUE_URL_OR_ARN",
                        help="drain this queue (a dead-letter queue) into --function")
    parser.add_argument("--to-queue", metavar="QUEUE_URL_OR_ARN", help="send SQS messages here instead")
    parser.add_argument("--to-stream", metavar="STREAM_NAME_OR_ARN", help="put Kinesis records here instead")
    add_endpoint(parser)


@dataclass
class Planned:
    """One delivery for ``POST /_emu/replay`` and the line that describes it."""

    delivery: dict[str, Any]
    what: str
    time: float | None = None  # the recorded time, for --timing original
    origin: str = ""


@dataclass
class Plan:
    deliveries: list[Planned] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)


def run(args: argparse.Namespace) -> int:
    if args.from_queue:
        return _drain(args)
    if not args.sources:
        raise EmuError("replay needs a SOURCE (a capture, an event file or folder, a record) or --from-queue")
    plan = Plan()
    for source in args.sources:
        for name, text in _read(source):
            _plan_text(plan, name, text, args)
    _timed(plan, args.timing)
    for note in plan.skipped:
        print(f"skipped: {note}", file=sys.stderr)
    if args.dry_run:
        for planned in plan.deliveries:
            print(f"would {planned.what}{_delay_text(planned)}")
        print(f"dry run: {len(plan.deliveries)} events would be replayed")
        return 0
    if not plan.deliveries:
        print("nothing to replay")
        return 1 if plan.skipped else 0
    client = Client(endpoint_of(args))
    answer = client.post("/_emu/replay", {"deliveries": [p.delivery for p in plan.deliveries]})
    failed = 0
    for planned, result in zip(plan.deliveries, answer["results"], strict=True):
        print(f"{_done_verb(result)} {planned.what}{_result_text(result)}")
        failed += result.get("status") == "failed"
    kinds: dict[str, int] = {}
    for planned in plan.deliveries:
        kinds[planned.delivery["kind"]] = kinds.get(planned.delivery["kind"], 0) + 1
    summary = ", ".join(f"{n} {_kind_name(k, n)}" for k, n in kinds.items())
    scheduled = sum(1 for r in answer["results"] if r.get("status") == "scheduled")
    print(f"replayed {len(plan.deliveries)} events ({summary})"
          + (f", {scheduled} scheduled on the platform clock" if scheduled else "")
          + (f", {failed} failed" if failed else ""))
    return 1 if failed else 0


def _drain(args: argparse.Namespace) -> int:
    if not args.function:
        raise EmuError("--from-queue needs --function (the function its messages are replayed on)")
    invocation_type = args.invocation_type or "Event"
    if args.dry_run:
        print(f"would drain {args.from_queue} into {args.function} ({invocation_type})")
        return 0
    client = Client(endpoint_of(args))
    answer = client.post("/_emu/replay", {"fromQueue": args.from_queue, "functionName": args.function,
                                          "invocationType": invocation_type})
    failed = 0
    for result in answer["results"]:
        print(f"{_done_verb(result)} message {result.get('messageId')} on {args.function} ({invocation_type})"
              f"{_result_text(result)}")
        failed += result.get("status") == "failed"
    print(f"replayed {len(answer['results'])} messages from {args.from_queue}"
          + (f", {failed} failed" if failed else ""))
    return 1 if failed else 0


# ---- reading sources ------------------------------------------------------------------------------


def _read(source: str) -> list[tuple[str, str]]:
    if source == "-":
        return [("stdin", sys.stdin.read())]
    path = Path(source)
    try:
        if path.is_dir():
            files = [p for p in sorted(path.iterdir()) if p.is_file() and p.suffix in (".json", ".jsonl")]
            return [(str(p), p.read_text()) for p in files]
        return [(source, path.read_text())]
    except OSError as exc:
        raise EmuError(f"cannot read {source}: {exc.strerror or exc}") from exc


def _plan_text(plan: Plan, name: str, text: str, args: argparse.Namespace) -> None:
    try:
        documents = [json.loads(text)] if text.strip() else []
    except ValueError:
        documents = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                documents.append(json.loads(line))
            except ValueError as exc:
                raise EmuError(f"{name}:{number} is neither JSON nor JSON lines: {exc}") from exc
    for document in documents:
        _plan_document(plan, name, document, args)


def _is_capture(document: Any) -> bool:
    return (isinstance(document, dict) and document.get("source") in CAPTURE_SOURCES
            and "functionName" in document and "event" in document)


def _plan_document(plan: Plan, name: str, document: Any, args: argparse.Namespace) -> None:
    if _is_capture(document):
        _plan_capture(plan, name, document, args)
    elif isinstance(document, dict) and isinstance(document.get("requestContext"), dict) \
            and "functionArn" in document["requestContext"] and "requestPayload" in document:
        function = args.function or _function_from_arn(document["requestContext"]["functionArn"])
        plan.deliveries.append(_invoke(function, args.invocation_type or "Event", document["requestPayload"],
                                       f"{name} (destination record)", _epoch(document.get("timestamp"))))
    elif _event_source(document) in ("aws:sqs", "aws:kinesis"):
        _plan_records(plan, name, document["Records"], args, None)
    elif args.function:
        plan.deliveries.append(_invoke(args.function, args.invocation_type or "RequestResponse", document, name,
                                       None))
    else:
        raise EmuError(f"cannot tell what {name} is (not a capture, a destination record or an SQS/Kinesis "
                       "event): give --function to invoke it as an event")


def _plan_capture(plan: Plan, name: str, line: dict[str, Any], args: argparse.Namespace) -> None:
    if line.get("duplicate"):
        return  # an injected copy, not an event that entered lambda-emu
    source = line["source"]
    when = _epoch(line.get("time") or line.get("startTime"))
    if line.get("eventTruncated"):
        plan.skipped.append(f"{name}: {source} event {line.get('requestId')} was cut by the journal's payload "
                            "limit (raise --journal-payload-limit, or capture with `up --record`)")
        return
    if source in ("sync", "async"):
        key = f"request:{line.get('requestId')}"
        if key in plan.seen:
            return  # a retry of an event already planned
        plan.seen.add(key)
        invocation_type = args.invocation_type or ("Event" if source == "async" else "RequestResponse")
        plan.deliveries.append(_invoke(args.function or line["functionName"], invocation_type, line["event"],
                                       f"{name} ({source} {line.get('requestId')})", when))
        return
    event = line["event"]
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        plan.skipped.append(f"{name}: {source} event {line.get('requestId')} has no Records")
        return
    _plan_records(plan, name, event["Records"], args, when)


def _plan_records(plan: Plan, name: str, records: list[Any], args: argparse.Namespace, when: float | None) -> None:
    for record in records:
        if not isinstance(record, dict):
            continue
        if record.get("eventSource") == "aws:sqs":
            key = f"sqs:{record.get('messageId')}"
            if key in plan.seen:
                continue  # the same message delivered again (a retry, a redelivery)
            plan.seen.add(key)
            queue = args.to_queue or record.get("eventSourceARN")
            attributes = record.get("attributes") or {}
            delivery: dict[str, Any] = {"kind": "sqs", "queue": queue, "body": record.get("body", "")}
            if record.get("messageAttributes"):
                delivery["messageAttributes"] = record["messageAttributes"]
            if attributes.get("MessageGroupId"):
                delivery["messageGroupId"] = attributes["MessageGroupId"]
            if attributes.get("MessageDeduplicationId"):
                delivery["messageDeduplicationId"] = attributes["MessageDeduplicationId"]
            sent = attributes.get("SentTimestamp")
            plan.deliveries.append(Planned(delivery, f"send message {record.get('messageId')} to {queue}",
                                           when if sent is None else int(sent) / 1000, name))
        elif record.get("eventSource") == "aws:kinesis":
            kinesis = record.get("kinesis") or {}
            key = f"kinesis:{record.get('eventSourceARN')}:{kinesis.get('sequenceNumber')}"
            if key in plan.seen:
                continue
            plan.seen.add(key)
            stream = args.to_stream or record.get("eventSourceARN")
            delivery = {"kind": "kinesis", "stream": stream, "partitionKey": kinesis.get("partitionKey"),
                        "data": kinesis.get("data", "")}
            arrival = kinesis.get("approximateArrivalTimestamp")
            plan.deliveries.append(Planned(delivery, f"put record {kinesis.get('sequenceNumber')} "
                                                     f"(key {kinesis.get('partitionKey')}) to {stream}",
                                           float(arrival) if arrival is not None else when, name))


def _invoke(function: str, invocation_type: str, event: Any, origin: str, when: float | None) -> Planned:
    delivery = {"kind": "invoke", "functionName": function, "invocationType": invocation_type, "payload": event}
    return Planned(delivery, f"invoke {function} ({invocation_type}) with {origin}", when, origin)


def _event_source(document: Any) -> str | None:
    if not isinstance(document, dict) or not isinstance(document.get("Records"), list) or not document["Records"]:
        return None
    first = document["Records"][0]
    return first.get("eventSource") if isinstance(first, dict) else None


def _function_from_arn(arn: str) -> str:
    # arn:aws:lambda:region:account:function:name[:qualifier]
    parts = arn.split(":")
    return parts[6] if len(parts) >= 7 else arn


def _epoch(iso: Any) -> float | None:
    if not isinstance(iso, str):
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _timed(plan: Plan, timing: str) -> None:
    """``original``: each delivery's delay is its recorded time after the first event's."""
    if timing != "original":
        return
    times = [p.time for p in plan.deliveries if p.time is not None]
    if not times:
        return
    first = min(times)
    for planned in plan.deliveries:
        if planned.time is not None and planned.time > first:
            planned.delivery["delay"] = round(planned.time - first, 3)


# ---- what it printed ------------------------------------------------------------------------------


def _delay_text(planned: Planned) -> str:
    delay = planned.delivery.get("delay")
    return f" at +{delay:g}s" if delay else ""


def _done_verb(result: dict[str, Any]) -> str:
    return {"scheduled": "scheduled", "failed": "FAILED"}.get(result.get("status", ""), "replayed")


def _result_text(result: dict[str, Any]) -> str:
    status = result.get("status")
    if status == "failed":
        return f": {result.get('error')}"
    if status == "scheduled":
        return f" at {result.get('at')}"
    for key in ("requestId", "sequenceNumber", "messageId"):
        if key in result:
            text = f" → {key} {result[key]}"
            if result.get("functionError"):
                text += f" (function error: {result['functionError']})"
            return text
    return ""


def _kind_name(kind: str, count: int) -> str:
    names = {"invoke": "invocation", "sqs": "SQS message", "kinesis": "Kinesis record"}
    return names[kind] + ("s" if count != 1 else "")
