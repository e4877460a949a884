"""The two outside services the order handler calls, as thin clients (stdlib and boto3 only).

- The payment provider takes an optional idempotency key, as Stripe's Idempotency-Key header does: a
  charge sent again with the same key is applied once. Here its ledger is the Charges.fifo queue and
  the key is the message's deduplication ID (SQS FIFO applies one per 5 minutes, which covers Lambda's
  async retries at +60 s and +180 s; a real provider keeps keys for a day or more).
- The email provider is the SendEmail function, invoked synchronously; it takes a key the same way.

boto3 reaches lambda-emu through AWS_ENDPOINT_URL, which lambda-emu sets inside every function.
"""

import json
import os
import uuid

import boto3
from botocore.config import Config

# No client-side retries: a failed call fails the handler, and Lambda's own retries take over.
_CONFIG = Config(retries={"total_max_attempts": 1})
_sqs = boto3.client("sqs", config=_CONFIG)
_lambda = boto3.client("lambda", config=_CONFIG)


def charge(customer, amount, idempotency_key=None):
    """Charge ``customer``; without a key every call is a new charge."""
    _sqs.send_message(
        QueueUrl=os.environ["CHARGES_QUEUE"],
        MessageBody=json.dumps({"customer": customer, "amount": amount}),
        MessageGroupId=customer,
        MessageDeduplicationId=idempotency_key or str(uuid.uuid4()),
    )


def send_email(to, subject, idempotency_key=None):
    """Send an email through the SendEmail function; raises when the provider fails."""
    response = _lambda.invoke(
        FunctionName=os.environ["EMAIL_FUNCTION"],
        Payload=json.dumps({"to": to, "subject": subject, "idempotencyKey": idempotency_key}),
    )
    if response.get("FunctionError"):
        raise RuntimeError("email provider failed: " + response["Payload"].read().decode())
