"""Versions and aliases (issue 14): PublishVersion, ListVersionsByFunction, DeleteFunction of a version,
the alias operations with RoutingConfig, qualified names everywhere, and which version ran — through boto3
against the real server, with AWS's shapes and messages (spec aws-wave2.md §4)."""

from __future__ import annotations

import base64
import json
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import ROLE, RunningServer, error_of, function_arn, make_zip, payload_of, unique

#: Reports what the function was and how it was invoked; the code's VERSION tells which snapshot ran.
SOURCE = """
import os
VERSION = {tag!r}

def handler(event, context):
    return {{"code": VERSION, "function_version": context.function_version,
             "invoked_function_arn": context.invoked_function_arn,
             "env_version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"],
             "log_stream": context.log_stream_name, "greeting": os.environ.get("GREETING")}}
"""


def code(tag: str) -> bytes:
    return make_zip({"app.py": SOURCE.format(tag=tag)})


def create(lam: Any, tag: str = "one", **extra: Any) -> str:
    name = unique("ver")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": code(tag)}, **extra)
    return name


def update_code(lam: Any, name: str, tag: str, **extra: Any) -> dict[str, Any]:
    return lam.update_function_code(FunctionName=name, ZipFile=code(tag), **extra)


def failure(call: Any, **params: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as excinfo:
        call(**params)
    status, error_code, message, _ = error_of(excinfo.value)
    return status, error_code, message


# ---- PublishVersion, ListVersionsByFunction ----


def test_publish_version_snapshots_code_and_configuration(lam: Any) -> None:
    name = create(lam, "one", Environment={"Variables": {"GREETING": "hello"}}, Description="first")
    published = lam.publish_version(FunctionName=name)
    assert published["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert published["Version"] == "1"
    assert published["FunctionArn"] == function_arn(name) + ":1"
    assert published["Description"] == "first"
    assert published["State"] == "Active" and published["LastUpdateStatus"] == "Successful"
    latest = lam.get_function_configuration(FunctionName=name)
    assert published["CodeSha256"] == latest["CodeSha256"]
    assert published["RevisionId"] != latest["RevisionId"]

    update_code(lam, name, "two")
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"GREETING": "changed"}})
    one = payload_of(lam.invoke(FunctionName=name, Qualifier="1"))
    assert one["code"] == "one" and one["greeting"] == "hello"
    latest_run = payload_of(lam.invoke(FunctionName=name))
    assert latest_run["code"] == "two" and latest_run["greeting"] == "changed"

    config = lam.get_function_configuration(FunctionName=name, Qualifier="1")
    assert config["Version"] == "1" and config["FunctionArn"] == function_arn(name) + ":1"
    assert config["Environment"] == {"Variables": {"GREETING": "hello"}}
    got = lam.get_function(FunctionName=f"{name}:1")
    assert got["Configuration"]["Version"] == "1" and got["Configuration"]["CodeSha256"] == published["CodeSha256"]


def test_publish_without_change_returns_the_latest_version(lam: Any) -> None:
    name = create(lam, Description="original")
    first = lam.publish_version(FunctionName=name, Description="v1 text")
    again = lam.publish_version(FunctionName=name, Description="another text")
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (again["Version"], again["RevisionId"], again["Description"]) == ("1", first["RevisionId"], "v1 text")
    # A configuration change alone is a change.
    lam.update_function_configuration(FunctionName=name, Description="changed")
    second = lam.publish_version(FunctionName=name)
    assert second["Version"] == "2" and second["Description"] == "changed"


def test_publish_checks_code_sha256_and_revision_id(lam: Any) -> None:
    name = create(lam)
    latest = lam.get_function_configuration(FunctionName=name)
    status, error_code, message = failure(lam.publish_version, FunctionName=name, CodeSha256="bogus")
    assert (status, error_code) == (400, "InvalidParameterValueException")
    assert message == (f"CodeSHA256 (bogus) is different from current CodeSHA256 in $LATEST "
                       f"({latest['CodeSha256']}). Please try again with the CodeSHA256 in $LATEST.")
    status, error_code, message = failure(lam.publish_version, FunctionName=name, RevisionId="nope")
    assert (status, error_code) == (412, "PreconditionFailedException")
    assert message == ("The Revision Id provided does not match the latest Revision Id. "
                       "Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
    ok = lam.publish_version(FunctionName=name, CodeSha256=latest["CodeSha256"], RevisionId=latest["RevisionId"])
    assert ok["Version"] == "1"


def test_list_versions_and_delete_a_version(lam: Any) -> None:
    name = create(lam, "one")
    lam.publish_version(FunctionName=name)
    update_code(lam, name, "two")
    lam.publish_version(FunctionName=name)
    listed = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in listed] == ["$LATEST", "1", "2"]
    assert [v["FunctionArn"] for v in listed] == [function_arn(name) + ":$LATEST", function_arn(name) + ":1",
                                                  function_arn(name) + ":2"]
    assert "State" not in listed[0]

    page = lam.list_versions_by_function(FunctionName=name, MaxItems=2)
    assert [v["Version"] for v in page["Versions"]] == ["$LATEST", "1"] and page["NextMarker"]

    assert lam.delete_function(FunctionName=name, Qualifier="1")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST", "2"]
    # A version that isn't there: 204 all the same; numbers are never reused.
    lam.delete_function(FunctionName=name, Qualifier="9")
    update_code(lam, name, "three")
    assert lam.publish_version(FunctionName=name)["Version"] == "3"

    status, error_code, message = failure(lam.delete_function, FunctionName=name, Qualifier="$LATEST")
    assert (status, error_code, message) == (
        400, "InvalidParameterValueException", "$LATEST version cannot be deleted without deleting the function.")
    # The same for a function that isn't there, asked for by its $LATEST ARN (recorded).
    gone = f"{function_arn(unique('gone'))}:$LATEST"
    assert failure(lam.delete_function, FunctionName=gone, Qualifier="$LATEST") == (
        400, "InvalidParameterValueException", "$LATEST version cannot be deleted without deleting the function.")
    status, error_code, message = failure(lam.get_function, FunctionName=name, Qualifier="1")
    assert (status, error_code, message) == (404, "ResourceNotFoundException",
                                             f"Function not found: {function_arn(name)}:1")

    lam.delete_function(FunctionName=name)
    status, error_code, _ = failure(lam.list_versions_by_function, FunctionName=name)
    assert (status, error_code) == (404, "ResourceNotFoundException")


def test_create_function_and_update_code_with_publish(lam: Any) -> None:
    name = unique("ver")
    created = lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                                  Code={"ZipFile": code("one")}, Publish=True)
    assert created["Version"] == "1" and created["FunctionArn"] == function_arn(name)
    assert created["State"] == "Pending"
    updated = update_code(lam, name, "two", Publish=True)
    assert updated["Version"] == "2" and updated["FunctionArn"] == function_arn(name) + ":2"
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == [
        "$LATEST", "1", "2"]
    assert payload_of(lam.invoke(FunctionName=name, Qualifier="1"))["code"] == "one"
    assert payload_of(lam.invoke(FunctionName=name, Qualifier="2"))["code"] == "two"


# ---- which version ran ----


def test_invoke_a_version_says_which_version_ran(server: RunningServer, lam: Any) -> None:
    name = create(lam, "one")
    lam.publish_version(FunctionName=name)
    update_code(lam, name, "two")

    reply = lam.invoke(FunctionName=f"{name}:1", LogType="Tail")
    assert reply["ExecutedVersion"] == "1"
    assert reply["ResponseMetadata"]["HTTPHeaders"]["x-amz-executed-version"] == "1"
    body = json.loads(reply["Payload"].read())
    assert body["code"] == "one" and body["function_version"] == "1" and body["env_version"] == "1"
    assert body["invoked_function_arn"] == function_arn(name) + ":1"
    assert "/[1]" in body["log_stream"]
    log = base64.b64decode(reply["LogResult"]).decode()
    assert f"START RequestId: {reply['ResponseMetadata']['RequestId']} Version: 1" in log

    latest = lam.invoke(FunctionName=name)
    assert latest["ExecutedVersion"] == "$LATEST"
    body = payload_of(latest)
    assert body["function_version"] == "$LATEST" and body["invoked_function_arn"] == function_arn(name)

    [attempt] = server.invocations(name, reply["ResponseMetadata"]["RequestId"])
    assert attempt["executedVersion"] == "1"
    described = {f["functionName"]: f for f in server.emu_get("/_emu/functions")["functions"]}[name]
    assert described["versions"] == ["1"] and described["lastExecutedVersion"] == "$LATEST"


def test_unknown_qualifiers_are_not_found(lam: Any) -> None:
    name = create(lam)
    for qualifier in ("7", "nosuch"):
        status, error_code, message = failure(lam.invoke, FunctionName=name, Qualifier=qualifier)
        assert (status, error_code, message) == (404, "ResourceNotFoundException",
                                                 f"Function not found: {function_arn(name)}:{qualifier}")
        status, error_code, message = failure(lam.get_function_configuration, FunctionName=f"{name}:{qualifier}")
        assert (status, error_code, message) == (404, "ResourceNotFoundException",
                                                 f"Function not found: {function_arn(name)}:{qualifier}")
    status, error_code, message = failure(lam.invoke, FunctionName=f"{name}:1", Qualifier="2")
    assert (status, error_code, message) == (
        400, "InvalidParameterValueException",
        "The derived qualifier from the function name does not match the specified qualifier.")


def test_each_version_keeps_its_own_environments(server: RunningServer, lam: Any) -> None:
    name = create(lam, "one")
    lam.publish_version(FunctionName=name)
    lam.invoke(FunctionName=name, Qualifier="1")
    lam.invoke(FunctionName=name)
    first_of_1 = lam.invoke(FunctionName=name, Qualifier="1")
    # Both warm: each version has its own environment, neither one's start retired the other.
    cold = [a["coldStart"] for a in server.invocations(name)]
    assert cold == [True, True, False]
    assert first_of_1["ExecutedVersion"] == "1"


# ---- aliases ----


def alias_arn(name: str, alias: str) -> str:
    return f"{function_arn(name)}:{alias}"


def two_versions(lam: Any) -> str:
    name = create(lam, "one")
    lam.publish_version(FunctionName=name)
    update_code(lam, name, "two")
    lam.publish_version(FunctionName=name)
    return name


def test_alias_lifecycle(lam: Any) -> None:
    name = two_versions(lam)
    created = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    created.pop("ResponseMetadata")
    assert created == {"AliasArn": alias_arn(name, "live"), "Name": "live", "FunctionVersion": "1",
                       "Description": "", "RevisionId": created["RevisionId"]}
    got = lam.get_alias(FunctionName=name, Name="live")
    got.pop("ResponseMetadata")
    assert got == created

    updated = lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2", Description="moved",
                               RoutingConfig={"AdditionalVersionWeights": {"1": 0.25}})
    assert updated["FunctionVersion"] == "2" and updated["Description"] == "moved"
    assert updated["RoutingConfig"] == {"AdditionalVersionWeights": {"1": 0.25}}
    assert updated["RevisionId"] != created["RevisionId"]
    status, error_code, _ = failure(lam.update_alias, FunctionName=name, Name="live", RevisionId="stale")
    assert (status, error_code) == (412, "PreconditionFailedException")
    cleared = lam.update_alias(FunctionName=name, Name="live", RoutingConfig={"AdditionalVersionWeights": {}})
    assert "RoutingConfig" not in cleared

    lam.create_alias(FunctionName=name, Name="edge", FunctionVersion="$LATEST")
    listed = lam.list_aliases(FunctionName=name)["Aliases"]
    assert [a["Name"] for a in listed] == ["edge", "live"]
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name, FunctionVersion="2")["Aliases"]] == ["live"]

    status, error_code, message = failure(lam.delete_function, FunctionName=name, Qualifier="2")
    assert (status, error_code, message) == (
        409, "ResourceConflictException", "Unable to delete version because the following aliases reference it: [live]")

    assert lam.delete_alias(FunctionName=name, Name="live")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lam.delete_alias(FunctionName=name, Name="live")["ResponseMetadata"]["HTTPStatusCode"] == 204
    status, error_code, message = failure(lam.get_alias, FunctionName=name, Name="live")
    assert (status, error_code, message) == (404, "ResourceNotFoundException",
                                             f"Cannot find alias arn: {alias_arn(name, 'live')}")
    status, error_code, message = failure(lam.update_alias, FunctionName=name, Name="live", FunctionVersion="1")
    assert (status, error_code, message) == (404, "ResourceNotFoundException",
                                             f"Alias not found: {alias_arn(name, 'live')}")


def test_alias_errors_as_aws_words_them(lam: Any) -> None:
    name = two_versions(lam)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    cases: list[tuple[dict[str, Any], tuple[int, str, str]]] = [
        ({"Name": "live", "FunctionVersion": "1"},
         (409, "ResourceConflictException", f"Alias already exists: {alias_arn(name, 'live')}")),
        ({"Name": "other", "FunctionVersion": "10"},
         (404, "ResourceNotFoundException", f"Function not found: {function_arn(name)}:10")),
        ({"Name": "other", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.5, "3": 0.1}}},
         (400, "InvalidParameterValueException",
          "Number of items in AdditionalVersionWeights cannot be greater than 1")),
        ({"Name": "other", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"2": 2.0}}},
         (400, "ValidationException",
          "1 validation error detected: Value '{2=2.0}' at 'routingConfig.additionalVersionWeights' failed to satisfy "
          "constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member "
          "must have value greater than or equal to 0.0, Member must not be null]")),
        ({"Name": "other", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.5}}},
         (400, "InvalidParameterValueException",
          "Invalid function version 1. Function version 1 is already included in routing configuration.")),
        ({"Name": "other", "FunctionVersion": "$LATEST", "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.5}}},
         (400, "InvalidParameterValueException",
          "$LATEST is not supported for an alias pointing to more than 1 version")),
        ({"Name": "other", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"10": 0.5}}},
         (404, "ResourceNotFoundException", f"Function not found: {function_arn(name)}:10")),
    ]
    for params, expected in cases:
        assert failure(lam.create_alias, FunctionName=name, **params) == expected, params
    status, error_code, message = failure(lam.create_alias, FunctionName=name, Name="other", FunctionVersion="1",
                                          RoutingConfig={"AdditionalVersionWeights": {"$LATEST": 0.5}})
    assert (status, error_code, message) == (
        400, "ValidationException",
        "1 validation error detected: Value '{$LATEST=0.5}' at 'routingConfig.additionalVersionWeights' failed to "
        "satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 1024, "
        "Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+]")
    status, error_code, _ = failure(lam.create_alias, FunctionName=name, Name="123", FunctionVersion="1")
    assert (status, error_code) == (400, "ValidationException")
    assert lam.create_alias(FunctionName=name, Name="2024-01-02", FunctionVersion="1")["Name"] == "2024-01-02"


def test_invoke_through_an_alias(server: RunningServer, lam: Any) -> None:
    name = two_versions(lam)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    reply = lam.invoke(FunctionName=alias_arn(name, "live"))
    assert reply["ExecutedVersion"] == "1"
    body = payload_of(reply)
    assert body["code"] == "one" and body["function_version"] == "1"
    assert body["invoked_function_arn"] == alias_arn(name, "live")

    config = lam.get_function(FunctionName=name, Qualifier="live")["Configuration"]
    assert config["FunctionArn"] == alias_arn(name, "live") and config["Version"] == "1"
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2")
    assert payload_of(lam.invoke(FunctionName=f"{name}:live"))["code"] == "two"

    status, error_code, message = failure(lam.invoke, FunctionName=f"{name}:nolive")
    assert (status, error_code, message) == (404, "ResourceNotFoundException",
                                             f"Function not found: {alias_arn(name, 'nolive')}")


def test_weighted_alias_draws_with_the_seeded_rng(server: RunningServer, lam: Any) -> None:
    name = two_versions(lam)
    lam.create_alias(FunctionName=name, Name="canary", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})

    def run() -> list[str]:
        return [lam.invoke(FunctionName=name, Qualifier="canary")["ExecutedVersion"] for _ in range(16)]

    assert server.emu is not None  # the run's RNG, seeded again as POST /_emu/reset would (without its wipe)
    server.emu.rng.seed(1234)
    first = run()
    server.emu.rng.seed(1234)
    assert run() == first
    counts = Counter(first)
    assert set(counts) == {"1", "2"}, counts
    lam.update_alias(FunctionName=name, Name="canary", RoutingConfig={"AdditionalVersionWeights": {"2": 0.0}})
    assert set(run()) == {"1"}
    lam.update_alias(FunctionName=name, Name="canary", RoutingConfig={"AdditionalVersionWeights": {"2": 1.0}})
    assert set(run()) == {"2"}


# ---- the state directory, reset ----


def test_state_dir_keeps_versions_and_aliases(tmp_path: Any) -> None:
    first = RunningServer(state_dir=str(tmp_path / "state")).start()
    try:
        lam = first.client("lambda")
        name = two_versions(lam)
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1",
                         RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}}, Description="kept")
        lam.put_function_event_invoke_config(FunctionName=name, Qualifier="live", MaximumRetryAttempts=0)
        alias = lam.get_alias(FunctionName=name, Name="live")
    finally:
        first.stop()
    second = RunningServer(state_dir=str(tmp_path / "state")).start()
    try:
        lam = second.client("lambda")
        assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == [
            "$LATEST", "1", "2"]
        again = lam.get_alias(FunctionName=name, Name="live")
        assert {k: again[k] for k in ("AliasArn", "FunctionVersion", "RoutingConfig", "Description", "RevisionId")} \
            == {k: alias[k] for k in ("AliasArn", "FunctionVersion", "RoutingConfig", "Description", "RevisionId")}
        assert lam.get_function_event_invoke_config(FunctionName=name, Qualifier="live")["MaximumRetryAttempts"] == 0
        assert payload_of(lam.invoke(FunctionName=name, Qualifier="1"))["code"] == "one"
        update_code(lam, name, "three")
        assert lam.publish_version(FunctionName=name)["Version"] == "3"  # the counter came back too
    finally:
        second.stop()


def test_a_version_deleted_while_pending_stays_deleted_after_a_restart(tmp_path: Any) -> None:
    """With --creation-delays a version published by UpdateFunctionCode turns Active UPDATE_SECONDS later;
    deleted before that, it is not written back to the state directory when it would have turned Active."""
    first = RunningServer(clock="manual", creation_delays=True, state_dir=str(tmp_path / "state")).start()
    try:
        lam = first.client("lambda")
        name = create(lam)
        first.settle(10)
        assert update_code(lam, name, "two", Publish=True)["Version"] == "1"
        lam.delete_function(FunctionName=name, Qualifier="1")
        first.advance(10)  # past UPDATE_SECONDS: the update (and the version, were it kept) done
        assert lam.get_function(FunctionName=name)["Configuration"]["LastUpdateStatus"] == "Successful"
    finally:
        first.stop()
    second = RunningServer(state_dir=str(tmp_path / "state")).start()
    try:
        versions = second.client("lambda").list_versions_by_function(FunctionName=name)["Versions"]
        assert [v["Version"] for v in versions] == ["$LATEST"]
    finally:
        second.stop()


def test_reset_clears_versions_and_aliases(tmp_path: Any) -> None:
    own = RunningServer(state_dir=str(tmp_path / "state")).start()  # a reset of its own, not the shared server's
    try:
        lam = own.client("lambda")
        name = two_versions(lam)
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        own.emu_post("/_emu/reset", {})
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": code("fresh")})
        assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST"]
        assert lam.list_aliases(FunctionName=name)["Aliases"] == []
        assert lam.publish_version(FunctionName=name)["Version"] == "1"
        assert own.emu is not None and own.emu.state is not None
        own.emu.state.commit()
        assert [key for key, _ in own.emu.state.load("function-alias")] == []
        assert [key for key, _ in own.emu.state.load("function-version")] == [f"{name}:1"]
    finally:
        own.stop()


# ---- qualifiers on the other operations ----


def test_event_invoke_config_is_kept_per_qualifier_and_the_async_record_names_the_version(
        manual_server: RunningServer, manual_lam: Any) -> None:
    lam = manual_lam
    name = two_versions(lam)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    bus = "arn:aws:events:us-east-1:000000000000:event-bus/" + unique("bus")
    put = lam.put_function_event_invoke_config(FunctionName=name, Qualifier="live", MaximumRetryAttempts=1,
                                               DestinationConfig={"OnSuccess": {"Destination": bus}})
    assert put["FunctionArn"] == alias_arn(name, "live")
    by_arn = lam.get_function_event_invoke_config(FunctionName=alias_arn(name, "live"))
    assert by_arn["MaximumRetryAttempts"] == 1 and by_arn["FunctionArn"] == alias_arn(name, "live")
    assert lam.put_function_event_invoke_config(FunctionName=f"{name}:2", MaximumRetryAttempts=0)["FunctionArn"] \
        == function_arn(name) + ":2"
    status, error_code, message = failure(lam.get_function_event_invoke_config, FunctionName=name)
    assert (status, error_code, message) == (
        404, "ResourceNotFoundException",
        f"The function {function_arn(name)}:$LATEST doesn't have an EventInvokeConfig")
    status, error_code, message = failure(lam.put_function_event_invoke_config, FunctionName=name,
                                          Qualifier="nolive", MaximumRetryAttempts=0)
    assert (status, error_code, message) == (404, "ResourceNotFoundException", "The function doesn't exist.")
    listed = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    assert sorted(c["FunctionArn"] for c in listed) == sorted([function_arn(name) + ":2", alias_arn(name, "live")])

    reply = lam.invoke(FunctionName=name, Qualifier="live", InvocationType="Event", Payload=b"{}")
    manual_server.advance(0)
    [delivery] = manual_server.emu_get(f"/_emu/deliveries?target={bus}")["deliveries"]
    record = delivery["body"]["detail"]
    assert record["requestContext"]["requestId"] == reply["ResponseMetadata"]["RequestId"]
    assert record["requestContext"]["functionArn"] == alias_arn(name, "live")
    assert record["responseContext"]["executedVersion"] == "1"
    assert record["responsePayload"]["code"] == "one"
    assert record["responsePayload"]["invoked_function_arn"] == alias_arn(name, "live")

    lam.delete_function_event_invoke_config(FunctionName=name, Qualifier="live")
    status, error_code, message = failure(lam.get_function_event_invoke_config, FunctionName=name,
                                          Qualifier="live")
    assert (status, error_code, message) == (
        404, "ResourceNotFoundException", f"The function {alias_arn(name, 'live')} doesn't have an EventInvokeConfig")


def test_reserved_concurrency_is_the_whole_function(lam: Any) -> None:
    name = create(lam)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    for qualified in (f"{name}:1", f"{name}:live", alias_arn(name, "live")):
        status, error_code, _ = failure(lam.put_function_concurrency, FunctionName=qualified,
                                        ReservedConcurrentExecutions=1)
        assert (status, error_code) == (400, "InvalidParameterValueException")
    status, error_code, message = failure(lam.get_function_concurrency, FunctionName=f"{name}:nolive")
    assert (status, error_code, message) == (404, "ResourceNotFoundException",
                                             f"Function not found: {alias_arn(name, 'nolive')}")
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    assert lam.get_function_concurrency(FunctionName=function_arn(name))["ReservedConcurrentExecutions"] == 1
    assert lam.get_function(FunctionName=name, Qualifier="live")["Concurrency"] == {"ReservedConcurrentExecutions": 1}
    # The version runs within the function's reservation.
    assert lam.invoke(FunctionName=name, Qualifier="live")["ExecutedVersion"] == "1"


def test_an_event_source_mapping_on_an_alias_invokes_the_alias(manual_server: RunningServer, manual_lam: Any,
                                                                manual_sqs: Any, manual_mappings: list[str]) -> None:
    lam = manual_lam
    name = two_versions(lam)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    url = manual_sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    arn = manual_sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = lam.create_event_source_mapping(FunctionName=alias_arn(name, "live"), EventSourceArn=arn, BatchSize=1)
    manual_mappings.append(mapping["UUID"])
    assert mapping["FunctionArn"] == alias_arn(name, "live")
    # Another qualifier of the same function on the same queue is another mapping.
    other = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=1, Enabled=False)
    manual_mappings.append(other["UUID"])
    assert other["FunctionArn"] == function_arn(name)
    status, error_code, _ = failure(lam.create_event_source_mapping, FunctionName=f"{name}:live",
                                    EventSourceArn=arn)
    assert (status, error_code) == (409, "ResourceConflictException")
    # As for a function that is not there (recorded): 400 "Function does not exist".
    status, error_code, message = failure(lam.create_event_source_mapping, FunctionName=f"{name}:nolive",
                                          EventSourceArn=arn)
    assert (status, error_code, message) == (400, "InvalidParameterValueException", "Function does not exist")

    manual_sqs.send_message(QueueUrl=url, MessageBody="hello")
    manual_server.advance(1)
    [attempt] = manual_server.invocations(name)
    assert attempt["source"] == "sqs" and attempt["executedVersion"] == "1"
    assert attempt["response"]["code"] == "one"
    assert attempt["response"]["invoked_function_arn"] == alias_arn(name, "live")


# ---- templates ----


ECHO_VERSION = ("import os\\ndef handler(event, context):\\n    return {'version': context.function_version, "
                "'arn': context.invoked_function_arn}\\n")


def test_sam_auto_publish_alias(manual_server: RunningServer, manual_sqs: Any, tmp_path: Any) -> None:
    from tests.test_template import load, logical, write_template

    fn, source, target = logical("Fn"), logical("Source"), logical("Target")
    bus = "arn:aws:events:us-east-1:000000000000:event-bus/" + unique("bus")
    path = write_template(tmp_path, f"""
        Transform: AWS::Serverless-2016-10-31
        Globals:
          Function:
            AutoPublishAlias: live
        Resources:
          {source}:
            Type: AWS::SQS::Queue
          {fn}:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: index.handler
              InlineCode: "{ECHO_VERSION}"
              EventInvokeConfig:
                MaximumRetryAttempts: 0
                DestinationConfig:
                  OnSuccess:
                    Type: EventBridge
                    Destination: {bus}
              Events:
                FromQueue:
                  Type: SQS
                  Properties:
                    Queue: !GetAtt {source}.Arn
                    BatchSize: 1
          {target}:
            Type: AWS::Lambda::EventInvokeConfig
            Properties:
              FunctionName: !Ref {fn}.Version
              Qualifier: "1"
              MaximumRetryAttempts: 2
        """)
    load(manual_server, path)
    lam = manual_server.client("lambda")
    alias = lam.get_alias(FunctionName=fn, Name="live")
    assert alias["FunctionVersion"] == "1" and alias["AliasArn"] == alias_arn(fn, "live")
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=fn)["Versions"]] == ["$LATEST", "1"]
    [mapping] = lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]
    assert mapping["FunctionArn"] == alias_arn(fn, "live")
    config = lam.get_function_event_invoke_config(FunctionName=fn, Qualifier="live")
    assert config["MaximumRetryAttempts"] == 0 and config["FunctionArn"] == alias_arn(fn, "live")
    by_version = lam.get_function_event_invoke_config(FunctionName=fn, Qualifier="1")  # !Ref Fn.Version
    assert by_version["MaximumRetryAttempts"] == 2 and by_version["FunctionArn"] == function_arn(fn) + ":1"

    url = manual_sqs.get_queue_url(QueueName=source)["QueueUrl"]
    manual_sqs.send_message(QueueUrl=url, MessageBody="hi")
    manual_server.advance(1)
    [attempt] = manual_server.invocations(fn)
    assert attempt["executedVersion"] == "1" and attempt["response"] == {"version": "1",
                                                                        "arn": alias_arn(fn, "live")}
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    manual_server.advance(0)


def test_lambda_version_and_alias_resources(manual_server: RunningServer, tmp_path: Any) -> None:
    from tests.test_template import load, logical, write_template

    fn, first, alias, mapping_queue, mapping = (logical("Fn"), logical("Ver"), logical("Alias"), logical("Q"),
                                                logical("Map"))
    path = write_template(tmp_path, f"""
        Resources:
          {fn}:
            Type: AWS::Lambda::Function
            Properties:
              Runtime: python3.12
              Handler: index.handler
              Role: arn:aws:iam::000000000000:role/r
              Code:
                ZipFile: "{ECHO_VERSION}"
          {first}:
            Type: AWS::Lambda::Version
            Properties:
              FunctionName: !Ref {fn}
              Description: first cut
          {alias}:
            Type: AWS::Lambda::Alias
            Properties:
              FunctionName: !GetAtt {fn}.Arn
              FunctionVersion: !GetAtt {first}.Version
              Name: prod
              Description: production
          {mapping_queue}:
            Type: AWS::SQS::Queue
          {mapping}:
            Type: AWS::Lambda::EventSourceMapping
            Properties:
              FunctionName: !Ref {alias}
              EventSourceArn: !GetAtt {mapping_queue}.Arn
              Enabled: false
        """)
    load(manual_server, path)
    lam = manual_server.client("lambda")
    [latest, one] = lam.list_versions_by_function(FunctionName=fn)["Versions"]
    assert one["Version"] == "1" and one["Description"] == "first cut"
    got = lam.get_alias(FunctionName=fn, Name="prod")
    assert (got["FunctionVersion"], got["Description"]) == ("1", "production")
    [made] = lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]
    assert made["FunctionArn"] == alias_arn(fn, "prod")
    lam.delete_event_source_mapping(UUID=made["UUID"])
    reply = lam.invoke(FunctionName=fn, Qualifier="prod")
    assert reply["ExecutedVersion"] == "1"


def test_alias_routing_config_in_a_template(manual_server: RunningServer, tmp_path: Any) -> None:
    from tests.test_template import load, logical, write_template

    lam = manual_server.client("lambda")
    name = two_versions(lam)
    weighted = logical("Alias")
    load(manual_server, write_template(tmp_path, f"""
        Resources:
          {weighted}:
            Type: AWS::Lambda::Alias
            Properties:
              FunctionName: {name}
              FunctionVersion: "2"
              Name: canary
              RoutingConfig:
                AdditionalVersionWeights:
                  - FunctionVersion: "1"
                    FunctionWeight: 0.25
        """))
    assert lam.get_alias(FunctionName=name, Name="canary")["RoutingConfig"] == {
        "AdditionalVersionWeights": {"1": 0.25}}

    fn, one, alias = logical("Fn"), logical("One"), logical("Alias")
    path = write_template(tmp_path, f"""
        Resources:
          {fn}:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: index.handler
              InlineCode: "{ECHO_VERSION}"
          {one}:
            Type: AWS::Lambda::Version
            Properties:
              FunctionName: !Ref {fn}
          {alias}:
            Type: AWS::Lambda::Alias
            Properties:
              FunctionName: !Ref {fn}
              FunctionVersion: !GetAtt {one}.Version
              Name: canary
              RoutingConfig:
                AdditionalVersionWeights:
                  - FunctionVersion: "1"
                    FunctionWeight: 0.5
        """)
    with pytest.raises(Exception) as excinfo:
        load(manual_server, path)
    assert "Function version 1 is already included in routing configuration" in str(excinfo.value)


def test_an_edit_publishes_again_and_moves_the_auto_publish_alias(tmp_path: Any) -> None:
    import time

    from tests.test_template import load

    code_dir = tmp_path / "fn"
    code_dir.mkdir()
    (code_dir / "app.py").write_text("def handler(event, context):\n    return 'v1'\n")
    template = tmp_path / "template.yaml"
    template.write_text("Resources:\n  Edited:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                        "      CodeUri: fn/\n      Handler: app.handler\n      Runtime: python3.12\n"
                        "      AutoPublishAlias: live\n")
    own = RunningServer().start()
    try:
        lam = own.client("lambda")
        load(own, template)
        assert payload_of(lam.invoke(FunctionName="Edited", Qualifier="live")) == "v1"
        (code_dir / "app.py").write_text("def handler(event, context):\n    return 'v2'\n")
        edited = time.monotonic()
        while payload_of(lam.invoke(FunctionName="Edited:live")) != "v2":
            assert time.monotonic() - edited < 5, "the edit was not published within 5 s"
            time.sleep(0.05)
        assert lam.get_alias(FunctionName="Edited", Name="live")["FunctionVersion"] == "2"
        # Version 1 keeps the code it was published with.
        assert payload_of(lam.invoke(FunctionName="Edited", Qualifier="1")) == "v1"
    finally:
        own.stop()


def test_a_lambda_destination_on_an_alias_invokes_the_alias(manual_server: RunningServer, manual_lam: Any) -> None:
    lam = manual_lam
    target = two_versions(lam)
    lam.create_alias(FunctionName=target, Name="live", FunctionVersion="1")
    name = create(lam)
    lam.put_function_event_invoke_config(FunctionName=name,
                                         DestinationConfig={"OnSuccess": {"Destination": alias_arn(target, "live")}})
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
    manual_server.advance(0)
    [attempt] = manual_server.invocations(target)
    assert attempt["executedVersion"] == "1"
    assert attempt["response"]["invoked_function_arn"] == alias_arn(target, "live")


def test_list_functions_with_all_versions(lam: Any) -> None:
    name = two_versions(lam)
    every: list[dict[str, Any]] = []
    for page in lam.get_paginator("list_functions").paginate(FunctionVersion="ALL"):
        every.extend(f for f in page["Functions"] if f["FunctionName"] == name)
    assert [f["Version"] for f in every] == ["$LATEST", "1", "2"]
    assert every[1]["FunctionArn"] == function_arn(name) + ":1"
    only_latest = [f for page in lam.get_paginator("list_functions").paginate() for f in page["Functions"]
                   if f["FunctionName"] == name]
    assert [f["Version"] for f in only_latest] == ["$LATEST"]


def test_permissions_are_kept_per_qualifier(lam: Any) -> None:
    name = two_versions(lam)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    added = lam.add_permission(FunctionName=name, Qualifier="live", StatementId="s3", Action="lambda:InvokeFunction",
                               Principal="s3.amazonaws.com")
    assert json.loads(added["Statement"])["Resource"] == alias_arn(name, "live")
    by_arn = json.loads(lam.get_policy(FunctionName=alias_arn(name, "live"))["Policy"])
    assert [s["Sid"] for s in by_arn["Statement"]] == ["s3"]
    status, error_code, message = failure(lam.get_policy, FunctionName=name)
    assert (status, error_code, message) == (404, "ResourceNotFoundException",
                                             "The resource you requested does not exist.")
    lam.add_permission(FunctionName=f"{name}:2", StatementId="v2", Action="lambda:InvokeFunction", Principal="*")
    assert json.loads(lam.get_policy(FunctionName=name, Qualifier="2")["Policy"])["Statement"][0]["Resource"] \
        == function_arn(name) + ":2"
    lam.remove_permission(FunctionName=name, Qualifier="live", StatementId="s3")
    status, error_code, _ = failure(lam.get_policy, FunctionName=name, Qualifier="live")
    assert (status, error_code) == (404, "ResourceNotFoundException")
    status, error_code, message = failure(lam.add_permission, FunctionName=name, Qualifier="nolive", StatementId="x",
                                          Action="lambda:InvokeFunction", Principal="*")
    # AWS names an unknown alias so (recorded by LocalStack's AWS-validated test_permission_exceptions).
    assert (status, error_code, message) == (404, "ResourceNotFoundException",
                                             f"Cannot find alias arn: {alias_arn(name, 'nolive')}")


def test_get_function_code_location_serves_the_versions_package(lam: Any) -> None:
    import io
    import urllib.request
    import zipfile

    name = create(lam, "one")
    lam.publish_version(FunctionName=name)
    update_code(lam, name, "two")
    for qualifier, tag in (("1", "one"), ("$LATEST", "two")):
        location = lam.get_function(FunctionName=name, Qualifier=qualifier)["Code"]["Location"]
        with urllib.request.urlopen(location, timeout=60) as response:
            source = zipfile.ZipFile(io.BytesIO(response.read())).read("app.py").decode()
        assert f"VERSION = {tag!r}" in source
