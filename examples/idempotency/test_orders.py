"""Is the order handler idempotent? Each test makes Lambda's at-least-once delivery happen on purpose
and checks the customer was charged once and emailed once.

    pytest examples/idempotency                              # the fixed handler: passes
    CHARGE_HANDLER=naive pytest examples/idempotency         # the naive one: charged twice, three times

The `lambda_emu` fixture comes with lambda-emu (its pytest plugin): a lambda-emu on a manual clock,
reset before each test.
"""

import json
import os
from pathlib import Path

import pytest

HANDLER = os.environ.get("CHARGE_HANDLER", "fixed")
TEMPLATE = Path(__file__).parent / "template.yaml"
ORDER = {"id": "order-1001", "customer": "cus_ada", "amount": 4200, "email": "ada@example.com"}


@pytest.fixture
def emu(lambda_emu):
    lambda_emu.deploy(template=TEMPLATE, parameters={"HandlerName": f"{HANDLER}.handler"})
    return lambda_emu


def charges(emu):
    return [json.loads(m["body"]) for m in emu.queue_messages("Charges.fifo")]


def emails(emu):
    return [json.loads(m["body"]) for m in emu.queue_messages("Emails.fifo")]


def test_a_retry_after_a_failed_email_does_not_charge_again(emu):
    emu.faults(functionName="SendEmail", serviceErrorRate=1.0)  # the email provider is down...
    emu.invoke("ChargeFunction", ORDER, async_=True)
    emu.advance(0)  # attempt 1: charged, then the email failed
    emu.faults(functionName="SendEmail", serviceErrorRate=0.0)  # ...and back before the retry
    emu.settle()  # attempt 2, 60 s later
    assert [a["outcome"] for a in emu.invocations("ChargeFunction")] == ["error", "success"]
    assert charges(emu) == [{"customer": "cus_ada", "amount": 4200}]
    assert len(emails(emu)) == 1


def test_an_event_delivered_twice_charges_once(emu):
    emu.faults(functionName="ChargeFunction", duplicateRate=1.0)  # at-least-once: nothing failed
    emu.invoke("ChargeFunction", ORDER, async_=True)
    emu.settle()
    assert [a["duplicate"] for a in emu.invocations("ChargeFunction")] == [False, True]
    assert charges(emu) == [{"customer": "cus_ada", "amount": 4200}]
    assert len(emails(emu)) == 1


def test_a_lost_response_after_the_charge_does_not_charge_again(emu):
    emu.faults(functionName="ChargeFunction", lostResponseRate=1.0)  # "timed out" after the charge
    emu.invoke("ChargeFunction", ORDER, async_=True)
    emu.settle()
    attempts = emu.invocations("ChargeFunction")
    assert [a["errorType"] for a in attempts] == ["Sandbox.Timedout"] * 3  # retried twice, then given up
    assert charges(emu) == [{"customer": "cus_ada", "amount": 4200}]
    assert len(emails(emu)) == 1
    # The order ended in the OnFailure destination, so someone looks at it — but it was charged once.
    [failed] = emu.queue_messages("FailedOrders")
    assert json.loads(failed["body"])["requestContext"]["condition"] == "RetriesExhausted"
