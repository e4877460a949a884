"""SQS's errors: each modeled shape with the legacy query code and HTTP status AWS sends for it.

botocore's JSON model of SQS dropped the ``error`` traits, so the pairs below are taken from the
service's Smithy model (``aws.protocols#awsQueryError``). Shapes without that trait report their own
name as the query code. Unmodeled errors (``InvalidParameterValue``, ``MissingParameter``...) are
what AWS reports through ``x-amzn-query-error`` for generic validation failures.
"""

from __future__ import annotations

from lambda_emu.emulator.platform.errors import AwsError

#: shape name -> (query code, HTTP status)
QUERY_ERRORS: dict[str, tuple[str, int]] = {
    "BatchEntryIdsNotDistinct": ("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400),
    "BatchRequestTooLong": ("AWS.SimpleQueueService.BatchRequestTooLong", 400),
    "EmptyBatchRequest": ("AWS.SimpleQueueService.EmptyBatchRequest", 400),
    "InvalidAddress": ("InvalidAddress", 404),
    "InvalidAttributeName": ("InvalidAttributeName", 400),
    "InvalidAttributeValue": ("InvalidAttributeValue", 400),
    "InvalidBatchEntryId": ("AWS.SimpleQueueService.InvalidBatchEntryId", 400),
    "InvalidIdFormat": ("InvalidIdFormat", 400),
    "InvalidMessageContents": ("InvalidMessageContents", 400),
    "InvalidSecurity": ("InvalidSecurity", 403),
    "MessageNotInflight": ("AWS.SimpleQueueService.MessageNotInflight", 400),
    "OverLimit": ("OverLimit", 403),
    "PurgeQueueInProgress": ("AWS.SimpleQueueService.PurgeQueueInProgress", 403),
    "QueueDeletedRecently": ("AWS.SimpleQueueService.QueueDeletedRecently", 400),
    "QueueDoesNotExist": ("AWS.SimpleQueueService.NonExistentQueue", 400),
    "QueueNameExists": ("QueueAlreadyExists", 400),
    "ReceiptHandleIsInvalid": ("ReceiptHandleIsInvalid", 404),
    "RequestThrottled": ("RequestThrottled", 403),
    "ResourceNotFoundException": ("ResourceNotFoundException", 404),
    "TooManyEntriesInBatchRequest": ("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400),
    "UnsupportedOperation": ("AWS.SimpleQueueService.UnsupportedOperation", 400),
}


#: SQS's unmodeled errors as AWS answers them over JSON 1.0: Coral's ``__type`` (botocore reports its
#: name as ``QueryErrorCode``) and the legacy code sent in ``x-amzn-query-error`` (botocore's ``Code``).
#: Recorded against AWS; malformed bodies and unknown targets get query codes of their own.
CORAL_ERRORS: dict[str, tuple[str, str]] = {
    "InvalidParameterValue": ("com.amazon.coral.service#InvalidParameterValueException", "InvalidParameterValue"),
    "MissingParameter": ("com.amazon.coral.service#MissingRequiredParameterException", "MissingParameter"),
    "SerializationException": ("com.amazon.coral.service#SerializationException", "MalformedInput"),
    "UnknownOperationException": ("com.amazon.coral.service#UnknownOperationException", "InvalidAction"),
}
#: The query protocol words a missing queue as SQS always has; only JSON 1.0 drops the suffix.
QUERY_MESSAGES: dict[str, str] = {
    "The specified queue does not exist.": "The specified queue does not exist for this wsdl version.",
}


def json_error_type(error: AwsError) -> tuple[str, str]:
    """(``__type``, ``x-amzn-query-error`` code) of an SQS error on the JSON protocol."""
    coral = CORAL_ERRORS.get(error.code)
    if coral is not None:
        return coral
    return f"com.amazonaws.sqs#{error.code}", error.query_code


def query_message(error: AwsError) -> str:
    """The error's message as the query protocol words it."""
    if error.code == "QueueDoesNotExist":
        return QUERY_MESSAGES.get(error.message, error.message)
    if error.code == "InvalidAction":
        # The query protocol's unknown action, as SQS words it ("... is not valid for this endpoint.").
        return error.message.replace("is not valid for this web service.", "is not valid for this endpoint.")
    return error.message


def sqs_error(code: str, message: str) -> AwsError:
    """An SQS error by shape name (or AWS's unmodeled code), with its query code and status."""
    query_code, status = QUERY_ERRORS.get(code, (code, 400))
    return AwsError(code, message, status, query_code=query_code)


def queue_does_not_exist() -> AwsError:
    return sqs_error("QueueDoesNotExist", "The specified queue does not exist.")


def invalid_parameter(message: str) -> AwsError:
    return sqs_error("InvalidParameterValue", message)


def invalid_parameter_value(name: str, value: object, reason: str) -> AwsError:
    return invalid_parameter(f"Value {value} for parameter {name} is invalid. Reason: {reason}")


def missing_parameter(name: str) -> AwsError:
    return sqs_error("MissingParameter", f"The request must contain the parameter {name}.")


def invalid_attribute_name(name: str) -> AwsError:
    return sqs_error("InvalidAttributeName", f"Unknown Attribute {name}.")


def invalid_attribute_value(name: str, reason: str | None = None) -> AwsError:
    message = f"Invalid value for the parameter {name}."
    if reason:
        message += f" Reason: {reason}"
    return sqs_error("InvalidAttributeValue", message)


def receipt_handle_invalid(handle: str) -> AwsError:
    return sqs_error("ReceiptHandleIsInvalid", f'The input receipt handle "{handle}" is not a valid receipt handle.')
