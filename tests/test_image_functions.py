"""PackageType Image: functions whose code is a container image, through the API and templates. They run
in containers whatever the runner (these tests use the default process runner's server)."""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from lambda_emu.emulator.template.loader import load_template
from tests.support import ROLE, RunningServer, error_of, function_arn, payload_of, unique

APP = """
import sys
def handler(event, context):
    return {"handler": "app.handler", "version": list(sys.version_info[:2]), "event": event}
def other(event, context):
    return {"handler": "app.other"}
"""

DOCKERFILE = """
FROM lambda-emu/python:3.11
COPY app.py ${LAMBDA_TASK_ROOT}/
CMD ["app.handler"]
"""


def build_image(client: Any, tag: str) -> str:
    """A function image on the local python base image (its id)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, text in (("Dockerfile", DOCKERFILE), ("app.py", APP)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    image, _ = client.images.build(fileobj=buffer, custom_context=True, tag=tag, network_mode="host", rm=True)
    return str(image.id)


@pytest.fixture(scope="module")
def function_image(docker_client: Any) -> tuple[str, str]:
    tag = f"lambda-emu-test/{unique('image')}:v1"
    image_id = build_image(docker_client, tag)
    yield tag, image_id
    docker_client.images.remove(tag, force=True)


def test_create_get_and_invoke_an_image_function(lam: Any, function_image: tuple[str, str]) -> None:
    tag, image_id = function_image
    name = unique("img")
    created = lam.create_function(FunctionName=name, Role=ROLE, PackageType="Image", Code={"ImageUri": tag})
    assert created["PackageType"] == "Image"
    assert "Runtime" not in created and "Handler" not in created
    assert created["CodeSha256"] == image_id.removeprefix("sha256:")
    got = lam.get_function(FunctionName=name)
    assert got["Code"] == {"RepositoryType": "ECR", "ImageUri": tag,
                           "ResolvedImageUri": f"{tag.rsplit(':', 1)[0]}@{image_id}"}
    configuration = got["Configuration"]
    assert configuration["PackageType"] == "Image" and configuration["State"] == "Active"
    assert "ImageConfigResponse" not in configuration and "RuntimeVersionConfig" not in configuration
    result = payload_of(lam.invoke(FunctionName=name, Payload=b'{"a": 1}'))
    assert result == {"handler": "app.handler", "version": [3, 11], "event": {"a": 1}}


def test_image_config_overrides_the_images_command(lam: Any, function_image: tuple[str, str]) -> None:
    tag, _ = function_image
    name = unique("img")
    image_config = {"Command": ["app.other"], "WorkingDirectory": "/var/task"}
    lam.create_function(FunctionName=name, Role=ROLE, PackageType="Image", Code={"ImageUri": tag},
                        ImageConfig=image_config)
    assert lam.get_function_configuration(FunctionName=name)["ImageConfigResponse"] == {"ImageConfig": image_config}
    assert payload_of(lam.invoke(FunctionName=name)) == {"handler": "app.other"}
    lam.update_function_configuration(FunctionName=name, ImageConfig={"Command": ["app.handler"]})
    assert payload_of(lam.invoke(FunctionName=name))["handler"] == "app.handler"


def test_an_image_that_is_not_there(lam: Any) -> None:
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as caught:
        lam.create_function(FunctionName=unique("img"), Role=ROLE, PackageType="Image",
                            Code={"ImageUri": "lambda-emu-test/absent:v1"})
    status, code, message, _ = error_of(caught.value)
    assert (status, code) == (400, "InvalidParameterValueException")
    assert message == "Source image lambda-emu-test/absent:v1 does not exist. Provide a valid source image."


def test_runtime_and_handler_are_refused_for_an_image(lam: Any, function_image: tuple[str, str]) -> None:
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as caught:
        lam.create_function(FunctionName=unique("img"), Role=ROLE, PackageType="Image", Runtime="python3.11",
                            Handler="app.handler", Code={"ImageUri": function_image[0]})
    assert error_of(caught.value)[2] == ("Please don't provide Handler or Runtime or Layer when the intended "
                                         "function PackageType is Image")


# ---- templates ----


def load(server: RunningServer, path: Path) -> list[str]:
    async def run() -> list[str]:
        assert server.emu is not None
        return load_template(server.emu.stack, path)

    return asyncio.run_coroutine_threadsafe(run(), server.loop).result(60)


def wait_for_state(lam: Any, name: str, state: str, seconds: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        configuration = lam.get_function_configuration(FunctionName=name)
        if configuration["State"] == state or time.monotonic() > deadline:
            return configuration
        time.sleep(0.2)


def test_a_template_image_function_built_from_its_dockerfile(lam: Any, server: RunningServer, tmp_path: Path,
                                                             docker_client: Any) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "Dockerfile").write_text(DOCKERFILE.replace("CMD", "ARG GREETING\nENV GREETING=$GREETING\nCMD"))
    (tmp_path / "fn" / "app.py").write_text(
        "import os\ndef handler(event, context):\n    return os.environ['GREETING']\n")
    name = unique("tplimg")
    logical_id = "Built" + name.replace("-", "")
    (tmp_path / "template.yaml").write_text(textwrap.dedent(f"""
        Transform: AWS::Serverless-2016-10-31
        Resources:
          {logical_id}:
            Type: AWS::Serverless::Function
            Properties:
              FunctionName: {name}
              PackageType: Image
              MemorySize: 256
            Metadata:
              Dockerfile: Dockerfile
              DockerContext: ./fn
              DockerTag: v7
              DockerBuildArgs:
                GREETING: built-by-lambda-emu
        """))
    load(server, tmp_path / "template.yaml")
    pending = lam.get_function_configuration(FunctionName=name)
    assert pending["State"] == "Pending"
    assert pending["StateReasonCode"] == "Creating"
    with pytest.raises(lam.exceptions.ResourceConflictException) as caught:
        lam.invoke(FunctionName=name)
    assert error_of(caught.value)[2] == ("The operation cannot be performed at this time. "
                                         "The function is currently in the following state: Pending")
    assert wait_for_state(lam, name, "Active")["State"] == "Active"
    tag = f"{logical_id.lower()}:v7"
    try:
        got = lam.get_function(FunctionName=name)
        assert got["Code"]["ImageUri"] == tag
        assert got["Configuration"]["FunctionArn"] == function_arn(name)
        assert payload_of(lam.invoke(FunctionName=name)) == "built-by-lambda-emu"
    finally:
        docker_client.images.remove(tag, force=True)


def test_a_failed_build_leaves_the_function_failed(lam: Any, server: RunningServer, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM lambda-emu/python:3.11\nRUN exit 3\n")
    name = unique("tplbad")
    (tmp_path / "template.yaml").write_text(textwrap.dedent(f"""
        Resources:
          Broken:
            Type: AWS::Serverless::Function
            Properties:
              FunctionName: {name}
              PackageType: Image
            Metadata:
              Dockerfile: Dockerfile
              DockerContext: .
        """))
    load(server, tmp_path / "template.yaml")
    failed = wait_for_state(lam, name, "Failed")
    assert failed["State"] == "Failed"
    assert failed["StateReasonCode"] == "InvalidImage"
    assert failed["StateReason"].startswith("Image build failed: ")
    assert "returned a non-zero code: 3" in failed["StateReason"]
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.invoke(FunctionName=name)


def test_a_template_image_function_by_uri(lam: Any, server: RunningServer, tmp_path: Path,
                                          function_image: tuple[str, str]) -> None:
    tag, _ = function_image
    name = unique("tpluri")
    (tmp_path / "template.yaml").write_text(json.dumps({"Resources": {"ByUri": {
        "Type": "AWS::Lambda::Function",
        "Properties": {"FunctionName": name, "PackageType": "Image", "Role": ROLE, "Code": {"ImageUri": tag},
                       "ImageConfig": {"Command": ["app.other"]}}}}}))
    load(server, tmp_path / "template.yaml")
    assert payload_of(lam.invoke(FunctionName=name)) == {"handler": "app.other"}
