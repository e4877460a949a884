"""Bad input never takes the server down nor disturbs other functions, and gets the error a real client
expects. After every test here, the server still answers and a bystander function still invokes."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from tests.support import (
    ROLE,
    RunningServer,
    create_python_function,
    error_of,
    make_zip,
    payload_of,
    raw_request,
    unique,
)

JSON = {"Content-Type": "application/json"}
SOURCE = "def handler(event, context):\n    return 'ok'\n"
UNZIP_ERROR = "Could not unzip uploaded file. Please check your file, then try to upload again."


@pytest.fixture(scope="module")
def bystander(lam: Any) -> str:
    name = create_python_function(lam, "import os\ndef handler(event, context):\n    return os.getpid()\n")
    lam.invoke(FunctionName=name)
    return name


@pytest.fixture(autouse=True)
def still_serving(lam: Any, server: RunningServer, bystander: str) -> Iterator[None]:
    pid = payload_of(lam.invoke(FunctionName=bystander))
    yield
    assert server.emu_get("/_emu/health")["status"] == "ok"
    # The bystander's warm environment was not disturbed either.
    assert payload_of(lam.invoke(FunctionName=bystander)) == pid


def raw(server: RunningServer, method: str, path: str, body: bytes | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], dict[str, Any]]:
    status, response_headers, data = raw_request(server.endpoint, method, path, body, headers)
    return status, response_headers, json.loads(data)


def create(lam: Any, **params: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {"FunctionName": unique("bad"), "Runtime": "python3.12", "Role": ROLE,
                                "Handler": "app.handler", "Code": {"ZipFile": make_zip({"app.py": SOURCE})}}
    defaults.update(params)
    return lam.create_function(**defaults)


def refused(lam: Any, **params: Any) -> tuple[int, str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        create(lam, **params)
    status, code, message, _ = error_of(caught.value)
    name = params.get("FunctionName")
    if name:
        with pytest.raises(botocore.exceptions.ClientError):
            lam.get_function(FunctionName=name)
    return status, code, message


# ---- malformed requests ----


def test_malformed_json_body(server: RunningServer) -> None:
    status, headers, body = raw(server, "POST", "/2015-03-31/functions", b"{not json", JSON)
    assert (status, headers["x-amzn-ErrorType"]) == (400, "SerializationException")
    assert body["message"].startswith("Could not parse request body into json: ")
    status, headers, body = raw(server, "POST", "/2015-03-31/functions", b"[1, 2]", JSON)
    assert (status, headers["x-amzn-ErrorType"]) == (400, "SerializationException")
    status, headers, body = raw(server, "PUT", "/2015-03-31/functions/x/configuration", b"\xff\xfe", JSON)
    assert (status, headers["x-amzn-ErrorType"]) == (400, "SerializationException")


def test_missing_required_members(server: RunningServer) -> None:
    status, headers, body = raw(server, "POST", "/2015-03-31/functions", b"{}", JSON)
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert body["message"] == (
        "3 validation errors detected: Value null at 'functionName' failed to satisfy constraint: Member must not "
        "be null; Value null at 'role' failed to satisfy constraint: Member must not be null; Value null at 'code' "
        "failed to satisfy constraint: Member must not be null"
    )


def test_wrong_member_type(server: RunningServer) -> None:
    document = {"FunctionName": unique("bad"), "Role": ROLE, "Runtime": "python3.12", "Handler": "app.handler",
                "Timeout": "three", "Code": {"ZipFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}}
    status, headers, _ = raw(server, "POST", "/2015-03-31/functions", json.dumps(document).encode(), JSON)
    assert (status, headers["x-amzn-ErrorType"]) == (400, "SerializationException")


@pytest.mark.parametrize("method,path", [("GET", "/2015-03-31/nope"), ("PATCH", "/2015-03-31/functions"),
                                         ("GET", "/no/such/thing"), ("DELETE", "/")])
def test_unknown_paths_and_operations(server: RunningServer, method: str, path: str) -> None:
    status, headers, body = raw(server, method, path)
    assert (status, headers["x-amzn-ErrorType"]) == (404, "UnknownOperationException")
    # UnknownOperationException is not one of Lambda's modeled errors: no "Type" (as AWS's unmodeled ones).
    assert body == {"message": f"No AWS operation at {method} {path}"}


def test_bad_query_values(server: RunningServer) -> None:
    status, headers, body = raw(server, "GET", "/2015-03-31/functions?MaxItems=0")
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert body["message"] == ("1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: "
                               "Member must have value greater than or equal to 1")
    status, headers, _ = raw(server, "GET", "/2015-03-31/functions?MaxItems=lots")
    assert (status, headers["x-amzn-ErrorType"]) == (400, "SerializationException")
    status, headers, _ = raw(server, "GET", "/2015-03-31/functions?Marker=%25%25")
    assert (status, headers["x-amzn-ErrorType"]) == (400, "InvalidParameterValueException")


# ---- names ----


@pytest.mark.parametrize("name", ["bad name!", "arn:aws:lambda:us-east-1:000000000000:function:f:1:2"])
def test_invalid_function_names(lam: Any, name: str) -> None:
    status, code, message = refused(lam, FunctionName=name)
    assert (status, code) == (400, "ValidationException")
    assert message.startswith("1 validation error detected: Value '")
    assert "at 'functionName' failed to satisfy constraint: Member must" in message


def test_invalid_name_in_the_path(lam: Any) -> None:
    for call in (lambda: lam.get_function(FunctionName="bad name!"),
                 lambda: lam.invoke(FunctionName="bad name!", Payload=b"{}")):
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            call()
        assert error_of(caught.value)[:2] == (400, "ValidationException")


def test_create_with_a_qualified_name(lam: Any) -> None:
    status, code, message = refused(lam, FunctionName="plain-name:7")
    assert (status, code) == (400, "InvalidParameterValueException")


# ---- values ----


def test_timeout_and_memory_limits_on_create(lam: Any) -> None:
    assert refused(lam, Timeout=901) == (
        400, "ValidationException",
        "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: Member must have value "
        "less than or equal to 900")
    assert refused(lam, MemorySize=10241) == (
        400, "ValidationException",
        "1 validation error detected: Value '10241' at 'memorySize' failed to satisfy constraint: Member must have "
        "value less than or equal to 10240")
    assert create(lam, Timeout=900, MemorySize=10240)["Timeout"] == 900


def test_unknown_runtime(lam: Any) -> None:
    # Lambda checks Runtime itself (recorded): InvalidParameterValueException, "... or be a valid ARN".
    status, code, message = refused(lam, Runtime="cobol85")
    assert (status, code) == (400, "InvalidParameterValueException")
    assert message.startswith("Value cobol85 at 'runtime' failed to satisfy constraint: Member must satisfy enum "
                              "value set: [")
    assert message.endswith("] or be a valid ARN")
    # A runtime Lambda no longer creates functions with (it is still in the model's enum): refused.
    status, code, message = refused(lam, Runtime="python3.8")
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "python3.8" in message


def test_oversized_environment(lam: Any) -> None:
    variables = {"BIG": "x" * 4100}
    status, code, message = refused(lam, Environment={"Variables": variables})
    assert (status, code) == (400, "InvalidParameterValueException")
    assert message == ("Lambda was unable to configure your environment variables because the environment variables "
                       "you have provided exceeded the 4KB limit. String measured: "
                       + json.dumps(variables, separators=(",", ":")))
    # Exactly 4 KB (as measured: the JSON of the map) is accepted.
    fits = {"AB": "x" * (4096 - len('{"AB":""}'))}
    assert create(lam, Environment={"Variables": fits})["Environment"] == {"Variables": fits}


def test_reserved_environment_keys(lam: Any) -> None:
    status, code, message = refused(lam, Environment={"Variables": {"AWS_REGION": "eu-west-1", "OK": "1",
                                                                     "LAMBDA_TASK_ROOT": "x"}})
    assert (status, code) == (400, "InvalidParameterValueException")
    assert message == ("Lambda was unable to configure your environment variables because the environment variables "
                       "you have provided contains reserved keys that are currently not supported for modification. "
                       "Reserved keys used in this request: AWS_REGION, LAMBDA_TASK_ROOT")
    # A reserved key that breaks the model's key pattern (_HANDLER) never gets that far: Coral's
    # validation refuses it first, without echoing the (sensitive) variables.
    assert refused(lam, Environment={"Variables": {"_HANDLER": "x"}}) == (
        400, "ValidationException",
        "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must "
        "satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]")
    name = create(lam)["FunctionName"]
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"AWS_LAMBDA_RUNTIME_API": "x"}})
    assert "Environment" not in lam.get_function_configuration(FunctionName=name)


# ---- invoke payloads ----


def test_non_json_invoke_payload(lam: Any, bystander: str) -> None:
    for payload in (b"not json", b"{", b"\xff\xfe\x00"):
        with pytest.raises(lam.exceptions.InvalidRequestContentException) as caught:
            lam.invoke(FunctionName=bystander, Payload=payload)
        status, code, message, body = error_of(caught.value)
        assert (status, code, body["Type"]) == (400, "InvalidRequestContentException", "User")
        assert message.startswith("Could not parse request body into json: ")


def test_bad_invocation_type(server: RunningServer, bystander: str) -> None:
    status, headers, body = raw(server, "POST", f"/2015-03-31/functions/{bystander}/invocations", b"{}",
                                {**JSON, "X-Amz-Invocation-Type": "Bogus"})
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert body["message"] == ("1 validation error detected: Value 'Bogus' at 'invocationType' failed to satisfy "
                               "constraint: Member must satisfy enum value set: [DryRun, RequestResponse, Event]")


# ---- deployment packages ----


def code_dirs(server: RunningServer) -> set[str]:
    assert server.emu is not None
    root = server.emu.state_dir / "code"
    return {p.name for p in root.iterdir()} if root.exists() else set()


def test_not_a_zip(lam: Any, server: RunningServer) -> None:
    before = code_dirs(server)
    for data in (b"definitely not a zip", b"PK\x03\x04 truncated", b""):
        assert refused(lam, Code={"ZipFile": data}) == (400, "InvalidParameterValueException", UNZIP_ERROR)
    assert code_dirs(server) == before


def test_entries_escaping_the_code_directory(lam: Any, server: RunningServer) -> None:
    assert server.emu is not None
    state = server.emu.state_dir
    before = code_dirs(server)
    for entry in ("../evil.py", "../../evil.py", "sub/../../evil.py", "/tmp/lambda-emu-evil.py"):
        status, code, message = refused(lam, Code={"ZipFile": make_zip({"app.py": SOURCE, entry: "owned = True"})})
        assert (status, code) == (400, "InvalidParameterValueException")
        assert message == f"Deployment package entry escapes the code directory: {entry}"
    assert not (state / "code" / "evil.py").exists()
    assert not (state / "evil.py").exists()
    assert not Path("/tmp/lambda-emu-evil.py").exists()
    assert code_dirs(server) == before
    # The same via UpdateFunctionCode: refused, and the function keeps its code.
    name = create(lam)["FunctionName"]
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_function_code(FunctionName=name, ZipFile=make_zip({"../evil.py": "x"}))
    assert payload_of(lam.invoke(FunctionName=name)) == "ok"
    assert not (state / "code" / "evil.py").exists()


def test_symlink_entries_are_refused(lam: Any) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", SOURCE)
        link = zipfile.ZipInfo("passwd")
        link.external_attr = (0o120777 << 16)
        archive.writestr(link, "/etc/passwd")
    status, code, message = refused(lam, Code={"ZipFile": buffer.getvalue()})
    assert (status, code, message) == (400, "InvalidParameterValueException",
                                       "Deployment package contains a symbolic link: passwd")


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    """400 MB of zeros in ~400 KB, written in a stream so the test never holds the 400 MB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("app.py", SOURCE)
        info = zipfile.ZipInfo("zeros.bin")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as sink:
            chunk = bytes(1 << 20)
            for _ in range(400):
                sink.write(chunk)
    return buffer.getvalue()


def test_zip_bomb_is_refused(lam: Any, server: RunningServer, zip_bomb: bytes) -> None:
    assert len(zip_bomb) < 1024 * 1024
    before = code_dirs(server)
    assert refused(lam, Code={"ZipFile": zip_bomb}) == (
        400, "InvalidParameterValueException", "Unzipped size must be smaller than 262144000 bytes")
    assert code_dirs(server) == before
    name = create(lam)["FunctionName"]
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_function_code(FunctionName=name, ZipFile=zip_bomb)
    assert payload_of(lam.invoke(FunctionName=name)) == "ok"
