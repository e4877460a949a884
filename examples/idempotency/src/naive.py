"""Charge an order, then email the customer. Correct on a laptop, wrong on Lambda: Lambda runs it at
least once, so a retry after a failed email, a duplicate delivery or a lost response charges again."""

from providers import charge, send_email


def handler(event, context):
    charge(event["customer"], event["amount"])
    send_email(event["email"], f"Your order {event['id']} is paid")
    return {"order": event["id"], "status": "paid"}
