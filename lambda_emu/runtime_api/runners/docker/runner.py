"""The container runner: each execution environment's runtime in its own container, as Lambda runs it.

A zip (or folder) function runs in its runtime's image with its code, layers, /tmp and memory as
``spec.py`` describes; an image function runs its own image with its ImageConfig. Either way the
image's ``/lambda-entrypoint.sh`` starts the runtime, which finds lambda-emu through
AWS_LAMBDA_RUNTIME_API on the host network (Linux), exactly as the process runner's runtimes do:
invocations never touch Docker, only starts and kills do.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lambda_emu.runtime_api.runners.base import OutputSink, RuntimeSpec
from lambda_emu.runtime_api.runners.docker import labels
from lambda_emu.runtime_api.runners.docker.engine import DockerEngine
from lambda_emu.runtime_api.runners.docker.images import Images, ImageUnavailable
from lambda_emu.runtime_api.runners.docker.process import ContainerProcess, OutputPipe
from lambda_emu.runtime_api.runners.docker.spec import container_config


class DockerRunner:
    """Starts each environment's runtime as a container (see the module docstring)."""

    def __init__(self, images: dict[str, str] | None = None, runtime_api_host: str = "127.0.0.1",
                 engine: DockerEngine | None = None) -> None:
        self.engine = engine or DockerEngine()
        self.images = Images(self.engine, images)
        self.runtime_api_host = runtime_api_host
        self.run_id = uuid.uuid4().hex
        self._owner = labels.owner_label()
        self._containers: set[str] = set()
        self._lock = threading.Lock()

    # ---- the engine (synchronous: called in executor threads) ----

    def connect(self) -> None:
        """Fail now, with the one clear message, when no engine answers."""
        self.engine.client  # noqa: B018 - connecting is the point

    def resolve_image(self, image: str) -> str:
        """The local image's id (sha256:...); LookupError when there is no such image here."""
        return self.images.resolve(image)

    def build_image(self, context_dir: Path, dockerfile: str, tag: str, build_args: dict[str, str],
                    progress: Callable[[str], None]) -> str:
        """``docker build`` of a template's image function (see Images.build)."""
        return self.images.build(context_dir, dockerfile, tag, build_args, progress)

    def launch(self, spec: RuntimeSpec, output: Path | None) -> tuple[str, Any]:
        """Create the container, attach to it, start it; (container id, attach socket)."""
        import docker.errors

        client = self.engine.client
        image = self.images.image_for(spec)
        self.images.ensure(image)
        config = container_config(spec, self.images.command(image), self.runtime_api_host, output)
        host_config = client.api.create_host_config(
            binds=config.binds,
            tmpfs=config.tmpfs,
            mem_limit=config.memory,
            memswap_limit=config.memory,  # no swap
            network_mode="host" if config.host_network else None,
            # docker-init as PID 1: the runtime gets ordinary signal semantics (PID 1 ignores a SIGKILL
            # it sends itself) and its death by signal N shows as exit status 128+N.
            init=True,
        )
        try:
            created = client.api.create_container(
                image,
                command=config.command,
                entrypoint=config.entry_point,
                working_dir=config.working_dir,
                environment=config.environment,
                labels=labels.labels_of(self.run_id, spec.function_name, self._owner),
                host_config=host_config,
                stdin_open=False,
                tty=False,
            )
        except docker.errors.APIError as exc:
            raise ImageUnavailable(f"cannot create a container of {image}: {exc.explanation or exc}") from exc
        container_id = created["Id"]
        with self._lock:
            self._containers.add(container_id)
        try:
            attach = client.api.attach_socket(container_id, params={"stdout": 1, "stderr": 1, "stream": 1})
            client.api.start(container_id)
        except docker.errors.APIError as exc:
            self.remove(container_id)
            raise ImageUnavailable(f"cannot start a container of {image}: {exc.explanation or exc}") from exc
        return container_id, attach

    def exit_state(self, container_id: str) -> tuple[int, bool]:
        import docker.errors

        try:
            result = self.engine.client.api.wait(container_id, timeout=30)
            code = int(result.get("StatusCode", -1))
        except (docker.errors.APIError, OSError, ValueError):
            code = 137
        oom_killed = False
        with contextlib.suppress(docker.errors.APIError, OSError, KeyError):
            oom_killed = bool(self.engine.client.api.inspect_container(container_id)["State"].get("OOMKilled"))
        self.remove(container_id)
        return code, oom_killed

    def kill(self, container_id: str) -> None:
        import docker.errors

        with contextlib.suppress(docker.errors.APIError, OSError):
            self.engine.client.api.kill(container_id)

    def remove(self, container_id: str) -> None:
        import docker.errors

        with contextlib.suppress(docker.errors.APIError, OSError):
            self.engine.client.api.remove_container(container_id, force=True)
        self.forget(container_id)

    def forget(self, container_id: str) -> None:
        with self._lock:
            self._containers.discard(container_id)

    def remove_run(self) -> int:
        """Every container of this run, gone (running or not)."""
        return labels.remove_where(self.engine.client, lambda found: found.get(labels.LABEL_RUN) == self.run_id,
                                   self.remove)

    def reap_stale(self) -> int:
        """Containers of lambda-emu runs whose process is gone (killed before it could clean up)."""
        return labels.remove_where(self.engine.client, lambda found: labels.of_dead_run(found, self.run_id),
                                   self.remove)

    # ---- the runner interface ----

    async def start(self, spec: RuntimeSpec, on_output: OutputSink) -> ContainerProcess:
        loop = asyncio.get_running_loop()
        fifo = None
        if self.runtime_api_host == "127.0.0.1":
            # Only where the engine shares this kernel (Linux): Docker Desktop's VM can't open a host FIFO.
            fifo = OutputPipe(spec.tmp_dir / f"output-{uuid.uuid4().hex[:12]}.fifo")
        try:
            container_id, attach = await loop.run_in_executor(None, self.launch, spec,
                                                              fifo.path if fifo is not None else None)
        except BaseException:
            if fifo is not None:
                fifo.close()
            raise
        return ContainerProcess(self, container_id, attach, fifo, on_output, spec.memory_mb * 1024 * 1024)

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.connect)
        await loop.run_in_executor(None, self.reap_stale)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(Exception):
            await loop.run_in_executor(None, self.remove_run)
