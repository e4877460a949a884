"""Function URLs (issue 16): the configuration operations with AWS's shapes and errors (recorded on AWS),
and the URL served on lambda-emu's port: AWS's payload format 2.0 event in, the result mapped to HTTP."""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from tests.support import RunningServer, create_python_function, error_of, function_arn, unique

ECHO = '''
import base64, json

def handler(event, context):
    body = event.get("body")
    if event.get("rawPath") == "/plain":
        return {"plain": True, "list": [1, "two"]}
    if event.get("rawPath") == "/text":
        return "hello"
    if event.get("rawPath") == "/fail":
        raise RuntimeError("boom")
    return {
        "statusCode": 201,
        "headers": {"x-echo": "yes", "content-type": "application/json"},
        "cookies": ["a=1", "b=2"],
        "body": json.dumps({"event": event}),
    }
'''

URL = re.compile(r"^http://127\.0\.0\.1:\d+/lambda-url/[a-z0-9]{32}/$")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def test_url_config_lifecycle(lam: Any) -> None:
    name = create_python_function(lam, ECHO)
    created = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    created.pop("ResponseMetadata")
    assert set(created) == {"FunctionUrl", "FunctionArn", "AuthType", "CreationTime"}
    assert URL.match(created["FunctionUrl"]) and TIME.match(created["CreationTime"])
    assert created["FunctionArn"] == function_arn(name) and created["AuthType"] == "NONE"
    with pytest.raises(ClientError) as caught:
        lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert error_of(caught.value)[:3] == (
        409, "ResourceConflictException", f"Failed to create function url config for [functionArn = "
        f"{function_arn(name)}]. Error message:  FunctionUrlConfig exists for this Lambda function")
    got = lam.get_function_url_config(FunctionName=name)
    got.pop("ResponseMetadata")
    assert got == {**created, "InvokeMode": "BUFFERED", "LastModifiedTime": got["LastModifiedTime"]}
    updated = lam.update_function_url_config(FunctionName=name, AuthType="AWS_IAM",
                                             Cors={"AllowOrigins": ["*"], "MaxAge": 10})
    updated.pop("ResponseMetadata")
    assert set(updated) == {"FunctionUrl", "FunctionArn", "AuthType", "Cors", "CreationTime", "LastModifiedTime"}
    assert updated["AuthType"] == "AWS_IAM" and updated["Cors"] == {"AllowOrigins": ["*"], "MaxAge": 10}
    # Once given, InvokeMode is in every update answer, one that names none included.
    assert lam.update_function_url_config(FunctionName=name, InvokeMode="RESPONSE_STREAM")["InvokeMode"] == \
        "RESPONSE_STREAM"
    assert lam.update_function_url_config(FunctionName=name)["InvokeMode"] == "RESPONSE_STREAM"
    lam.update_function_url_config(FunctionName=name, InvokeMode="BUFFERED")
    listed = lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
    assert [c["FunctionUrl"] for c in listed] == [created["FunctionUrl"]]
    assert set(listed[0]) == {"FunctionUrl", "FunctionArn", "AuthType", "Cors", "CreationTime", "LastModifiedTime",
                              "InvokeMode"}
    deleted = lam.delete_function_url_config(FunctionName=name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as caught:
        lam.get_function_url_config(FunctionName=name)
    assert error_of(caught.value)[:3] == (404, "ResourceNotFoundException", "The resource you requested does not "
                                          "exist.")
    assert lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"] == []


def test_url_config_errors(lam: Any) -> None:
    missing = unique("missing")
    for call, message in ((lambda: lam.create_function_url_config(FunctionName=missing, AuthType="NONE"),
                           "Function does not exist"),
                          (lambda: lam.update_function_url_config(FunctionName=missing, AuthType="NONE"),
                           "Function does not exist"),
                          (lambda: lam.list_function_url_configs(FunctionName=missing), "Function does not exist"),
                          (lambda: lam.get_function_url_config(FunctionName=missing),
                           "The resource you requested does not exist."),
                          (lambda: lam.delete_function_url_config(FunctionName=missing),
                           "The resource you requested does not exist.")):
        with pytest.raises(ClientError) as caught:
            call()
        assert error_of(caught.value)[:3] == (404, "ResourceNotFoundException", message)
    name = create_python_function(lam, ECHO)
    for qualifier in ("1", "$LATEST"):
        with pytest.raises(ClientError) as caught:
            lam.create_function_url_config(FunctionName=name, Qualifier=qualifier, AuthType="NONE")
        assert error_of(caught.value)[:3] == (
            400, "ValidationException", f"1 validation error detected: Value '{qualifier}' at 'qualifier' failed to "
            "satisfy constraint: Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)")
    with pytest.raises(ClientError) as caught:
        lam.create_function_url_config(FunctionName=name, Qualifier="nosuchalias", AuthType="NONE")
    assert error_of(caught.value)[:3] == (404, "ResourceNotFoundException", "Function does not exist")
    with pytest.raises(ClientError) as caught:
        lam.create_function_url_config(FunctionName=f"{name}:one", Qualifier="two", AuthType="NONE")
    assert error_of(caught.value)[:3] == (400, "InvalidParameterValueException", "The derived qualifier from the "
                                          "function name does not match the specified qualifier.")


def request(url: str, method: str = "GET", body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=120) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_the_url_invokes_the_function_with_aws_s_event(lam: Any) -> None:
    name = create_python_function(lam, ECHO)
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    url_id = urlsplit(url).path.split("/")[2]
    status, headers, body = request(url + "items/7?a=1&a=2&b=x", "POST", b'{"hello": "world"}',
                                    {"Content-Type": "application/json", "Cookie": "c1=v1; c2=v2",
                                     "X-Multi": "one", "User-Agent": "tester"})
    assert status == 201
    assert headers["x-echo"] == "yes" and headers["Content-Type"] == "application/json"
    assert headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert headers["x-amzn-RequestId"]
    event = json.loads(body)["event"]
    context = event.pop("requestContext")
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/items/7" and event["rawQueryString"] == "a=1&a=2&b=x"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert "cookie" not in event["headers"] and event["headers"]["x-multi"] == "one"
    assert "connection" not in event["headers"]
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert event["headers"]["x-forwarded-port"] == str(urlsplit(url).port)
    assert event["body"] == '{"hello": "world"}' and event["isBase64Encoded"] is False
    assert context["http"] == {"method": "POST", "path": "/items/7", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                               "userAgent": "tester"}
    assert context["apiId"] == url_id and context["domainPrefix"] == url_id
    assert context["domainName"] == f"{url_id}.lambda-url.us-east-1.on.aws"
    assert context["requestId"] == headers["x-amzn-RequestId"]
    assert set(context) == {"accountId", "apiId", "domainName", "domainPrefix", "http", "requestId", "routeKey",
                            "stage", "time", "timeEpoch"}
    # Repeated slashes are merged, as AWS's front end does (`FunctionUrl` ends with one already).
    _, _, body = request(url + "/items//8", "POST", b"{}", {"Content-Type": "application/json"})
    event = json.loads(body)["event"]
    assert (event["rawPath"], event["requestContext"]["http"]["path"]) == ("/items/8", "/items/8")
    # Binary bodies arrive base64-encoded.
    _, _, body = request(url, "PUT", b"\x00\x01", {"Content-Type": "application/octet-stream"})
    event = json.loads(body)["event"]
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x00\x01"


def test_results_without_status_code_and_errors(lam: Any) -> None:
    name = create_python_function(lam, ECHO)
    url = lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM",
                                         InvokeMode="RESPONSE_STREAM")["FunctionUrl"]
    status, headers, body = request(url + "plain")  # AWS_IAM accepted, not enforced; streaming answered buffered
    # Re-written as AWS writes it: compact JSON, and a string as its bare text.
    assert (status, headers["Content-Type"], body) == (200, "application/json", b'{"plain":true,"list":[1,"two"]}')
    assert request(url + "text")[::2] == (200, b"hello")
    status, _, body = request(url + "fail")
    assert (status, body) == (502, b"Internal Server Error")
    status, _, _ = request(url.replace(urlsplit(url).path.split("/")[2], "0" * 32))
    assert status == 403


def test_the_host_form_reaches_the_same_function(server: RunningServer, lam: Any) -> None:
    name = create_python_function(lam, ECHO)
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    url_id = urlsplit(url).path.split("/")[2]
    port = urlsplit(server.endpoint).port
    status, _, body = request(f"http://127.0.0.1:{port}/via/host",
                              headers={"Host": f"{url_id}.lambda-url.us-east-1.localhost:{port}"})
    assert status == 201
    assert json.loads(body)["event"]["rawPath"] == "/via/host"


def test_template_function_url_config_and_logging_config(server: RunningServer, tmp_path: Path) -> None:
    name = unique("tpl")
    (tmp_path / "template.yaml").write_text(f"""
Transform: AWS::Serverless-2016-10-31
Resources:
  UrlFunction:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: {name}
      Runtime: python3.12
      Handler: index.handler
      InlineCode: "def handler(event, context):\\n    return {{'path': event['rawPath']}}\\n"
      FunctionUrlConfig:
        AuthType: NONE
        InvokeMode: BUFFERED
      LoggingConfig:
        LogFormat: JSON
""")
    server.emu_post("/_emu/template", {"path": str(tmp_path / "template.yaml"), "parameters": {}})
    lam = server.client("lambda")
    config = lam.get_function_url_config(FunctionName=name)
    assert config["AuthType"] == "NONE" and config["InvokeMode"] == "BUFFERED"
    assert lam.get_function_configuration(FunctionName=name)["LoggingConfig"] == {
        "LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO", "LogGroup": f"/aws/lambda/{name}"}
    status, _, body = request(config["FunctionUrl"] + "from/template")
    assert (status, json.loads(body)) == (200, {"path": "/from/template"})
