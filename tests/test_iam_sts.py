"""STS and IAM, answered and not enforced: boto3's sts and iam clients (and the AWS CLI) against the
real server, on lambda-emu's one endpoint, asserting AWS's shapes, codes and messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support import RunningServer, error_of, raw_request, unique

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}
ALLOW_LOGS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


@pytest.fixture(scope="module")
def account_server() -> Any:
    """A server running as another account (--account-id), so nothing is taken from the default."""
    running = RunningServer(account_id="123456789012").start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def iam(account_server: RunningServer) -> Any:
    return account_server.client("iam")


@pytest.fixture(scope="module")
def sts(account_server: RunningServer) -> Any:
    return account_server.client("sts")


def _client(server: RunningServer, service: str, key: str, secret: str, token: str | None = None) -> Any:
    return boto3.client(service, endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, aws_session_token=token,
                        config=Config(retries={"max_attempts": 1}))


# ---- STS -----------------------------------------------------------------------------------------


def test_get_caller_identity_is_the_accounts_root_user(sts: Any) -> None:
    identity = sts.get_caller_identity()
    identity.pop("ResponseMetadata")
    assert identity == {"UserId": "123456789012", "Account": "123456789012", "Arn": "arn:aws:iam::123456789012:root"}


def test_assume_role_issues_temporary_credentials_that_work(account_server: RunningServer, iam: Any,
                                                            sts: Any) -> None:
    name = unique("role")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
    before = datetime.now(UTC)
    answer = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="my-session", DurationSeconds=900)
    credentials = answer["Credentials"]
    assert set(answer) == {"Credentials", "AssumedRoleUser", "ResponseMetadata"}
    assert credentials["AccessKeyId"].startswith("ASIA") and len(credentials["AccessKeyId"]) == 20
    assert credentials["AccessKeyId"][4:].isalnum() and credentials["AccessKeyId"].isupper()
    assert len(credentials["SecretAccessKey"]) == 40
    assert len(credentials["SessionToken"]) > 100
    # Expiration on the platform clock (real time here), to the second.
    expected = before + timedelta(seconds=900)
    assert abs((credentials["Expiration"] - expected).total_seconds()) < 5
    assert credentials["Expiration"].microsecond == 0
    assert answer["AssumedRoleUser"] == {
        "AssumedRoleId": f"{role['RoleId']}:my-session",
        "Arn": f"arn:aws:sts::123456789012:assumed-role/{name}/my-session",
    }
    # The credentials work against lambda-emu, and STS knows whom they stand for.
    assumed = _client(account_server, "sts", credentials["AccessKeyId"], credentials["SecretAccessKey"],
                      credentials["SessionToken"])
    identity = assumed.get_caller_identity()
    identity.pop("ResponseMetadata")
    assert identity == {"UserId": f"{role['RoleId']}:my-session", "Account": "123456789012",
                        "Arn": f"arn:aws:sts::123456789012:assumed-role/{name}/my-session"}
    lam = _client(account_server, "lambda", credentials["AccessKeyId"], credentials["SecretAccessKey"],
                  credentials["SessionToken"])
    assert lam.list_functions()["Functions"] == []


def test_assume_role_of_a_role_with_a_path_or_unknown_to_iam(iam: Any, sts: Any) -> None:
    name = unique("role")
    role = iam.create_role(RoleName=name, Path="/service/", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
    assert role["Arn"] == f"arn:aws:iam::123456789012:role/service/{name}"
    user = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1")["AssumedRoleUser"]
    # The path is not part of the assumed-role ARN.
    assert user["Arn"] == f"arn:aws:sts::123456789012:assumed-role/{name}/s1"
    # Not enforced: a role IAM doesn't hold (here another account's) can be assumed, with a stable RoleId.
    other = "arn:aws:iam::210987654321:role/elsewhere"
    first = sts.assume_role(RoleArn=other, RoleSessionName="s2")["AssumedRoleUser"]
    again = sts.assume_role(RoleArn=other, RoleSessionName="s2")["AssumedRoleUser"]
    assert first == again
    assert first["Arn"] == "arn:aws:sts::210987654321:assumed-role/elsewhere/s2"
    assert first["AssumedRoleId"].startswith("AROA") and first["AssumedRoleId"].endswith(":s2")


def test_assume_role_refuses_what_sts_refuses(iam: Any, sts: Any) -> None:
    name = unique("role")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
    with pytest.raises(ClientError) as caught:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s3", DurationSeconds=7200)
    assert error_of(caught.value)[:3] == (400, "ValidationError", "The requested DurationSeconds exceeds the "
                                          "MaxSessionDuration set for this role.")
    with pytest.raises(ClientError) as caught:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="bad name")
    status, code, message, _ = error_of(caught.value)
    assert (status, code) == (400, "ValidationError")
    assert message == ("1 validation error detected: Value 'bad name' at 'roleSessionName' failed to satisfy "
                       "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*")


def test_aws_cli_get_caller_identity(account_server: RunningServer) -> None:
    aws = Path(sys.executable).parent / "aws"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "x",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    done = subprocess.run([str(aws), "sts", "get-caller-identity", "--endpoint-url", account_server.endpoint,
                           "--output", "json"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"UserId": "123456789012", "Account": "123456789012",
                                       "Arn": "arn:aws:iam::123456789012:root"}


def test_query_requests_are_told_apart_by_credential_scope_and_version(account_server: RunningServer) -> None:
    # Unsigned, the API Version decides: STS's 2011-06-15.
    status, _headers, body = raw_request(account_server.endpoint, "POST", "/",
                                         b"Action=GetCallerIdentity&Version=2011-06-15",
                                         {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200
    assert body.startswith(b'<?xml version="1.0"?><GetCallerIdentityResponse '
                           b'xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>')
    # An SQS query call still reaches SQS.
    status, _headers, body = raw_request(account_server.endpoint, "POST", "/",
                                         b"Action=ListQueues&Version=2012-11-05",
                                         {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200 and b"ListQueuesResponse" in body


# ---- IAM roles -----------------------------------------------------------------------------------


def test_create_get_list_delete_role(iam: Any) -> None:
    name = unique("role")
    created = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST), Description="d",
                              Tags=[{"Key": "team", "Value": "a"}])["Role"]
    assert set(created) == {"Path", "RoleName", "RoleId", "Arn", "CreateDate", "AssumeRolePolicyDocument",
                            "Description", "Tags"}
    assert created["Path"] == "/" and created["RoleName"] == name
    assert created["Arn"] == f"arn:aws:iam::123456789012:role/{name}"
    assert created["RoleId"].startswith("AROA") and len(created["RoleId"]) == 21
    assert created["AssumeRolePolicyDocument"] == TRUST  # boto3 decodes IAM's URL-encoded document
    assert created["Tags"] == [{"Key": "team", "Value": "a"}]
    got = iam.get_role(RoleName=name)["Role"]
    assert got == {**created, "MaxSessionDuration": 3600, "RoleLastUsed": {}}
    listed = [r for r in iam.list_roles()["Roles"] if r["RoleName"] == name]
    assert listed == [{k: v for k, v in got.items() if k not in ("Tags", "RoleLastUsed")}]
    iam.delete_role(RoleName=name)
    with pytest.raises(ClientError) as caught:
        iam.get_role(RoleName=name)
    assert error_of(caught.value)[:3] == (404, "NoSuchEntity", f"The role with name {name} cannot be found.")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.delete_role(RoleName=name)


def test_policy_documents_are_url_encoded_on_the_wire(account_server: RunningServer, iam: Any) -> None:
    name = unique("role")
    document = json.dumps(TRUST)
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=document)
    status, _headers, body = raw_request(account_server.endpoint, "POST", "/",
                                         f"Action=GetRole&Version=2010-05-08&RoleName={name}".encode(),
                                         {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200
    text = body.decode()
    assert text.startswith('<?xml version="1.0"?><GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
                           "<GetRoleResult><Role>")
    encoded = text.split("<AssumeRolePolicyDocument>")[1].split("</AssumeRolePolicyDocument>")[0]
    assert encoded == urllib.parse.quote(document, safe="")
    assert encoded.startswith("%7B%22Version%22%3A%20%222012-10-17%22")
    created = text.split("<CreateDate>")[1].split("</CreateDate>")[0]
    assert datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ")


def test_create_role_twice_is_entity_already_exists(iam: Any) -> None:
    name = unique("role")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    with pytest.raises(ClientError) as caught:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    status, code, message, body = error_of(caught.value)
    assert (status, code, message) == (409, "EntityAlreadyExists", f"Role with name {name} already exists.")
    assert body["Error"]["Type"] == "Sender"


def test_malformed_policy_document(iam: Any) -> None:
    with pytest.raises(ClientError) as caught:
        iam.create_role(RoleName=unique("role"), AssumeRolePolicyDocument="{not json")
    assert error_of(caught.value)[:3] == (400, "MalformedPolicyDocument", "This policy contains invalid Json")


def test_update_assume_role_policy(iam: Any) -> None:
    name = unique("role")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    other = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                     "Action": "sts:AssumeRole"}]}
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(other))
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == other
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.update_assume_role_policy(RoleName=unique("none"), PolicyDocument=json.dumps(other))


def test_list_roles_pages_with_marker(iam: Any) -> None:
    prefix = f"/{unique('p')}/"
    names = sorted(unique("role") for _ in range(3))
    for name in names:
        iam.create_role(RoleName=name, Path=prefix, AssumeRolePolicyDocument=json.dumps(TRUST))
    first = iam.list_roles(PathPrefix=prefix, MaxItems=2)
    assert [r["RoleName"] for r in first["Roles"]] == names[:2] and first["IsTruncated"] is True
    second = iam.list_roles(PathPrefix=prefix, MaxItems=2, Marker=first["Marker"])
    assert [r["RoleName"] for r in second["Roles"]] == names[2:] and second["IsTruncated"] is False
    assert "Marker" not in second


# ---- inline and attached policies ------------------------------------------------------------------


def test_inline_role_policies(iam: Any) -> None:
    name = unique("role")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName=name, PolicyName="logs", PolicyDocument=json.dumps(ALLOW_LOGS))
    got = iam.get_role_policy(RoleName=name, PolicyName="logs")
    got.pop("ResponseMetadata")
    assert got == {"RoleName": name, "PolicyName": "logs", "PolicyDocument": ALLOW_LOGS}
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["logs"]
    with pytest.raises(ClientError) as caught:
        iam.delete_role(RoleName=name)
    assert error_of(caught.value)[:3] == (409, "DeleteConflict", "Cannot delete entity, must delete policies first.")
    iam.delete_role_policy(RoleName=name, PolicyName="logs")
    with pytest.raises(ClientError) as caught:
        iam.get_role_policy(RoleName=name, PolicyName="logs")
    assert error_of(caught.value)[:3] == (404, "NoSuchEntity", "The role policy with name logs cannot be found.")
    with pytest.raises(ClientError) as caught:
        iam.delete_role_policy(RoleName=name, PolicyName="logs")
    assert error_of(caught.value)[:3] == (404, "NoSuchEntity", "The role policy with name logs cannot be found.")
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == []
    iam.delete_role(RoleName=name)


def test_managed_policies_attached_to_a_role(iam: Any) -> None:
    role = unique("role")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST))
    name = unique("policy")
    policy = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(ALLOW_LOGS), Description="logs")["Policy"]
    assert set(policy) == {"PolicyName", "PolicyId", "Arn", "Path", "DefaultVersionId", "AttachmentCount",
                           "PermissionsBoundaryUsageCount", "IsAttachable", "CreateDate", "UpdateDate"}
    assert policy["Arn"] == f"arn:aws:iam::123456789012:policy/{name}"
    assert policy["PolicyId"].startswith("ANPA") and len(policy["PolicyId"]) == 21
    assert (policy["Path"], policy["DefaultVersionId"], policy["AttachmentCount"], policy["IsAttachable"]) == \
        ("/", "v1", 0, True)
    iam.attach_role_policy(RoleName=role, PolicyArn=policy["Arn"])
    iam.attach_role_policy(RoleName=role, PolicyArn=BASIC)  # AWS's own managed policies are accepted
    attached = iam.list_attached_role_policies(RoleName=role)
    assert attached["AttachedPolicies"] == [{"PolicyName": name, "PolicyArn": policy["Arn"]},
                                            {"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": BASIC}]
    assert attached["IsTruncated"] is False
    got = iam.get_policy(PolicyArn=policy["Arn"])["Policy"]
    assert got == {**policy, "AttachmentCount": 1, "Description": "logs"}
    with pytest.raises(ClientError) as caught:
        iam.delete_role(RoleName=role)
    assert error_of(caught.value)[:3] == (409, "DeleteConflict",
                                          "Cannot delete entity, must detach all policies first.")
    with pytest.raises(ClientError) as caught:
        iam.delete_policy(PolicyArn=policy["Arn"])
    assert error_of(caught.value)[:3] == (409, "DeleteConflict", "Cannot delete a policy attached to entities.")
    iam.detach_role_policy(RoleName=role, PolicyArn=policy["Arn"])
    iam.detach_role_policy(RoleName=role, PolicyArn=BASIC)
    with pytest.raises(ClientError) as caught:
        iam.detach_role_policy(RoleName=role, PolicyArn=policy["Arn"])
    assert error_of(caught.value)[:3] == (404, "NoSuchEntity", f"Policy {policy['Arn']} was not found.")
    iam.delete_policy(PolicyArn=policy["Arn"])
    with pytest.raises(ClientError) as caught:
        iam.get_policy(PolicyArn=policy["Arn"])
    assert error_of(caught.value)[:3] == (404, "NoSuchEntity", f"Policy {policy['Arn']} was not found.")
    iam.delete_role(RoleName=role)


def test_policy_errors(iam: Any) -> None:
    name = unique("policy")
    iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(ALLOW_LOGS))
    with pytest.raises(ClientError) as caught:
        iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(ALLOW_LOGS))
    assert error_of(caught.value)[:3] == (409, "EntityAlreadyExists",
                                          f"A policy called {name} already exists. Duplicate names are not allowed.")
    role = unique("role")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST))
    missing = "arn:aws:iam::123456789012:policy/nothing-here"
    with pytest.raises(ClientError) as caught:
        iam.attach_role_policy(RoleName=role, PolicyArn=missing)
    assert error_of(caught.value)[:3] == (404, "NoSuchEntity",
                                          f"Policy {missing} does not exist or is not attachable.")
    with pytest.raises(ClientError) as caught:
        iam.attach_role_policy(RoleName=unique("none"), PolicyArn=BASIC)
    assert error_of(caught.value)[1] == "NoSuchEntity"
    with pytest.raises(ClientError) as caught:
        iam.create_role(RoleName="bad name", AssumeRolePolicyDocument=json.dumps(TRUST))
    status, code, message, _ = error_of(caught.value)
    assert (status, code) == (400, "ValidationError")
    assert message.startswith("1 validation error detected: Value 'bad name' at 'roleName' failed to satisfy "
                              "constraint: Member must satisfy regular expression pattern: ")


def test_a_function_role_need_not_exist(account_server: RunningServer, iam: Any) -> None:
    from tests.support import create_python_function

    lam = account_server.client("lambda")
    name = unique("fn")
    create_python_function(lam, "def handler(e, c):\n    return 1\n", name=name)
    assert lam.get_function_configuration(FunctionName=name)["Role"].endswith(":role/lambda-role")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="lambda-role")


def test_reset_forgets_roles_and_policies(account_server: RunningServer, iam: Any) -> None:
    name = unique("role")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    account_server.emu_post("/_emu/reset", {})
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=name)


WHO_AM_I = '''
import os
import boto3

def handler(event, context):
    return {"identity": boto3.client("sts").get_caller_identity(), "key": os.environ["AWS_ACCESS_KEY_ID"],
            "same": os.environ["AWS_ACCESS_KEY"] == os.environ["AWS_ACCESS_KEY_ID"]}
'''


def test_a_function_runs_as_a_session_of_its_role(account_server: RunningServer, iam: Any) -> None:
    """As Lambda: the environment's credentials are a session of the function's role named after the function,
    so STS inside answers the assumed role (LocalStack's AWS-validated test_assume_role), and two functions'
    keys differ (test_lambda_different_iam_keys_environment)."""
    from tests.support import make_zip

    lam = account_server.client("lambda")
    role = iam.create_role(RoleName=unique("fnrole"), AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
    answers = []
    for name in (unique("who"), unique("who")):
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=role["Arn"], Handler="app.handler",
                            Code={"ZipFile": make_zip({"app.py": WHO_AM_I})})
        answer = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
        identity = answer["identity"]
        assert identity["Arn"] == f"arn:aws:sts::123456789012:assumed-role/{role['RoleName']}/{name}"
        assert (identity["UserId"], identity["Account"]) == (f"{role['RoleId']}:{name}", "123456789012")
        assert answer["key"].startswith("ASIA") and answer["same"] is True
        answers.append(answer["key"])
    assert answers[0] != answers[1]
    # A session name has at least 2 characters: a 1-letter function's is "<name>@lambda_function".
    letter = "q"
    lam.create_function(FunctionName=letter, Runtime="python3.12", Role=role["Arn"], Handler="app.handler",
                        Code={"ZipFile": make_zip({"app.py": WHO_AM_I})})
    identity = json.loads(lam.invoke(FunctionName=letter)["Payload"].read())["identity"]
    assert identity["Arn"] == f"arn:aws:sts::123456789012:assumed-role/{role['RoleName']}/q@lambda_function"
    lam.delete_function(FunctionName=letter)


def test_execution_environment_keys_are_bounded_oldest_first(account_server: RunningServer) -> None:
    """Every cold start issues a key; a long run keeps only the newest ENVIRONMENT_KEYS_KEPT of them. A key
    that has aged out answers as any unknown key does (the account), the newest still as the function's role."""
    from lambda_emu.emulator.services.sts.api import ENVIRONMENT_KEYS_KEPT

    assert account_server.emu is not None
    sts_service = account_server.emu.sts
    role = "arn:aws:iam::123456789012:role/bounded"
    keys = [sts_service.function_credentials(role, f"fn{n}")[0] for n in range(ENVIRONMENT_KEYS_KEPT + 1)]
    assert len(sts_service.environment_sessions) == ENVIRONMENT_KEYS_KEPT

    def whoami(key: str) -> str:
        client = boto3.client("sts", endpoint_url=account_server.endpoint, region_name="us-east-1",
                              aws_access_key_id=key, aws_secret_access_key="x")
        return str(client.get_caller_identity()["Arn"])

    assert whoami(keys[0]) == "arn:aws:iam::123456789012:root"
    assert whoami(keys[1]) == "arn:aws:sts::123456789012:assumed-role/bounded/fn1"
    assert whoami(keys[-1]) == f"arn:aws:sts::123456789012:assumed-role/bounded/fn{ENVIRONMENT_KEYS_KEPT}"
