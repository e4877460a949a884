"""The process runner's sandbox, through boto3 and real handlers: the interpreter a runtime names, only
what Lambda's python runtime gives (awslambdaric, pinned boto3), requirements.txt installed like
`sam build` (real pip, real PyPI package), layers, code reload, and runtimes only a container runs."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambda_emu.emulator.template.loader import load_template
from lambda_emu.runtime_api.runners.sandbox import RUNTIME_REQUIREMENTS
from tests.support import (
    ROLE,
    RunningServer,
    create_python_function,
    error_of,
    make_zip,
    payload_of,
    unique,
)

BOTO3_VERSION = next(r.split("==")[1] for r in RUNTIME_REQUIREMENTS if r.startswith("boto3=="))

PROBE = """
import os, sys
def handler(event, context):
    found = {}
    for name in event["modules"]:
        try:
            module = __import__(name)
            found[name] = getattr(module, "__version__", "imported")
        except ImportError as exc:
            found[name] = type(exc).__name__
    return {"version": "%d.%d.%d" % sys.version_info[:3], "modules": found, "path": sys.path,
            "env": sorted(os.environ)}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    """This module's own server: its functions (and a nodejs one) stay out of the shared server's lists."""
    running = RunningServer().start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def lam(server: RunningServer) -> Any:
    return server.client("lambda")


def functions_view(server: RunningServer) -> dict[str, dict[str, Any]]:
    return {f["functionName"]: f for f in server.emu_get("/_emu/functions")["functions"]}


def load(server: RunningServer, path: Path) -> list[str]:
    async def run() -> list[str]:
        assert server.emu is not None
        return load_template(server.emu.stack, path)

    return asyncio.run_coroutine_threadsafe(run(), server.loop).result(60)


class Terminal:
    """The lines lambda-emu writes to its terminal (announce), kept while still printed."""

    def __init__(self, server: RunningServer) -> None:
        assert server.emu is not None
        self.lines: list[str] = []
        previous = server.emu.terminal

        def tee(text: str) -> None:
            self.lines.append(text)
            if previous is not None:
                previous(text)

        server.emu.terminal = tee


# ---- only what Lambda gives ---------------------------------------------------------------------


def test_handler_imports_only_what_lambdas_python_runtime_has(server: RunningServer, lam: Any) -> None:
    os.environ["LAMBDA_EMU_TEST_SECRET"] = "must not leak"
    try:
        name = create_python_function(lam, PROBE, runtime="python3.12")
        result = payload_of(lam.invoke(FunctionName=name, Payload=json.dumps(
            {"modules": ["lambda_emu", "aiohttp", "pydantic", "moto", "yaml", "psutil", "boto3", "botocore",
                         "awslambdaric"]})))
    finally:
        del os.environ["LAMBDA_EMU_TEST_SECRET"]
    modules = result["modules"]
    for unavailable in ("lambda_emu", "aiohttp", "pydantic", "moto", "yaml", "psutil"):
        assert modules[unavailable] == "ModuleNotFoundError", unavailable
    assert modules["boto3"] == BOTO3_VERSION and modules["botocore"] == BOTO3_VERSION
    assert modules["awslambdaric"] == "imported" or modules["awslambdaric"].startswith("4.")
    # Lambda's order: the task root first, the runtime directory after it, then the standard library.
    path = result["path"]
    view = functions_view(server)[name]
    assert path[0] == view["codePath"]
    assert "/runtime/python3.12-" in path[1]
    assert not any("site-packages" in entry for entry in path[2:])
    assert "LAMBDA_EMU_TEST_SECRET" not in result["env"] and "HOME" not in result["env"]


def test_module_level_import_of_a_missing_package_is_import_module_error(lam: Any) -> None:
    name = create_python_function(lam, "import pydantic\n\ndef handler(event, context):\n    return 1\n")
    response = lam.invoke(FunctionName=name)
    assert response["FunctionError"] == "Unhandled"
    body = payload_of(response)
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == "Unable to import module 'app': No module named 'pydantic'"


# ---- the interpreter ----------------------------------------------------------------------------


def test_python_312_runs_on_312_and_says_so(server: RunningServer, lam: Any) -> None:
    # Syntax of 3.12 (PEP 695) that 3.11 rejects: proof the function is not on lambda-emu's own Python.
    source = "type Pair = tuple[int, int]\n\ndef handler(event, context):\n    import sys\n" \
             "    return '%d.%d.%d' % sys.version_info[:3]\n"
    name = create_python_function(lam, source, runtime="python3.12")
    version = payload_of(lam.invoke(FunctionName=name))
    assert version.startswith("3.12.")
    view = functions_view(server)[name]
    assert view == {
        "functionName": name, "runtime": "python3.12", "runner": "process",
        "interpreter": {"path": view["interpreter"]["path"], "version": version, "exact": True},
        "dependencies": {"status": "none", "requirements": None, "path": None, "error": None},
        "layers": [], "codePath": view["codePath"],
        "versions": [], "aliases": {}, "lastExecutedVersion": "$LATEST",
    }
    assert "3.12" in Path(view["interpreter"]["path"]).name


def test_a_runtime_without_its_interpreter_falls_back_loudly(server: RunningServer, lam: Any) -> None:
    terminal = Terminal(server)
    name = create_python_function(lam, PROBE, runtime="python3.14")
    result = payload_of(lam.invoke(FunctionName=name, Payload=json.dumps({"modules": []})))
    view = functions_view(server)[name]["interpreter"]
    assert view["exact"] is False and view["version"] == result["version"]
    assert not result["version"].startswith("3.14.")
    wanted = (f"[{name}] python3.14 requested, no 3.14 interpreter found: running on {result['version']} "
              "(install python3.14 or pass --python 3.14=PATH)")
    assert terminal.lines.count(wanted) == 1


# ---- requirements.txt, like sam build -----------------------------------------------------------

USES_TABULATE = """
import tabulate

def handler(event, context):
    return {"table": tabulate.tabulate([[1, 2]]), "from": tabulate.__file__}
"""


def requirements_template(tmp_path: Path, requirements: str, source: str = USES_TABULATE) -> Path:
    code = tmp_path / "fn"
    code.mkdir(parents=True, exist_ok=True)
    (code / "app.py").write_text(source)
    (code / "requirements.txt").write_text(requirements)
    template = tmp_path / "template.yaml"
    template.write_text("Resources:\n  Tabled:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                        "      CodeUri: fn/\n      Handler: app.handler\n      Runtime: python3.12\n")
    return template


def test_requirements_are_installed_pending_then_active_and_cached(tmp_path: Path) -> None:
    # A fresh line makes a fresh hash: this run really installs (tabulate, small and pure Python).
    template = requirements_template(tmp_path, f"# run {uuid.uuid4()}\ntabulate==0.9.0\n")
    first = RunningServer().start()
    try:
        terminal = Terminal(first)
        lam = first.client("lambda")
        load(first, template)
        configuration = lam.get_function(FunctionName="Tabled")["Configuration"]
        assert (configuration["State"], configuration["StateReason"], configuration["StateReasonCode"],
                configuration["LastUpdateStatus"]) == ("Pending", "The function is being created.", "Creating",
                                                       "InProgress")
        assert functions_view(first)["Tabled"]["dependencies"]["status"] == "installing"
        with pytest.raises(ClientError) as caught:
            lam.invoke(FunctionName="Tabled")
        assert error_of(caught.value)[:3] == (409, "ResourceConflictException",
                                              "The operation cannot be performed at this time. The function is "
                                              "currently in the following state: Pending")
        lam.get_waiter("function_active_v2").wait(FunctionName="Tabled", WaiterConfig={"Delay": 1})
        lam.get_waiter("function_updated_v2").wait(FunctionName="Tabled", WaiterConfig={"Delay": 1})
        configuration = lam.get_function(FunctionName="Tabled")["Configuration"]
        assert (configuration["State"], configuration["LastUpdateStatus"]) == ("Active", "Successful")
        assert "StateReason" not in configuration
        dependencies = functions_view(first)["Tabled"]["dependencies"]
        assert dependencies["status"] == "ready" and dependencies["error"] is None
        assert dependencies["requirements"] == str((tmp_path / "fn" / "requirements.txt").resolve())
        result = payload_of(lam.invoke(FunctionName="Tabled"))
        assert result["from"].startswith(dependencies["path"])
        assert not (tmp_path / "fn" / "tabulate.py").exists()  # never into the code folder
        assert any(line.startswith("[Tabled] installing ") for line in terminal.lines)
    finally:
        first.stop()
    second = RunningServer().start()
    try:
        terminal = Terminal(second)
        load(second, template)
        lam = second.client("lambda")
        assert lam.get_function(FunctionName="Tabled")["Configuration"]["State"] == "Active"  # cache hit
        assert functions_view(second)["Tabled"]["dependencies"] == dependencies
        assert payload_of(lam.invoke(FunctionName="Tabled"))["from"] == result["from"]
        assert not any("installing" in line for line in terminal.lines)
    finally:
        second.stop()


def test_failing_requirements_leave_the_function_failed(tmp_path: Path) -> None:
    template = requirements_template(tmp_path, f"# run {uuid.uuid4()}\nthis is not a requirement ===\n")
    server = RunningServer().start()
    try:
        lam = server.client("lambda")
        load(server, template)
        with pytest.raises(Exception, match="Failed"):
            lam.get_waiter("function_active_v2").wait(FunctionName="Tabled", WaiterConfig={"Delay": 1})
        configuration = lam.get_function(FunctionName="Tabled")["Configuration"]
        assert configuration["State"] == "Failed" and configuration["StateReasonCode"] == "InvalidConfiguration"
        assert configuration["StateReason"].startswith("requirements.txt could not be installed: ")
        assert configuration["LastUpdateStatus"] == "Failed"
        dependencies = functions_view(server)["Tabled"]["dependencies"]
        assert dependencies["status"] == "failed" and dependencies["path"] is None
        assert "this is not a requirement" in dependencies["error"]
        assert dependencies["error"] in configuration["StateReason"]
        with pytest.raises(ClientError) as caught:
            lam.invoke(FunctionName="Tabled")
        assert error_of(caught.value)[:3] == (409, "ResourceConflictException",
                                              "The operation cannot be performed at this time. The function is "
                                              "currently in the following state: Failed")
    finally:
        server.stop()


def test_no_install_and_zips_install_nothing(tmp_path: Path) -> None:
    template = requirements_template(tmp_path, "tabulate==0.9.0\n")
    server = RunningServer(install_requirements=False).start()
    try:
        lam = server.client("lambda")
        load(server, template)
        assert lam.get_function(FunctionName="Tabled")["Configuration"]["State"] == "Active"
        assert functions_view(server)["Tabled"]["dependencies"]["status"] == "none"
        # A zip is used as uploaded, its requirements.txt included (AWS installs nothing from it).
        name = unique()
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": make_zip({"app.py": USES_TABULATE, "requirements.txt": "tabulate\n"})})
        body = payload_of(lam.invoke(FunctionName=name))
        assert body["errorType"] == "Runtime.ImportModuleError"
        assert functions_view(server)[name]["dependencies"]["status"] == "none"
    finally:
        server.stop()


# ---- layers -------------------------------------------------------------------------------------


def test_layer_api_and_a_function_using_layers(server: RunningServer, lam: Any) -> None:
    layer = unique("layer")
    first = lam.publish_layer_version(LayerName=layer, Description="helpers",
                                      Content={"ZipFile": make_zip({"python/helper.py": "WHO = 'layer v1'\n"})},
                                      CompatibleRuntimes=["python3.12"])
    arn = f"arn:aws:lambda:us-east-1:000000000000:layer:{layer}"
    assert first["LayerArn"] == arn and first["LayerVersionArn"] == arn + ":1" and first["Version"] == 1
    assert first["Description"] == "helpers" and first["CompatibleRuntimes"] == ["python3.12"]
    assert set(first["Content"]) == {"Location", "CodeSha256", "CodeSize"}
    second = lam.publish_layer_version(
        LayerName=layer, Content={"ZipFile": make_zip({"python/lib/python3.12/site-packages/helper.py":
                                                       "WHO = 'layer v2'\n"})})
    assert second["Version"] == 2
    got = lam.get_layer_version(LayerName=layer, VersionNumber=1)
    assert {k: v for k, v in got.items() if k != "ResponseMetadata"} == \
           {k: v for k, v in first.items() if k != "ResponseMetadata"}
    assert lam.get_layer_version_by_arn(Arn=arn + ":2")["Version"] == 2
    versions = lam.list_layer_versions(LayerName=layer)["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]  # newest first
    listed = [entry for entry in lam.list_layers()["Layers"] if entry["LayerName"] == layer]
    assert listed[0]["LatestMatchingVersion"]["Version"] == 2
    assert [e["LayerName"] for e in lam.list_layers(CompatibleRuntime="python3.12")["Layers"]].count(layer) == 1
    with pytest.raises(ClientError) as caught:
        lam.get_layer_version(LayerName=layer, VersionNumber=7)
    assert error_of(caught.value)[:3] == (404, "ResourceNotFoundException",
                                          "The resource you requested does not exist.")
    with pytest.raises(ClientError) as caught:
        lam.get_layer_version(LayerName=layer, VersionNumber=0)
    assert error_of(caught.value)[:3] == (400, "InvalidParameterValueException", "Layer Version Cannot be less than 1")

    source = "import helper\n\ndef handler(event, context):\n    return helper.WHO\n"
    name = create_python_function(lam, source, Layers=[arn + ":1"])
    assert payload_of(lam.invoke(FunctionName=name)) == "layer v1"
    configuration = lam.get_function(FunctionName=name)["Configuration"]
    assert configuration["Layers"] == [{"Arn": arn + ":1", "CodeSize": first["Content"]["CodeSize"]}]
    assert functions_view(server)[name]["layers"] == [arn + ":1"]
    # python/lib/python3.12/site-packages comes before python/ on Lambda's path.
    lam.update_function_configuration(FunctionName=name, Layers=[arn + ":2"])
    assert payload_of(lam.invoke(FunctionName=name)) == "layer v2"

    for layers, status, code, message in (
        ([arn + ":9"], 400, "InvalidParameterValueException", f"Layer version {arn}:9 does not exist."),
        ([arn + ":1", arn + ":2"], 400, "InvalidParameterValueException",
         "Two different versions of the same layer are not allowed to be referenced in the same function. "
         f"{arn}:1 and {arn}:2 are versions of the same layer."),
        ([f"{arn}-{i}:1" for i in range(6)], 400, "InvalidParameterValueException",
         "Cannot reference more than 5 layers."),
    ):
        with pytest.raises(ClientError) as caught:
            create_python_function(lam, source, Layers=layers)
        assert error_of(caught.value)[:3] == (status, code, message)

    lam.delete_layer_version(LayerName=layer, VersionNumber=1)
    lam.delete_layer_version(LayerName=layer, VersionNumber=1)  # idempotent
    assert [v["Version"] for v in lam.list_layer_versions(LayerName=layer)["LayerVersions"]] == [2]
    third = lam.publish_layer_version(LayerName=layer, Content={"ZipFile": make_zip({"python/x.py": ""})})
    assert third["Version"] == 3  # never reused


def test_template_layer_with_ref(tmp_path: Path) -> None:
    (tmp_path / "layer" / "python").mkdir(parents=True)
    (tmp_path / "layer" / "python" / "shared.py").write_text("VALUE = 'from the layer'\n")
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text("import shared\n\ndef handler(event, context):\n    return shared.VALUE\n")
    template = tmp_path / "template.yaml"
    template.write_text("""\
Resources:
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties:
      LayerName: shared-libs
      ContentUri: layer/
      CompatibleRuntimes: [python3.12]
  Plain:
    Type: AWS::Lambda::LayerVersion
    Properties:
      Content: layer/
  UsesLayer:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Runtime: python3.12
      Layers: [!Ref Shared]
""")
    server = RunningServer().start()
    try:
        lam = server.client("lambda")
        load(server, template)
        assert payload_of(lam.invoke(FunctionName="UsesLayer")) == "from the layer"
        arn = "arn:aws:lambda:us-east-1:000000000000:layer:shared-libs:1"
        assert lam.get_function(FunctionName="UsesLayer")["Configuration"]["Layers"][0]["Arn"] == arn
        assert lam.get_layer_version(LayerName="Plain", VersionNumber=1)["Version"] == 1
    finally:
        server.stop()


# ---- code reload --------------------------------------------------------------------------------


def test_an_edit_is_the_next_invocations_code(tmp_path: Path) -> None:
    code = tmp_path / "fn"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return 'v1'\n")
    template = tmp_path / "template.yaml"
    template.write_text("Resources:\n  Edited:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                        "      CodeUri: fn/\n      Handler: app.handler\n      Runtime: python3.12\n")
    server = RunningServer().start()
    try:
        terminal = Terminal(server)
        lam = server.client("lambda")
        load(server, template)
        assert payload_of(lam.invoke(FunctionName="Edited")) == "v1"
        (code / "app.py").write_text("def handler(event, context):\n    return 'v2'\n")
        edited = time.monotonic()
        while payload_of(lam.invoke(FunctionName="Edited")) != "v2":
            assert time.monotonic() - edited < 2, "the edit was not picked up within 2 s"
            time.sleep(0.05)
        assert terminal.lines.count(
            "[Edited] code changed: warm environments retired, the next invocation starts cold") == 1
        attempts = server.invocations("Edited")
        assert attempts[-1]["coldStart"] is True
    finally:
        server.stop()


def test_an_edited_requirements_file_is_installed_again_as_an_update(tmp_path: Path) -> None:
    template = requirements_template(tmp_path, f"# run {uuid.uuid4()}\ntabulate==0.9.0\n")
    server = RunningServer().start()
    try:
        lam = server.client("lambda")
        load(server, template)
        lam.get_waiter("function_active_v2").wait(FunctionName="Tabled", WaiterConfig={"Delay": 1})
        before = functions_view(server)["Tabled"]["dependencies"]["path"]
        (tmp_path / "fn" / "requirements.txt").write_text(f"# edited {uuid.uuid4()}\ntabulate==0.9.0\n")
        deadline = time.monotonic() + 10
        while functions_view(server)["Tabled"]["dependencies"]["status"] != "installing":
            assert time.monotonic() < deadline, "the edit of requirements.txt started no install"
            time.sleep(0.05)
        configuration = lam.get_function(FunctionName="Tabled")["Configuration"]
        # An update of an Active function: it stays Active (and invocable) meanwhile.
        assert (configuration["State"], configuration["LastUpdateStatus"]) == ("Active", "InProgress")
        lam.get_waiter("function_updated_v2").wait(FunctionName="Tabled", WaiterConfig={"Delay": 1})
        after = functions_view(server)["Tabled"]["dependencies"]["path"]
        assert after != before
        assert payload_of(lam.invoke(FunctionName="Tabled"))["from"].startswith(after)
    finally:
        server.stop()


def test_no_reload_keeps_the_warm_code(tmp_path: Path) -> None:
    code = tmp_path / "fn"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return 'v1'\n")
    template = tmp_path / "template.yaml"
    template.write_text("Resources:\n  Kept:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                        "      CodeUri: fn/\n      Handler: app.handler\n      Runtime: python3.12\n")
    server = RunningServer(reload=False).start()
    try:
        lam = server.client("lambda")
        load(server, template)
        assert payload_of(lam.invoke(FunctionName="Kept")) == "v1"
        (code / "app.py").write_text("def handler(event, context):\n    return 'v2'\n")
        time.sleep(0.5)
        assert payload_of(lam.invoke(FunctionName="Kept")) == "v1"
    finally:
        server.stop()


# ---- runtimes only a container runs -------------------------------------------------------------


def test_nodejs_function_is_created_and_refused_clearly(server: RunningServer, lam: Any, tmp_path: Path) -> None:
    name = unique("node")
    created = lam.create_function(FunctionName=name, Runtime="nodejs20.x", Role=ROLE, Handler="index.handler",
                                  Code={"ZipFile": make_zip({"index.js": "exports.handler = async () => 1;\n"})})
    assert created["Runtime"] == "nodejs20.x"
    response = lam.invoke(FunctionName=name)
    assert response["FunctionError"] == "Unhandled"
    body = payload_of(response)
    assert body["errorType"] == "Runtime.InvalidRuntime"
    assert "--runner docker" in body["errorMessage"] and "nodejs20.x" in body["errorMessage"]
    assert functions_view(server)[name]["interpreter"] is None


def test_a_function_with_layers_survives_a_restart_with_state_dir(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = RunningServer(state_dir=state).start()
    try:
        lam = first.client("lambda")
        arn = lam.publish_layer_version(LayerName="kept", Content={"ZipFile": make_zip({"python/x.py": "X = 1\n"})})
        name = create_python_function(lam, "def handler(event, context):\n    return 'ran'\n",
                                      Layers=[arn["LayerVersionArn"]])
        assert payload_of(lam.invoke(FunctionName=name)) == "ran"
    finally:
        first.stop()
    second = RunningServer(state_dir=state).start()
    try:
        lam = second.client("lambda")
        # The layer version comes back first, and the function with it (tests/test_state_dir.py has /opt).
        assert lam.get_function_configuration(FunctionName=name)["Layers"] == [
            {"Arn": arn["LayerVersionArn"], "CodeSize": arn["Content"]["CodeSize"]}]
        assert payload_of(lam.invoke(FunctionName=name)) == "ran"
        assert functions_view(second)[name]["dependencies"]["status"] == "none"
    finally:
        second.stop()
