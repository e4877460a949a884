"""The Lambda control-plane API through boto3: shapes, status codes, errors, addressing and waiters."""

from __future__ import annotations

import base64
import hashlib
import re
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from tests.support import (
    ACCOUNT,
    ROLE,
    RunningServer,
    create_python_function,
    error_of,
    function_arn,
    make_zip,
    payload_of,
    unique,
)

SOURCE = "def handler(event, context):\n    return {'version': 1}\n"

#: Every key GetFunctionConfiguration returns for a plain Zip function without environment or DLQ.
CONFIGURATION_KEYS = {
    "FunctionName", "FunctionArn", "Runtime", "Role", "Handler", "CodeSize", "Description", "Timeout",
    "MemorySize", "LastModified", "CodeSha256", "Version", "TracingConfig", "RevisionId", "State",
    "LastUpdateStatus", "PackageType", "Architectures", "EphemeralStorage", "SnapStart", "RuntimeVersionConfig",
    "LoggingConfig",
}
LAST_MODIFIED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")


def not_found_message(name: str) -> str:
    return f"Function not found: {function_arn(name)}"


@pytest.fixture(scope="module")
def function(lam: Any) -> str:
    """One function the read-only tests of this module share."""
    return create_python_function(lam, SOURCE, Description="shared", Timeout=5, MemorySize=256)


# ---- CreateFunction / Get* ----


def test_create_function_returns_201_and_the_configuration(lam: Any) -> None:
    name = unique()
    package = make_zip({"app.py": SOURCE})
    response = lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                                   Code={"ZipFile": package})
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    config = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    # Lambda reports a new function as Pending in CreateFunction's own response (functions-states docs).
    assert config.pop("State") == "Pending"
    assert config.pop("StateReason") == "The function is being created."
    assert config.pop("StateReasonCode") == "Creating"
    # ...and no LastUpdateStatus at all (recorded AWS response); reads report it Successful.
    assert set(config) | {"State", "LastUpdateStatus"} == CONFIGURATION_KEYS
    assert "LastUpdateStatus" not in config
    assert config["FunctionName"] == name
    assert config["FunctionArn"] == function_arn(name)
    assert config["Runtime"] == "python3.12"
    assert config["Role"] == ROLE
    assert config["Handler"] == "app.handler"
    assert config["CodeSize"] == len(package)
    assert config["CodeSha256"] == base64.b64encode(hashlib.sha256(package).digest()).decode()
    assert config["Description"] == ""
    assert config["Timeout"] == 3
    assert config["MemorySize"] == 128
    assert LAST_MODIFIED.match(config["LastModified"])
    assert config["Version"] == "$LATEST"
    assert config["TracingConfig"] == {"Mode": "PassThrough"}
    assert re.fullmatch(r"[0-9a-f-]{36}", config["RevisionId"])
    assert config["PackageType"] == "Zip"
    assert config["Architectures"] == ["x86_64"]
    assert config["EphemeralStorage"] == {"Size": 512}
    assert config["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    assert config["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"}
    assert re.fullmatch(r"arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}",
                        config["RuntimeVersionConfig"]["RuntimeVersionArn"])
    # Once created, the function is Active at once: waiters and invokes don't have to wait.
    assert lam.get_function_configuration(FunctionName=name)["State"] == "Active"


def test_get_function_and_get_function_configuration(lam: Any, function: str) -> None:
    got = lam.get_function(FunctionName=function)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert set(got) == {"ResponseMetadata", "Configuration", "Code"}
    assert got["Code"]["RepositoryType"] == "S3"
    assert got["Code"]["Location"].startswith("http://127.0.0.1:")
    config = got["Configuration"]
    assert set(config) == CONFIGURATION_KEYS
    assert (config["State"], config["LastUpdateStatus"]) == ("Active", "Successful")
    assert (config["Description"], config["Timeout"], config["MemorySize"]) == ("shared", 5, 256)
    alone = lam.get_function_configuration(FunctionName=function)
    assert {k: v for k, v in alone.items() if k != "ResponseMetadata"} == config


def test_code_location_serves_the_deployment_package(lam: Any) -> None:
    package = make_zip({"app.py": SOURCE, "lib/data.txt": "data"})
    name = unique()
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": package})
    location = lam.get_function(FunctionName=name)["Code"]["Location"]
    with urllib.request.urlopen(location, timeout=30) as response:
        assert response.read() == package
    newer = make_zip({"app.py": "def handler(e, c):\n    return 2\n"})
    lam.update_function_code(FunctionName=name, ZipFile=newer)
    with urllib.request.urlopen(lam.get_function(FunctionName=name)["Code"]["Location"], timeout=30) as response:
        downloaded = response.read()
    assert downloaded == newer
    assert base64.b64encode(hashlib.sha256(downloaded).digest()).decode() == \
        lam.get_function_configuration(FunctionName=name)["CodeSha256"]


def test_environment_and_tags_appear_when_set(lam: Any) -> None:
    name = create_python_function(lam, SOURCE, Environment={"Variables": {"AA": "1", "BB": "two"}},
                                  Tags={"team": "core"})
    config = lam.get_function_configuration(FunctionName=name)
    assert config["Environment"] == {"Variables": {"AA": "1", "BB": "two"}}
    got = lam.get_function(FunctionName=name)
    assert got["Tags"] == {"team": "core"}


@pytest.mark.parametrize("form", ["name", "arn", "partial", "qualified", "qualified-arn"])
def test_functions_are_addressed_by_name_full_or_partial_arn(lam: Any, function: str, form: str) -> None:
    reference = {
        "name": function,
        "arn": function_arn(function),
        "partial": f"{ACCOUNT}:function:{function}",
        "qualified": f"{function}:$LATEST",
        "qualified-arn": f"{function_arn(function)}:$LATEST",
    }[form]
    assert lam.get_function(FunctionName=reference)["Configuration"]["FunctionName"] == function
    # Asked for as $LATEST, $LATEST is named by its qualified ARN (recorded).
    shown = function_arn(function) + (":$LATEST" if form.startswith("qualified") else "")
    assert lam.get_function_configuration(FunctionName=reference)["FunctionArn"] == shown
    response = lam.invoke(FunctionName=reference, Payload=b"{}")
    assert (response["StatusCode"], payload_of(response)) == (200, {"version": 1})


def test_unknown_function_is_resource_not_found(lam: Any) -> None:
    name = unique("missing")
    calls = [
        lambda: lam.get_function(FunctionName=name),
        lambda: lam.get_function_configuration(FunctionName=name),
        lambda: lam.delete_function(FunctionName=name),
        lambda: lam.invoke(FunctionName=name, Payload=b"{}"),
        lambda: lam.update_function_configuration(FunctionName=name, Timeout=4),
        lambda: lam.update_function_code(FunctionName=name, ZipFile=make_zip({"app.py": SOURCE})),
        lambda: lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1),
        lambda: lam.get_function_concurrency(FunctionName=name),
        lambda: lam.delete_function_concurrency(FunctionName=name),
    ]
    for call in calls:
        with pytest.raises(lam.exceptions.ResourceNotFoundException) as caught:
            call()
        status, code, message, body = error_of(caught.value)
        # Invoke names the version it would have run (AWS-recorded in LocalStack's test_invoke_exceptions),
        # PutFunctionConcurrency the version it would set (test_function_concurrency_exceptions).
        expected = not_found_message(name) + (":$LATEST" if call in (calls[3], calls[6]) else "")
        assert (status, code, message) == (404, "ResourceNotFoundException", expected)
        assert body["Type"] == "User"
        assert body["Message"] == message  # this error spells it "Message"


def test_unknown_function_by_arn_and_other_region_or_account(lam: Any, function: str) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as caught:
        lam.get_function(FunctionName=function_arn(unique("missing")))
    assert error_of(caught.value)[0] == 404
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{function}")
    # Another account's function: 403 AccessDeniedException with a null message (recorded on AWS).
    with pytest.raises(lam.exceptions.ClientError) as denied:
        lam.get_function(FunctionName=f"arn:aws:lambda:us-east-1:111111111111:function:{function}")
    assert error_of(denied.value)[:3] == (403, "AccessDeniedException", None)


def test_unknown_qualifier_is_not_found(lam: Any, function: str) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as caught:
        lam.get_function(FunctionName=function, Qualifier="7")
    assert error_of(caught.value)[2] == f"Function not found: {function_arn(function)}:7"


def test_create_existing_function_is_a_conflict(lam: Any, function: str) -> None:
    with pytest.raises(lam.exceptions.ResourceConflictException) as caught:
        create_python_function(lam, SOURCE, name=function)
    status, code, message, body = error_of(caught.value)
    assert (status, code, message, body["Type"]) == (409, "ResourceConflictException",
                                                     f"Function already exist: {function}", "User")


def test_create_without_handler_or_runtime_is_invalid(lam: Any) -> None:
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as caught:
        lam.create_function(FunctionName=unique(), Runtime="python3.12", Role=ROLE,
                            Code={"ZipFile": make_zip({"app.py": SOURCE})})
    assert error_of(caught.value)[:2] == (400, "InvalidParameterValueException")
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as caught:
        lam.create_function(FunctionName=unique(), Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": make_zip({"app.py": SOURCE})})
    assert error_of(caught.value)[:2] == (400, "InvalidParameterValueException")


def test_limits_are_validation_errors(lam: Any, function: str) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        lam.update_function_configuration(FunctionName=function, Timeout=901)
    assert error_of(caught.value)[:3] == (
        400, "ValidationException",
        "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: "
        "Member must have value less than or equal to 900",
    )
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        lam.update_function_configuration(FunctionName=function, MemorySize=10241)
    assert error_of(caught.value)[:3] == (
        400, "ValidationException",
        "1 validation error detected: Value '10241' at 'memorySize' failed to satisfy constraint: "
        "Member must have value less than or equal to 10240",
    )
    # Nothing changed.
    config = lam.get_function_configuration(FunctionName=function)
    assert (config["Timeout"], config["MemorySize"]) == (5, 256)


# ---- ListFunctions ----


@pytest.fixture(scope="module")
def own_server() -> Iterator[RunningServer]:
    """A server of this module's own, so ListFunctions sees exactly the functions made here."""
    running = RunningServer().start()
    yield running
    running.stop()


def test_list_functions_paginates_with_max_items_and_marker(own_server: RunningServer) -> None:
    lam = own_server.client("lambda")
    assert lam.list_functions()["Functions"] == []
    names = sorted(create_python_function(lam, SOURCE, name=f"list-{i:02d}") for i in range(5))
    everything = lam.list_functions()
    assert [f["FunctionName"] for f in everything["Functions"]] == names
    assert "NextMarker" not in everything
    # A subset of GetFunctionConfiguration's fields (see test_lambda_api_review for which).
    assert everything["Functions"][0] == {
        k: v for k, v in lam.get_function_configuration(FunctionName=names[0]).items()
        if k not in ("ResponseMetadata", "State", "LastUpdateStatus", "RuntimeVersionConfig")
    }
    seen: list[str] = []
    pages = 0
    marker: str | None = None
    while True:
        page = lam.list_functions(MaxItems=2, **({"Marker": marker} if marker else {}))
        pages += 1
        assert len(page["Functions"]) <= 2
        seen += [f["FunctionName"] for f in page["Functions"]]
        marker = page.get("NextMarker")
        if marker is None:
            break
    assert (seen, pages) == (names, 3)
    paginated = [f["FunctionName"] for p in lam.get_paginator("list_functions").paginate(
        PaginationConfig={"PageSize": 2}) for f in p["Functions"]]
    assert paginated == names


# ---- updates ----


def test_update_function_code_changes_code_hash_and_revision(lam: Any) -> None:
    name = create_python_function(lam, SOURCE)
    before = lam.get_function_configuration(FunctionName=name)
    package = make_zip({"app.py": "def handler(event, context):\n    return {'version': 2}\n"})
    time.sleep(0.002)  # LastModified has millisecond precision
    updated = lam.update_function_code(FunctionName=name, ZipFile=package)
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert updated["CodeSha256"] == base64.b64encode(hashlib.sha256(package).digest()).decode()
    assert updated["CodeSize"] == len(package)
    assert updated["RevisionId"] != before["RevisionId"]
    assert updated["LastModified"] > before["LastModified"]
    # The update's own response says it is in progress; GetFunction says it's done (waiters pass at once).
    assert updated["State"] == "Active"
    assert updated["LastUpdateStatus"] == "InProgress"
    assert updated["LastUpdateStatusReason"] == "The function is being created."
    assert updated["LastUpdateStatusReasonCode"] == "Creating"
    after = lam.get_function_configuration(FunctionName=name)
    assert after["LastUpdateStatus"] == "Successful"
    assert "LastUpdateStatusReason" not in after
    # The update's completion is a revision of its own, as on AWS (recorded).
    assert after["RevisionId"] != updated["RevisionId"]
    assert payload_of(lam.invoke(FunctionName=name)) == {"version": 2}


def test_update_function_configuration(lam: Any) -> None:
    name = create_python_function(lam, SOURCE)
    before = lam.get_function_configuration(FunctionName=name)
    updated = lam.update_function_configuration(
        FunctionName=name, Timeout=10, MemorySize=512, Description="new", Handler="app.handler",
        Environment={"Variables": {"XX": "y"}},
    )
    assert (updated["Timeout"], updated["MemorySize"], updated["Description"]) == (10, 512, "new")
    assert updated["Environment"] == {"Variables": {"XX": "y"}}
    assert updated["CodeSha256"] == before["CodeSha256"]
    assert updated["RevisionId"] != before["RevisionId"]
    assert updated["LastUpdateStatus"] == "InProgress"
    after = lam.get_function_configuration(FunctionName=name)
    assert (after["Timeout"], after["MemorySize"], after["LastUpdateStatus"]) == (10, 512, "Successful")
    # Clearing the variables keeps the key, as AWS echoes a given empty environment.
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {}})
    assert lam.get_function_configuration(FunctionName=name)["Environment"] == {"Variables": {}}


def test_update_with_stale_revision_is_precondition_failed(lam: Any) -> None:
    name = create_python_function(lam, SOURCE)
    with pytest.raises(lam.exceptions.PreconditionFailedException) as caught:
        lam.update_function_configuration(FunctionName=name, Timeout=4, RevisionId="not-the-revision")
    assert error_of(caught.value)[:2] == (412, "PreconditionFailedException")


def test_waiters_pass_at_once(lam: Any) -> None:
    name = create_python_function(lam, SOURCE)
    started = time.monotonic()
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    lam.get_waiter("function_exists").wait(FunctionName=name)
    lam.get_waiter("function_active").wait(FunctionName=name)
    lam.update_function_code(FunctionName=name, ZipFile=make_zip({"app.py": SOURCE}))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    lam.update_function_configuration(FunctionName=name, Timeout=7)
    lam.get_waiter("function_updated").wait(FunctionName=name)
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    # A waiter that had to poll would sleep at least 1 s (v2) or 5 s.
    assert time.monotonic() - started < 1.0


# ---- DeleteFunction ----


def test_delete_function(lam: Any) -> None:
    name = create_python_function(lam, SOURCE)
    assert payload_of(lam.invoke(FunctionName=name)) == {"version": 1}
    response = lam.delete_function(FunctionName=function_arn(name))
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert set(response) == {"ResponseMetadata", "StatusCode"}
    assert response["StatusCode"] == 204
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as caught:
        lam.delete_function(FunctionName=name)
    assert error_of(caught.value)[2] == not_found_message(name)
    # The name is free again.
    create_python_function(lam, SOURCE, name=name)
    assert payload_of(lam.invoke(FunctionName=name)) == {"version": 1}


# ---- concurrency ----


def test_function_concurrency_put_get_delete(lam: Any) -> None:
    name = create_python_function(lam, SOURCE)
    empty = lam.get_function_concurrency(FunctionName=name)
    assert set(empty) == {"ResponseMetadata"}
    put = lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=3)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert put["ReservedConcurrentExecutions"] == 3
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 3
    assert lam.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 3}
    deleted = lam.delete_function_concurrency(FunctionName=name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    assert "Concurrency" not in lam.get_function(FunctionName=name)


def test_function_concurrency_must_leave_100_unreserved(lam: Any) -> None:
    name = create_python_function(lam, SOURCE)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as caught:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=950)
    assert error_of(caught.value)[:3] == (
        400, "InvalidParameterValueException",
        "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
        "below its minimum value of [100].",
    )
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)


def test_a_large_unzip_stalls_no_other_request(server: RunningServer, lam: Any) -> None:
    """The package is extracted off the event loop: other requests are answered while it unzips."""
    import threading

    package = make_zip({"app.py": SOURCE, "blob.bin": b"\0" * (150 * 1024 * 1024)})  # ~150 KB zipped
    answered: list[float] = []
    done = threading.Event()

    def poll_health() -> None:
        while not done.is_set():
            server.emu_get("/_emu/health")
            answered.append(time.monotonic())

    poller = threading.Thread(target=poll_health, daemon=True)
    poller.start()
    started = time.monotonic()
    name = unique()
    try:
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": package})
    finally:
        finished = time.monotonic()
        done.set()
        poller.join(30)
    during = [t for t in answered if started < t < finished]
    # A loop blocked by the unzip answers only the odd request around it (2 measured); a free one, hundreds.
    assert len(during) >= 10, f"{len(during)} health answers during a {finished - started:.2f}s CreateFunction"
    lam.delete_function(FunctionName=name)


OK_SOURCE = "def handler(event, context):\n    return {'ok': True}\n"


def test_create_function_response_has_no_last_update_status(lam: Any) -> None:
    # AWS's CreateFunction response reports State Pending and no LastUpdateStatus at all; the key
    # appears (Successful) only on the reads that follow.
    name = unique()
    created = lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                                  Code={"ZipFile": make_zip({"app.py": OK_SOURCE})})
    assert (created["State"], created["StateReason"], created["StateReasonCode"]) == (
        "Pending", "The function is being created.", "Creating")
    assert "LastUpdateStatus" not in created
    assert "LastUpdateStatusReason" not in created
    assert lam.get_function_configuration(FunctionName=name)["LastUpdateStatus"] == "Successful"


def test_empty_environment_is_echoed(lam: Any) -> None:
    # Given (even with no variables) Environment is echoed as {"Variables": {}}; never given, it is absent.
    name = create_python_function(lam, OK_SOURCE, Environment={"Variables": {}})
    assert lam.get_function_configuration(FunctionName=name)["Environment"] == {"Variables": {}}
    assert lam.get_function(FunctionName=name)["Configuration"]["Environment"] == {"Variables": {}}
    bare = create_python_function(lam, OK_SOURCE)
    assert "Environment" not in lam.get_function_configuration(FunctionName=bare)
    updated = lam.update_function_configuration(FunctionName=bare, Environment={"Variables": {}})
    assert updated["Environment"] == {"Variables": {}}


@pytest.mark.parametrize("call", ["get_function", "get_function_configuration", "invoke"])
def test_arn_from_another_region_is_not_reachable(lam: Any, call: str) -> None:
    name = create_python_function(lam, OK_SOURCE)
    arn = f"arn:aws:lambda:eu-west-1:000000000000:function:{name}"
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as caught:
        getattr(lam, call)(FunctionName=arn)
    status, code, message, body = error_of(caught.value)
    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"
    assert body["Type"] == "User"


#: What ListFunctions leaves out of each FunctionConfiguration (ListFunctions API reference: "To get
#: the additional fields ... use GetFunction").
NOT_LISTED = {"State", "StateReasonCode", "StateReason", "LastUpdateStatus", "LastUpdateStatusReason",
              "LastUpdateStatusReasonCode", "RuntimeVersionConfig"}


def test_list_functions_returns_the_documented_subset(lam: Any) -> None:
    name = create_python_function(lam, OK_SOURCE, Environment={"Variables": {"AA": "1"}})
    listed = next(f for p in lam.get_paginator("list_functions").paginate() for f in p["Functions"]
                  if f["FunctionName"] == name)
    full = {k: v for k, v in lam.get_function_configuration(FunctionName=name).items() if k != "ResponseMetadata"}
    assert listed == {k: v for k, v in full.items() if k not in NOT_LISTED}
    assert not NOT_LISTED & set(listed)
