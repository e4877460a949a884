"""Review of the Lambda API against AWS's recorded responses (LocalStack's AWS-validated snapshots of
test_lambda_api.py::TestLambdaFunction::test_function_lifecycle, recorded 2024-04) and AWS's own
error wording, through boto3 against a running server."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import ROLE, create_python_function, error_of, make_zip, unique

SOURCE = "def handler(event, context):\n    return {'ok': True}\n"


def test_create_function_response_has_no_last_update_status(lam: Any) -> None:
    # AWS's CreateFunction response reports State Pending and no LastUpdateStatus at all; the key
    # appears (Successful) only on the reads that follow.
    name = unique()
    created = lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                                  Code={"ZipFile": make_zip({"app.py": SOURCE})})
    assert (created["State"], created["StateReason"], created["StateReasonCode"]) == (
        "Pending", "The function is being created.", "Creating")
    assert "LastUpdateStatus" not in created
    assert "LastUpdateStatusReason" not in created
    assert lam.get_function_configuration(FunctionName=name)["LastUpdateStatus"] == "Successful"


def test_empty_environment_is_echoed(lam: Any) -> None:
    # Given (even with no variables) Environment is echoed as {"Variables": {}}; never given, it is absent.
    name = create_python_function(lam, SOURCE, Environment={"Variables": {}})
    assert lam.get_function_configuration(FunctionName=name)["Environment"] == {"Variables": {}}
    assert lam.get_function(FunctionName=name)["Configuration"]["Environment"] == {"Variables": {}}
    bare = create_python_function(lam, SOURCE)
    assert "Environment" not in lam.get_function_configuration(FunctionName=bare)
    updated = lam.update_function_configuration(FunctionName=bare, Environment={"Variables": {}})
    assert updated["Environment"] == {"Variables": {}}


@pytest.mark.parametrize("call", ["get_function", "get_function_configuration", "invoke"])
def test_arn_from_another_region_is_not_reachable(lam: Any, call: str) -> None:
    name = create_python_function(lam, SOURCE)
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
    name = create_python_function(lam, SOURCE, Environment={"Variables": {"A": "1"}})
    listed = next(f for p in lam.get_paginator("list_functions").paginate() for f in p["Functions"]
                  if f["FunctionName"] == name)
    full = {k: v for k, v in lam.get_function_configuration(FunctionName=name).items() if k != "ResponseMetadata"}
    assert listed == {k: v for k, v in full.items() if k not in NOT_LISTED}
    assert not NOT_LISTED & set(listed)
