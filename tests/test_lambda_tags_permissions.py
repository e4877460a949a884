"""Lambda's tags, resource-based policies and recursion config through boto3 against the real server:
TagResource / UntagResource / ListTags, AddPermission / RemovePermission / GetPolicy,
Get/PutFunctionRecursionConfig, GetAccountSettings' totals, and the template resources behind them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from tests.support import (
    ACCOUNT,
    REGION,
    RunningServer,
    create_python_function,
    failure,
    function_arn,
    unique,
)
from tests.test_template import load, logical, write_template

SOURCE = "def handler(event, context):\n    return 'ok'\n"


# ---- tags ----


def test_tags_on_create_tag_untag_and_list(lam: Any) -> None:
    name = create_python_function(lam, SOURCE, Tags={"team": "a", "env": "dev"})
    arn = function_arn(name)
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "a", "env": "dev"}
    response = lam.tag_resource(Resource=arn, Tags={"env": "prod", "cost": "42"})
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "a", "env": "prod", "cost": "42"}
    response = lam.untag_resource(Resource=arn, TagKeys=["team", "absent"])
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lam.list_tags(Resource=arn)["Tags"] == {"env": "prod", "cost": "42"}
    assert lam.get_function(FunctionName=name)["Tags"] == {"env": "prod", "cost": "42"}
    lam.untag_resource(Resource=arn, TagKeys=["env", "cost"])
    assert lam.list_tags(Resource=arn)["Tags"] == {}
    assert "Tags" not in lam.get_function(FunctionName=name)


def test_tag_errors(lam: Any) -> None:
    name = create_python_function(lam, SOURCE)
    missing = function_arn(unique())
    assert failure(lam.list_tags, Resource=missing)[:3] == (
        404, "ResourceNotFoundException", f"Function not found: {missing}")
    assert failure(lam.tag_resource, Resource=missing, Tags={"a": "b"})[:2] == (404, "ResourceNotFoundException")
    assert failure(lam.tag_resource, Resource=function_arn(name) + ":1", Tags={"a": "b"})[:3] == (
        400, "InvalidParameterValueException",
        "Tags on function aliases and versions are not supported. Please specify a function ARN.")
    status, code, _message, _body = failure(lam.list_tags, Resource=name)  # not an ARN: the model's pattern
    assert (status, code) == (400, "ValidationException")


#: TagResource / UntagResource / ListTags' resource pattern as AWS words it (LocalStack's AWS-recorded
#: test_tag_exceptions, Nov 2025): with layer:, without botocore's network-connector.
TAGGABLE_PATTERN = (
    "arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:(function:"
    "[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|code-signing-config:csc-[a-z0-9]{17}|"
    "event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|"
    "capacity-provider:[a-zA-Z0-9-_]+)")


def test_a_resource_that_is_no_taggable_arn(lam: Any) -> None:
    for resource in (f"arn:aws:lambda:{REGION}:{ACCOUNT}:foobar:{unique()}",
                     f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:{unique()}:alias", "arn:aws:something"):
        message = (f"1 validation error detected: Value '{resource}' at 'resource' failed to satisfy constraint: "
                   f"Member must satisfy regular expression pattern: {TAGGABLE_PATTERN}")
        for call, extra in ((lam.tag_resource, {"Tags": {"a": "b"}}), (lam.untag_resource, {"TagKeys": ["a"]}),
                            (lam.list_tags, {})):
            status, code, answered, body = failure(call, Resource=resource, **extra)
            assert (status, code, answered) == (400, "ValidationException", message)
            assert set(body) == {"Error", "ResponseMetadata"}  # Coral's error: no Type


def test_event_source_mapping_tags(lam: Any, sqs: Any) -> None:
    name = create_python_function(lam, SOURCE)
    queue = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=queue_arn, Enabled=False,
                                              Tags={"owner": "me"})
    arn = mapping["EventSourceMappingArn"]
    assert arn == f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:{mapping['UUID']}"
    assert lam.list_tags(Resource=arn)["Tags"] == {"owner": "me"}
    lam.tag_resource(Resource=arn, Tags={"stage": "1"})
    lam.untag_resource(Resource=arn, TagKeys=["owner"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"stage": "1"}
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    gone = f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:00000000-0000-0000-0000-000000000000"
    assert failure(lam.list_tags, Resource=gone)[:3] == (
        404, "ResourceNotFoundException", f"Event source mapping not found: {gone}")


# ---- permissions ----


def test_add_permission_renders_aws_statements_and_get_policy(lam: Any) -> None:
    name = create_python_function(lam, SOURCE)
    arn = function_arn(name)
    before = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    response = lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                                  Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::bucket",
                                  SourceAccount="111122223333")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    s3 = {"Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
          "Action": "lambda:InvokeFunction", "Resource": arn,
          "Condition": {"StringEquals": {"AWS:SourceAccount": "111122223333"},
                        "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"}}}
    assert json.loads(response["Statement"]) == s3
    lam.add_permission(FunctionName=arn, StatementId="account", Action="lambda:GetFunction",
                       Principal="123456789012")
    lam.add_permission(FunctionName=name, StatementId="org", Action="lambda:InvokeFunction", Principal="*",
                       PrincipalOrgID="o-a1b2c3d4e5")
    lam.add_permission(FunctionName=name, StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")
    policy = lam.get_policy(FunctionName=name)
    document = json.loads(policy["Policy"])
    assert document == {"Version": "2012-10-17", "Id": "default", "Statement": [
        s3,
        {"Sid": "account", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
         "Action": "lambda:GetFunction", "Resource": arn},
        {"Sid": "org", "Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction", "Resource": arn,
         "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}},
        {"Sid": "url", "Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunctionUrl", "Resource": arn,
         "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}},
    ]}
    # The policy's revision is the function's, and each change moves it.
    assert policy["RevisionId"] == lam.get_function_configuration(FunctionName=name)["RevisionId"] != before


def test_permission_errors_and_remove(lam: Any) -> None:
    name = create_python_function(lam, SOURCE)
    assert failure(lam.get_policy, FunctionName=name)[:3] == (
        404, "ResourceNotFoundException", "The resource you requested does not exist.")
    assert failure(lam.remove_permission, FunctionName=name, StatementId="x")[:2] == (
        404, "ResourceNotFoundException")
    lam.add_permission(FunctionName=name, StatementId="one", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com")
    assert failure(lam.add_permission, FunctionName=name, StatementId="one", Action="lambda:InvokeFunction",
                   Principal="sqs.amazonaws.com")[:3] == (
        409, "ResourceConflictException",
        "The statement id (one) provided already exists. Please provide a new statement id, or remove the existing "
        "statement.")
    status, code, _message, _body = failure(lam.add_permission, FunctionName=name, StatementId="two",
                                             Action="lambda:InvokeFunction", Principal="sns.amazonaws.com",
                                             RevisionId="not-the-revision")
    assert (status, code) == (412, "PreconditionFailedException")
    assert failure(lam.remove_permission, FunctionName=name, StatementId="one", RevisionId="stale")[:2] == (
        412, "PreconditionFailedException")
    assert failure(lam.remove_permission, FunctionName=name, StatementId="absent")[:3] == (
        404, "ResourceNotFoundException", "Statement absent is not found in resource policy.")
    revision = lam.get_policy(FunctionName=name)["RevisionId"]
    lam.add_permission(FunctionName=name, StatementId="two", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com", RevisionId=revision)
    response = lam.remove_permission(FunctionName=name, StatementId="one")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert [s["Sid"] for s in json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]] == ["two"]
    lam.remove_permission(FunctionName=name, StatementId="two")
    assert failure(lam.get_policy, FunctionName=name)[1] == "ResourceNotFoundException"
    missing = unique()
    assert failure(lam.add_permission, FunctionName=missing, StatementId="a", Action="lambda:InvokeFunction",
                   Principal="*")[:3] == (
        404, "ResourceNotFoundException", f"Function not found: {function_arn(missing)}")


# ---- recursion config and account settings ----


def test_recursion_config_defaults_to_terminate(lam: Any) -> None:
    name = create_python_function(lam, SOURCE)
    assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Terminate"
    assert lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")["RecursiveLoop"] == "Allow"
    assert lam.get_function_recursion_config(FunctionName=function_arn(name))["RecursiveLoop"] == "Allow"
    assert failure(lam.put_function_recursion_config, FunctionName=name, RecursiveLoop="Sometimes")[:2] == (
        400, "ValidationException")
    assert failure(lam.get_function_recursion_config, FunctionName=unique())[:2] == (404, "ResourceNotFoundException")


def test_account_settings_totals(manual_lam: Any) -> None:
    before = manual_lam.get_account_settings()
    name = create_python_function(manual_lam, SOURCE)
    size = manual_lam.get_function_configuration(FunctionName=name)["CodeSize"]
    after = manual_lam.get_account_settings()
    assert after["AccountUsage"] == {"TotalCodeSize": before["AccountUsage"]["TotalCodeSize"] + size,
                                     "FunctionCount": before["AccountUsage"]["FunctionCount"] + 1}
    limits = after["AccountLimit"]
    assert {k: limits[k] for k in ("TotalCodeSize", "CodeSizeUnzipped", "CodeSizeZipped", "ConcurrentExecutions")} == {
        "TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000, "CodeSizeZipped": 52428800,
        "ConcurrentExecutions": 1000}
    manual_lam.delete_function(FunctionName=name)


# ---- templates ----


def test_template_tags_and_permission(server: RunningServer, lam: Any, tmp_path: Path) -> None:
    sam, plain, permission = logical("Sam"), logical("Plain"), logical("Allow")
    rule = "arn:aws:events:us-east-1:000000000000:rule/nightly"
    path = write_template(tmp_path, f"""
        Transform: AWS::Serverless-2016-10-31
        Resources:
          {sam}:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: index.handler
              InlineCode: "def handler(e, c):\\n    return 1\\n"
              Tags:
                team: a
          {plain}:
            Type: AWS::Lambda::Function
            Properties:
              Runtime: python3.12
              Handler: index.handler
              Role: arn:aws:iam::000000000000:role/r
              Code: {{ZipFile: "def handler(e, c):\\n    return 2\\n"}}
              Tags:
                - Key: team
                  Value: b
          {permission}:
            Type: AWS::Lambda::Permission
            Properties:
              FunctionName: !GetAtt {plain}.Arn
              Action: lambda:InvokeFunction
              Principal: events.amazonaws.com
              SourceArn: {rule}
    """)
    with capture_logs() as logged:
        assert sorted(load(server, path)) == sorted([sam, plain, permission])
    assert [entry for entry in logged if entry.get("log_level") == "warning"] == []
    assert lam.list_tags(Resource=function_arn(sam))["Tags"] == {"team": "a"}
    assert lam.get_function(FunctionName=plain)["Tags"] == {"team": "b"}
    statements = json.loads(lam.get_policy(FunctionName=plain)["Policy"])["Statement"]
    assert statements == [{"Sid": permission, "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                           "Action": "lambda:InvokeFunction", "Resource": function_arn(plain),
                           "Condition": {"ArnLike": {"AWS:SourceArn": rule}}}]
