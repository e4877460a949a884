"""Lambda's validation as AWS answers it (the responses LocalStack's AWS-validated snapshot tests recorded),
through boto3 against the real server: tag limits and errors, permission checks, reserved concurrency,
layer references and function URL listing."""

from __future__ import annotations

import urllib.request
from typing import Any

from tests.support import ACCOUNT, REGION, create_python_function, failure, function_arn, make_zip, unique

SOURCE = "def handler(event, context):\n    return 'ok'\n"


# ---- tags ----


def test_at_most_50_tags(lam: Any) -> None:
    too_many = {f"{k}_key": f"{k}_value" for k in range(51)}
    limit = (400, "InvalidParameterValueException", "Number of tags exceeds resource tag limit.")
    assert failure(lam.create_function, FunctionName=unique(), Runtime="python3.12", Handler="app.handler",
                   Role=f"arn:aws:iam::{ACCOUNT}:role/r", Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
                   Tags=too_many)[:3] == limit
    name = create_python_function(lam, SOURCE)
    arn = function_arn(name)
    assert failure(lam.tag_resource, Resource=arn, Tags=too_many)[:3] == limit
    lam.tag_resource(Resource=arn, Tags={f"{k}_key": f"{k}_value" for k in range(50)})
    assert len(lam.list_tags(Resource=arn)["Tags"]) == 50
    assert failure(lam.tag_resource, Resource=arn, Tags={"a_key": "a_value"})[:3] == limit
    lam.tag_resource(Resource=arn, Tags={"0_key": "replaced"})  # replacing a key adds none
    assert lam.list_tags(Resource=arn)["Tags"]["0_key"] == "replaced"


def test_tag_errors_and_revisions(lam: Any) -> None:
    name = create_python_function(lam, SOURCE)
    arn = function_arn(name)
    assert failure(lam.tag_resource, Resource=arn, Tags={})[:3] == (
        400, "InvalidParameterValueException", "An error occurred and the request cannot be processed.")
    assert failure(lam.untag_resource, Resource=arn, TagKeys=[])[:3] == (
        400, "ValidationException",
        "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null")
    mapping = f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:00000000-0000-0000-0000-000000000000"
    assert failure(lam.list_tags, Resource=mapping)[:3] == (
        404, "ResourceNotFoundException", f"Event source mapping not found: {mapping}")
    provider = f"arn:aws:lambda:{REGION}:{ACCOUNT}:capacity-provider:{unique()}"
    for call, extra in ((lam.tag_resource, {"Tags": {"a": "b"}}), (lam.untag_resource, {"TagKeys": ["a"]}),
                        (lam.list_tags, {})):
        assert failure(call, Resource=provider, **extra)[:3] == (
            404, "ResourceNotFoundException", f"Capacity provider not found: {provider}")
    # Each tag change is a new revision of the function (recorded), LastModified unchanged.
    before = lam.get_function(FunctionName=name)["Configuration"]
    lam.tag_resource(Resource=arn, Tags={"a": "b"})
    tagged = lam.get_function(FunctionName=name)["Configuration"]
    lam.untag_resource(Resource=arn, TagKeys=["a"])
    untagged = lam.get_function(FunctionName=name)["Configuration"]
    assert len({before["RevisionId"], tagged["RevisionId"], untagged["RevisionId"]}) == 3
    assert before["LastModified"] == tagged["LastModified"] == untagged["LastModified"]


# ---- reserved concurrency ----


def test_reserved_concurrency_errors(lam: Any) -> None:
    missing = unique()
    assert failure(lam.put_function_concurrency, FunctionName=missing, ReservedConcurrentExecutions=1)[:3] == (
        404, "ResourceNotFoundException", f"Function not found: {function_arn(missing)}:$LATEST")
    name = create_python_function(lam, SOURCE)
    status, code, message, body = failure(lam.put_function_concurrency, FunctionName=f"{function_arn(name)}:$LATEST",
                                          ReservedConcurrentExecutions=0)
    assert (status, code, message) == (
        400, "InvalidParameterValueException", "This operation is permitted on Lambda functions only. Aliases and "
        "versions do not support this operation. Please specify either a function name or an unqualified function "
        "ARN.")
    assert body["Type"] == "User"
    unreserved = lam.get_account_settings()["AccountLimit"]
    for wanted in (unreserved["ConcurrentExecutions"] + 1, unreserved["UnreservedConcurrentExecutions"] - 99):
        status, code, message, body = failure(lam.put_function_concurrency, FunctionName=name,
                                              ReservedConcurrentExecutions=wanted)
        assert (status, code, message) == (
            400, "InvalidParameterValueException", "Specified ReservedConcurrentExecutions for function decreases "
            "account's UnreservedConcurrentExecution below its minimum value of [100].")
        assert "Type" not in body and body["message"] == message  # recorded without Type


# ---- permissions ----


def test_permission_errors_as_recorded(lam: Any) -> None:
    name = create_python_function(lam, SOURCE)
    arn = function_arn(name)
    base = {"Action": "lambda:InvokeFunction", "StatementId": "s3", "Principal": "s3.amazonaws.com"}
    assert failure(lam.add_permission, FunctionName=f"{name}:$LATEST", Qualifier="$LATEST", **base)[:3] == (
        400, "InvalidParameterValueException", "We currently do not support adding policies for $LATEST.")
    assert failure(lam.add_permission, FunctionName=name, **{**base, "Principal": "invalid.nonaws.com"})[:3] == (
        400, "InvalidParameterValueException",
        "The provided principal was invalid. Please check the principal and try again.")
    assert failure(lam.add_permission, FunctionName=f"{name}:alias-doesnotexist", **base)[:3] == (
        404, "ResourceNotFoundException", f"Cannot find alias arn: {arn}:alias-doesnotexist")
    assert failure(lam.add_permission, FunctionName=name, Qualifier="42", **base)[:3] == (
        404, "ResourceNotFoundException", f"Function not found: {arn}:42")
    assert failure(lam.add_permission, FunctionName=name, Qualifier="valid-with-$-but-doesnotexist", **base)[:3] == (
        404, "ResourceNotFoundException", f"Function not found: {arn}:valid-with-$-but-doesnotexist")
    missing = unique()
    assert failure(lam.remove_permission, FunctionName=missing, StatementId="s3")[:3] == (
        404, "ResourceNotFoundException", f"No policy found for: {function_arn(missing)}")
    assert failure(lam.remove_permission, FunctionName=name, StatementId="s3", Qualifier="alias-doesnotexist")[:3] == (
        404, "ResourceNotFoundException", f"Cannot find alias arn: {arn}:alias-doesnotexist")
    assert failure(lam.get_policy, FunctionName=name, Qualifier="77")[:3] == (
        404, "ResourceNotFoundException", "The resource you requested does not exist.")
    for principal in ("*", ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", "events.amazonaws.com", "alexa-appkit.amazon.com"):
        lam.add_permission(FunctionName=name, **{**base, "StatementId": unique("sid"), "Principal": principal})


# ---- layers ----


def test_layer_validation_as_recorded(lam: Any) -> None:
    content = {"ZipFile": make_zip({"python/x.py": "X = 1\n"})}
    status, code, message, _ = failure(lam.publish_layer_version, LayerName=unique("layer"), Content=content,
                                       CompatibleRuntimes=["invalidruntime", "python3.12"],
                                       CompatibleArchitectures=["invalidarch"])
    assert (status, code) == (400, "ValidationException")
    # CompatibleRuntimes is worded as Runtime is (AWS's list, recorded 2026-01), and first.
    runtimes, architectures = message.split("; ")
    assert runtimes.startswith("2 validation errors detected: Value '[invalidruntime, python3.12]' at "
                               "'compatibleRuntimes' failed to satisfy constraint: Member must satisfy enum value "
                               "set: [nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, ")
    assert runtimes.endswith(", ruby3.2, python3.8, python3.9, java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, "
                             "nodejs18.x, provided.al2, java8.al2]")
    assert architectures == ("Value '[invalidarch]' at 'compatibleArchitectures' failed to satisfy constraint: "
                             "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], "
                             "Member must not be null]")
    published = lam.publish_layer_version(LayerName=unique("layer"), Content=content)
    # ListLayers and GetLayerVersionByArn share a path: the latter is routed by its ?find= query every time.
    lam.list_layers()
    status, code, message, _ = failure(lam.get_layer_version_by_arn, Arn=published["LayerArn"])
    assert (status, code) == (400, "ValidationException")
    assert message.startswith(f"1 validation error detected: Value '{published['LayerArn']}' at 'arn' failed to "
                              "satisfy constraint: Member must satisfy regular expression pattern: ")
    assert lam.get_layer_version_by_arn(Arn=published["LayerVersionArn"])["Version"] == 1


# ---- function URLs on aliases, and their listing ----

VERSION_SOURCE = ("def handler(event, context):\n"
                  "    body = context.function_version + ' ' + context.invoked_function_arn\n"
                  "    return {'statusCode': 200, 'body': body}\n")


def test_alias_urls_are_listed_in_pages_and_run_the_alias_s_version(lam: Any) -> None:
    name = create_python_function(lam, VERSION_SOURCE)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="urlalias", FunctionVersion=version)
    assert lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"] == []
    unqualified = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    aliased = lam.create_function_url_config(FunctionName=f"{name}:urlalias", Qualifier="urlalias", AuthType="NONE")
    assert aliased["FunctionArn"] == f"{function_arn(name)}:urlalias"
    assert aliased["FunctionUrl"] != unqualified["FunctionUrl"]
    urls = {unqualified["FunctionUrl"], aliased["FunctionUrl"]}
    both = lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
    assert {c["FunctionUrl"] for c in both} == urls
    first = lam.list_function_url_configs(FunctionName=name, MaxItems=1)
    second = lam.list_function_url_configs(FunctionName=name, MaxItems=1, Marker=first["NextMarker"])
    assert {first["FunctionUrlConfigs"][0]["FunctionUrl"], second["FunctionUrlConfigs"][0]["FunctionUrl"]} == urls
    assert "NextMarker" not in second
    with urllib.request.urlopen(aliased["FunctionUrl"], timeout=120) as response:
        assert response.read().decode() == f"{version} {function_arn(name)}:urlalias"
    with urllib.request.urlopen(unqualified["FunctionUrl"], timeout=120) as response:
        assert response.read().decode() == f"$LATEST {function_arn(name)}"
    lam.delete_function_url_config(FunctionName=name, Qualifier="urlalias")
    assert failure(lam.get_function_url_config, FunctionName=name, Qualifier="urlalias")[:3] == (
        404, "ResourceNotFoundException", "The resource you requested does not exist.")
    assert lam.get_function_url_config(FunctionName=name)["FunctionUrl"] == unqualified["FunctionUrl"]
