"""The email provider: one message in Emails.fifo per email sent (deduplicated by the caller's key)."""

import json
import os
import uuid

import boto3

_sqs = boto3.client("sqs")


def handler(event, context):
    _sqs.send_message(
        QueueUrl=os.environ["EMAILS_QUEUE"],
        MessageBody=json.dumps({"to": event["to"], "subject": event["subject"]}),
        MessageGroupId=event["to"],
        MessageDeduplicationId=event.get("idempotencyKey") or str(uuid.uuid4()),
    )
    return {"sent": True}
