"""Shared helpers for the benchmarks: servers as subprocesses, clients, results and bounded loops.

Every server is bound to 127.0.0.1 and every loop here is bounded in count and in wall time.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
ROLE = "arn:aws:iam::000000000000:role/bench"
BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent

NOOP = "def handler(event, context):\n    return {'ok': True}\n"


# ---- results ------------------------------------------------------------------------------------


@dataclass
class Result:
    """One row of a benchmark's table."""

    benchmark: str  # the module (section)
    name: str  # what was measured
    value: float | None  # None: not measured (see note)
    unit: str
    target: str = ""  # human text, e.g. "≤ 0.3 s"
    baseline: str = ""  # human text, measured in the same run
    verdict: str = ""  # PASS / MISS / info / n/a
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def shown(self) -> str:
        if self.value is None:
            return "—"
        if self.unit in ("s",):
            return f"{self.value:.3f} s"
        if self.unit == "ms":
            return f"{self.value:.1f} ms"
        if self.unit == "MB":
            return f"{self.value:.1f} MB"
        if self.unit in ("/s", "invokes/s", "events/s", "msg/s", "records/s", "round trips/s", "requests/s"):
            return f"{self.value:,.0f} {self.unit}"
        if self.unit == "%":
            return f"{self.value:.0f} %"
        if self.unit == "x":
            return f"{self.value:.2f}×"
        return f"{self.value:g} {self.unit}".strip()


def verdict(ok: bool | None) -> str:
    if ok is None:
        return "info"
    return "PASS" if ok else "MISS"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: list[float], unit: str = "ms", scale: float = 1.0) -> str:
    """min / median / max as text (for notes)."""
    if not values:
        return ""
    return (f"min {min(values) * scale:.1f} / median {median(values) * scale:.1f} / "
            f"max {max(values) * scale:.1f} {unit}, n={len(values)}")


def rounds_text(values: list[float]) -> str:
    return ", ".join(f"{v:,.0f}" for v in values)


# ---- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


#: Bytecode for server subprocesses is cached here, outside the repository (PYTHONPYCACHEPREFIX), so a
#: shell with PYTHONDONTWRITEBYTECODE=1 doesn't turn every start into a compile of lambda_emu.
PYCACHE = Path(tempfile.gettempdir()) / "lambda-emu-bench-pycache"


def server_env(bytecode_cache: bool = True) -> dict[str, str]:
    """The environment of a server subprocess: ours, with a bytecode cache (unless told otherwise)."""
    env = dict(os.environ)
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    return env


def lambda_emu_argv(*args: str) -> list[str]:
    script = BIN / "lambda-emu"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "lambda_emu.cli"]
    if os.environ.get("BENCH_WHATIF"):
        # An experiment (bench/whatif.py): lambda-emu with a proposed change patched in.
        base = [sys.executable, str(Path(__file__).with_name("whatif.py"))]
    return [*base, "up", "--host", HOST, *args]


def _drain_forever(stream: io.BufferedReader) -> None:
    with contextlib.suppress(Exception):
        while stream.read(65536):
            pass


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` (only this process, by its id)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(5)


class EmuServer:
    """`lambda-emu up --port 0 --quiet` as a subprocess; ``endpoint`` once it printed its ready line."""

    def __init__(self, *extra: str, clock: str | None = None, start_timeout: float = 30.0,
                 bytecode_cache: bool = True) -> None:
        self.env = server_env(bytecode_cache)
        args = ["--port", "0", "--quiet", "--log-level", "warning", *extra]
        if clock:
            args += ["--clock", clock]
        self.argv = lambda_emu_argv(*args)
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self._spy: subprocess.Popen[bytes] | None = None
        self.endpoint = ""
        self.port = 0
        self.ready_after = 0.0  # wall seconds from spawn to the ready line
        self._cwd = tempfile.TemporaryDirectory(prefix="lambda-emu-bench-")
        self._stderr = tempfile.TemporaryFile()

    def start(self) -> EmuServer:
        started = time.perf_counter()
        # A scratch cwd: a template.yaml lying around must not be loaded.
        self.proc = subprocess.Popen(self.argv, cwd=self._cwd.name, stdout=subprocess.PIPE, stderr=self._stderr,
                                     stdin=subprocess.DEVNULL, env=self.env)
        assert self.proc.stdout is not None
        line = _read_line(self.proc.stdout, started + self.start_timeout)
        if b" ready at " not in line:
            self.stop()
            raise RuntimeError(f"lambda-emu did not start: {line!r} {self.stderr_text()[-2000:]}")
        self.ready_after = time.perf_counter() - started
        self.endpoint = line.split(b" ready at ", 1)[1].strip().decode()
        self.port = int(self.endpoint.rsplit(":", 1)[1])
        # Keep the pipe empty from now on (nothing much is printed with --quiet).
        threading.Thread(target=_drain_forever, args=(self.proc.stdout,), daemon=True).start()
        self._profile()
        return self

    def _profile(self) -> None:
        """With BENCH_PROFILE=DIR (bench/run.py --profile DIR): py-spy samples this server until it stops."""
        out = os.environ.get("BENCH_PROFILE")
        spy = BIN / "py-spy"
        if not out or not spy.exists():
            return
        assert self.proc is not None
        Path(out).mkdir(parents=True, exist_ok=True)
        self._spy = subprocess.Popen(
            [str(spy), "record", "-p", str(self.proc.pid), "-r", "250", "-f", "raw", "--nonblocking",
             "-o", str(Path(out) / f"{os.environ.get('BENCH_PROFILE_TAG', 'emu')}-{self.proc.pid}.txt")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)

    def stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        if self._spy is not None:
            # py-spy writes its profile when the process it samples is gone.
            try:
                self._spy.wait(30)
            except subprocess.TimeoutExpired:
                stop_process(self._spy)
        self._stderr.close()
        self._cwd.cleanup()

    def __enter__(self) -> EmuServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- /_emu ----

    def emu_get(self, path: str) -> Any:
        return http_json("GET", self.endpoint + path)

    def emu_post(self, path: str, body: Any) -> Any:
        return http_json("POST", self.endpoint + path, body)

    def settle(self, max_seconds: float = 86400) -> Any:
        return self.emu_post("/_emu/clock/settle", {"maxSeconds": max_seconds})

    def advance(self, seconds: float) -> Any:
        return self.emu_post("/_emu/clock/advance", {"seconds": seconds})

    def client(self, service: str) -> Any:
        return boto_client(service, self.endpoint)


def _read_line(stream: io.BufferedReader, deadline: float) -> bytes:
    """One line from a subprocess pipe, giving up at ``deadline`` (perf_counter)."""
    fd = stream.fileno()
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    data = b""
    try:
        while b"\n" not in data:
            remaining = deadline - time.perf_counter()
            if remaining <= 0 or not selector.select(remaining):
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
    finally:
        selector.close()
    return data


class MotoServer:
    """moto's server (`moto_server`, from moto[server]) on a free 127.0.0.1 port."""

    def __init__(self, start_timeout: float = 30.0, bytecode_cache: bool = True) -> None:
        self.env = server_env(bytecode_cache)
        self.port = free_port()
        self.endpoint = f"http://{HOST}:{self.port}"
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready_after = 0.0

    def start(self) -> MotoServer:
        script = BIN / "moto_server"
        if not script.exists():
            raise RuntimeError("moto_server not found: pip install 'moto[server]' into the venv")
        started = time.perf_counter()
        # Its per-request log goes nowhere (a pipe we didn't read would stall it).
        self.proc = subprocess.Popen([str(script), "-H", HOST, "-p", str(self.port)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=self.env)
        if not wait_http(self.endpoint + "/moto-api/", started + self.start_timeout):
            self.stop()
            raise RuntimeError("moto_server did not answer")
        self.ready_after = time.perf_counter() - started
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_http(url: str, deadline: float, interval: float = 0.005) -> bool:
    """Poll ``url`` with GET until it answers 200 (True) or ``deadline`` (perf_counter) passes."""
    host, _, rest = url.removeprefix("http://").partition("/")
    hostname, _, port = host.partition(":")
    while time.perf_counter() < deadline:
        conn = http.client.HTTPConnection(hostname, int(port), timeout=1)
        try:
            conn.request("GET", "/" + rest)
            if conn.getresponse().status == 200:
                return True
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(interval)
    return False


# ---- clients ------------------------------------------------------------------------------------


def boto_client(service: str, endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=120, connect_timeout=10),
    )


def http_json(method: str, url: str, body: Any = None, timeout: float = 120) -> Any:
    host, _, rest = url.removeprefix("http://").partition("/")
    hostname, _, port = host.partition(":")
    conn = http.client.HTTPConnection(hostname, int(port), timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, "/" + rest, body=data, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        payload = response.read()
        if response.status >= 400:
            raise RuntimeError(f"{method} {url}: {response.status} {payload[:500]!r}")
        return json.loads(payload) if payload else None
    finally:
        conn.close()


class KeepAlive:
    """One persistent HTTP/1.1 connection (the lightest blocking client: http.client)."""

    def __init__(self, endpoint: str, timeout: float = 120) -> None:
        host = endpoint.removeprefix("http://")
        hostname, _, port = host.partition(":")
        self.conn = http.client.HTTPConnection(hostname, int(port), timeout=timeout)

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
                ) -> tuple[int, bytes]:
        self.conn.request(method, path, body=body, headers=headers or {})
        response = self.conn.getresponse()
        return response.status, response.read()

    def invoke(self, function_name: str, payload: bytes = b"{}") -> bytes:
        status, body = self.request("POST", f"/2015-03-31/functions/{function_name}/invocations", payload)
        if status != 200:
            raise RuntimeError(f"Invoke {function_name}: {status} {body[:300]!r}")
        return body

    def close(self) -> None:
        self.conn.close()


def make_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o644 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def create_function(lam: Any, name: str, source: str = NOOP, **extra: Any) -> str:
    extra.setdefault("Runtime", "python3.12")
    lam.create_function(FunctionName=name, Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": make_zip({"app.py": source})}, Timeout=30, **extra)
    return name


def queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


# ---- bounded loops ------------------------------------------------------------------------------


def bounded(max_count: int, max_seconds: float) -> Iterator[int]:
    """0, 1, 2, ... until ``max_count`` iterations or ``max_seconds`` of wall time, whichever first."""
    deadline = time.perf_counter() + max_seconds
    for i in range(max_count):
        if time.perf_counter() >= deadline:
            return
        yield i


def rate(fn: Callable[[], Any], seconds: float, max_count: int, warmup: int = 0) -> tuple[float, int]:
    """Calls of ``fn`` per second, one at a time, for up to ``seconds`` (and at most ``max_count``)."""
    for _ in bounded(warmup, seconds):
        fn()
    count = 0
    started = time.perf_counter()
    for _ in bounded(max_count, seconds):
        fn()
        count += 1
    elapsed = time.perf_counter() - started
    return (count / elapsed if elapsed > 0 else 0.0), count


def wait_until(predicate: Callable[[], bool], max_seconds: float, interval: float = 0.01) -> bool:
    deadline = time.perf_counter() + max_seconds
    while time.perf_counter() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def rss_mb(pid: int, children: bool = False) -> float:
    import psutil

    process = psutil.Process(pid)
    total = process.memory_info().rss
    if children:
        for child in process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
    return total / (1024 * 1024)


class CountDir:
    """A scratch directory where a benchmark handler appends how many records it processed."""

    HANDLER = (
        "import os\n"
        "_DIR = os.environ['BENCH_COUNT_DIR']\n"
        "_FD = None\n"
        "def _count(n, extra=''):\n"
        "    global _FD\n"
        "    if _FD is None:\n"
        "        _FD = os.open(os.path.join(_DIR, str(os.getpid())), os.O_WRONLY | os.O_CREAT | os.O_APPEND)\n"
        "    os.write(_FD, f'{n}{extra}\\n'.encode())\n"
    )

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="lambda-emu-bench-count-")
        self.path = self._dir.name

    def total(self) -> int:
        total = 0
        for name in os.listdir(self.path):
            with contextlib.suppress(OSError), open(os.path.join(self.path, name)) as handle:
                for line in handle:
                    head = line.strip().split(" ", 1)[0]
                    if head.isdigit():
                        total += int(head)
        return total

    def lines(self) -> list[str]:
        out: list[str] = []
        for name in os.listdir(self.path):
            with contextlib.suppress(OSError), open(os.path.join(self.path, name)) as handle:
                out.extend(line.strip() for line in handle)
        return out

    def reset(self) -> None:
        for name in os.listdir(self.path):
            with contextlib.suppress(OSError):
                os.truncate(os.path.join(self.path, name), 0)

    def cleanup(self) -> None:
        self._dir.cleanup()

