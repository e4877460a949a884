"""The update lifecycle (issue 16, aws-wave2.md §2): CreateFunction answers Pending, Update* InProgress; the
function is Active / Successful with a new RevisionId by the next request (waiters pass at their first
poll), or, with --creation-delays, after AWS-like durations on the platform clock, with AWS's conflicts
and the previous code running meanwhile."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import RunningServer, create_python_function, error_of, function_arn, make_zip, payload_of

V1 = "def handler(event, context):\n    return {'version': 1}\n"
V2 = "def handler(event, context):\n    return {'version': 2}\n"


def test_ready_by_the_next_request_with_new_revisions(lam: Any) -> None:
    name = "lifecycle-" + __import__("uuid").uuid4().hex[:8]
    created = lam.create_function(FunctionName=name, Runtime="python3.12", Role="arn:aws:iam::000000000000:role/r",
                                  Handler="app.handler", Code={"ZipFile": make_zip({"app.py": V1})})
    assert (created["State"], created["StateReason"], created["StateReasonCode"]) == (
        "Pending", "The function is being created.", "Creating")
    assert "LastUpdateStatus" not in created
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 1})
    active = lam.get_function(FunctionName=name)["Configuration"]
    assert (active["State"], active["LastUpdateStatus"]) == ("Active", "Successful")
    assert "StateReason" not in active
    assert active["RevisionId"] != created["RevisionId"]  # Pending → Active is a revision (recorded)
    updated = lam.update_function_code(FunctionName=name, ZipFile=make_zip({"app.py": V2}),
                                       RevisionId=active["RevisionId"])
    assert (updated["LastUpdateStatus"], updated["LastUpdateStatusReason"], updated["LastUpdateStatusReasonCode"]) \
        == ("InProgress", "The function is being created.", "Creating")
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 1})
    done = lam.get_function_configuration(FunctionName=name)
    assert done["LastUpdateStatus"] == "Successful" and done["RevisionId"] not in (updated["RevisionId"],
                                                                                    active["RevisionId"])
    assert payload_of(lam.invoke(FunctionName=name)) == {"version": 2}

def test_creation_delays_make_pending_and_in_progress_last(delayed: RunningServer) -> None:
    lam = delayed.client("lambda")
    name = create_python_function(lam, V1)
    assert lam.get_function_configuration(FunctionName=name)["State"] == "Pending"
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName=name)
    assert error_of(caught.value)[:3] == (409, "ResourceConflictException", "The operation cannot be performed at "
                                          "this time. The function is currently in the following state: Pending")
    with pytest.raises(ClientError) as caught:
        lam.update_function_configuration(FunctionName=name, Timeout=5)
    assert error_of(caught.value)[:2] == (409, "ResourceConflictException")
    delayed.advance(2)
    config = lam.get_function_configuration(FunctionName=name)
    assert (config["State"], config["LastUpdateStatus"]) == ("Active", "Successful")
    assert payload_of(lam.invoke(FunctionName=name)) == {"version": 1}

    updated = lam.update_function_code(FunctionName=name, ZipFile=make_zip({"app.py": V2}))
    assert updated["LastUpdateStatus"] == "InProgress"
    during = lam.get_function_configuration(FunctionName=name)
    assert (during["LastUpdateStatus"], during["LastUpdateStatusReasonCode"]) == ("InProgress", "Creating")
    assert during["CodeSha256"] == updated["CodeSha256"]  # the new configuration is what is shown
    for second in (lambda: lam.update_function_configuration(FunctionName=name, Timeout=5),
                   lambda: lam.update_function_code(FunctionName=name, ZipFile=make_zip({"app.py": V1}))):
        with pytest.raises(ClientError) as caught:
            second()
        assert error_of(caught.value)[:3] == (
            409, "ResourceConflictException", "The operation cannot be performed at this time. An update is in "
            f"progress for resource: {function_arn(name)}")
    # Meanwhile invocations run the previous code, warm or cold.
    assert payload_of(lam.invoke(FunctionName=name)) == {"version": 1}
    assert payload_of(lam.invoke(FunctionName=name)) == {"version": 1}
    delayed.advance(3)
    done = lam.get_function_configuration(FunctionName=name)
    assert done["LastUpdateStatus"] == "Successful" and "LastUpdateStatusReason" not in done
    assert done["RevisionId"] != updated["RevisionId"]
    assert payload_of(lam.invoke(FunctionName=name)) == {"version": 2}
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"KEY": "b"}})
    delayed.advance(3)
    assert lam.get_function_configuration(FunctionName=name)["LastUpdateStatus"] == "Successful"


def test_a_version_published_with_an_update_is_pending_while_it_lasts(delayed: RunningServer) -> None:
    lam = delayed.client("lambda")
    name = create_python_function(lam, V1)
    delayed.advance(2)
    updated = lam.update_function_code(FunctionName=name, ZipFile=make_zip({"app.py": V2}), Publish=True)
    assert (updated["Version"], updated["State"], updated["StateReasonCode"]) == ("1", "Pending", "Creating")
    version = lam.get_function(FunctionName=name, Qualifier="1")["Configuration"]
    assert (version["State"], version["StateReason"], version["StateReasonCode"]) == (
        "Pending", "The function is being created.", "Creating")
    assert "LastUpdateStatus" not in version
    assert lam.get_function(FunctionName=name)["Configuration"]["LastUpdateStatus"] == "InProgress"
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName=name, Qualifier="1")
    assert error_of(caught.value)[:3] == (409, "ResourceConflictException", "The operation cannot be performed at "
                                          "this time. The function is currently in the following state: Pending")
    delayed.advance(3)
    active = lam.get_function(FunctionName=name, Qualifier="1")["Configuration"]
    assert (active["State"], active["LastUpdateStatus"]) == ("Active", "Successful")
    assert active["RevisionId"] == updated["RevisionId"]  # turning Active is no new revision for a version
    assert payload_of(lam.invoke(FunctionName=name, Qualifier="1")) == {"version": 2}
