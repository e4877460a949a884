"""Layers through containers: a function's layers are extracted over each other at /opt, read-only, and
the python runtime finds their python/ folder (as Lambda's python images do)."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

from lambda_emu.emulator.template.loader import load_template
from tests.support import RunningServer, create_python_function, make_zip, payload_of, unique

SOURCE = """
import errno, os, sys
import helper

def handler(event, context):
    try:
        open("/opt/new.txt", "w")
        opt = "written"
    except OSError as exc:
        opt = errno.errorcode[exc.errno]
    with open("/opt/data/greeting.txt") as f:
        greeting = f.read()
    return {"helper": helper.WHO, "helper_file": helper.__file__, "greeting": greeting, "opt": opt,
            "opt_listing": sorted(os.listdir("/opt")), "in_path": "/opt/python" in sys.path}
"""


def test_a_published_layer_is_at_opt_read_only(docker_lam: Any) -> None:
    layer = docker_lam.publish_layer_version(
        LayerName=unique("optlayer"),
        Content={"ZipFile": make_zip({"python/helper.py": "WHO = 'published layer'\n",
                                      "data/greeting.txt": "hello from /opt"})},
        CompatibleRuntimes=["python3.11"])
    name = create_python_function(docker_lam, SOURCE, runtime="python3.11", Layers=[layer["LayerVersionArn"]])
    assert payload_of(docker_lam.invoke(FunctionName=name)) == {
        "helper": "published layer", "helper_file": "/opt/python/helper.py", "greeting": "hello from /opt",
        "opt": "EROFS", "opt_listing": ["data", "python"], "in_path": True,
    }


def test_layers_merge_in_order_with_the_later_one_on_top(docker_lam: Any) -> None:
    first = docker_lam.publish_layer_version(
        LayerName=unique("optbase"),
        Content={"ZipFile": make_zip({"python/helper.py": "WHO = 'first'\n", "data/greeting.txt": "first"})})
    second = docker_lam.publish_layer_version(
        LayerName=unique("opttop"), Content={"ZipFile": make_zip({"python/helper.py": "WHO = 'second'\n"})})
    name = create_python_function(docker_lam, SOURCE, runtime="python3.11",
                                  Layers=[first["LayerVersionArn"], second["LayerVersionArn"]])
    result = payload_of(docker_lam.invoke(FunctionName=name))
    assert (result["helper"], result["greeting"], result["opt"]) == ("second", "first", "EROFS")


def test_a_template_layer_is_at_opt(docker_server: RunningServer, docker_lam: Any, tmp_path: Path) -> None:
    (tmp_path / "layer" / "python").mkdir(parents=True)
    (tmp_path / "layer" / "python" / "helper.py").write_text("WHO = 'template layer'\n")
    (tmp_path / "layer" / "data").mkdir()
    (tmp_path / "layer" / "data" / "greeting.txt").write_text("hello from the template")
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text(SOURCE)
    name = unique("tpllayer")
    layer_name = unique("tpl-layer")
    (tmp_path / "template.yaml").write_text(textwrap.dedent(f"""\
        Resources:
          Shared:
            Type: AWS::Serverless::LayerVersion
            Properties:
              LayerName: {layer_name}
              ContentUri: layer/
              CompatibleRuntimes: [python3.11]
          UsesLayer:
            Type: AWS::Serverless::Function
            Properties:
              FunctionName: {name}
              CodeUri: fn/
              Handler: app.handler
              Runtime: python3.11
              Layers: [!Ref Shared]
        """))

    async def load() -> list[str]:
        assert docker_server.emu is not None
        return load_template(docker_server.emu.stack, tmp_path / "template.yaml")

    asyncio.run_coroutine_threadsafe(load(), docker_server.loop).result(60)
    assert payload_of(docker_lam.invoke(FunctionName=name)) == {
        "helper": "template layer", "helper_file": "/opt/python/helper.py", "greeting": "hello from the template",
        "opt": "EROFS", "opt_listing": ["data", "python"], "in_path": True,
    }
    configuration = docker_lam.get_function_configuration(FunctionName=name)
    assert configuration["Layers"][0]["Arn"] == f"arn:aws:lambda:us-east-1:000000000000:layer:{layer_name}:1"
