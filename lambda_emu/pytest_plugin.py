"""lambda-emu's pytest plugin (the ``pytest11`` entry point ``lambda_emu``): prove handlers idempotent in
a few lines.

Off unless a test uses its fixtures: importing this module starts nothing and imports neither boto3
nor lambda-emu's server. ``lambda_emu_server`` (session) starts ``lambda-emu up --port 0 --clock manual``
once, or uses ``--lambda-emu-endpoint URL`` / ``$LAMBDA_EMU_ENDPOINT``; ``lambda_emu`` (per test) resets
it first (``POST /_emu/reset``), applies the test's ``@pytest.mark.lambda_emu(template=..., faults={...},
seed=...)`` and hands out the helpers. A failing test's report carries its journal.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ENDPOINT_VARIABLE = "LAMBDA_EMU_ENDPOINT"
READY = re.compile(r"^lambda-emu \S+ ready at (http://\S+)$")
ROLE = "arn:aws:iam::000000000000:role/lambda-emu"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lambda_emu", "lambda-emu")
    group.addoption("--lambda-emu-endpoint", default=None, metavar="URL",
                    help=f"use the lambda-emu at URL instead of starting one (also ${ENDPOINT_VARIABLE})")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "lambda_emu(template=None, faults=None, seed=None): deploy a template, inject platform faults "
        "(rates for every function, or {function: {rate: p}}) and seed the RNG for this test",
    )


class LambdaEmuError(RuntimeError):
    """A /_emu call failed; the message is lambda-emu's own."""


def _call(url: str, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        text = error.read().decode(errors="replace")
        try:
            text = json.loads(text)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            pass
        raise LambdaEmuError(f"{method} {path}: {error.code} {text}") from None


@dataclass
class LambdaEmuServer:
    """The session's lambda-emu: its URL, and the process when the plugin started it."""

    url: str
    process: subprocess.Popen[str] | None = None
    output: list[str] = field(default_factory=list)

    @classmethod
    def start(cls) -> LambdaEmuServer:
        command = [*_lambda_emu_command(), "up", "--port", "0", "--clock", "manual"]
        # Its own session: a Ctrl-C at the terminal reaches pytest, which then stops it cleanly. And it
        # ends with pytest even when pytest is killed outright (then its runtimes end with it).
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   bufsize=1, start_new_session=True, preexec_fn=_ends_with_parent)
        server = cls("", process)
        ready = threading.Event()

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                line = line.rstrip("\n")
                server.output.append(line)
                found = READY.match(line)
                if found and not ready.is_set():
                    server.url = found.group(1)
                    ready.set()
            ready.set()

        threading.Thread(target=read, name="lambda-emu-output", daemon=True).start()
        if not ready.wait(START_TIMEOUT) or not server.url:
            server.stop()
            raise LambdaEmuError("lambda-emu did not start:\n" + "\n".join(server.output[-30:]))
        return server

    def stop(self) -> None:
        """SIGTERM (lambda-emu stops every execution environment first), then SIGKILL if it hangs."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(STOP_TIMEOUT)


def _ends_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when the process that started it dies, even by SIGKILL
    (``PR_SET_PDEATHSIG``), so a killed test run leaves no lambda-emu behind. Elsewhere, a no-op."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _lambda_emu_command() -> list[str]:
    script = Path(sys.executable).parent / "lambda-emu"
    return [str(script)] if script.exists() else [sys.executable, "-m", "lambda_emu.cli"]


@dataclass
class Invocation:
    """What ``invoke`` returns: the request ID, and for a synchronous call the function's answer."""

    request_id: str
    status_code: int
    payload: Any = None  # the JSON document the function returned (its text when not JSON)
    function_error: str | None = None  # "Unhandled" when the invocation failed
    response: dict[str, Any] = field(default_factory=dict)  # boto3's whole response


class LambdaEmu:
    """The per-test handle on the session's lambda-emu (the ``lambda_emu`` fixture)."""

    def __init__(self, url: str, base_dir: Path | None = None) -> None:
        self.url = url
        self._base_dir = base_dir or Path.cwd()
        self._clients: dict[str, Any] = {}

    # ---- AWS clients ----

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` on lambda-emu (dummy credentials, no client-side retries, so a
        throttle or a 5xx reaches the test as AWS sent it)."""
        if service not in self._clients:
            import boto3  # untyped (pyproject's [tool.mypy] says so): the client is Any
            from botocore.config import Config

            self._clients[service] = boto3.client(
                service, endpoint_url=self.url, region_name="us-east-1", aws_access_key_id="lambda-emu",
                aws_secret_access_key="lambda-emu",
                config=Config(retries={"total_max_attempts": 1}, read_timeout=900, connect_timeout=10),
            )
        return self._clients[service]

    # ---- deploying ----

    def deploy(self, template: str | os.PathLike[str] | None = None, *, code: Any = None,
               handler: str = "app.handler", runtime: str = "python3.12",
               parameters: dict[str, str] | None = None, **create_function: Any) -> Any:
        """``deploy(template=PATH)``: load a SAM / CloudFormation template; returns its function's name
        (a list of names when it holds several). ``deploy(code=..., handler=..., runtime=...,
        **CreateFunction params)``: one function from a directory, a ``.py`` file, a ``.zip`` or a
        ``{filename: source}`` dict; returns its name (``FunctionName``, else a generated one)."""
        if (template is None) == (code is None):
            raise TypeError("deploy() takes template=PATH or code=PATH_OR_DICT, not both or neither")
        if template is not None:
            path = self._path(template)
            created = _call(self.url, "POST", "/_emu/template",
                            {"path": str(path), "parameters": parameters or {}})["functions"]
            return created[0] if len(created) == 1 else created
        if parameters is not None:
            raise TypeError("parameters= goes with template=")
        name = create_function.pop("FunctionName", None) or f"fn-{uuid.uuid4().hex[:10]}"
        create_function.setdefault("Role", ROLE)
        self.client("lambda").create_function(FunctionName=name, Handler=handler, Runtime=runtime,
                                              Code={"ZipFile": self._package(code)}, **create_function)
        return name

    def _path(self, value: str | os.PathLike[str]) -> Path:
        path = Path(value)
        return path if path.is_absolute() else (self._base_dir / path).resolve()

    def _package(self, code: Any) -> bytes:
        if isinstance(code, bytes):
            return code
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            if isinstance(code, dict):
                for name, source in code.items():
                    archive.writestr(name, source)
            else:
                path = self._path(code)
                if path.suffix == ".zip":
                    return path.read_bytes()
                if path.is_dir():
                    for item in sorted(path.rglob("*")):
                        if item.is_file() and "__pycache__" not in item.parts:
                            archive.write(item, item.relative_to(path).as_posix())
                else:
                    archive.write(path, path.name)
        return buffer.getvalue()

    # ---- invoking and time ----

    def invoke(self, fn: str, payload: Any = None, async_: bool = False) -> Invocation:
        """Invoke ``fn`` with ``payload`` (JSON-encoded unless bytes): RequestResponse, or Event with
        ``async_=True`` (then only the request ID and 202 come back; ``settle()`` runs it)."""
        body = payload if isinstance(payload, bytes) else json.dumps({} if payload is None else payload).encode()
        response = self.client("lambda").invoke(FunctionName=fn, Payload=body,
                                                 InvocationType="Event" if async_ else "RequestResponse")
        raw = response["Payload"].read()
        try:
            document = json.loads(raw) if raw else None
        except ValueError:
            document = raw.decode(errors="replace")
        return Invocation(response["ResponseMetadata"]["RequestId"], response["StatusCode"], document,
                          response.get("FunctionError"), response)

    def advance(self, seconds: float) -> str:
        """Move the manual clock on; retries and timers due by then run. Returns the new time."""
        return str(_call(self.url, "POST", "/_emu/clock/advance", {"seconds": seconds})["now"])

    def settle(self, max_seconds: float = 3600) -> str:
        """Run until nothing is left to do (or ``max_seconds`` of platform time passed)."""
        return str(_call(self.url, "POST", "/_emu/clock/settle", {"maxSeconds": max_seconds})["now"])

    # ---- reading what happened ----

    def invocations(self, function: str | None = None, request_id: str | None = None) -> list[dict[str, Any]]:
        """The journal: every attempt, in start order (``fault`` names an injected fault that hit it)."""
        query = {k: v for k, v in (("functionName", function), ("requestId", request_id)) if v}
        path = "/_emu/invocations" + ("?" + urllib.parse.urlencode(query) if query else "")
        return list(_call(self.url, "GET", path)["invocations"])

    def deliveries(self, target: str) -> list[dict[str, Any]]:
        """What a destination or dead-letter queue (by ARN) received, in order."""
        return list(_call(self.url, "GET", "/_emu/deliveries?" + urllib.parse.urlencode({"target": target}))
                    ["deliveries"])

    def queue_messages(self, queue: str) -> list[dict[str, Any]]:
        """A queue's messages (by name, URL or ARN) without receiving them: nothing is consumed."""
        return list(_call(self.url, "GET", "/_emu/queue-messages?" + urllib.parse.urlencode({"queue": queue}))
                    ["messages"])

    # ---- faults ----

    def faults(self, **rates: Any) -> dict[str, Any]:
        """Set platform fault rates (``lostResponseRate=0.5``...) for every function, or for one with
        ``functionName="F"``; returns the rates in force (``POST /_emu/faults``)."""
        return dict(_call(self.url, "POST", "/_emu/faults", rates))

    # ---- waiting ----

    @staticmethod
    def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
        """Poll ``predicate`` (wall time) until it returns something truthy, and return that."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(f"wait_for: still false after {timeout} s: {predicate!r}")
            time.sleep(interval)

    # ---- the plugin's own use ----

    def reset(self, seed: int | None = None) -> None:
        _call(self.url, "POST", "/_emu/reset", {} if seed is None else {"seed": seed})

    def journal_text(self) -> str:
        """The journal for a failing test's report: ``lambda-emu timeline`` when this lambda-emu has that
        command, else the attempts as JSON."""
        import importlib.util

        try:
            has_timeline = importlib.util.find_spec("lambda_emu.commands.timeline") is not None
        except ModuleNotFoundError:  # no lambda_emu.commands at all
            has_timeline = False
        if has_timeline:
            shown = subprocess.run([*_lambda_emu_command(), "timeline", "--endpoint", self.url],
                                   capture_output=True, text=True, timeout=60, check=False)
            if shown.returncode == 0 and shown.stdout.strip():
                return shown.stdout
        return json.dumps(self.invocations(), indent=2)


@pytest.fixture(scope="session")
def lambda_emu_server(request: pytest.FixtureRequest) -> Iterator[LambdaEmuServer]:
    """The session's lambda-emu: ``--lambda-emu-endpoint`` / ``$LAMBDA_EMU_ENDPOINT``, else one started now
    (``lambda-emu up --port 0 --clock manual``) and stopped, with every runtime it ran, at the end."""
    given = request.config.getoption("--lambda-emu-endpoint") or os.environ.get(ENDPOINT_VARIABLE)
    if given:
        url = given.rstrip("/")
        _call(url, "GET", "/_emu/health")
        yield LambdaEmuServer(url)
        return
    server = LambdaEmuServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def lambda_emu(lambda_emu_server: LambdaEmuServer, request: pytest.FixtureRequest) -> LambdaEmu:
    """A handle on the session's lambda-emu, reset before this test, with the test's marker applied."""
    marker = request.node.get_closest_marker("lambda_emu")
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    unknown = set(options) - {"template", "faults", "seed"}
    if unknown or (marker is not None and marker.args):
        raise pytest.UsageError(f"@pytest.mark.lambda_emu takes template=, faults=, seed= (got {sorted(unknown)})")
    handle = LambdaEmu(lambda_emu_server.url, Path(str(request.node.path)).parent)
    handle.reset(options.get("seed"))
    request.node.stash[_HANDLE] = handle
    if options.get("template") is not None:
        handle.deploy(template=options["template"])
    for key, value in (options.get("faults") or {}).items():
        # {"lostResponseRate": 0.5} for every function; {"Charge": {"lostResponseRate": 1}} for one.
        if isinstance(value, dict):
            handle.faults(functionName=key, **value)
        else:
            handle.faults(**{key: value})
    return handle


_HANDLE = pytest.StashKey[LambdaEmu]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport,
                                                                                          pytest.TestReport]:
    """A failing test that used lambda-emu gets its journal in the report."""
    report = yield
    handle = item.stash.get(_HANDLE, None)
    if handle is None or not report.failed or call.when == "teardown":
        return report
    try:
        text = handle.journal_text()
    except Exception as exc:  # noqa: BLE001 - the report must not hide the test's own failure
        text = f"(the journal could not be read: {exc})"
    report.sections.append(("lambda-emu journal", text))
    return report
