"""The template loader, driven against a real server: what it loads is checked through boto3 and a real invoke."""

from __future__ import annotations

import asyncio
import json
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from lambda_emu.emulator.template.loader import TemplateError, load_template, parse
from tests.support import RunningServer, make_zip, payload_of

APP = """\
import os

def handler(event, context):
    return {"file": __file__, "root": os.environ["LAMBDA_TASK_ROOT"], "env": dict(os.environ)}
"""


def logical(prefix: str = "Fn") -> str:
    """Logical ids are alphanumeric; unique per test because the server is shared by the session."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def write_template(directory: Path, body: str) -> Path:
    path = directory / "template.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def load(server: RunningServer, path: Path, parameters: dict[str, Any] | None = None) -> list[str]:
    """Load on the server's own loop: the registry is only touched from there."""

    async def run() -> list[str]:
        assert server.emu is not None
        return load_template(server.emu.stack, path, parameters)

    return asyncio.run_coroutine_threadsafe(run(), server.loop).result(30)


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text(APP)
    return src


def test_globals_and_every_property(server: RunningServer, lam: Any, code_dir: Path, tmp_path: Path) -> None:
    fn, named = logical(), logical("Named")
    path = write_template(tmp_path, f"""
        Transform: AWS::Serverless-2016-10-31
        Globals:
          Function:
            Runtime: python3.12
            Handler: app.handler
            CodeUri: src/
            Timeout: 7
            MemorySize: 256
            Environment:
              Variables:
                FROM_GLOBALS: global
                OVERRIDDEN: global
        Resources:
          {fn}:
            Type: AWS::Serverless::Function
            Properties:
              MemorySize: 512
              Description: loaded from a template
              ReservedConcurrentExecutions: 3
              Environment:
                Variables:
                  OVERRIDDEN: local
                  DEBUG: true
                  RETRIES: 5
          {named}:
            Type: AWS::Serverless::Function
            Properties:
              FunctionName: {named.lower()}-explicit
              Role: arn:aws:iam::000000000000:role/custom
    """)
    assert load(server, path) == [fn, named]

    config = lam.get_function_configuration(FunctionName=fn)
    assert config["FunctionName"] == fn  # no FunctionName: the logical id, as `sam local`
    assert (config["Runtime"], config["Handler"]) == ("python3.12", "app.handler")
    assert (config["Timeout"], config["MemorySize"]) == (7, 512)
    assert config["Description"] == "loaded from a template"
    assert config["Role"] == f"arn:aws:iam::000000000000:role/{fn}Role"
    # Globals maps merge with the resource winning; YAML scalars become CloudFormation's strings.
    assert config["Environment"]["Variables"] == {
        "FROM_GLOBALS": "global", "OVERRIDDEN": "local", "DEBUG": "true", "RETRIES": "5",
    }
    assert lam.get_function_concurrency(FunctionName=fn)["ReservedConcurrentExecutions"] == 3

    other = lam.get_function_configuration(FunctionName=f"{named.lower()}-explicit")
    assert (other["Timeout"], other["MemorySize"]) == (7, 256)
    assert other["Role"] == "arn:aws:iam::000000000000:role/custom"
    assert other["Environment"]["Variables"] == {"FROM_GLOBALS": "global", "OVERRIDDEN": "global"}

    result = payload_of(lam.invoke(FunctionName=fn, Payload=b"{}"))
    assert result["env"]["OVERRIDDEN"] == "local"
    assert result["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"


def test_directory_code_is_used_in_place(server: RunningServer, lam: Any, code_dir: Path, tmp_path: Path) -> None:
    fn = logical()
    # CodeUri is relative to the template's directory, not to the current directory.
    path = write_template(tmp_path, f"""
        Resources:
          {fn}:
            Type: AWS::Serverless::Function
            Properties: {{CodeUri: ./src, Handler: app.handler, Runtime: python3.12}}
    """)
    load(server, path)
    result = payload_of(lam.invoke(FunctionName=fn, Payload=b"{}"))
    assert result["root"] == str(code_dir.resolve())
    assert result["file"] == str(code_dir.resolve() / "app.py")
    assert lam.get_function_configuration(FunctionName=fn)["CodeSize"] == len(APP.encode())


def test_inline_code(server: RunningServer, lam: Any, tmp_path: Path) -> None:
    fn, sam = logical(), logical("Sam")
    path = write_template(tmp_path, f"""
        Resources:
          {fn}:
            Type: AWS::Lambda::Function
            Properties:
              Runtime: python3.12
              Handler: index.handler
              Code:
                ZipFile: |
                  def handler(event, context):
                      return {{"inline": event}}
          {sam}:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: index.handler
              InlineCode: "def handler(event, context):\\n    return 'sam inline'\\n"
    """)
    load(server, path)
    assert payload_of(lam.invoke(FunctionName=fn, Payload=b'{"a": 1}')) == {"inline": {"a": 1}}
    assert payload_of(lam.invoke(FunctionName=sam, Payload=b"{}")) == "sam inline"


def test_intrinsics_resolve(server: RunningServer, lam: Any, code_dir: Path, tmp_path: Path) -> None:
    fn, target, role, table, skipped = logical(), logical("Target"), logical("Role"), logical("Table"), logical()
    path = write_template(tmp_path, f"""
        Parameters:
          Stage: {{Type: String, Default: dev}}
          Prefix: {{Type: String, Default: app}}
          Zones: {{Type: CommaDelimitedList, Default: "a, b, c"}}
        Mappings:
          Sizes: {{dev: {{Memory: 256}}, prod: {{Memory: 1024}}}}
        Conditions:
          IsProd: !Equals [!Ref Stage, prod]
          NotProd: !Not [!Condition IsProd]
        Resources:
          {fn}:
            Type: AWS::Serverless::Function
            Properties:
              FunctionName: !Sub "${{Prefix}}-${{Stage}}-{fn.lower()}"
              CodeUri: src
              Handler: app.handler
              Runtime: python3.12
              MemorySize: !FindInMap [Sizes, !Ref Stage, Memory]
              Role: !GetAtt {role}.Arn
              Environment:
                Variables:
                  REGION: !Ref AWS::Region
                  TARGET_NAME: !Ref {target}
                  TARGET_ARN: !GetAtt {target}.Arn
                  SUB: !Sub "${{{target}.Arn}}|${{AWS::AccountId}}|${{!Literal}}"
                  SUB_MAP: !Sub ["${{A}}-${{B}}", {{A: x, B: !Ref Stage}}]
                  JOINED: !Join ["/", [!Ref Prefix, !Select [1, !Ref Zones]]]
                  CHOSEN: !If [IsProd, production, !Sub "not-${{Stage}}"]
                  DROPPED: !If [NotProd, !Ref AWS::NoValue, kept]
                  TABLE: !Ref {table}
                  IMPORTED: !ImportValue shared-thing
          {target}:
            Type: AWS::Lambda::Function
            Properties:
              FunctionName: !Join ["-", [!Ref Stage, {target.lower()}]]
              Runtime: python3.12
              Handler: index.handler
              Code: {{ZipFile: "def handler(e, c):\\n    return 1\\n"}}
          {role}:
            Type: AWS::IAM::Role
            Properties: {{RoleName: !Sub "${{Prefix}}-role"}}
          {table}:
            Type: AWS::S3::Bucket
            Properties: {{}}
          {skipped}:
            Type: AWS::Serverless::Function
            Condition: IsProd
            Properties: {{CodeUri: src, Handler: app.handler, Runtime: python3.12}}
    """)
    loaded = load(server, path, {"Prefix": "svc"})
    assert loaded == [fn, target]  # the role is referred to only; the table is unmodeled; IsProd is false

    name, target_name = f"svc-dev-{fn.lower()}", f"dev-{target.lower()}"
    target_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{target_name}"
    config = lam.get_function_configuration(FunctionName=name)
    assert config["MemorySize"] == 256
    assert config["Role"] == "arn:aws:iam::000000000000:role/svc-role"
    assert config["Environment"]["Variables"] == {
        "REGION": "us-east-1",
        "TARGET_NAME": target_name,
        "TARGET_ARN": target_arn,
        "SUB": f"{target_arn}|000000000000|${{Literal}}",
        "SUB_MAP": "x-dev",
        "JOINED": "svc/b",
        "CHOSEN": "not-dev",
        "TABLE": table,  # an unmodeled resource's Ref is its logical id
        "IMPORTED": "",  # unresolvable here: empty, as `sam local` does (with a warning)
    }
    assert lam.get_function_configuration(FunctionName=target_name)["FunctionArn"] == target_arn
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=skipped)


def test_every_short_form_tag_parses() -> None:
    document = parse(textwrap.dedent("""
        Resources:
          R:
            Type: AWS::Some::Thing
            Properties:
              a: !Ref X
              b: !GetAtt X.Outputs.Value
              c: !GetAtt [X, Arn]
              d: !Sub "${X}"
              e: !Join [",", [a, b]]
              f: !If [C, 1, 2]
              g: !Equals [a, b]
              h: !And [!Condition C, !Or [!Not [!Condition D], !Condition E]]
              i: !FindInMap [M, a, b]
              j: !Base64 text
              k: !Cidr [!GetAtt V.CidrBlock, 4, 8]
              l: !GetAZs ""
              m: !ImportValue exported
              n: !Select [0, !Split [",", "a,b"]]
              o: !Transform {Name: AWS::Include}
              p: !Length [1, 2]
              q: !ToJsonString {a: 1}
              r: !SomeFutureFunction [1]
    """))
    props = document["Resources"]["R"]["Properties"]
    assert props["a"] == {"Ref": "X"}
    assert props["b"] == {"Fn::GetAtt": ["X", "Outputs.Value"]}
    assert props["c"] == {"Fn::GetAtt": ["X", "Arn"]}
    assert props["h"] == {"Fn::And": [{"Condition": "C"}, {"Fn::Or": [{"Fn::Not": [{"Condition": "D"}]},
                                                                      {"Condition": "E"}]}]}
    assert props["l"] == {"Fn::GetAZs": ""}
    assert props["r"] == {"Fn::SomeFutureFunction": [1]}


BAD_TEMPLATES = {
    "yaml": ("Resources:\n  A: [\n", "not valid YAML"),
    "no-resources": ("Description: nothing here\n", "no Resources"),
    "runtime": ("""
        Resources:
          BadRuntime:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: src, Handler: app.handler, Runtime: python3.8}
        """, r"resource BadRuntime \(AWS::Serverless::Function\): .*python3\.8"),
    "no-runtime": ("""
        Resources:
          NoRuntime:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: src, Handler: app.handler}
        """, "resource NoRuntime .*Runtime is required"),
    "code-dir": ("""
        Resources:
          MissingDir:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: nowhere/, Handler: app.handler, Runtime: python3.12}
        """, "resource MissingDir .*CodeUri nowhere/"),
    "s3": ("""
        Resources:
          OnS3:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: s3://bucket/key.zip, Handler: app.handler, Runtime: python3.12}
        """, "resource OnS3 .*no S3"),
    "timeout": ("""
        Resources:
          SlowOne:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: src, Handler: app.handler, Runtime: python3.12, Timeout: soon}
        """, "resource SlowOne .*Timeout"),
    "memory": ("""
        Resources:
          Huge:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: src, Handler: app.handler, Runtime: python3.12, MemorySize: 20000}
        """, "resource Huge .*MemorySize"),
    "ref": ("""
        Resources:
          Dangling:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: src, Handler: !Ref Nothing, Runtime: python3.12}
        """, "resource Dangling .*Handler: Ref to Nothing"),
    "parameter": ("""
        Parameters: {Needed: {Type: String}}
        Resources:
          NeedsParam:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: src, Handler: app.handler, Runtime: python3.12, FunctionName: !Ref Needed}
        """, "resource NeedsParam .*parameter Needed has no Default"),
    "reserved-env": ("""
        Resources:
          ReservedEnv:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: src
              Handler: app.handler
              Runtime: python3.12
              Environment: {Variables: {AWS_REGION: eu-west-1}}
        """, "resource ReservedEnv .*AWS_REGION"),
    # CreateFunction's own refusal: the template creates functions through the API's path.
    "image-layers": ("""
        Resources:
          Imaged:
            Type: AWS::Serverless::Function
            Properties:
              PackageType: Image
              ImageUri: lambda-emu/python:3.11
              Layers: [arn:aws:lambda:us-east-1:000000000000:layer:shared:1]
        """, "resource Imaged .*Please don't provide Handler or Runtime or Layer when the intended function "
             "PackageType is Image"),
    "logical-id": ("""
        Resources:
          bad-id:
            Type: AWS::Serverless::Function
        """, "resource bad-id: a logical id is alphanumeric"),
}


@pytest.mark.parametrize("case", sorted(BAD_TEMPLATES))
def test_bad_template_is_a_clear_error(server: RunningServer, code_dir: Path, tmp_path: Path, case: str) -> None:
    body, message = BAD_TEMPLATES[case]
    path = write_template(tmp_path, body)
    with pytest.raises(TemplateError, match=message) as raised:
        load(server, path)
    assert str(path.resolve().parent) in str(raised.value) or str(path) in str(raised.value)


def test_a_template_function_is_what_create_function_makes_of_the_same_input(
        server: RunningServer, lam: Any, code_dir: Path, tmp_path: Path) -> None:
    fn = logical()
    path = write_template(tmp_path, f"""
        Resources:
          {fn}:
            Type: AWS::Lambda::Function
            Properties:
              Code: src
              Handler: app.handler
              Runtime: python3.12
              Role: arn:aws:iam::000000000000:role/same
              Tags: [{{Key: team, Value: a}}]
    """)
    load(server, path)
    twin = f"{fn}-api"
    lam.create_function(FunctionName=twin, Runtime="python3.12", Handler="app.handler",
                        Role="arn:aws:iam::000000000000:role/same", Tags={"team": "a"},
                        Code={"ZipFile": make_zip({"app.py": APP})})
    loaded, created = lam.get_function(FunctionName=fn), lam.get_function(FunctionName=twin)
    differ = ("FunctionName", "FunctionArn", "CodeSize", "CodeSha256", "LastModified", "RevisionId", "LoggingConfig")
    assert {k: v for k, v in loaded["Configuration"].items() if k not in differ} == \
           {k: v for k, v in created["Configuration"].items() if k not in differ}
    assert loaded["Tags"] == created["Tags"] == {"team": "a"}
    # Its code folder is used in place (reload-on-edit), not copied into lambda-emu's code directory.
    sandbox = {f["functionName"]: f for f in server.emu_get("/_emu/functions")["functions"]}
    assert sandbox[fn]["codePath"] == str(code_dir.resolve())


def test_duplicate_function_name_names_the_resource(server: RunningServer, code_dir: Path, tmp_path: Path) -> None:
    first, second = logical(), logical()
    name = first.lower()
    path = write_template(tmp_path, f"""
        Globals:
          Function: {{CodeUri: src, Handler: app.handler, Runtime: python3.12}}
        Resources:
          {first}:
            Type: AWS::Serverless::Function
            Properties: {{FunctionName: {name}}}
          {second}:
            Type: AWS::Serverless::Function
            Properties: {{FunctionName: {name}}}
    """)
    with pytest.raises(TemplateError, match=f"resource {second} .*already exist"):
        load(server, path)


def test_unknown_types_are_skipped_and_ordering_is_by_phase(server: RunningServer, lam: Any, tmp_path: Path) -> None:
    fn = logical()
    path = write_template(tmp_path, f"""
        Resources:
          Bucket:
            Type: AWS::S3::Bucket
          {fn}:
            Type: AWS::Lambda::Function
            Properties:
              Runtime: python3.12
              Handler: index.handler
              Role: !GetAtt LaterRole.Arn
              Code: {{ZipFile: "def handler(e, c):\\n    return 'ok'\\n"}}
          LaterRole:
            Type: AWS::IAM::Role
    """)
    assert load(server, path) == [fn]
    assert json.loads(lam.invoke(FunctionName=fn)["Payload"].read()) == "ok"
    assert lam.get_function_configuration(FunctionName=fn)["Role"].endswith(":role/LaterRole")
