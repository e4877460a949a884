"""Custom runtimes (provided.al2023, provided.al2) through containers: a zip function's `bootstrap`, a
shell script calling the Runtime API with the image's curl, runs in the provided image (its
/lambda-entrypoint.sh, _HANDLER, AWS_LAMBDA_RUNTIME_API), answers, and its error reaches the caller as
on Lambda; a missing bootstrap fails as Lambda fails it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import ROLE, make_zip, payload_of, unique

BOOTSTRAP = r"""#!/bin/sh
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
HEADERS="$(mktemp)"
while true; do
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  ID=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$HEADERS" | tr -d '\r' | cut -d' ' -f2)
  case "$EVENT" in
    *'"fail"'*)
      curl -sS -o /dev/null -X POST -H "Lambda-Runtime-Function-Error-Type: Custom.Failure" \
        "$API/invocation/$ID/error" -d '{"errorMessage":"the bootstrap refused","errorType":"Custom.Failure"}' ;;
    *)
      BODY=$(printf '{"event": %s, "id": "%s", "handler": "%s", "script": "%s", "cwd": "%s", ' \
        "$EVENT" "$ID" "$_HANDLER" "$0" "$(pwd)")
      BODY="$BODY$(printf '"task_root": "%s", "runtime_api": "%s", "execution_env": "%s"}' \
        "$LAMBDA_TASK_ROOT" "$AWS_LAMBDA_RUNTIME_API" "${AWS_EXECUTION_ENV:-}")"
      curl -sS -o /dev/null -X POST "$API/invocation/$ID/response" -d "$BODY" ;;
  esac
done
"""


def create(lam: Any, runtime: str, files: dict[str, str], modes: dict[str, int], **extra: Any) -> str:
    name = unique("provided")
    lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler="function.handler",
                        Code={"ZipFile": make_zip(files, modes)}, **extra)
    return name


@pytest.mark.parametrize("runtime", ["provided.al2023", "provided.al2"])
def test_a_shell_bootstrap_answers_and_its_error_reaches_the_caller(docker_lam: Any, runtime: str) -> None:
    name = create(docker_lam, runtime, {"bootstrap": BOOTSTRAP}, {"bootstrap": 0o755})
    response = docker_lam.invoke(FunctionName=name, Payload=b'{"hello": "world"}')
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    result = payload_of(response)
    assert result == {"event": {"hello": "world"}, "id": response["ResponseMetadata"]["RequestId"],
                      "handler": "function.handler", "script": "/var/task/bootstrap", "cwd": "/var/task",
                      "task_root": "/var/task", "runtime_api": result["runtime_api"], "execution_env": ""}
    assert result["runtime_api"].startswith("127.0.0.1:")

    failed = docker_lam.invoke(FunctionName=name, Payload=b'{"fail": true}')
    assert (failed["StatusCode"], failed["FunctionError"]) == (200, "Unhandled")
    # The caller sees the body the runtime posted, as it posted it (as on Lambda).
    assert json.loads(failed["Payload"].read()) == {"errorMessage": "the bootstrap refused",
                                                    "errorType": "Custom.Failure"}
    # An error post leaves the runtime running: the same container answers the next invoke.
    assert payload_of(docker_lam.invoke(FunctionName=name, Payload=b"{}"))["event"] == {}


def test_a_bootstrap_from_a_layer_runs_from_opt(docker_lam: Any) -> None:
    layer = docker_lam.publish_layer_version(LayerName=unique("runtime"),
                                             Content={"ZipFile": make_zip({"bootstrap": BOOTSTRAP},
                                                                          {"bootstrap": 0o755})})
    name = create(docker_lam, "provided.al2023", {"README": "the runtime is a layer"}, {},
                  Layers=[layer["LayerVersionArn"]])
    assert payload_of(docker_lam.invoke(FunctionName=name, Payload=b"{}"))["script"] == "/opt/bootstrap"


@pytest.mark.parametrize(("files", "modes", "message"), [
    ({"README": "no bootstrap"}, {}, "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"),
    ({"bootstrap": BOOTSTRAP}, {"bootstrap": 0o644}, "fork/exec /var/task/bootstrap: permission denied"),
])
def test_no_runnable_bootstrap_is_an_invalid_entrypoint(docker_lam: Any, files: dict[str, str],
                                                        modes: dict[str, int], message: str) -> None:
    name = create(docker_lam, "provided.al2023", files, modes)
    response = docker_lam.invoke(FunctionName=name, Payload=b"{}")
    assert (response["StatusCode"], response["FunctionError"]) == (200, "Unhandled")
    request_id = response["ResponseMetadata"]["RequestId"]
    assert json.loads(response["Payload"].read()) == {"errorType": "Runtime.InvalidEntrypoint",
                                                      "errorMessage": f"RequestId: {request_id} Error: {message}"}
