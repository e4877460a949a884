"""The container runner: each execution environment's runtime in its own container, as Lambda runs it.

A zip (or folder) function runs in its runtime's image (AWS's base image unless ``--image RUNTIME=IMAGE``
names another) with the code bind-mounted read-only at /var/task, its layers at /opt, /tmp a tmpfs of
``EphemeralStorage`` MB and a memory cgroup of ``MemorySize`` MB without swap; an image function runs
its own image with its ImageConfig. Either way the image's ``/lambda-entrypoint.sh`` starts the runtime,
which finds lambda-emu through AWS_LAMBDA_RUNTIME_API on the host network (Linux), exactly as the
process runner's runtimes do: invocations never touch Docker, only starts and kills do.

Every container carries the labels ``lambda-emu.run`` (this run) and ``lambda-emu.function``; ``close``
removes the run's containers and ``reap_stale`` those of runs that died without closing.

The docker SDK is imported here only, and this module only when ``--runner docker`` is chosen (or an
image function is invoked), so ``lambda-emu up`` with the process runner never pays for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from lambda_emu.runtime_api.log_frames import FrameDecoder
from lambda_emu.runtime_api.runners.base import OutputSink, RuntimeSpec

LABEL_RUN = "lambda-emu.run"
LABEL_FUNCTION = "lambda-emu.function"
#: The owning lambda-emu process ("pid:start time"), so a later run can tell a live owner from a dead one.
LABEL_OWNER = "lambda-emu.owner"

#: AWS's base image of each runtime (public.ecr.aws/lambda/...), used unless --image overrides it.
DEFAULT_IMAGES = {
    **{f"python3.{minor}": f"public.ecr.aws/lambda/python:3.{minor}" for minor in range(9, 15)},
    **{f"nodejs{major}.x": f"public.ecr.aws/lambda/nodejs:{major}" for major in (18, 20, 22)},
    "provided.al2023": "public.ecr.aws/lambda/provided:al2023",
    "provided.al2": "public.ecr.aws/lambda/provided:al2",
    "provided": "public.ecr.aws/lambda/provided:alami",
}

#: The base images' own values (their Dockerfiles' ENV), which replace the host-side ones the
#: environment computes for a local process.
IMAGE_PATH = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
IMAGE_LD_LIBRARY_PATH = "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
TASK_ROOT = "/var/task"
RUNTIME_DIR = "/var/runtime"

#: Where the kernel keeps a container's memory accounting: cgroup v1 (cgroupfs / systemd drivers) and v2.
CGROUP_CANDIDATES = (
    ("/sys/fs/cgroup/memory/docker/{id}", "memory.usage_in_bytes", "memory.max_usage_in_bytes"),
    ("/sys/fs/cgroup/memory/system.slice/docker-{id}.scope", "memory.usage_in_bytes", "memory.max_usage_in_bytes"),
    ("/sys/fs/cgroup/system.slice/docker-{id}.scope", "memory.current", "memory.peak"),
    ("/sys/fs/cgroup/docker/{id}", "memory.current", "memory.peak"),
)


#: Where the runtime's output goes inside the container: a FIFO lambda-emu reads on the host. Docker's
#: own output path (containerd, dockerd, the attach stream) lags behind the Runtime API, so output
#: written just before a reply could arrive after it; a pipe is as synchronous as the process runner's.
OUTPUT_PATH = "/var/lambda-emu-output"
OUTPUT_WRAPPER = f'exec >>{OUTPUT_PATH} 2>&1; exec "$@"'


class OutputPipe:
    """A FIFO on the host, bind-mounted into the container; lambda-emu holds both ends, so reading it
    never sees a premature end of file before the runtime opens it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path, 0o666)
        os.chmod(path, 0o666)  # whatever user the image runs as
        self.read_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self._write_fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)

    def close(self) -> None:
        for fd in (self.read_fd, self._write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            self.path.unlink()


class DockerUnavailable(OSError):
    """No Docker engine answers; the message is the one line the user sees (at start with --runner
    docker; when an image function's environment starts otherwise)."""


class ImageBuildFailed(Exception):
    """``docker build`` failed; the message is the engine's error."""


class ImageUnavailable(OSError):
    """The image is neither present nor pullable (reported to the invoker like a failed start)."""


def container_environment(spec: RuntimeSpec, runtime_api_host: str) -> dict[str, str]:
    """The environment's variables as the container sees them: the same variables, with the host paths
    of a local runtime (code directory, TMPDIR, the host's PATH) replaced by the image's own paths.

    A value the function set itself (PATH, PYTHONPATH and LD_LIBRARY_PATH are not reserved on Lambda)
    is kept; only values equal to what the environment derived from the host are replaced.
    """
    env = dict(spec.env)
    code_dir = str(spec.code_dir)
    host_derived = {
        "PATH": {os.environ.get("PATH", ""), "/usr/local/bin:/usr/bin:/bin"},
        "PYTHONPATH": {code_dir},
        "LD_LIBRARY_PATH": {""},
        "TMPDIR": {str(spec.tmp_dir)},
    }
    for key, values in host_derived.items():
        if env.get(key) in values:
            del env[key]
    env.setdefault("PATH", IMAGE_PATH)
    env.setdefault("LD_LIBRARY_PATH", IMAGE_LD_LIBRARY_PATH)
    env["LAMBDA_TASK_ROOT"] = TASK_ROOT
    env["LAMBDA_RUNTIME_DIR"] = RUNTIME_DIR
    port = env.get("AWS_LAMBDA_RUNTIME_API", "").rpartition(":")[2]
    env["AWS_LAMBDA_RUNTIME_API"] = f"{runtime_api_host}:{port}"
    endpoint = env.get("AWS_ENDPOINT_URL")
    if endpoint and runtime_api_host != "127.0.0.1":
        env["AWS_ENDPOINT_URL"] = endpoint.replace("://127.0.0.1:", f"://{runtime_api_host}:")
    # The runtime's framed log records go to stdout, the very stream its prints use (as the process
    # runner's single pipe), so records and plain output keep the order they were written in.
    env["_LAMBDA_TELEMETRY_LOG_FD"] = "1"
    return env


def _owner_label() -> str:
    me = psutil.Process()
    return f"{me.pid}:{me.create_time():.3f}"


def _owner_alive(label: str) -> bool:
    pid_text, _, started = label.partition(":")
    try:
        process = psutil.Process(int(pid_text))
        return abs(process.create_time() - float(started)) < 1.0
    except (psutil.Error, ValueError):
        return False


class DockerEngine:
    """The docker SDK client, connected once (lazily: importing the SDK costs ~100 ms)."""

    def __init__(self) -> None:
        self._client: Any | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = connect()
            return self._client


def connect() -> Any:
    """A client of a Docker engine that answers, else DockerUnavailable with the reason."""
    try:
        from docker.client import DockerClient
    except ImportError as exc:  # pragma: no cover - docker is a dependency
        raise DockerUnavailable(f"--runner docker needs a running Docker engine: {exc}") from exc
    try:
        client: Any = DockerClient.from_env(timeout=30)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the engine has one answer
        raise DockerUnavailable(f"--runner docker needs a running Docker engine: {_reason(exc)}") from exc
    return client


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if "FileNotFoundError" in text or "No such file or directory" in text:
        host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        return f"cannot connect to {host} (is the Docker daemon running?)"
    if "Connection refused" in text or "ConnectionRefused" in text:
        host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        return f"connection refused at {host} (is the Docker daemon running?)"
    return text


class ContainerProcess:
    """One running container, seen through the runner interface (RuntimeProcess)."""

    def __init__(self, runner: DockerRunner, container_id: str, attach: Any, output: OutputPipe | None,
                 on_output: OutputSink) -> None:
        self._runner = runner
        self.container_id = container_id
        self.pid: int | None = None
        self._attach = attach  # keeps the HTTP response (and so the socket) alive
        self._sock: socket.socket = getattr(attach, "_sock", attach)
        self._sock.setblocking(False)
        self._output = output
        self._on_output = on_output
        self._loop = asyncio.get_running_loop()
        self._buffer = b""
        self._frames = FrameDecoder()
        self._eof: asyncio.Future[None] = self._loop.create_future()
        self._closed = False
        self._killed = False
        self._status: int | None = None
        self._cgroup: tuple[Path, str, str] | None = None
        self._loop.add_reader(self._sock.fileno(), self._read_attach)
        if output is not None:
            self._loop.add_reader(output.read_fd, self.drain)

    # ---- output ----

    def drain(self) -> None:
        """Read everything the runtime has written so far (the loop calls it; so does the environment
        before it writes END/REPORT)."""
        if self._output is None or self._closed:
            return
        while True:
            try:
                chunk = os.read(self._output.read_fd, 65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if not chunk:
                return
            text = self._frames.feed(chunk)
            if text:
                self._on_output(text)

    def _read_attach(self) -> None:
        """Docker's attach stream (8-byte headers: stream, 0, 0, 0, size): what the container wrote before
        the output redirection (or all of it without a FIFO); its end is the container's end."""
        while True:
            try:
                chunk = self._sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                chunk = b""
            if not chunk:
                self._close()
                return
            self._buffer += chunk
        self._emit()

    def _emit(self) -> None:
        buffer = self._buffer
        offset = 0
        while len(buffer) - offset >= 8:
            _, size = struct.unpack_from(">BxxxL", buffer, offset)
            if len(buffer) - offset - 8 < size:
                break
            data = buffer[offset + 8:offset + 8 + size]
            offset += 8 + size
            text = self._frames.feed(data) if self._output is None else data
            if text:
                self._on_output(text)
        self._buffer = buffer[offset:]

    def _close(self) -> None:
        if self._closed:
            return
        self._emit()
        self.drain()
        self._closed = True
        self._loop.remove_reader(self._sock.fileno())
        if self._output is not None:
            self._loop.remove_reader(self._output.read_fd)
            self._output.close()
        rest = self._frames.flush()
        if rest:
            self._on_output(rest)
        with contextlib.suppress(OSError):
            self._attach.close()
        with contextlib.suppress(OSError):
            self._sock.close()
        if not self._eof.done():
            self._eof.set_result(None)

    # ---- lifecycle ----

    async def wait(self) -> int:
        """The container's end: its stream closes when its processes are gone; the engine then knows the
        exit code. A container lambda-emu killed ended by SIGKILL, whatever docker-init reports."""
        await self._eof
        if self._status is None:
            code = await self._loop.run_in_executor(None, self._runner.exit_code, self.container_id)
            self._status = -9 if self._killed else _status_of(code)
            self._runner.forget(self.container_id)
        return self._status

    def kill(self) -> None:
        if self._killed or self._eof.done():
            return
        self._killed = True
        self._loop.run_in_executor(None, self._runner.kill, self.container_id)

    # ---- memory: the container's own cgroup (the kernel enforces MemorySize; these are for REPORT) ----

    def _cgroup_files(self) -> tuple[Path, str, str] | None:
        if self._cgroup is None:
            for template, current, peak in CGROUP_CANDIDATES:
                directory = Path(template.format(id=self.container_id))
                if (directory / current).exists():
                    self._cgroup = (directory, current, peak)
                    break
        return self._cgroup

    def _read(self, which: int) -> int:
        files = self._cgroup_files()
        if files is None:
            return 0
        try:
            return int((files[0] / files[which]).read_text())
        except (OSError, ValueError):
            return 0

    def memory_bytes(self) -> int:
        return self._read(1)

    def peak_memory_bytes(self) -> int:
        return self._read(2) or self._read(1)


def _status_of(code: int) -> int:
    """docker-init (PID 1) exits 128+N when the runtime died of signal N: report it as the signal."""
    if 128 < code <= 128 + 64:
        return -(code - 128)
    return code


class DockerRunner:
    """Starts each environment's runtime as a container (see the module docstring)."""

    def __init__(self, images: dict[str, str] | None = None, runtime_api_host: str = "127.0.0.1",
                 engine: DockerEngine | None = None) -> None:
        self.images = {**DEFAULT_IMAGES, **(images or {})}
        self.runtime_api_host = runtime_api_host
        self.engine = engine or DockerEngine()
        self.run_id = uuid.uuid4().hex
        self._owner = _owner_label()
        self._present: set[str] = set()
        self._image_configs: dict[str, dict[str, Any]] = {}
        self._containers: set[str] = set()
        self._lock = threading.Lock()

    # ---- the engine (synchronous: called in executor threads) ----

    def connect(self) -> None:
        """Fail now, with the one clear message, when no engine answers."""
        self.engine.client  # noqa: B018 - connecting is the point

    def image_for(self, spec: RuntimeSpec) -> str:
        if spec.image is not None:
            return spec.image.uri
        runtime = spec.runtime
        image = self.images.get(runtime)
        if image is None:
            raise ImageUnavailable(f"no container image for runtime {runtime}; pass --image {runtime}=IMAGE")
        return image

    def resolve_image(self, image: str) -> str:
        """The local image's id (sha256:...); LookupError when there is no such image here."""
        import docker.errors

        try:
            found = self.engine.client.images.get(image)
        except docker.errors.ImageNotFound:
            raise LookupError(image) from None
        except docker.errors.APIError as exc:
            raise LookupError(f"{image}: {exc.explanation or exc}") from None
        self._present.add(image)
        return str(found.id)

    def build_image(self, context_dir: Path, dockerfile: str, tag: str, build_args: dict[str, str],
                    progress: Callable[[str], None]) -> str:
        """``docker build`` as `sam build` does for an image function's Metadata; the image's id.

        ``progress`` gets each line of the build's output; a failed build raises ImageBuildFailed with
        the engine's error.
        """
        import docker.errors

        api = self.engine.client.api
        image_id = ""
        try:
            for chunk in api.build(path=str(context_dir), dockerfile=dockerfile, tag=tag, buildargs=build_args,
                                   network_mode="host", rm=True, forcerm=True, decode=True):
                if "error" in chunk:
                    raise ImageBuildFailed(str(chunk.get("error") or "").strip())
                line = str(chunk.get("stream") or "").rstrip("\n")
                if line.strip():
                    progress(line)
                aux = chunk.get("aux") or {}
                if isinstance(aux, dict) and aux.get("ID"):
                    image_id = str(aux["ID"])
        except docker.errors.APIError as exc:
            raise ImageBuildFailed(str(exc.explanation or exc)) from exc
        except (docker.errors.DockerException, OSError) as exc:
            raise ImageBuildFailed(str(exc)) from exc
        return image_id or self.resolve_image(tag)

    def ensure_image(self, image: str) -> None:
        if image in self._present:
            return
        import docker.errors

        client = self.engine.client
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            try:
                client.images.pull(image)
            except docker.errors.APIError as exc:
                raise ImageUnavailable(
                    f"image {image} is not present and could not be pulled: {exc.explanation or exc}") from exc
        self._present.add(image)

    def image_command(self, image: str) -> tuple[list[str], list[str]]:
        """The image's own ENTRYPOINT and CMD (inspected once per image)."""
        config = self._image_configs.get(image)
        if config is None:
            config = self.engine.client.api.inspect_image(image).get("Config") or {}
            self._image_configs[image] = config
        return list(config.get("Entrypoint") or []), list(config.get("Cmd") or [])

    def launch(self, spec: RuntimeSpec, output: Path | None) -> tuple[str, Any]:
        """Create the container, attach to it, start it; (container id, attach socket).

        ``output``: a FIFO the runtime's stdout and stderr are redirected to (see OUTPUT_WRAPPER).
        """
        import docker.errors

        client = self.engine.client
        image = self.image_for(spec)
        self.ensure_image(image)
        binds: dict[str, dict[str, str]] = {}
        if spec.image is None:
            # A zip function's code, read-only as on Lambda; an image function's code is in its image.
            binds[str(spec.code_dir)] = {"bind": TASK_ROOT, "mode": "ro"}
        if spec.opt_dir is not None:
            binds[str(spec.opt_dir)] = {"bind": "/opt", "mode": "ro"}
        if output is not None:
            binds[str(output)] = {"bind": OUTPUT_PATH, "mode": "rw"}
        host_config = client.api.create_host_config(
            binds=binds,
            # A write past EphemeralStorage fails with ENOSPC, as on Lambda.
            tmpfs={"/tmp": f"rw,size={spec.ephemeral_storage_mb}m,mode=1777"},
            mem_limit=f"{spec.memory_mb}m",
            memswap_limit=f"{spec.memory_mb}m",
            network_mode="host" if self.runtime_api_host == "127.0.0.1" else None,
            # docker-init as PID 1: the runtime gets ordinary signal semantics (PID 1 ignores a SIGKILL
            # it sends itself) and its death by signal N shows as exit status 128+N.
            init=True,
        )
        # The handler is the image's command (the base images' /lambda-entrypoint.sh takes it as its one
        # argument); an image function keeps its own CMD and ENTRYPOINT unless ImageConfig overrides them.
        entry_point, command = self.image_command(image)
        working_dir = None
        if spec.image is None:
            command = [spec.handler]
        else:
            entry_point = spec.image.entry_point or entry_point
            command = spec.image.command or command
            working_dir = spec.image.working_directory
        if output is not None:
            entry_point = ["/bin/sh", "-c", OUTPUT_WRAPPER, "lambda-emu", *entry_point]
        labels = {LABEL_RUN: self.run_id, LABEL_FUNCTION: spec.function_name, LABEL_OWNER: self._owner}
        try:
            created = client.api.create_container(
                image,
                command=command,
                entrypoint=entry_point,
                working_dir=working_dir,
                environment=container_environment(spec, self.runtime_api_host),
                labels=labels,
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

    def exit_code(self, container_id: str) -> int:
        import docker.errors

        try:
            result = self.engine.client.api.wait(container_id, timeout=30)
            code = int(result.get("StatusCode", -1))
        except (docker.errors.APIError, OSError, ValueError):
            code = 137
        self.remove(container_id)
        return code

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
        return self._remove_where(lambda labels: labels.get(LABEL_RUN) == self.run_id)

    def reap_stale(self) -> int:
        """Containers of lambda-emu runs whose process is gone (killed before it could clean up)."""
        return self._remove_where(lambda labels: labels.get(LABEL_RUN) != self.run_id
                                  and not _owner_alive(labels.get(LABEL_OWNER, "")))

    def _remove_where(self, wanted: Any) -> int:
        client = self.engine.client
        found = client.api.containers(all=True, filters={"label": LABEL_RUN})
        removed = 0
        for item in found:
            if wanted(item.get("Labels") or {}):
                self.remove(item["Id"])
                removed += 1
        return removed

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
        return ContainerProcess(self, container_id, attach, fifo, on_output)

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.connect)
        await loop.run_in_executor(None, self.reap_stale)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(Exception):
            await loop.run_in_executor(None, self.remove_run)
