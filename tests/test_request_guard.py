"""A web page must not be able to run code on the developer's machine: Host, Origin, Sec-Fetch-Site and
content-type checks on every listener — while boto3, the AWS CLI, the Node SDK and awslambdaric keep
working unchanged."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from lambda_emu.cli import config_from, parser
from tests.support import RunningServer, create_python_function, raw_request

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ECHO = ("import os\ndef handler(event, context):\n"
        "    return {'event': event, 'api': os.environ['AWS_LAMBDA_RUNTIME_API']}\n")
NODE_DIR = Path(__file__).parent / "node"


@pytest.fixture(scope="module")
def echo(lam: Any) -> str:
    return create_python_function(lam, ECHO)


def invoke_path(name: str) -> str:
    return f"/2015-03-31/functions/{name}/invocations"


def refused(status: int, headers: dict[str, str], body: bytes, flag: str) -> bool:
    return (status == 403 and headers["Content-Type"].startswith("text/plain")
            and body.decode().startswith("lambda-emu refused this request") and flag in body.decode())


# ---- a browser's requests ----


def test_a_cross_origin_form_post_is_refused(server: RunningServer, echo: str) -> None:
    """What <form method=post action=http://127.0.0.1:3001/...> on any web site makes a browser send."""
    status, headers, body = raw_request(server.endpoint, "POST", invoke_path(echo), b"a=1", {
        **FORM, "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"})
    assert refused(status, headers, body, "--allow-origin https://evil.example")
    # A function cannot be created that way either.
    status, headers, body = raw_request(server.endpoint, "POST", "/2015-03-31/functions", b"{}", {
        "Content-Type": "text/plain", "Origin": "https://evil.example"})
    assert refused(status, headers, body, "--allow-origin")


def test_a_cross_site_request_without_origin_is_refused(server: RunningServer) -> None:
    """<img src=...>: a GET with no Origin, but the browser says it came from another site."""
    status, headers, body = raw_request(server.endpoint, "GET", "/?Action=ListQueues", None,
                                        {"Sec-Fetch-Site": "cross-site"})
    assert refused(status, headers, body, "--allow-origin")


@pytest.mark.parametrize("host", ["evil.example", "evil.example:3001", "192.0.2.1", "[2001:db8::1]:80"])
def test_a_rebinding_host_is_refused(server: RunningServer, host: str) -> None:
    status, headers, body = raw_request(server.endpoint, "GET", "/2015-03-31/functions/", None, {"Host": host})
    name = host.rsplit(":", 1)[0].strip("[]") if not host.startswith("[") else "2001:db8::1"
    assert refused(status, headers, body, f"--allow-host {name}")


def test_a_rebinding_host_is_refused_on_a_runtime_api_port(server: RunningServer, lam: Any, echo: str) -> None:
    api = json.loads(lam.invoke(FunctionName=echo, Payload=b"{}")["Payload"].read())["api"]
    status, headers, body = raw_request(f"http://{api}", "GET", "/2018-06-01/runtime/invocation/next", None,
                                        {"Host": "evil.example"})
    assert refused(status, headers, body, "--allow-host evil.example")
    status, headers, body = raw_request(f"http://{api}", "POST", "/2018-06-01/runtime/invocation/x/response",
                                        b"{}", {"Origin": "https://evil.example"})
    assert refused(status, headers, body, "--allow-origin https://evil.example")


@pytest.mark.parametrize("origin", ["http://localhost:5173", "http://127.0.0.1:3001", "https://app.localhost",
                                    "http://[::1]:8080"])
def test_loopback_origins_are_served(server: RunningServer, echo: str, origin: str) -> None:
    status, _, body = raw_request(server.endpoint, "POST", invoke_path(echo), b'{"a": 1}',
                                  {"Content-Type": "application/json", "Origin": origin, "Sec-Fetch-Site": "same-site"})
    assert status == 200 and json.loads(body)["event"] == {"a": 1}


# ---- content types and methods ----


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "text/plain;charset=UTF-8"])
def test_lambda_refuses_bodies_a_page_could_send(server: RunningServer, echo: str, content_type: str) -> None:
    status, headers, body = raw_request(server.endpoint, "POST", invoke_path(echo), b"{}",
                                        {"Content-Type": content_type})
    assert status == 415 and headers["x-amzn-ErrorType"].startswith("UnsupportedMediaTypeException")
    document = json.loads(body)
    assert document["Type"] == "User"
    assert document["message"] == (
        f"lambda-emu does not accept Content-Type {content_type!r} here: AWS SDKs send application/json, "
        "application/x-amz-json-1.0, application/x-amz-json-1.1, application/octet-stream, "
        "binary/octet-stream or none.")


@pytest.mark.parametrize("content_type", [None, "application/json", "application/octet-stream",
                                          "application/x-amz-json-1.1", "binary/octet-stream"])
def test_lambda_serves_what_sdks_send(server: RunningServer, echo: str, content_type: str | None) -> None:
    # http.client, not urllib: urllib adds a form Content-Type to any body sent without one.
    parts = urlsplit(server.endpoint)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        connection.request("POST", invoke_path(echo), body=b'{"k": "v"}',
                           headers={"Content-Type": content_type} if content_type else {})
        response = connection.getresponse()
        status, body = response.status, response.read()
    finally:
        connection.close()
    assert status == 200 and json.loads(body)["event"] == {"k": "v"}


def test_json_protocol_refuses_other_content_types(server: RunningServer) -> None:
    # Coral's answer to a body in a content type it does not read (kinesalite's AWS-checked suite).
    status, _, body = raw_request(server.endpoint, "POST", "/", b"{}", {
        "Content-Type": "text/plain", "X-Amz-Target": "AmazonSQS.ListQueues"})
    assert (status, body) == (404, b"<UnknownOperationException/>\n")


def test_state_changing_query_calls_are_refused_as_get(server: RunningServer, sqs: Any) -> None:
    url = sqs.create_queue(QueueName="guard-get")["QueueUrl"]
    status, _, body = raw_request(server.endpoint, "GET", f"/?Action=SendMessage&QueueUrl={url}&MessageBody=x")
    assert status == 400
    assert b"<Type>Sender</Type><Code>UnsupportedOperation</Code><Message>lambda-emu refuses SendMessage sent " \
           b"with GET: an action that changes state must be sent with POST.</Message>" in body
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"] == "0"
    # Reads may still come as a GET.
    status, _, body = raw_request(server.endpoint, "GET", "/?Action=ListQueues")
    assert status == 200 and url.encode() in body


# ---- the flags ----


@pytest.fixture(scope="module")
def allowing_server() -> Iterator[RunningServer]:
    running = RunningServer(allow_hosts=("emu.test",), allow_origins=("https://app.example",)).start()
    yield running
    running.stop()


def test_allow_host_and_allow_origin(allowing_server: RunningServer) -> None:
    endpoint = allowing_server.endpoint
    status, _, _ = raw_request(endpoint, "GET", "/2015-03-31/functions/", None, {"Host": "emu.test:3001"})
    assert status == 200
    status, _, _ = raw_request(endpoint, "GET", "/2015-03-31/functions/", None, {
        "Origin": "https://app.example", "Sec-Fetch-Site": "cross-site"})
    assert status == 200
    status, headers, body = raw_request(endpoint, "GET", "/2015-03-31/functions/", None, {"Host": "other.test"})
    assert refused(status, headers, body, "--allow-host other.test")
    status, headers, body = raw_request(endpoint, "GET", "/2015-03-31/functions/", None,
                                        {"Origin": "https://app.example.evil"})
    assert refused(status, headers, body, "--allow-origin https://app.example.evil")


def test_the_container_host_is_served() -> None:
    """Containers (--runner docker on Docker Desktop) reach lambda-emu under --container-host."""
    running = RunningServer(container_host="host.docker.internal").start()
    try:
        status, _, _ = raw_request(running.endpoint, "GET", "/2015-03-31/functions/", None,
                                   {"Host": "host.docker.internal:3001"})
        assert status == 200
    finally:
        running.stop()


def test_the_flags_are_repeatable() -> None:
    args = parser().parse_args(["up", "--allow-host", "a.test", "--allow-host", "b.test",
                                "--allow-origin", "https://x.example", "--allow-origin", "https://y.example"])
    config = config_from(args)
    assert config.allow_hosts == ("a.test", "b.test")
    assert config.allow_origins == ("https://x.example", "https://y.example")


# ---- the clients keep working ----


def test_boto3_and_awslambdaric(lam: Any, sqs: Any, echo: str) -> None:
    reply = lam.invoke(FunctionName=echo, Payload=b'{"from": "boto3"}')
    assert json.loads(reply["Payload"].read())["event"] == {"from": "boto3"}  # awslambdaric ran it
    url = sqs.create_queue(QueueName="guard-boto3")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "m"


def aws_cli(endpoint: str, *args: str, tmp_path: Path) -> Any:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    aws = Path(sys.executable).parent / "aws"
    done = subprocess.run([str(aws), "--endpoint-url", endpoint, "--output", "json", *args], env=env,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def test_the_aws_cli(server: RunningServer, echo: str, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    reply = aws_cli(server.endpoint, "lambda", "invoke", "--function-name", echo, "--payload", '{"from": "cli"}',
                    str(out), tmp_path=tmp_path)
    assert reply["StatusCode"] == 200
    assert json.loads(out.read_text())["event"] == {"from": "cli"}
    assert echo in [f["FunctionName"] for f in aws_cli(server.endpoint, "lambda", "list-functions",
                                                       tmp_path=tmp_path)["Functions"]]
    url = aws_cli(server.endpoint, "sqs", "create-queue", "--queue-name", "guard-cli", tmp_path=tmp_path)["QueueUrl"]
    aws_cli(server.endpoint, "sqs", "send-message", "--queue-url", url, "--message-body", "hi", tmp_path=tmp_path)
    received = aws_cli(server.endpoint, "sqs", "receive-message", "--queue-url", url, tmp_path=tmp_path)
    assert received["Messages"][0]["Body"] == "hi"


NODE_SCRIPT = """
const { LambdaClient, InvokeCommand, GetFunctionConfigurationCommand, paginateListFunctions } =
  require("@aws-sdk/client-lambda");
const [endpoint, name] = process.argv.slice(2);
const client = new LambdaClient({ endpoint, region: "us-east-1",
  credentials: { accessKeyId: "x", secretAccessKey: "x" } });
(async () => {
  const invoked = await client.send(new InvokeCommand({ FunctionName: name,
    Payload: Buffer.from(JSON.stringify({ from: "node" })) }));
  const names = [];
  for await (const page of paginateListFunctions({ client }, {})) {
    names.push(...page.Functions.map((f) => f.FunctionName));
  }
  const config = await client.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
  console.log(JSON.stringify({ status: invoked.StatusCode, payload: Buffer.from(invoked.Payload).toString(),
    names, runtime: config.Runtime }));
})().catch((e) => { console.error(e); process.exit(1); });
"""


@pytest.fixture(scope="module")
def node_sdk() -> Path:
    """The AWS SDK for JavaScript v3 in tests/node (what `make test` installs; installed here if missing)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "the Node SDK test needs node and npm on the PATH"
    if not (NODE_DIR / "node_modules" / "@aws-sdk" / "client-lambda").is_dir():
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, check=True,
                       timeout=600)
    return NODE_DIR


def test_the_node_sdk(server: RunningServer, echo: str, node_sdk: Path) -> None:
    script = node_sdk / "guard-check.js"
    script.write_text(NODE_SCRIPT)
    try:
        done = subprocess.run(["node", str(script), server.endpoint, echo], capture_output=True, text=True,
                              timeout=120, cwd=node_sdk)
    finally:
        script.unlink()
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == 200 and json.loads(result["payload"])["event"] == {"from": "node"}
    assert echo in result["names"] and result["runtime"] == "python3.12"
