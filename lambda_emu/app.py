"""The composition root: the only module that builds every room of a run and hands each what it uses.

Every other module takes its collaborators in its constructor, typed; nothing reaches a sibling
through this object. SQS and Kinesis (and their stores) are built on first use, which keeps them off
the start-up path; a service built that way needs no ``start()``.

Serving (binding the port) is serving.py's and the state directory's mechanism restore.py's. ``start``,
``stop`` and ``reset`` stay here, which keeps this module a little over 500 lines: each walks every room
in dependency order, and only the composition root knows them all.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
from collections.abc import Callable, Coroutine
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambda_emu.config import EmulatorConfig
from lambda_emu.emulator.platform.clock import Clock
from lambda_emu.emulator.platform.logging import get_logger

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import Function
    from lambda_emu.emulator.invocation.sandbox import OutputListener
    from lambda_emu.emulator.platform.state import StateStore
    from lambda_emu.emulator.services.dynamodb.api import DynamoDBService
    from lambda_emu.emulator.services.dynamodb.streams_api import DynamoDBStreamsService
    from lambda_emu.emulator.services.iam.api import IamService
    from lambda_emu.emulator.services.kinesis.api import KinesisService
    from lambda_emu.emulator.services.lambda_.mappings import EventSourceMapping
    from lambda_emu.emulator.services.logs.api import LogsService
    from lambda_emu.emulator.services.sqs.api import SqsService
    from lambda_emu.emulator.services.sts.api import StsService
    from lambda_emu.emulator.template.loader import Stack
    from lambda_emu.event_sources.mappings import EventSourceDriver
    from lambda_emu.runtime_api.runners.base import Runner
    from lambda_emu.runtime_api.runners.docker.runner import DockerRunner

log = get_logger("emulator")


class Emulator:
    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.region = self.config.region
        self.account_id = self.config.account_id
        self.clock = Clock(self.config.clock, self.config.time_scale)
        # One seeded RNG for jitter and injected faults: same seed, same run.
        self.rng = random.Random(self.config.seed)
        self._own_state_dir = self.config.state_dir is None
        self.state_dir = Path(self.config.state_dir or tempfile.mkdtemp(prefix="lambda-emu-"))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        #: --state-dir: everything accepted is written through to DIR/state.db; None without it.
        self.state: StateStore | None = None
        #: Whether the state directory held an earlier run's state (then a template is not loaded again).
        self.restored = False
        if not self._own_state_dir:
            from lambda_emu.restore import open_state

            self.state, self.restored = open_state(self.state_dir, self.clock)
        # Set once the HTTP server is bound (port 0 picks a free port).
        self.host = self.config.host
        self.port = self.config.port
        self._log_listeners: list[OutputListener] = []
        from lambda_emu.request_guard import RequestGuard

        # Every listener (this port, every Runtime API port) refuses what a web page could send.
        # The address containers are told to reach lambda-emu at (--container-host) is one it serves.
        self.request_guard = RequestGuard(self.config.host, (*self.config.allow_hosts, self.config.container_host),
                                          self.config.allow_origins)
        #: Where announce() writes (stdout; a test may listen); None: nowhere.
        self.terminal: Callable[[str], None] | None = _print_line
        self._tasks: set[Any] = set()
        self._build_rooms()

    def _build_rooms(self) -> None:
        from lambda_emu.emulator.invocation.destinations import Destinations
        from lambda_emu.emulator.invocation.functions import FunctionRegistry
        from lambda_emu.emulator.invocation.invoker import Invoker
        from lambda_emu.emulator.invocation.layers import LayerStore
        from lambda_emu.emulator.invocation.narration import Narration
        from lambda_emu.emulator.invocation.pool import Environments
        from lambda_emu.emulator.invocation.recorder import Recorder
        from lambda_emu.emulator.invocation.sandbox import SandboxHost
        from lambda_emu.emulator.platform.faults import Faults
        from lambda_emu.emulator.platform.journal import Journal
        from lambda_emu.emulator.server import Frontend
        from lambda_emu.emulator.services.control.api import ControlService, logs_handler, replay_handler
        from lambda_emu.emulator.services.control.replay import Replayer
        from lambda_emu.emulator.services.control.run import RunEndpoints
        from lambda_emu.emulator.services.lambda_.api import LambdaService
        from lambda_emu.emulator.services.lambda_.code_reload import CodeWatcher
        from lambda_emu.emulator.services.lambda_.destination_checks import DestinationChecks
        from lambda_emu.emulator.services.lambda_.requirements import RequirementsInstaller
        from lambda_emu.event_sources.async_queue import AsyncQueue
        from lambda_emu.event_sources.mappings import EventSourceMappings
        from lambda_emu.runtime_api.api import RuntimeApiServer
        from lambda_emu.runtime_api.runners.interpreters import Interpreters
        from lambda_emu.runtime_api.runners.orphans import OrphanRegistry
        from lambda_emu.runtime_api.runners.process import ProcessRunner
        from lambda_emu.runtime_api.runners.sandbox import RuntimeDirectories

        config = self.config
        # platform
        self.journal = Journal(self.clock, size=config.journal_size, payload_limit=config.journal_payload_limit)
        # the terminal's story of decisions (silent unless `up` gives it a terminal), the --record capture,
        # and every function's log lines for /_emu/logs
        self.narration = Narration(self.journal, self.clock)
        self.recorder = Recorder(config.record) if config.record is not None else None
        if self.state is not None:
            from lambda_emu.restore import attempt_saver

            self.journal.add_listener(attempt_saver(self.state, self.journal))
        self.faults = Faults(self.rng, {"duplicateRate": config.duplicate_rate, **config.faults})
        # runtime API and its runner
        self.orphans = OrphanRegistry()
        # the sandbox: which Python runs a function, and its runtime directory (cached across runs)
        self.interpreters = Interpreters(config.pythons)
        self.runtime_dirs = RuntimeDirectories(config.cache_root)
        self.process_runner = ProcessRunner(self.orphans, self.interpreters, self.runtime_dirs)
        self.runner: Runner = self.process_runner
        self._docker_runner: DockerRunner | None = None
        if self.config.runner == "docker":
            self.runner = self.docker_runner
        self.runtime_api = RuntimeApiServer("127.0.0.1", guard=self.request_guard)
        # invocation: Lambda's data plane
        self.functions = FunctionRegistry(self.region, self.account_id, self.state_dir / "code", self.state,
                                          rng=self.rng)
        self.layers = LayerStore(self.region, self.account_id, self.state_dir, self.state)
        host = SandboxHost(self.runner, self.runtime_api, self.region, lambda: self.endpoint, self.function_output,
                           container_runner=lambda: self.docker_runner,
                           opt_dir=lambda function: self.layers.opt_dir(function.layers) if function.layers else None,
                           write_log=lambda group, stream, chunk, record: self.logs.store.write(group, stream, chunk,
                                                                                               record),
                           now=self.clock.now,
                           credentials=lambda function: self.sts.function_credentials(function.role, function.name))
        self.environments = Environments(host, self.functions, self.clock,
                                         account_concurrency=config.account_concurrency,
                                         idle_timeout=config.idle_timeout, tmp_root=self.state_dir / "tmp")
        self.invoker = Invoker(self.journal, self.environments, self.faults, recorder=self.recorder)
        self.destinations = Destinations(self.functions, self.clock, region=self.region, account_id=self.account_id,
                                         send_to_queue=lambda arn, body, attributes: self.sqs.store.deliver(
                                             arn, body, attributes),
                                         async_invoke=self._async_invoke)
        # event sources
        self.async_queue = AsyncQueue(self.functions, self.invoker, self.destinations, self.clock, self.faults,
                                      poller_limit=config.async_concurrency, state=self.state)
        self.event_source_mappings = EventSourceMappings(self.clock, self._mapping_driver, self.state)
        # services
        self.control = ControlService(self.clock, self.journal, self.destinations, self.faults, self.functions,
                                      self.interpreters, runner_name=config.runner)
        checks = DestinationChecks(self.functions, lambda arn: self.sqs.store.queue_by_arn(arn) is not None)
        self.lambda_ = LambdaService(
            self.functions, self.clock, self.invoker, self.environments, self._async_invoke, checks,
            self.event_source_mappings,
            queue_by_arn=lambda arn: self.sqs.store.queue_by_arn(arn),
            stream_exists=self._stream_exists,
            region=self.region, account_id=self.account_id, account_concurrency=config.account_concurrency,
            endpoint=lambda: self.endpoint, layers=self.layers,
            resolve_image=lambda uri: self.docker_runner.resolve_image(uri),
            creation_delays=config.creation_delays, state=self.state,
        )
        self.requirements = RequirementsInstaller(
            config.cache_root, self.interpreters, enabled=config.install_requirements,
            announce=self.announce, installed=self._requirements_installed, background=self._background)
        self.code_watcher = CodeWatcher(self.functions, self.environments, self.clock, self.requirements,
                                        self.announce)
        # hooks between rooms
        self.lambda_.on_function_deleted.append(self.async_queue.function_deleted)
        self.lambda_.on_function_deleted.append(lambda function: self.faults.function_deleted(function.name))
        self.lambda_.on_concurrency_changed.append(self.async_queue.wake)
        self.lambda_.on_function_created.append(self._function_created)
        self.control.add_route("GET", "/_emu/code", self.lambda_.download_code)
        self.control.add_route("GET", "/_emu/logs", logs_handler(self._function_log_lines))
        replayer = Replayer(self.functions, self.clock, self.lambda_.Invoke, lambda: self.sqs, lambda: self.kinesis)
        self.control.add_route("POST", "/_emu/replay", replay_handler(replayer))
        RunEndpoints(self.reset, self.load_template, self.functions, lambda: self.sqs.store,
                     self.clock).register(self.control)
        self.control.add_route("GET", "/_emu/layer-content", self.lambda_.download_layer)
        # the front door
        self.frontend = Frontend(self.lambda_, self.control, {"sqs": lambda: self.sqs, "kinesis": lambda: self.kinesis,
                                                              "logs": lambda: self.logs,
                                                              "dynamodb": lambda: self.dynamodb,
                                                              "dynamodbstreams": lambda: self.dynamodbstreams},
                                 {"sqs": lambda: self.sqs, "iam": lambda: self.iam, "sts": lambda: self.sts},
                                 function_urls=self.lambda_.serve_url)

    @cached_property
    def sqs(self) -> SqsService:
        from lambda_emu.emulator.services.sqs.api import SqsService

        return SqsService(self.clock, self.rng, region=self.region, account_id=self.account_id,
                          endpoint=lambda: self.endpoint, state=self.state)

    @cached_property
    def logs(self) -> LogsService:
        """CloudWatch Logs: built when a function first writes or a client first calls it."""
        from lambda_emu.emulator.services.logs.api import LogsService

        return LogsService(self.clock, region=self.region, account_id=self.account_id, state=self.state)

    @cached_property
    def iam(self) -> IamService:
        from lambda_emu.emulator.services.iam.api import IamService

        return IamService(account_id=self.account_id, now=self.clock.now, state=self.state)

    @cached_property
    def sts(self) -> StsService:
        from lambda_emu.emulator.services.sts.api import StsService

        def find_role(arn: str) -> tuple[str, int] | None:
            role = self.iam.store.role_by_arn(arn)
            return None if role is None else (role.role_id, role.max_session_duration)

        return StsService(account_id=self.account_id, now=self.clock.now, find_role=find_role, state=self.state)

    @property
    def docker_runner(self) -> DockerRunner:
        """The container runner: the runner of --runner docker, and of image functions under any runner
        (built on first use, so a run without containers never imports the docker SDK)."""
        if self._docker_runner is None:
            from lambda_emu.runtime_api.runners.docker.runner import DockerRunner

            self._docker_runner = DockerRunner(self.config.images, self.config.container_host)
        return self._docker_runner

    @cached_property
    def kinesis(self) -> KinesisService:
        from lambda_emu.emulator.services.kinesis.api import KinesisService

        return KinesisService(self.clock, region=self.region, account_id=self.account_id, state=self.state,
                              creation_delays=self.config.creation_delays)

    @cached_property
    def dynamodb(self) -> DynamoDBService:
        from lambda_emu.emulator.services.dynamodb.api import TABLE_CREATION_SECONDS, DynamoDBService

        return DynamoDBService(self.clock, region=self.region, account_id=self.account_id, state=self.state,
                               creation_delay=TABLE_CREATION_SECONDS if self.config.creation_delays else 0.0)

    @cached_property
    def dynamodbstreams(self) -> DynamoDBStreamsService:
        from lambda_emu.emulator.services.dynamodb.streams_api import DynamoDBStreamsService

        return DynamoDBStreamsService(self.dynamodb.streams, region=self.region)

    def _stream_exists(self, arn: str) -> bool:
        """Whether lambda-emu serves the stream (Kinesis, or a DynamoDB table's) a mapping names."""
        if arn.startswith("arn:aws:dynamodb:"):
            return self.dynamodb.streams.get(arn) is not None
        return self.kinesis.store.find_stream_by_arn(arn) is not None

    def _mapping_driver(self, mapping: EventSourceMapping) -> EventSourceDriver:
        """The driver of an enabled mapping: each poller gets its source's store and nothing else of it."""
        if mapping.kind == "sqs":
            from lambda_emu.event_sources.sqs.poller import SqsPoller

            return SqsPoller(mapping, self.sqs.store, self.functions, self.invoker, self.clock, self.faults,
                             region=self.region)
        from lambda_emu.event_sources.kinesis.poller import KinesisPoller

        if mapping.kind == "dynamodb":
            from lambda_emu.event_sources.dynamodb.records import DynamoDBRecordFormat

            # DynamoDB Streams through the same stream driver as Kinesis, with DynamoDB's records.
            streams = self.dynamodb.streams
            return KinesisPoller(mapping, streams, self.functions, self.invoker, self.destinations, self.clock,
                                 self.faults, region=self.region, on_checkpoint=self.event_source_mappings.saved,
                                 record_format=DynamoDBRecordFormat(streams, mapping.event_source_arn, self.region))
        return KinesisPoller(mapping, self.kinesis.store, self.functions, self.invoker, self.destinations,
                             self.clock, self.faults, region=self.region,
                             on_checkpoint=self.event_source_mappings.saved)

    async def _async_invoke(self, function: Function, payload: bytes, *, request_id: str, invoked_arn: str) -> None:
        # A method rather than the queue's own: destinations are built before the queue that uses them.
        await self.async_queue.enqueue(function, payload, request_id=request_id, invoked_arn=invoked_arn)

    # ---- the state directory (--state-dir) ----

    def _restore_state(self) -> None:
        """What the state directory holds, rebuilt before any request is served, in dependency order:
        layers, functions (with their layer versions), IAM's roles and policies and STS's issued keys,
        queues and their messages, streams and their records, the journal. Async events and event source
        mappings start work, so they come back in ``_resume``, once the rooms they drive are up."""
        if self.state is None or not self.restored:
            return
        from lambda_emu.restore import restore_state

        restore_state(self.state, self.layers, self.functions, self.journal, [
            (("iam-role", "iam-policy"), lambda: self.iam.store.restore()),
            (("sts-session",), lambda: self.sts.restore()),
            (("sqs-queue",), lambda: self.sqs.restore()),
            (("kinesis-stream",), lambda: self.kinesis.restore()),
            (("log-group",), lambda: self.logs.restore()),
            # A deleted table's stream is readable for 24 hours: it comes back without its table.
            (("ddb-table", "ddb-stream"), lambda: self.dynamodb.restore()),
            (("lambda-csc",), lambda: self.lambda_.restore_code_signing_configs()),
        ])

    def _resume(self) -> None:
        if self.state is None or not self.restored:
            return
        self.async_queue.restore()
        self.event_source_mappings.restore()
        log.info("state restored", state_dir=str(self.state_dir))

    # ---- function output ----

    def _function_log_lines(self, function_name: str, since: str | None,
                            limit: int | None) -> tuple[list[dict[str, str]], str]:
        """``GET /_emu/logs``: the function's lines as CloudWatch Logs holds them (its log group)."""
        function = self.functions.find(function_name)
        group = function.log_group if function is not None else f"/aws/lambda/{function_name}"
        return self.logs.store.read_lines(group, since, limit)

    def add_log_listener(self, listener: OutputListener) -> None:
        self._log_listeners.append(listener)

    def function_output(self, function_name: str, chunk: bytes) -> None:
        """Function output as it happens (the terminal view listens here)."""
        for listener in self._log_listeners:
            listener(function_name, chunk)

    # ---- the sandbox ----

    def announce(self, function_name: str, text: str) -> None:
        """A line about a function for the terminal (a fallback interpreter, an install, a reload):
        printed even with --quiet, which silences function output only."""
        if self.terminal is not None:
            self.terminal(f"[{function_name}] {text}")

    def _function_created(self, function: Function) -> None:
        """A new function (API or template): say so when its Python is not the one it asks for, and
        start building its runtime directory so the first invocation doesn't wait for pip. Off the
        request: finding interpreters runs processes."""
        if function.runtime.startswith("python") and self.runner is self.process_runner:
            self._background(self._prepare_python(function), "runtime directory build failed")

    async def _prepare_python(self, function: Function) -> None:
        import asyncio

        resolution = await asyncio.to_thread(self.interpreters.for_runtime, function.runtime)
        if resolution is None:
            return
        if not resolution.exact:
            self.announce(function.name, resolution.warning())
        if not self.runtime_dirs.ready(resolution.interpreter):
            await self.runtime_dirs.ensure(resolution.interpreter)

    def _function_loaded(self, function: Function) -> None:
        """A template function: its requirements.txt installed, its code folder watched."""
        self.requirements.attach(function)
        if self.config.reload:
            self.code_watcher.watch(function)

    def _requirements_installed(self, function: Function) -> None:
        """New requirements are in place: environments running on the old ones retire (after their
        current invocation); the next invocation starts cold with the new ones."""
        function.generation += 1
        self.environments.retire_function(function)

    def _background(self, work: Coroutine[Any, Any, Any], failure: str) -> None:
        import asyncio

        task = asyncio.ensure_future(work)
        self._tasks.add(task)

        def done(finished: asyncio.Future[Any]) -> None:
            self._tasks.discard(finished)
            if not finished.cancelled() and finished.exception() is not None:
                log.warning(failure, error=str(finished.exception()))

        task.add_done_callback(done)

    # ---- templates ----

    @property
    def stack(self) -> Stack:
        """What ``lambda-emu up --template`` loads a template into."""
        from lambda_emu.emulator.template.loader import Stack

        return Stack(self.region, self.account_id, lambda: self.endpoint, self.functions, self.lambda_,
                     {"lambda": lambda: self.lambda_, "sqs": lambda: self.sqs, "kinesis": lambda: self.kinesis,
                      "dynamodb": lambda: self.dynamodb},
                     build_image=lambda *build: self.docker_runner.build_image(*build),
                     refusal=self.process_runner.refusal if self.runner is self.process_runner else _any_runtime,
                     on_function_loaded=self._function_loaded)

    def load_template(self, path: str, parameters: dict[str, str]) -> list[str]:
        """A template into the running emulator (``POST /_emu/template``); ValueError names the problem."""
        from lambda_emu.emulator.template.loader import TemplateError, load_template

        try:
            return load_template(self.stack, path, parameters)
        except TemplateError as exc:
            raise ValueError(str(exc)) from exc

    async def reset(self, seed: int | None = None) -> None:
        """``POST /_emu/reset``: back to a freshly started run, except for the clock, which stays where it
        is. Every function (its environments, code and event invoke config), mapping, queue and stream,
        the journal, deliveries, captured logs and faults go; pending retries and timers are cancelled.
        The RNG is seeded again (with ``seed``, else the run's ``--seed``), so a test draws the same
        fault decisions whatever ran before it."""
        # First, nothing from before may act after: the clock's work generation moves on, its timers
        # are forgotten and its tracked work (pollers, retries, batches) is cancelled.
        self.clock.reset_work()
        await self.event_source_mappings.reset()
        self.async_queue.reset()
        await self.environments.shutdown_all()
        for function in list(self.functions):
            self.functions.remove(function)
        for name in ("sqs", "kinesis", "iam", "sts", "logs", "dynamodb"):
            service = self.__dict__.get(name)  # a store never used has nothing to reset (and isn't built now)
            if service is not None:
                service.reset()
        self.journal.clear()
        if self.state is not None:
            # What the rooms above dropped without a delete of their own goes from the state directory too.
            for kind in ("esm", "async-event", "attempt"):
                self.state.delete_all(kind)
        self.destinations.clear()
        self.layers.clear()
        self.lambda_.reset_code_signing_configs()
        self.faults.clear()
        self.rng.seed(self.config.seed if seed is None else seed)
        # Environments' /tmp directories: a new function of the same name starts with an empty /tmp.
        shutil.rmtree(self.state_dir / "tmp", ignore_errors=True)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        # Synchronously, before the first await: no request is served before the state is back.
        self._restore_state()
        killed = self.orphans.reap_stale()
        if killed:
            log.info("killed runtime processes a previous run left behind", count=killed)
        # Environments' /tmp data is scratch: if this run is killed, the next start removes it.
        self.orphans.scratch(self.state_dir if self._own_state_dir else self.state_dir / "tmp")
        import asyncio

        if self._docker_runner is not None:
            # --runner docker: one clear error now when no engine answers, and the containers a killed
            # run left are removed before any new one starts.
            await self._docker_runner.open()
        else:
            # Any other start removes them too, off the loop: a machine without Docker pays a stat, and
            # an engine that is slow to answer never delays start-up.
            self._background(asyncio.to_thread(_reap_dead_runs_containers), "removing dead runs' containers failed")
        await self.runtime_api.start()
        self._resume()

        # Probing interpreters starts processes: done off the loop, before the first function needs it.
        self._background(asyncio.to_thread(self.interpreters.discover), "interpreter discovery failed")

    async def stop(self) -> None:
        import asyncio

        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.code_watcher.stop()
        await self.event_source_mappings.stop()
        await self.async_queue.stop()
        await self.environments.shutdown_all()
        if self._docker_runner is not None:
            await self._docker_runner.close()
        await self.runtime_api.stop()
        await self.orphans.wait_sweeps()
        # Off the event loop: the last sweep reads every process's environment.
        await asyncio.to_thread(self.orphans.close)
        for name in ("kinesis", "sqs", "dynamodb", "logs"):
            service = self.__dict__.get(name)  # only what was built
            if service is None:
                continue
            try:
                await service.stop()
            except Exception:  # noqa: BLE001 - shutdown must reach every room
                log.exception("service stop failed", service=name)
        self.clock.close()
        from lambda_emu.runtime_api.runners.scratch import remove_tree

        # /tmp data never outlives the run (size-limited mounts are undone first).
        remove_tree(self.state_dir / "tmp")
        if self.recorder is not None:
            self.recorder.close()
        if self.state is not None:
            self.state.close()
        if self._own_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)


def _any_runtime(_runtime: str) -> str | None:
    return None


def _print_line(text: str) -> None:
    import contextlib
    import sys

    with contextlib.suppress(OSError, ValueError):
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def _reap_dead_runs_containers() -> None:
    """The containers of lambda-emu runs that were killed (without the docker SDK; see
    runners/docker/sweep.py)."""
    from lambda_emu.runtime_api.runners.docker.sweep import reap_dead_runs

    removed = reap_dead_runs()
    if removed:
        log.info("removed containers a previous run left behind", count=removed)
