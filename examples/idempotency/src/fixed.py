"""The same handler, idempotent: every side effect carries a key that is the same on every delivery of
the event — the event's own id, else the request ID, which Lambda keeps across an async event's
retries (and its duplicates). A second run of the same order changes nothing."""

from providers import charge, send_email


def handler(event, context):
    key = str(event.get("id") or context.aws_request_id)
    charge(event["customer"], event["amount"], idempotency_key=f"{key}:charge")
    send_email(event["email"], f"Your order {event['id']} is paid", idempotency_key=f"{key}:email")
    return {"order": event["id"], "status": "paid"}
