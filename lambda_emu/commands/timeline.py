"""`lambda-emu timeline`: the journal as a tree per event — attempts, outcomes, errors, decisions, times."""

from __future__ import annotations

import argparse
import json
import textwrap
import time
from typing import Any

from lambda_emu.commands.client import Client, add_endpoint, endpoint_of

POLL_SECONDS = 0.5


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "timeline", help="the journal as a tree per event",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Every event's attempts with their outcome, error and the platform's decision after "
                    "each (retry, destination, dead-letter queue, bisect...), on the platform clock.",
        epilog=textwrap.dedent("""\
            examples:
              lambda-emu timeline OrderFn
              lambda-emu timeline --request-id 3f2a0c1e-5b7d-4c1a-9e2f-0a1b2c3d4e5f --json
              lambda-emu timeline --follow
            """))
    parser.add_argument("function", metavar="FUNCTION", nargs="?", help="only this function's events")
    parser.add_argument("--request-id", help="only this request's attempts")
    parser.add_argument("--follow", action="store_true", help="keep printing new attempts as they finish")
    parser.add_argument("--json", action="store_true", help="the trees as JSON")
    add_endpoint(parser)


def event_key(attempt: dict[str, Any]) -> str:
    """What makes attempts one event: the request ID (async retries, duplicates), the same messages
    (an SQS batch delivered again), the same records of a shard (a Kinesis batch retried)."""
    detail = attempt.get("sourceDetail") or {}
    if attempt.get("source") == "sqs" and detail.get("messageIds"):
        return "sqs:" + ",".join(sorted(detail["messageIds"]))
    if attempt.get("source") == "kinesis" and detail.get("firstSequenceNumber"):
        return f"kinesis:{detail.get('shardId')}:{detail['firstSequenceNumber']}:{detail.get('lastSequenceNumber')}"
    return "request:" + str(attempt.get("requestId"))


def trees(attempts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    events: dict[str, dict[str, Any]] = {}
    for attempt in attempts:
        key = event_key(attempt)
        event = events.get(key)
        if event is None:
            event = events[key] = {"functionName": attempt["functionName"], "source": attempt["source"],
                                   "requestId": attempt["requestId"], "sourceDetail": attempt.get("sourceDetail"),
                                   "firstTime": attempt["startTime"], "attempts": []}
        event["attempts"].append(attempt)
    return list(events.values())


def _short_time(iso: str | None) -> str:
    return iso[11:23] if iso else "…"


def outcome_text(attempt: dict[str, Any]) -> str:
    outcome = attempt.get("outcome") or "running"
    text = outcome
    error = attempt.get("error")
    if error:
        message = str(error.get("errorMessage") or "").strip().splitlines()
        text += f" {error.get('errorType')}" + (f": {message[0][:160]}" if message else "")
    if outcome == "partialFailure":
        text += f" ({len(attempt.get('failedItemIds') or [])} failed)"
    return text


def decision_text(decision: dict[str, Any] | None) -> str:
    if not decision:
        return ""
    action = decision.get("action")
    if action == "retry":
        return f"→ retry at {_short_time(decision.get('at'))} ({decision.get('reason')})"
    if action == "destination":
        extra = f" + dead-letter {decision['deadLetter']}" if decision.get("deadLetter") else ""
        return f"→ destination {decision.get('target')} ({decision.get('condition')}){extra}"
    if action in ("deadLetter", "redrive"):
        return f"→ {action} {decision.get('target')}"
    if action == "bisect":
        return "→ bisect " + " + ".join(str(n) for n in decision.get("into", []))
    if action == "checkpoint":
        return f"→ checkpoint {decision.get('sequenceNumber')}"
    if action == "discard":
        return f"→ discard ({decision.get('reason')})"
    return f"→ {action}"


def attempt_line(attempt: dict[str, Any]) -> str:
    tags = " duplicate" if attempt.get("duplicate") else ""
    tags += " cold" if attempt.get("coldStart") else ""
    fault = attempt.get("fault")
    tags += f" fault {fault}" if fault and fault != "duplicateRate" else ""  # a duplicate says so already
    parts = [f"attempt {attempt['attempt']}{tags}", _short_time(attempt.get("startTime")), outcome_text(attempt)]
    decision = decision_text(attempt.get("decision"))
    return "  ".join(parts) + (f"  {decision}" if decision else "")


def event_header(event: dict[str, Any]) -> str:
    detail = event.get("sourceDetail") or {}
    where = ""
    if event["source"] == "sqs":
        queue = str(detail.get("eventSourceArn", "")).rsplit(":", 1)[-1]
        where = f" {queue} ({len(detail.get('messageIds') or [])} messages)"
    elif event["source"] == "kinesis":
        where = f" {detail.get('shardId')} ({detail.get('records')} records, bisect depth {detail.get('bisectDepth')})"
    return f"{event['functionName']} {event['source']}{where} {event['requestId']}  {event['firstTime']}"


def render(events: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for event in events:
        lines.append(event_header(event))
        attempts = event["attempts"]
        for index, attempt in enumerate(attempts):
            branch = "└─" if index == len(attempts) - 1 else "├─"
            lines.append(f"  {branch} {attempt_line(attempt)}")
    return "\n".join(lines)


def complete(attempt: dict[str, Any]) -> bool:
    """Finished, with the platform's decision made (a sync attempt has none to make)."""
    return attempt.get("endTime") is not None and (attempt.get("source") == "sync" or attempt.get("decision")
                                                   is not None)


def run(args: argparse.Namespace) -> int:
    client = Client(endpoint_of(args))
    attempts = client.invocations(args.function, args.request_id)
    if args.json:
        print(json.dumps({"events": trees(attempts)}, indent=2))
    elif attempts:
        print(render(trees(attempts)), flush=True)
    if not args.follow:
        return 0
    printed = {a["sequence"] for a in attempts if complete(a)}
    cursor = min((a["sequence"] - 1 for a in attempts if not complete(a)),
                 default=max((a["sequence"] for a in attempts), default=0))
    while True:
        time.sleep(POLL_SECONDS)
        fresh = client.invocations(args.function, args.request_id, after=cursor)
        for attempt in fresh:
            if attempt["sequence"] in printed or not complete(attempt):
                continue
            printed.add(attempt["sequence"])
            if args.json:
                print(json.dumps(attempt), flush=True)
            else:
                print(f"{attempt['functionName']} {attempt['source']} {attempt['requestId']}  "
                      f"{attempt_line(attempt)}", flush=True)
        pending = [a["sequence"] - 1 for a in fresh if not complete(a)]
        cursor = min(pending, default=max((a["sequence"] for a in fresh), default=cursor))
