"""What the Lambda API checks about a target before it accepts one: on-success / on-failure destinations
(PutFunctionEventInvokeConfig), dead-letter queues (DeadLetterConfig) and a stream mapping's on-failure
destination, with AWS's messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.arns import arn_service
from lambda_emu.emulator.platform.arns import function_name as _function_name
from lambda_emu.emulator.platform.errors import invalid_parameter

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import Function, FunctionRegistry

DESTINATION_SERVICES = ("sqs", "sns", "lambda", "events", "s3")


class DestinationChecks:
    def __init__(self, functions: FunctionRegistry, queue_exists: Callable[[str], bool]) -> None:
        self.functions = functions
        #: Whether lambda-emu serves an SQS queue with this ARN.
        self.queue_exists = queue_exists

    def check_dead_letter_target(self, function: Function, target: str | None) -> None:
        """A function's DLQ must be an SQS queue or an SNS topic."""
        if target is None:
            return
        if arn_service(target) not in ("sqs", "sns"):
            raise invalid_parameter(
                "The provided target ARN is invalid. A dead-letter queue must be an SQS queue or an SNS topic: "
                + target
            )
        self.check_reachable(target)

    def check_destination(self, function: Function, arn: str, on_success: bool,
                          config: dict[str, Any] | None = None) -> None:
        """An on-success / on-failure destination, with AWS's messages (recorded by LocalStack's
        AWS-validated test_lambda_eventinvokeconfig_exceptions)."""
        service = arn_service(arn)
        if service not in DESTINATION_SERVICES or (service == "s3" and on_success):
            # AWS names the whole configuration, in its Java toString form.
            raise invalid_parameter(f"The provided destination config {_config_text(config or {})} is invalid.")
        if service == "lambda":
            name = _function_name(arn)
            if self.functions.find(name) is None:
                raise invalid_parameter(f"The destination ARN {arn} is invalid.")
            if name == function.name:
                raise invalid_parameter("You can't specify the function as a destination for itself.")
        self.check_reachable(arn)

    def check_reachable(self, arn: str) -> None:
        """A queue lambda-emu serves must exist (AWS's check is on the execution role's permission to
        send to it). A Lambda target was already checked by check_destination; SNS, EventBridge and S3
        are not served here, so there is nothing to reach."""
        if arn_service(arn) == "sqs" and not self.queue_exists(arn):
            raise invalid_parameter(
                f"The function execution role does not have permissions to call SendMessage on {arn}"
            )


def _config_text(config: dict[str, Any]) -> str:
    """DestinationConfig as AWS prints it: DestinationConfig(onSuccess=OnSuccess(destination=ARN), onFailure=null)."""
    parts = []
    for slot in ("OnSuccess", "OnFailure"):
        target = (config.get(slot) or {}).get("Destination")
        shown = f"{slot}(destination={target})" if target else "null"
        parts.append(f"{slot[0].lower()}{slot[1:]}={shown}")
    return f"DestinationConfig({', '.join(parts)})"
