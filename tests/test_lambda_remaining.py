"""Issue 16's remaining Lambda operations: code signing configurations (stored, not enforced), DeleteFunction
with an unknown version, and configuration kept and echoed (SnapStart, VpcConfig, KMSKeyArn,
FileSystemConfigs), with AWS's shapes and errors (recorded on AWS)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import ACCOUNT, REGION, create_python_function, error_of, function_arn, unique

SOURCE = "def handler(event, context):\n    return 1\n"
PUBLISHERS = {"SigningProfileVersionArns": [f"arn:aws:signer:{REGION}:{ACCOUNT}:/signing-profiles/test"]}


def test_code_signing_configs(lam: Any) -> None:
    created = lam.create_code_signing_config(Description="Testing CodeSigning Config", AllowedPublishers=PUBLISHERS,
                                             CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    config = created["CodeSigningConfig"]
    assert re.fullmatch(r"csc-[0-9a-f]{17}", config["CodeSigningConfigId"])
    arn = config["CodeSigningConfigArn"]
    assert arn == f"arn:aws:lambda:{REGION}:{ACCOUNT}:code-signing-config:{config['CodeSigningConfigId']}"
    assert {k: v for k, v in config.items() if k != "LastModified"} == {
        "CodeSigningConfigId": config["CodeSigningConfigId"], "CodeSigningConfigArn": arn,
        "Description": "Testing CodeSigning Config", "AllowedPublishers": PUBLISHERS,
        "CodeSigningPolicies": {"UntrustedArtifactOnDeployment": "Enforce"}}
    updated = lam.update_code_signing_config(CodeSigningConfigArn=arn,
                                             CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Warn"})
    assert updated["CodeSigningConfig"]["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Warn"}
    assert lam.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"] == updated["CodeSigningConfig"]
    assert updated["CodeSigningConfig"] in lam.list_code_signing_configs()["CodeSigningConfigs"]

    name = create_python_function(lam, SOURCE)
    got = lam.get_function_code_signing_config(FunctionName=name)
    assert {k: v for k, v in got.items() if k != "ResponseMetadata"} == {}
    put = lam.put_function_code_signing_config(CodeSigningConfigArn=arn, FunctionName=name)
    assert (put["CodeSigningConfigArn"], put["FunctionName"]) == (arn, name)
    got = lam.get_function_code_signing_config(FunctionName=function_arn(name))
    assert (got["CodeSigningConfigArn"], got["FunctionName"]) == (arn, name)
    assert lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"] == [function_arn(name)]
    with_csc = create_python_function(lam, SOURCE, CodeSigningConfigArn=arn)
    assert lam.get_function_code_signing_config(FunctionName=with_csc)["CodeSigningConfigArn"] == arn
    deleted = lam.delete_function_code_signing_config(FunctionName=name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lam.delete_function_code_signing_config(FunctionName=name)["ResponseMetadata"]["HTTPStatusCode"] == 204

    invalid = arn[:-1] + ("x" if arn[-1] != "x" else "y")
    missing_fn = unique("csc-test-doesnotexist")
    cases = [
        (lambda: lam.delete_code_signing_config(CodeSigningConfigArn=invalid), 404, "ResourceNotFoundException",
         f"The Lambda code signing configuration {invalid} can not be found."),
        (lambda: lam.get_code_signing_config(CodeSigningConfigArn=invalid), 404, "ResourceNotFoundException",
         f"The Lambda code signing configuration {invalid} can not be found."),
        (lambda: lam.put_function_code_signing_config(CodeSigningConfigArn=invalid, FunctionName=missing_fn), 404,
         "CodeSigningConfigNotFoundException", "The code signing configuration cannot be found. Check that the "
         f"provided configuration is not deleted: {invalid}."),
        (lambda: lam.put_function_code_signing_config(CodeSigningConfigArn=arn, FunctionName=missing_fn), 404,
         "ResourceNotFoundException", f"Function not found: {function_arn(missing_fn)}"),
        (lambda: lam.get_function_code_signing_config(FunctionName=missing_fn), 404, "ResourceNotFoundException",
         f"Function not found: {function_arn(missing_fn)}"),
        (lambda: lam.create_function(FunctionName=unique(), Runtime="python3.12", Handler="app.handler",
                                     Role=f"arn:aws:iam::{ACCOUNT}:role/r", Code={"ZipFile": b"PK\x05\x06" + bytes(18)},
                                     CodeSigningConfigArn=invalid), 404, "CodeSigningConfigNotFoundException",
         "The code signing configuration cannot be found. Check that the provided configuration is not deleted: "
         f"{invalid}."),
    ]
    for call, status, code, message in cases:
        with pytest.raises(ClientError) as caught:
            call()
        assert error_of(caught.value)[:3] == (status, code, message)
    lam.delete_function_code_signing_config(FunctionName=with_csc)
    assert lam.delete_code_signing_config(CodeSigningConfigArn=arn)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert arn not in [c["CodeSigningConfigArn"] for c in lam.list_code_signing_configs()["CodeSigningConfigs"]]


def test_delete_function_with_an_unknown_version(lam: Any) -> None:
    name = create_python_function(lam, SOURCE)
    # Deleting a version that does not exist is idempotent (recorded).
    assert lam.delete_function(FunctionName=name, Qualifier="1233")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lam.delete_function(FunctionName=name, Qualifier="1233")["ResponseMetadata"]["HTTPStatusCode"] == 204
    lam.get_function(FunctionName=name)
    lam.delete_function(FunctionName=name)
    for qualifier in ({}, {"Qualifier": "1233"}):
        with pytest.raises(ClientError) as caught:
            lam.delete_function(FunctionName=name, **qualifier)
        assert error_of(caught.value)[:3] == (404, "ResourceNotFoundException",
                                              f"Function not found: {function_arn(name)}")


def test_accepted_configuration_is_kept_and_echoed(lam: Any) -> None:
    name = create_python_function(
        lam, SOURCE, SnapStart={"ApplyOn": "PublishedVersions"},
        VpcConfig={"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]},
        KMSKeyArn=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k1")
    config = lam.get_function_configuration(FunctionName=name)
    assert config["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    assert config["VpcConfig"] == {"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"],
                                   "Ipv6AllowedForDualStack": False, "VpcId": ""}
    assert config["KMSKeyArn"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k1"
    fs = [{"Arn": f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:access-point/fsap-0123456789abcdef0",
           "LocalMountPath": "/mnt/x"}]
    updated = lam.update_function_configuration(FunctionName=name, SnapStart={"ApplyOn": "None"},
                                                FileSystemConfigs=fs)
    assert updated["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    assert updated["FileSystemConfigs"] == fs
    assert lam.get_function(FunctionName=name)["Configuration"]["KMSKeyArn"] == config["KMSKeyArn"]
