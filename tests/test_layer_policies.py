"""Layer version policies through boto3 against the real server: AddLayerVersionPermission /
GetLayerVersionPolicy / RemoveLayerVersionPermission with AWS's shapes and errors (as LocalStack's
AWS-validated snapshots recorded them), and --state-dir."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support import ACCOUNT, REGION, RunningServer, failure, make_zip, unique

LAYER = make_zip({"python/helper.py": "X = 1\n"})


def publish(lam: Any) -> tuple[str, str]:
    name = unique("layer")
    arn = lam.publish_layer_version(LayerName=name, Content={"ZipFile": LAYER})["LayerVersionArn"]
    return name, arn


def test_policy_lifecycle(lam: Any) -> None:
    name, arn = publish(lam)
    first = lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="s1",
                                             Action="lambda:GetLayerVersion", Principal="*")
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201
    s1 = {"Sid": "s1", "Effect": "Allow", "Principal": "*", "Action": "lambda:GetLayerVersion", "Resource": arn}
    assert json.loads(first["Statement"]) == s1
    policy = lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert json.loads(policy["Policy"]) == {"Version": "2012-10-17", "Id": "default", "Statement": [s1]}
    assert policy["RevisionId"] == first["RevisionId"]

    # The layer's ARN works as LayerName; an account principal and an organization become AWS's forms.
    second = lam.add_layer_version_permission(LayerName=arn.rsplit(":", 1)[0], VersionNumber=1, StatementId="s2",
                                              Action="lambda:GetLayerVersion", Principal=ACCOUNT,
                                              OrganizationId="o-abcdefghij", RevisionId=policy["RevisionId"])
    assert second["RevisionId"] != first["RevisionId"]
    assert json.loads(second["Statement"]) == {
        "Sid": "s2", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "lambda:GetLayerVersion", "Resource": arn,
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}}
    both = lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert [s["Sid"] for s in json.loads(both["Policy"])["Statement"]] == ["s1", "s2"]

    removed = lam.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="s2",
                                                  RevisionId=both["RevisionId"])
    assert removed["ResponseMetadata"]["HTTPStatusCode"] == 204
    after = lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert json.loads(after["Policy"])["Statement"] == [s1]
    assert after["RevisionId"] not in (first["RevisionId"], both["RevisionId"])


def test_policy_errors(lam: Any) -> None:
    name, _arn = publish(lam)
    layer_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{name}"
    status, code, message, body = failure(lam.get_layer_version_policy, LayerName=name, VersionNumber=1)
    assert (status, code, message) == (404, "ResourceNotFoundException",
                                       "No policy is associated with the given resource.")
    assert (body["Type"], body["Message"]) == ("User", message)
    permission = {"Action": "lambda:GetLayerVersion", "Principal": "*"}
    lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="s1", **permission)
    assert failure(lam.add_layer_version_permission, LayerName=name, VersionNumber=1, StatementId="s1",
                   **permission)[:3] == (
        409, "ResourceConflictException",
        "The statement id (s1) provided already exists. Please provide a new statement id, or remove the existing "
        "statement.")
    wrong_revision = (412, "PreconditionFailedException", "The Revision Id provided does not match the latest "
                      "Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id")
    assert failure(lam.add_layer_version_permission, LayerName=name, VersionNumber=1, StatementId="s2",
                   RevisionId="wrong", **permission)[:3] == wrong_revision
    assert failure(lam.remove_layer_version_permission, LayerName=name, VersionNumber=1, StatementId="s1",
                   RevisionId="wrong")[:3] == wrong_revision
    assert failure(lam.remove_layer_version_permission, LayerName=name, VersionNumber=1,
                   StatementId="doesnotexist")[:3] == (
        404, "ResourceNotFoundException", "Statement doesnotexist is not found in resource policy.")
    for layer, version in ((f"{name}-doesnotexist", 1), (name, 2)):
        missing = (404, "ResourceNotFoundException",
                   f"Layer version arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{layer}:{version} does not exist.")
        assert failure(lam.add_layer_version_permission, LayerName=layer, VersionNumber=version, StatementId="s9",
                       **permission)[:3] == missing
        assert failure(lam.get_layer_version_policy, LayerName=layer, VersionNumber=version)[:3] == missing
        assert failure(lam.remove_layer_version_permission, LayerName=layer, VersionNumber=version,
                       StatementId="s1")[:3] == missing
    # The model admits only lambda:GetLayerVersion as the action.
    status, code, message, _ = failure(lam.add_layer_version_permission, LayerName=layer_arn, VersionNumber=1,
                                       StatementId="s3", Action="*", Principal="*")
    assert (status, code, message) == (400, "ValidationException", "1 validation error detected: Value '*' at "
                                       "'action' failed to satisfy constraint: Member must satisfy regular "
                                       "expression pattern: lambda:GetLayerVersion")


def test_state_dir_keeps_layer_policies(tmp_path: Path) -> None:
    first = RunningServer(state_dir=tmp_path).start()
    try:
        lam = first.client("lambda")
        name, _arn = publish(lam)
        added = lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="s1",
                                                 Action="lambda:GetLayerVersion", Principal="*")
        policy = lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
    finally:
        first.stop()
    second = RunningServer(state_dir=tmp_path).start()
    try:
        again = second.client("lambda").get_layer_version_policy(LayerName=name, VersionNumber=1)
        assert (again["Policy"], again["RevisionId"]) == (policy["Policy"], added["RevisionId"])
    finally:
        second.stop()
