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
