"""SQS's query protocol wire names: the ``xmlName`` / ``xmlFlattened`` traits of SQS's Smithy model
that botocore's JSON model dropped, as data for :mod:`lambda_emu.emulator.protocol.query`."""

from __future__ import annotations

from lambda_emu.emulator.protocol.service import QueryTraits
from lambda_emu.emulator.services.sqs.errors import QUERY_ERRORS

XMLNS = "http://queue.amazonaws.com/doc/2012-11-05/"

#: (structure, member) -> query wire name; every list and map member named here is flattened.
MEMBER_NAMES: dict[tuple[str, str], str] = {
    ("AddPermissionRequest", "AWSAccountIds"): "AWSAccountId",
    ("AddPermissionRequest", "Actions"): "ActionName",
    ("CreateQueueRequest", "Attributes"): "Attribute",
    ("CreateQueueRequest", "tags"): "Tag",
    ("SetQueueAttributesRequest", "Attributes"): "Attribute",
    ("GetQueueAttributesRequest", "AttributeNames"): "AttributeName",
    ("GetQueueAttributesResult", "Attributes"): "Attribute",
    ("ReceiveMessageRequest", "AttributeNames"): "AttributeName",
    ("ReceiveMessageRequest", "MessageSystemAttributeNames"): "MessageSystemAttributeName",
    ("ReceiveMessageRequest", "MessageAttributeNames"): "MessageAttributeName",
    ("ReceiveMessageResult", "Messages"): "Message",
    ("Message", "Attributes"): "Attribute",
    ("Message", "MessageAttributes"): "MessageAttribute",
    ("SendMessageRequest", "MessageAttributes"): "MessageAttribute",
    ("SendMessageRequest", "MessageSystemAttributes"): "MessageSystemAttribute",
    ("SendMessageBatchRequestEntry", "MessageAttributes"): "MessageAttribute",
    ("SendMessageBatchRequestEntry", "MessageSystemAttributes"): "MessageSystemAttribute",
    ("SendMessageBatchRequest", "Entries"): "SendMessageBatchRequestEntry",
    ("SendMessageBatchResult", "Successful"): "SendMessageBatchResultEntry",
    ("SendMessageBatchResult", "Failed"): "BatchResultErrorEntry",
    ("DeleteMessageBatchRequest", "Entries"): "DeleteMessageBatchRequestEntry",
    ("DeleteMessageBatchResult", "Successful"): "DeleteMessageBatchResultEntry",
    ("DeleteMessageBatchResult", "Failed"): "BatchResultErrorEntry",
    ("ChangeMessageVisibilityBatchRequest", "Entries"): "ChangeMessageVisibilityBatchRequestEntry",
    ("ChangeMessageVisibilityBatchResult", "Successful"): "ChangeMessageVisibilityBatchResultEntry",
    ("ChangeMessageVisibilityBatchResult", "Failed"): "BatchResultErrorEntry",
    ("ListQueuesResult", "QueueUrls"): "QueueUrl",
    ("ListDeadLetterSourceQueuesResult", "queueUrls"): "QueueUrl",
    ("ListQueueTagsResult", "Tags"): "Tag",
    ("TagQueueRequest", "Tags"): "Tag",
    ("UntagQueueRequest", "TagKeys"): "TagKey",
    ("ListMessageMoveTasksResult", "Results"): "ListMessageMoveTasksResultEntry",
    ("MessageAttributeValue", "StringListValues"): "StringListValue",
    ("MessageAttributeValue", "BinaryListValues"): "BinaryListValue",
    ("MessageSystemAttributeValue", "StringListValues"): "StringListValue",
    ("MessageSystemAttributeValue", "BinaryListValues"): "BinaryListValue",
}

#: map shape -> (key element, value element)
MAP_NAMES: dict[str, tuple[str, str]] = {
    "QueueAttributeMap": ("Name", "Value"),
    "MessageBodyAttributeMap": ("Name", "Value"),
    "MessageBodySystemAttributeMap": ("Name", "Value"),
    "MessageSystemAttributeMap": ("Name", "Value"),
    "TagMap": ("Key", "Value"),
}


#: Where a query answer in JSON (Accept: application/json) names a member otherwise than the model
#: (recorded against AWS: ReceiveMessage's list is "messages").
JSON_NAMES: dict[tuple[str, str], str] = {
    ("ReceiveMessageResult", "Messages"): "messages",
}

QUERY_TRAITS = QueryTraits(namespace=XMLNS, member_names=MEMBER_NAMES, map_names=MAP_NAMES, errors=QUERY_ERRORS,
                           json_names=JSON_NAMES)
