"""Test support: a real lambda-emu server on its own thread and event loop, driven by real clients."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import urllib.request
import uuid
import zipfile
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from lambda_emu.app import Emulator
from lambda_emu.config import EmulatorConfig
from lambda_emu.serving import serve

ROLE = "arn:aws:iam::000000000000:role/lambda-role"


class EmuEndpoint:
    """A running lambda-emu's endpoint as tests use it: boto3 clients and the /_emu JSON routes."""

    endpoint: str

    def client(self, service: str, **config: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
            config=Config(**{"retries": {"max_attempts": 1}, "read_timeout": 120, **config}),
        )

    def emu_get(self, path: str) -> Any:
        with urllib.request.urlopen(self.endpoint + path, timeout=120) as response:
            return json.loads(response.read())

    def emu_post(self, path: str, body: Any) -> Any:
        request = urllib.request.Request(self.endpoint + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=300) as response:
            return json.loads(response.read())


class RunningServer(EmuEndpoint):
    """lambda-emu serving on 127.0.0.1 from a background thread (boto3 calls block, so not our loop)."""

    def __init__(self, **config: Any) -> None:
        self.config = EmulatorConfig(port=0, **config)
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.emu: Emulator | None = None
        self._runner: Any = None
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.emu = Emulator(self.config)
            self._runner = self.loop.run_until_complete(serve(self.emu))
        except BaseException as exc:  # noqa: BLE001
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()

    def start(self) -> RunningServer:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(60)
        asyncio.run_coroutine_threadsafe(_cancel_leftovers(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)

    @property
    def endpoint(self) -> str:
        assert self.emu is not None
        return self.emu.endpoint

    # ---- /_emu ----

    def advance(self, seconds: float) -> Any:
        return self.emu_post("/_emu/clock/advance", {"seconds": seconds})

    def settle(self, max_seconds: float = 86400) -> Any:
        return self.emu_post("/_emu/clock/settle", {"maxSeconds": max_seconds})

    def invocations(self, function_name: str, request_id: str | None = None) -> list[dict[str, Any]]:
        query = f"?functionName={function_name}" + (f"&requestId={request_id}" if request_id else "")
        return self.emu_get("/_emu/invocations" + query)["invocations"]


async def _cancel_leftovers() -> None:
    """Connections still open when the server stopped (long polls): end them before the loop closes."""
    current = asyncio.current_task()
    leftovers = [task for task in asyncio.all_tasks() if task is not current]
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)


def make_zip(files: dict[str, str | bytes], modes: dict[str, int] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = ((modes or {}).get(name, 0o644) | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


#: Where the tests keep what they pip-install for functions (kept across runs: installs once per machine).
TEST_CACHE = Path.home() / ".cache" / "lambda-emu" / "tests"


def vendored(*requirements: str) -> Path:
    """``pip install --target`` of ``requirements``, once per machine: what users put in a zip or layer."""
    key = hashlib.sha256("\n".join(requirements).encode()).hexdigest()[:16]
    target = TEST_CACHE / f"vendored-{key}"
    if not target.is_dir():
        scratch = target.with_name(f".{target.name}.{os.getpid()}")
        shutil.rmtree(scratch, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--target", str(scratch), *requirements], check=True, timeout=600)
        try:
            scratch.rename(target)
        except OSError:
            shutil.rmtree(scratch, ignore_errors=True)
    return target


def directory_zip(directory: Path, prefix: str = "") -> bytes:
    """A zip of a folder's files under ``prefix`` (``python/`` is where a Python layer puts packages)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, prefix + str(path.relative_to(directory)))
    return buffer.getvalue()


_published_layers: dict[tuple[str, tuple[str, ...]], str] = {}


def package_layer(lam: Any, *requirements: str) -> str:
    """A layer version (ARN) holding ``requirements`` under python/, as users ship libraries such as
    aws-lambda-powertools; published once per server."""
    key = (lam.meta.endpoint_url, requirements)
    if key not in _published_layers:
        content = directory_zip(vendored(*requirements), "python/")
        name = "pkgs-" + hashlib.sha256("\n".join(requirements).encode()).hexdigest()[:12]
        _published_layers[key] = lam.publish_layer_version(LayerName=name, Content={"ZipFile": content},
                                                           CompatibleRuntimes=["python3.12"])["LayerVersionArn"]
    return _published_layers[key]


def powertools_layer(lam: Any) -> str:
    """aws-lambda-powertools (the version the test extras installed) as a layer."""
    from importlib.metadata import version

    return package_layer(lam, f"aws-lambda-powertools=={version('aws-lambda-powertools')}")


def unique(prefix: str = "fn") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_python_function(lam: Any, source: str, *, name: str | None = None, handler: str = "app.handler",
                           runtime: str = "python3.12", **extra: Any) -> str:
    name = name or unique()
    lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
                        Code={"ZipFile": make_zip({"app.py": source})}, **extra)
    return name


def new_function(lam: Any, tmp_path: Path, source: str, **extra: Any) -> tuple[str, Path]:
    """A Python function whose handler may append what it receives to the file named by $OUT."""
    out = tmp_path / f"{unique('events')}.jsonl"
    out.touch()
    name = create_python_function(lam, source, Environment={"Variables": {"OUT": str(out)}}, **extra)
    return name, out


def delivered(out: Path) -> list[dict[str, Any]]:
    """Every line a new_function() handler appended to $OUT, in order."""
    return [json.loads(line) for line in out.read_text().splitlines() if line]


def payload_of(response: dict[str, Any]) -> Any:
    return json.loads(response["Payload"].read())


# ---- helpers for the Lambda API and invoke tests ----

ACCOUNT = "000000000000"
REGION = "us-east-1"


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def error_of(exc: Any) -> tuple[int, str, str, dict[str, Any]]:
    """A botocore ClientError as (HTTP status, code, message, the whole parsed body)."""
    response = exc.response
    return (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"],
            response["Error"]["Message"], response)


def failure(call: Any, **kwargs: Any) -> tuple[int, str, str, dict[str, Any]]:
    """What ``call(**kwargs)`` is refused with, as error_of() reads it (the call must fail)."""
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(**kwargs)
    return error_of(raised.value)


def raw_request(endpoint: str, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request outside boto3 (for what boto3 refuses to send); never raises on 4xx/5xx."""
    import urllib.error

    request = urllib.request.Request(endpoint + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def zip_with_modes(files: dict[str, tuple[str | bytes, int]]) -> bytes:
    return make_zip({k: v[0] for k, v in files.items()}, {k: v[1] for k, v in files.items()})


#: A custom runtime (provided.*): a Python `bootstrap` speaking the Runtime API with urllib. Its
#: handler is the `handle(event, headers)` function the test appends; it returns (kind, body) where
#: kind is "response" or "error".
BOOTSTRAP_PRELUDE = '''#!/usr/bin/env python3
import json, os, sys, urllib.error, urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"


def call(method, path, body=None, headers=None, timeout=None):
    request = urllib.request.Request(API + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()

'''

BOOTSTRAP_LOOP = '''

while True:
    status, headers, body = call("GET", "/invocation/next")
    request_id = headers["Lambda-Runtime-Aws-Request-Id"]
    kind, result = handle(json.loads(body), headers, request_id)
    if kind is None:
        continue
    if kind == "error":
        call("POST", "/invocation/" + request_id + "/error", json.dumps(result).encode(),
             {"Lambda-Runtime-Function-Error-Type": result.get("errorType", "Unknown")})
    else:
        call("POST", "/invocation/" + request_id + "/response", json.dumps(result).encode())
'''


def bootstrap_zip(handle_source: str, extra: dict[str, str | bytes] | None = None) -> bytes:
    """A provided.* deployment package whose executable bootstrap runs ``handle_source``."""
    files: dict[str, str | bytes] = {"bootstrap": BOOTSTRAP_PRELUDE + handle_source + BOOTSTRAP_LOOP}
    files.update(extra or {})
    return make_zip(files, {"bootstrap": 0o755})


def create_bootstrap_function(lam: Any, handle_source: str, *, runtime: str = "provided.al2023",
                              name: str | None = None, **extra: Any) -> str:
    name = name or unique("custom")
    lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler="bootstrap.handler",
                        Code={"ZipFile": bootstrap_zip(handle_source)}, **extra)
    return name
