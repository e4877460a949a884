"""One execution environment (Lambda's sandbox): one runtime process, one invocation at a time, its
cold start, its environment variables, its logs, and every way it can fail.

An environment is reset (its process killed; the next invoke is cold) after a timeout, a crash, an
out-of-memory kill or an init failure; its /tmp (TMPDIR) survives, as on Lambda.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lambda_emu.emulator.invocation import logs
from lambda_emu.emulator.invocation.functions import OS_ONLY_RUNTIMES, Function, runtime_version_arn
from lambda_emu.emulator.invocation.outcomes import (
    Outcome,
    error_details,
    exit_message,
    exited,
    platform_failure,
    report_error_type,
    timed_out,
)
from lambda_emu.emulator.platform.clock import iso8601
from lambda_emu.emulator.platform.faults import INIT_FAILURE_STATUS
from lambda_emu.emulator.platform.logging import get_logger
from lambda_emu.runtime_api.api import RuntimeApiServer, RuntimeInvocation, RuntimeReply, RuntimeSession
from lambda_emu.runtime_api.runners.base import ImageSpec, Runner, RuntimeNotStarted, RuntimeProcess, RuntimeSpec

log = get_logger("environments")

#: Lambda's init phase limit for on-demand functions; a slower init continues as a "suppressed init"
#: inside the first invocation, bounded by the function timeout.
INIT_LIMIT_SECONDS = 10.0
#: How often the process runner samples an environment's memory while it works (wall seconds).
MEMORY_SAMPLE_SECONDS = 0.05


async def first_of(*futures: asyncio.Future[Any], timeout: float) -> set[asyncio.Future[Any]]:
    """The futures done when the first of them is (or none at the timeout): asyncio.wait without its
    set bookkeeping, since this sits on every invocation's critical path."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()

    def wake(_: object = None) -> None:
        if not waiter.done():
            waiter.set_result(None)

    for future in futures:
        future.add_done_callback(wake)
    timer = loop.call_later(timeout, wake)
    try:
        await waiter
    finally:
        timer.cancel()
        for future in futures:
            future.remove_done_callback(wake)
    return {future for future in futures if future.done()}


def image_spec(function: Function) -> ImageSpec | None:
    """An image function's image and ImageConfig, for the container runner (None for zip functions)."""
    if function.package_type != "Image" or not function.image_uri:
        return None
    config = function.image_config or {}
    # The image as resolved at create/update time (its id), as Lambda pins an image digest.
    return ImageSpec(uri="sha256:" + function.code.sha256,
                     entry_point=config.get("EntryPoint") or None, command=config.get("Command") or None,
                     working_directory=config.get("WorkingDirectory") or None)


def trace_id() -> str:
    # One read of 20 random bytes: 12 for the root's id, 8 for the parent's (one per invocation).
    random_hex = os.urandom(20).hex()
    return f"Root=1-{int(time.time()):08x}-{random_hex[:24]};Parent={random_hex[24:]};Sampled=0"


#: Function output as it happens: (function name, chunk). The terminal view listens here.
OutputListener = Callable[[str, bytes], None]
#: The same output as CloudWatch Logs receives it: (log group, log stream, chunk, whether the chunk is one
#: whole log record rather than raw output).
LogWriter = Callable[[str, str, bytes, bool], None]


def _no_container_runner() -> Runner:
    raise OSError("container images need the container runner")


@dataclass(frozen=True)
class SandboxHost:
    """What an execution environment uses of the run around it."""

    runner: Runner
    runtime_api: RuntimeApiServer
    region: str
    #: lambda-emu's endpoint (known once the port is bound), handed to functions as AWS_ENDPOINT_URL.
    endpoint: Callable[[], str]
    on_output: OutputListener
    #: The container runner, for PackageType Image functions whatever ``runner`` is (built on first use).
    container_runner: Callable[[], Runner] = field(default=_no_container_runner)
    #: The function's layers merged as Lambda fills /opt (None without layers).
    opt_dir: Callable[[Function], Path | None] = lambda _function: None
    #: Where the log lines go as CloudWatch Logs keeps them (one stream per environment).
    write_log: LogWriter = lambda _group, _stream, _chunk, _record: None
    #: The platform clock (log stream names carry its date).
    now: Callable[[], float] = time.time
    #: An environment's (access key, secret, session token) for its function's role and name.
    credentials: Callable[[Function], tuple[str, str, str]] = lambda _function: ("lambda-emu",) * 3


class ExecutionEnvironment:
    def __init__(self, host: SandboxHost, function: Function, slot: int, tmp_dir: Path) -> None:
        self.host = host
        self.function = function
        self.generation = function.generation
        #: The clock's work generation it was made in: after a reset it never goes back to a pool.
        self.epoch = 0  # set by Environments.acquire
        self.slot = slot
        self.tmp_dir = tmp_dir
        self.session: RuntimeSession | None = None
        self.process: RuntimeProcess | None = None
        self._exit: asyncio.Future[int] | None = None
        self._log: logs.InvocationLog | None = None
        self.dead = False
        #: The most memory the runtime held during the current invocation (bytes).
        self.peak_bytes = 0
        self._peak_fresh = False
        self._watcher: asyncio.Task[None] | None = None
        self.idle_timer: asyncio.TimerHandle | None = None
        self.log_stream = (datetime.fromtimestamp(host.now(), tz=UTC).strftime("%Y/%m/%d")
                           + f"/[{function.version}]{secrets.token_hex(16)}")
        self.log_group = function.log_group
        #: START / END / REPORT in the function's log format (an update retires the environment).
        self.platform_lines = logs.PlatformLines(function.logging_config, host.now)

    @property
    def runtime_api(self) -> RuntimeApiServer:
        return self.host.runtime_api

    # ---- output ----

    def _on_output(self, chunk: bytes, record: bool = False) -> None:
        if not chunk:
            return
        # As text (LogType=Tail, the terminal) a record ends its line; the log keeps it as it came.
        text = chunk if not record or chunk.endswith(b"\n") else chunk + b"\n"
        if self._log is not None:
            self._log.add(text)
        self.host.on_output(self.function.name, text)
        self.host.write_log(self.log_group, self.log_stream, chunk, record)

    def _emit(self, chunk: bytes) -> None:
        """A platform line (INIT_START) to the terminal and to the environment's log stream."""
        if not chunk:
            return
        self.host.on_output(self.function.name, chunk)
        self.host.write_log(self.log_group, self.log_stream, chunk, False)

    # ---- lifecycle ----

    def _environment_variables(self, port: int) -> dict[str, str]:
        f = self.function
        key, secret, token = self.host.credentials(self.function)
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "LD_LIBRARY_PATH": "",
            "PYTHONUNBUFFERED": "1",
            "TMPDIR": str(self.tmp_dir),
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            # Loopback only: an X-Ray SDK in the function must not send anything off this machine.
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
            # boto3 inside the function talks to lambda-emu (botocore honours AWS_ENDPOINT_URL).
            "AWS_ENDPOINT_URL": self.host.endpoint(),
        }
        env.update(f.environment)
        env.update({
            "_HANDLER": f.handler,
            "AWS_REGION": self.host.region,
            "AWS_DEFAULT_REGION": self.host.region,
            "AWS_LAMBDA_FUNCTION_NAME": f.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(f.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": f.version,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": self.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
            "AWS_ACCESS_KEY_ID": key,
            "AWS_ACCESS_KEY": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_SESSION_TOKEN": token,
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
            "LAMBDA_TASK_ROOT": str(f.code.directory),
            "LAMBDA_RUNTIME_DIR": str(f.code.directory),
        })
        if f.runtime not in OS_ONLY_RUNTIMES:
            env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{f.runtime}"
        if f.logging_config.get("LogFormat") == "JSON":
            # As Lambda sets them for a JSON function: the runtime formats and filters its own records.
            env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
            env["AWS_LAMBDA_LOG_LEVEL"] = f.logging_config.get("ApplicationLogLevel") or "INFO"
        return env

    async def _start(self) -> None:
        self.dead = False
        self.session = RuntimeSession()
        port = await self.runtime_api.open(self.session)
        spec = RuntimeSpec(
            function_name=self.function.name,
            runtime=self.function.runtime,
            handler=self.function.handler,
            code_dir=self.function.code.directory,
            env=self._environment_variables(port),
            memory_mb=self.function.memory_size,
            tmp_dir=self.tmp_dir,
            ephemeral_storage_mb=self.function.ephemeral_storage,
            image=image_spec(self.function),
            opt_dir=self.host.opt_dir(self.function),
            dependencies_dir=self.function.dependencies.path,
        )
        runner: Runner = self.host.runner
        if self.function.package_type == "Image":
            runner = self.host.container_runner()  # image functions run in containers under any runner
        self.process = await runner.start(spec, self._on_output)
        self._exit = asyncio.ensure_future(self.process.wait())
        if self.dead:
            # shutdown() ran while the runtime was starting (POST /_emu/reset, a stop): it found no process
            # to stop, so the one just started is stopped here, and the invocation fails as one whose
            # runtime was killed (not with lambda-emu's own error, and no runtime left running).
            await self.shutdown()
            raise RuntimeNotStarted(exit_message(-signal.SIGKILL), "Runtime.ExitError")

    async def shutdown(self) -> None:
        """Stop the runtime (SIGKILL: a runtime has no shutdown hook to honour locally)."""
        self.dead = True
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None
        if self.process is not None:
            self.process.kill()
        if self._exit is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._exit), 5)
        if self.session is not None:
            await self.runtime_api.close(self.session)
        self.process = None
        self.session = None

    # ---- one invocation ----

    async def invoke(
        self,
        request_id: str,
        payload: bytes,
        invoked_arn: str,
        client_context: str | None = None,
        *,
        fail_init: bool = False,
    ) -> Outcome:
        """One invocation. ``fail_init`` (the initFailureRate fault) makes a cold start fail with
        Runtime.ExitError before the runtime even starts, so neither init code nor the handler runs."""
        invocation_log = logs.InvocationLog(request_id)
        self._log = invocation_log
        timeout = float(self.function.timeout)
        self.peak_bytes = 0
        self._peak_fresh = False
        try:
            # At most twice: a warm runtime that died between invocations (after posting its last
            # response, before asking for the next event) never saw this one; Lambda would hand it
            # to a fresh runtime, so a second pass starts one.
            for _ in range(2):
                if self._exit is not None and self._exit.done():
                    await self._reset()  # it died while idle
                cold = self.process is None
                init_ms: float | None = None
                if cold:
                    # To the function's log stream (the terminal), not to the invocation's tail: AWS's
                    # LogType=Tail of a cold start begins at START (docs/aws-behaviour.md §Logs).
                    self._emit(self.platform_lines.init_start(
                        self.function.runtime, runtime_version_arn(self.function.arn, self.function.runtime),
                        self.function.name, self.function.version))
                    started = time.monotonic()
                    if fail_init:
                        self.dead = True
                        return self._finish(invocation_log, request_id, cold, 0.0,
                                            (time.monotonic() - started) * 1000,
                                            exited(request_id, INIT_FAILURE_STATUS), status="error",
                                            error_type="Runtime.ExitError")
                    try:
                        await self._start()
                    except (RuntimeNotStarted, OSError) as exc:
                        self.dead = True
                        if isinstance(exc, RuntimeNotStarted):
                            reason, error_type = exc.reason, exc.error_type
                        else:
                            reason, error_type = str(exc), "Runtime.InvalidEntrypoint"
                        message = f"RequestId: {request_id} Error: {reason}"
                        return self._finish(invocation_log, request_id, cold, 0.0, None,
                                            platform_failure(error_type, message),
                                            status="error", error_type=error_type)
                    self._watching()
                    init = await self._await_init(request_id, timeout, started)
                    init_ms = (time.monotonic() - started) * 1000
                    if init is not None:
                        self.dead = True
                        return self._finish(invocation_log, request_id, cold, 0.0, init_ms, init, status="error",
                                            error_type=report_error_type(init.error_type))
                self._watching()
                outcome = await self._run(invocation_log, request_id, payload, invoked_arn, client_context,
                                          timeout, cold, init_ms)
                if outcome is not None:
                    return outcome
                await self._reset()
            raise RuntimeError("runtime exited twice before taking the invocation")
        finally:
            self._log = None

    async def _await_init(self, request_id: str, timeout: float, started: float) -> Outcome | None:
        """None when the runtime is ready; otherwise the failure the caller gets."""
        assert self.session is not None and self._exit is not None
        init_done = self.session.init_done
        waiting: set[asyncio.Future[Any]] = {init_done, self._exit}
        done, _ = await asyncio.wait(waiting, timeout=INIT_LIMIT_SECONDS + timeout, return_when=asyncio.FIRST_COMPLETED)
        if init_done in done and not init_done.cancelled():
            reply = init_done.result()
            if reply is None:
                return None
            # The runtime reported its init failure (awslambdaric: Runtime.ImportModuleError and friends).
            error_type, message = error_details(reply.body, reply.error_type)
            await self._reset()
            return Outcome("error", reply.body, error_type, message)
        if self._exit in done:
            status = self._exit.result()
            await self._reset()
            if status != -signal.SIGSEGV:
                return exited(request_id, status)
            # Recorded on AWS (docs/aws-behaviour.md §Function failure modes): a runtime that segfaults
            # during init is not reported as exited; the invocation times out after the full function timeout.
            await asyncio.sleep(max(0.0, started + timeout - time.monotonic()))
        await self._reset()
        return timed_out(request_id, timeout)

    async def _run(
        self,
        invocation_log: logs.InvocationLog,
        request_id: str,
        payload: bytes,
        invoked_arn: str,
        client_context: str | None,
        timeout: float,
        cold: bool,
        init_ms: float | None,
    ) -> Outcome | None:
        """The invocation's outcome; None when a warm runtime turned out dead before taking it."""
        assert self.session is not None and self._exit is not None and self.process is not None
        self._start_line(invocation_log, request_id)
        started = time.monotonic()
        reply_future = self.session.submit(RuntimeInvocation(
            request_id=request_id,
            payload=payload,
            deadline_ms=int((time.time() + timeout) * 1000),
            invoked_function_arn=invoked_arn,
            trace_id=trace_id(),
            client_context=client_context,
        ))
        done = await first_of(reply_future, self._exit, timeout=timeout)
        duration_ms = (time.monotonic() - started) * 1000
        if reply_future in done and self._over_memory():
            # The sampler can miss a short spike; the kernel's high-water mark can't. Lambda's cgroup
            # would have killed the runtime before it answered.
            self.process.kill()
            await asyncio.wait({self._exit}, timeout=5)
            done = {self._exit}
        if reply_future in done:
            self._drain()
            return self._finish(invocation_log, request_id, cold, duration_ms, init_ms,
                                self._from_reply(reply_future.result()))
        if self._exit in done:
            if not cold and self.session.is_pending(request_id):
                reply_future.cancel()
                return None  # died between invocations: the caller restarts the runtime
            outcome = exited(request_id, self._exit.result())
            await self._reset()
            return self._finish(invocation_log, request_id, cold, duration_ms, init_ms, outcome,
                                status="error", error_type="Runtime.ExitError")
        # Wall-clock timeout: the environment is reset, as Lambda does.
        reply_future.cancel()
        await self._reset()
        # Wall time, like the timeout itself.
        stamp = iso8601(time.time())
        self._platform(invocation_log, f"{stamp} {request_id} Task timed out after {timeout:.2f} seconds\n".encode())
        return self._finish(invocation_log, request_id, cold, timeout * 1000, init_ms, timed_out(request_id, timeout),
                            status="timeout")

    def _start_line(self, invocation_log: logs.InvocationLog, request_id: str) -> None:
        """START, once per invocation: before the event is handed over, or (when it never was) at the end."""
        if not invocation_log.started:
            invocation_log.started = True
            self._platform(invocation_log, self.platform_lines.start(request_id, self.function.version))

    def _platform(self, invocation_log: logs.InvocationLog, line: bytes) -> None:
        """A line Lambda itself writes (START, END, REPORT, timeouts): into the log and to the terminal
        (none when the system log level leaves it out)."""
        if line:
            # _emit and InvocationLog.add written out: two of these per invocation.
            invocation_log.lines.append(line)
            host = self.host
            host.on_output(self.function.name, line)
            host.write_log(self.log_group, self.log_stream, line, False)

    def _from_reply(self, reply: RuntimeReply) -> Outcome:
        if reply.kind == "response":
            return Outcome("success", reply.body)
        if reply.kind == "too_large":
            message = "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
            return platform_failure("Function.ResponseSizeTooLarge", message)
        error_type, message = error_details(reply.body, reply.error_type)
        return Outcome("error", reply.body, error_type, message)

    def _finish(
        self,
        invocation_log: logs.InvocationLog,
        request_id: str,
        cold: bool,
        duration_ms: float,
        init_ms: float | None,
        outcome: Outcome,
        status: str | None = None,
        error_type: str | None = None,
    ) -> Outcome:
        self._start_line(invocation_log, request_id)
        end = self.platform_lines.end(request_id, duration_ms, status)
        if not self._peak_fresh and self.process is not None:
            self.peak_bytes = max(self.peak_bytes, self.process.peak_memory_bytes())
        peak = self.peak_bytes
        # END and REPORT go out as one chunk: the log store and the terminal split it into the same two
        # lines, for one write instead of two on every invocation.
        self._platform(invocation_log, end + self.platform_lines.report(
            request_id, duration_ms, self.function.memory_size, max(1, peak // (1024 * 1024)),
            init_ms if cold else None, status, error_type,
        ))
        text = invocation_log.text()
        outcome.log = text
        outcome.cold_start = cold
        outcome.duration_ms = duration_ms
        return outcome

    def _drain(self) -> None:
        drain = getattr(self.process, "drain", None)
        if drain is not None:
            drain()

    async def _reset(self) -> None:
        self._drain()
        if self.process is not None:
            # The REPORT line comes after the reset: keep what the runtime used before it went.
            self.peak_bytes = max(self.peak_bytes, self.process.peak_memory_bytes())
        await self.shutdown()

    def _over_memory(self) -> bool:
        """Read the kernel's high-water mark once per reply: it catches spikes the sampler missed."""
        if self.process is None:
            return False
        self.peak_bytes = max(self.peak_bytes, self.process.peak_memory_bytes())
        self._peak_fresh = True
        return self.peak_bytes > self.function.memory_size * 1024 * 1024

    def _watching(self) -> None:
        """Make sure the memory watcher runs: one per environment while it works, not one per
        invocation. It ends itself once the environment is idle, so an idle environment costs nothing."""
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.ensure_future(self._watch_memory())

    async def _watch_memory(self) -> None:
        """Kill the environment when it holds more than its MemorySize (AWS: signal: killed)."""
        limit = self.function.memory_size * 1024 * 1024
        while self.process is not None:
            # Sample after a pause, not at once: a short invocation costs no /proc read at all (its peak
            # is still checked through the kernel's high-water mark when it replies). Wall time on
            # purpose: this is physical behaviour (see clock.py).
            await asyncio.sleep(MEMORY_SAMPLE_SECONDS)
            if self.process is None or self._log is None:
                self._watcher = None
                return  # idle (or gone): the next invocation starts a watcher again
            used = self.process.memory_bytes()
            self.peak_bytes = max(self.peak_bytes, used)
            if used > limit:
                log.info("memory limit exceeded", function=self.function.name, limit_mb=self.function.memory_size)
                self.process.kill()
                return
