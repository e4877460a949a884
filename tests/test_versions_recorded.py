"""Versions, aliases, revisions and per-qualifier settings as AWS recorded them (issue 16: the differences
LocalStack's AWS-validated test_lambda_api.py snapshots showed) — through boto3 against the real server."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import ROLE, error_of, function_arn, make_zip, unique

SOURCE = "def handler(event, context):\n    return {'tag': %r}\n"


def code(tag: str = "one") -> bytes:
    return make_zip({"app.py": SOURCE % tag})


def create(lam: Any, tag: str = "one", **extra: Any) -> str:
    name = unique("rec")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": code(tag)}, **extra)
    return name


def refused(call: Any, **params: Any) -> tuple[int, str, str, dict[str, Any]]:
    with pytest.raises(ClientError) as excinfo:
        call(**params)
    return error_of(excinfo.value)


def test_publish_gives_latest_a_new_revision_and_aliases_keep_their_own(lam: Any) -> None:
    name = create(lam)
    active = lam.get_function(FunctionName=name)["Configuration"]["RevisionId"]
    assert refused(lam.publish_version, FunctionName=name, RevisionId="wrong")[:2] == (
        412, "PreconditionFailedException")
    published = lam.publish_version(FunctionName=name, RevisionId=active)
    assert published["RevisionId"] != active
    lam.get_waiter("published_version_active").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 1})
    version = lam.get_function(FunctionName=name, Qualifier="1")["Configuration"]
    assert version["RevisionId"] == published["RevisionId"]
    latest = lam.get_function(FunctionName=name)["Configuration"]["RevisionId"]
    assert latest not in (active, published["RevisionId"])  # publishing is a revision of $LATEST (recorded)
    # Nothing changed since: the same version again, and $LATEST keeps its revision.
    again = lam.publish_version(FunctionName=name)
    assert (again["Version"], again["RevisionId"]) == ("1", published["RevisionId"])

    alias = lam.create_alias(FunctionName=name, Name="revision_alias", FunctionVersion="1")
    assert alias["RevisionId"] not in (latest, published["RevisionId"])
    assert lam.get_function(FunctionName=name)["Configuration"]["RevisionId"] == latest
    assert lam.get_function(FunctionName=name, Qualifier="1")["Configuration"]["RevisionId"] \
        == published["RevisionId"]
    assert refused(lam.update_alias, FunctionName=name, Name="revision_alias", RevisionId="wrong")[:2] == (
        412, "PreconditionFailedException")
    changed = lam.update_alias(FunctionName=name, Name="revision_alias", Description="something changed",
                               RevisionId=alias["RevisionId"])
    assert changed["RevisionId"] != alias["RevisionId"]


def test_alias_errors_as_recorded(lam: Any) -> None:
    name = create(lam, Publish=True)
    lam.update_function_configuration(FunctionName=name, Description="second")
    lam.publish_version(FunctionName=name)
    status, error_code, message, body = refused(
        lam.create_alias, FunctionName=name, Name="custom", FunctionVersion="$LATEST",
        RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}})
    assert (status, error_code, message) == (
        400, "InvalidParameterValueException", "$LATEST is not supported for an alias pointing to more than 1 version")
    assert "Type" not in body  # AWS's body has none for this one
    status, error_code, message, body = refused(
        lam.create_alias, FunctionName=f"{name}-unknown", Name="custom", FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    assert (status, error_code, message) == (
        404, "ResourceNotFoundException", f"Function not found: {function_arn(name)}-unknown:1")
    assert body["Type"] == "User"


def test_event_invoke_configs_are_listed_a_page_at_a_time(lam: Any) -> None:
    name = create(lam)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0, MaximumEventAgeInSeconds=60)
    lam.publish_version(FunctionName=name)
    lam.put_function_event_invoke_config(FunctionName=name, Qualifier="1", MaximumRetryAttempts=1)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.put_function_event_invoke_config(FunctionName=name, Qualifier="live", MaximumRetryAttempts=1)
    arn = function_arn(name)
    every = lam.list_function_event_invoke_configs(FunctionName=name)
    assert [c["FunctionArn"] for c in every["FunctionEventInvokeConfigs"]] == [
        arn + ":$LATEST", arn + ":1", arn + ":live"]
    assert "NextMarker" not in every
    first = lam.list_function_event_invoke_configs(FunctionName=name, MaxItems=2)
    assert [c["FunctionArn"] for c in first["FunctionEventInvokeConfigs"]] == [arn + ":$LATEST", arn + ":1"]
    rest = lam.list_function_event_invoke_configs(FunctionName=name, MaxItems=2, Marker=first["NextMarker"])
    assert [c["FunctionArn"] for c in rest["FunctionEventInvokeConfigs"]] == [arn + ":live"]
    assert "NextMarker" not in rest


def test_latest_is_named_by_its_qualified_arn_where_it_is_addressed_as_such(lam: Any) -> None:
    name = create(lam, Publish=True)
    arn = function_arn(name)
    assert lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"] == arn
    assert lam.get_function(FunctionName=name, Qualifier="$LATEST")["Configuration"]["FunctionArn"] \
        == arn + ":$LATEST"
    assert lam.get_function_configuration(FunctionName=f"{name}:$LATEST")["FunctionArn"] == arn + ":$LATEST"
    assert lam.get_function_configuration(FunctionName=name)["FunctionArn"] == arn
    listed = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [(v["Version"], v["FunctionArn"]) for v in listed] == [("$LATEST", arn + ":$LATEST"), ("1", arn + ":1")]
    every = [f for page in lam.get_paginator("list_functions").paginate(FunctionVersion="ALL")
             for f in page["Functions"] if f["FunctionName"] == name]
    assert [f["FunctionArn"] for f in every] == [arn + ":$LATEST", arn + ":1"]
    default = [f for page in lam.get_paginator("list_functions").paginate() for f in page["Functions"]
               if f["FunctionName"] == name]
    assert [f["FunctionArn"] for f in default] == [arn]


def test_update_code_with_publish_answers_with_the_new_version(lam: Any) -> None:
    name = create(lam, "one")
    updated = lam.update_function_code(FunctionName=name, ZipFile=code("two"), Publish=True)
    assert (updated["Version"], updated["FunctionArn"]) == ("1", function_arn(name) + ":1")
    # The version is being created (recorded: Pending with AWS's reason, and no LastUpdateStatus at all).
    assert (updated["State"], updated["StateReason"], updated["StateReasonCode"]) == (
        "Pending", "The function is being created.", "Creating")
    assert "LastUpdateStatus" not in updated
    version = lam.get_function(FunctionName=name, Qualifier="1")["Configuration"]
    assert (version["RevisionId"], version["CodeSha256"]) == (updated["RevisionId"], updated["CodeSha256"])
    assert (version["State"], version["LastUpdateStatus"]) == ("Active", "Successful")
    assert lam.get_function(FunctionName=name)["Configuration"]["CodeSha256"] == updated["CodeSha256"]


def test_total_code_size_counts_every_version_and_layer_version(lam: Any) -> None:
    def usage() -> dict[str, int]:
        return lam.get_account_settings()["AccountUsage"]

    package = code("sized")
    before = usage()
    name = unique("rec")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": package})
    created = usage()
    assert created["TotalCodeSize"] - before["TotalCodeSize"] == len(package)
    assert created["FunctionCount"] - before["FunctionCount"] == 1
    # The same code again, published: $LATEST's code is replaced, version 1 holds a copy of its own.
    lam.update_function_code(FunctionName=name, ZipFile=package, Publish=True)
    assert usage()["TotalCodeSize"] - created["TotalCodeSize"] == len(package)
    # A configuration change alone changes nothing; publishing it adds another copy.
    lam.update_function_configuration(FunctionName=name, Description="config only")
    assert usage()["TotalCodeSize"] - created["TotalCodeSize"] == len(package)
    lam.publish_version(FunctionName=name)
    assert usage()["TotalCodeSize"] - created["TotalCodeSize"] == 2 * len(package)

    layer_zip = make_zip({"python/helper.py": "VALUE = 1\n"})
    layer = unique("layer")
    published = usage()
    lam.publish_layer_version(LayerName=layer, Content={"ZipFile": layer_zip})
    lam.publish_layer_version(LayerName=layer, Content={"ZipFile": layer_zip})
    assert usage()["TotalCodeSize"] - published["TotalCodeSize"] == 2 * len(layer_zip)
    lam.delete_layer_version(LayerName=layer, VersionNumber=1)
    lam.delete_function(FunctionName=name, Qualifier="1")
    assert usage()["TotalCodeSize"] - published["TotalCodeSize"] == len(layer_zip) - len(package)
    lam.delete_function(FunctionName=name)
    lam.delete_layer_version(LayerName=layer, VersionNumber=2)
    after = usage()
    assert (after["TotalCodeSize"], after["FunctionCount"]) == (before["TotalCodeSize"], before["FunctionCount"])
