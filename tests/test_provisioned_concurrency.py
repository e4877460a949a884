"""Provisioned concurrency through boto3 against the real server: Put / Get / Delete /
ListProvisionedConcurrencyConfigs with AWS's shapes, errors (recorded by LocalStack's AWS-validated
snapshots), limits, status transitions on the platform clock, and --state-dir."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.support import RunningServer, create_python_function, failure, function_arn, unique

SOURCE = "def handler(event, context):\n    return 'ok'\n"
LAST_MODIFIED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$")


def without_metadata(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def test_put_get_list_delete_on_a_version_and_an_alias(lam: Any) -> None:
    name = create_python_function(lam, SOURCE)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)

    put = lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version,
                                                 ProvisionedConcurrentExecutions=2)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert LAST_MODIFIED.match(put["LastModified"])
    assert without_metadata(put) == {
        "RequestedProvisionedConcurrentExecutions": 2, "AvailableProvisionedConcurrentExecutions": 0,
        "AllocatedProvisionedConcurrentExecutions": 0, "Status": "IN_PROGRESS", "LastModified": put["LastModified"]}
    # Nothing to allocate without --creation-delays: READY before the next request is answered.
    got = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
    assert without_metadata(got) == {
        "RequestedProvisionedConcurrentExecutions": 2, "AvailableProvisionedConcurrentExecutions": 2,
        "AllocatedProvisionedConcurrentExecutions": 2, "Status": "READY", "LastModified": put["LastModified"]}
    listed = lam.list_provisioned_concurrency_configs(FunctionName=name)
    assert without_metadata(listed) == {"ProvisionedConcurrencyConfigs": [{
        "FunctionArn": f"{function_arn(name)}:{version}", **without_metadata(got)}]}

    # One configuration per version: an alias of a provisioned version is refused, and the other way round.
    assert failure(lam.put_provisioned_concurrency_config, FunctionName=name, Qualifier="live",
                   ProvisionedConcurrentExecutions=1)[:3] == (
        409, "ResourceConflictException",
        "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version")
    deleted = lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    status, code, message, body = failure(lam.get_provisioned_concurrency_config, FunctionName=name,
                                          Qualifier=version)
    assert (status, code, message) == (404, "ProvisionedConcurrencyConfigNotFoundException",
                                       "No Provisioned Concurrency Config found for this function")
    assert (body["Type"], body["message"]) == ("User", "No Provisioned Concurrency Config found for this function")

    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1)
    assert failure(lam.put_provisioned_concurrency_config, FunctionName=name, Qualifier=version,
                   ProvisionedConcurrentExecutions=1)[:3] == (
        409, "ResourceConflictException", "Version is pointed by a Provisioned Concurrency alias")
    # Deleting the alias deletes its configuration.
    lam.delete_alias(FunctionName=name, Name="live")
    assert failure(lam.get_provisioned_concurrency_config, FunctionName=name, Qualifier="live")[:3] == (
        404, "ResourceNotFoundException", f"Cannot find alias arn: {function_arn(name)}:live")
    assert lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"] == []
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    assert failure(lam.get_provisioned_concurrency_config, FunctionName=name, Qualifier="live")[1] == (
        "ProvisionedConcurrencyConfigNotFoundException")


def test_errors_as_aws_answers_them(lam: Any) -> None:
    name = create_python_function(lam, SOURCE)
    version = lam.publish_version(FunctionName=name)["Version"]
    missing = unique()
    latest = (400, "InvalidParameterValueException",
              "The function resource provided must be an alias or a published version.")
    for call in (lam.get_provisioned_concurrency_config, lam.delete_provisioned_concurrency_config):
        assert failure(call, FunctionName=name, Qualifier="$LATEST")[:3] == latest
        assert failure(call, FunctionName=name, Qualifier="noalias")[:3] == (
            404, "ResourceNotFoundException", f"Cannot find alias arn: {function_arn(name)}:noalias")
        assert failure(call, FunctionName=name, Qualifier="10")[:3] == (
            404, "ResourceNotFoundException", f"Function not found: {function_arn(name)}:10")
        assert failure(call, FunctionName=missing, Qualifier="1")[:3] == (
            404, "ResourceNotFoundException", f"Function not found: {function_arn(missing)}:1")
    assert failure(lam.put_provisioned_concurrency_config, FunctionName=name, Qualifier="$LATEST",
                   ProvisionedConcurrentExecutions=1)[:3] == (
        400, "InvalidParameterValueException",
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
    assert failure(lam.put_provisioned_concurrency_config, FunctionName=missing, Qualifier="noalias",
                   ProvisionedConcurrentExecutions=1)[:3] == (
        404, "ResourceNotFoundException", f"Cannot find alias arn: {function_arn(missing)}:noalias")
    # Deleting a configuration that is not there is a 204, as on AWS.
    assert lam.delete_provisioned_concurrency_config(
        FunctionName=name, Qualifier=version)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert failure(lam.list_provisioned_concurrency_configs, FunctionName=missing)[:3] == (
        404, "ResourceNotFoundException", f"Function not found: {function_arn(missing)}")
    assert lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"] == []


def test_limits_leave_100_unreserved(manual_lam: Any) -> None:
    lam = manual_lam
    name = create_python_function(lam, SOURCE)
    version = lam.publish_version(FunctionName=name)["Version"]
    unreserved = lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    over = failure(lam.put_provisioned_concurrency_config, FunctionName=name, Qualifier=version,
                   ProvisionedConcurrentExecutions=unreserved + 1)
    assert over[:3] == (400, "InvalidParameterValueException",
                        f"Specified ConcurrentExecutions for function is greater than account's unreserved "
                        f"concurrency [{unreserved}].")
    assert over[3]["message"] == over[2] and "Type" not in over[3]  # recorded: no Type for the limits
    below = failure(lam.put_provisioned_concurrency_config, FunctionName=name, Qualifier=version,
                    ProvisionedConcurrentExecutions=unreserved - 99)
    assert below[:3] == (400, "InvalidParameterValueException",
                         "Specified ConcurrentExecutions for function decreases account's "
                         "UnreservedConcurrentExecution below its minimum value of [100].")
    assert "Type" not in below[3]
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version,
                                           ProvisionedConcurrentExecutions=unreserved - 100)
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=version)


def test_allocation_takes_time_with_creation_delays_and_the_state_dir_keeps_it(tmp_path: Path) -> None:
    first = RunningServer(clock="manual", creation_delays=True, state_dir=tmp_path).start()
    try:
        lam = first.client("lambda")
        name = create_python_function(lam, SOURCE)
        first.settle(10)
        version = lam.publish_version(FunctionName=name)["Version"]
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version,
                                               ProvisionedConcurrentExecutions=3)
        first.advance(30)
        assert lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)["Status"] == "IN_PROGRESS"
        first.advance(31)
        ready = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
        assert (ready["Status"], ready["AvailableProvisionedConcurrentExecutions"]) == ("READY", 3)
    finally:
        first.stop()
    second = RunningServer(state_dir=tmp_path).start()
    try:
        listed = second.client("lambda").list_provisioned_concurrency_configs(FunctionName=name)
        assert [(c["FunctionArn"], c["RequestedProvisionedConcurrentExecutions"])
                for c in listed["ProvisionedConcurrencyConfigs"]] == [(f"{function_arn(name)}:{version}", 3)]
    finally:
        second.stop()
