"""The ceiling for warm invokes: awslambdaric looping against a minimal Runtime API, nothing else.

The Runtime API here answers /next with a fixed event and accepts /response; it runs on its own
event loop in a background thread of the benchmark process, and the runtime is a real
``python -m awslambdaric app.handler`` subprocess. A gate holds /next so the runtime sits idle
(one /next parked) between measurement windows.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from aiohttp import web

from bench.common import HOST, NOOP, stop_process

PREFIX = "/2018-06-01/runtime"
EVENT = b"{}"
ARN = "arn:aws:lambda:us-east-1:000000000000:function:bench-ceiling"


class MiniRuntimeApi:
    def __init__(self) -> None:
        self.completed = 0
        self.errors = 0
        self._ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._gate: asyncio.Event | None = None
        self._closing = False
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._code = tempfile.TemporaryDirectory(prefix="lambda-emu-bench-ceiling-")
        self.proc: subprocess.Popen[bytes] | None = None

    # ---- the server (on its own loop) ----

    async def _next(self, _request: web.Request) -> web.Response:
        assert self._gate is not None
        await self._gate.wait()
        if self._closing:
            return web.Response(status=500, body=b'{"errorType":"Shutdown"}', content_type="application/json")
        request_id = f"00000000-0000-4000-8000-{next(self._ids):012d}"
        return web.Response(body=EVENT, headers={
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(int((time.time() + 30) * 1000)),
            "Lambda-Runtime-Invoked-Function-Arn": ARN,
            "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0",
            "Content-Type": "application/json",
        })

    async def _response(self, request: web.Request) -> web.Response:
        await request.read()
        self.completed += 1
        return web.Response(status=202, body=b'{"status":"OK"}\n', content_type="application/json")

    async def _error(self, request: web.Request) -> web.Response:
        await request.read()
        self.errors += 1
        return web.Response(status=202, body=b'{"status":"OK"}\n', content_type="application/json")

    async def _start_server(self) -> int:
        self._gate = asyncio.Event()
        app = web.Application()
        app.router.add_get(PREFIX + "/invocation/next", self._next)
        app.router.add_post(PREFIX + "/invocation/{request_id}/response", self._response)
        app.router.add_post(PREFIX + "/invocation/{request_id}/error", self._error)
        app.router.add_post(PREFIX + "/init/error", self._error)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        return site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # noqa: SLF001

    def _call(self, coro, timeout: float = 30):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # ---- control (from the benchmark's thread) ----

    def start(self) -> MiniRuntimeApi:
        self._thread.start()
        self.port = self._call(self._start_server())
        code = Path(self._code.name)
        (code / "app.py").write_text(NOOP)
        # The environment lambda-emu gives a python runtime, minus what only Lambda's APIs read.
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "en_US.UTF-8", "TZ": ":UTC",
            "PYTHONPATH": str(code), "PYTHONUNBUFFERED": "1", "_HANDLER": "app.handler",
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_LAMBDA_FUNCTION_NAME": "bench-ceiling", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench-ceiling", "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
            "AWS_LAMBDA_RUNTIME_API": f"{HOST}:{self.port}", "LAMBDA_TASK_ROOT": str(code),
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        }
        self.proc = subprocess.Popen([sys.executable, "-m", "awslambdaric", "app.handler"], cwd=str(code), env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def _set_gate(self, open_: bool) -> None:
        assert self._gate is not None
        self._loop.call_soon_threadsafe(self._gate.set if open_ else self._gate.clear)

    def measure(self, seconds: float, warmup: int = 50, max_count: int = 1_000_000) -> tuple[float, int]:
        """Completed loops per second over a window of ``seconds`` (after ``warmup`` loops)."""
        self._set_gate(True)
        try:
            deadline = time.perf_counter() + 30
            while self.completed < warmup and time.perf_counter() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"awslambdaric exited with {self.proc.returncode}")
                time.sleep(0.01)
            if self.completed < warmup:
                raise RuntimeError("awslambdaric did not complete its warm-up loops")
            before, t0 = self.completed, time.perf_counter()
            window_end = t0 + seconds
            while time.perf_counter() < window_end and self.completed - before < max_count:
                time.sleep(0.01)
            after, t1 = self.completed, time.perf_counter()
        finally:
            self._set_gate(False)
        if self.errors:
            raise RuntimeError(f"the runtime reported {self.errors} errors")
        return (after - before) / (t1 - t0), after - before

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=5)
        # Release a parked /next so the server can shut down.
        self._closing = True
        if self._gate is not None:
            self._set_gate(True)
        if self._runner is not None:
            self._call(self._runner.cleanup())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._code.cleanup()

    def __enter__(self) -> MiniRuntimeApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
