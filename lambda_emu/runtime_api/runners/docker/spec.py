"""What a container is made of: its mounts (the code read-only at /var/task, the layers read-only at
/opt, /tmp a tmpfs of ``EphemeralStorage`` MB), its memory cgroup, its environment with the image's own
paths, and its command (the handler as CMD through the image's ``/lambda-entrypoint.sh``; an image
function's own ENTRYPOINT/CMD unless ImageConfig overrides them). Pure: no engine call."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lambda_emu.runtime_api.runners.base import EntrypointMissing, RuntimeSpec

#: The base images' own values (their Dockerfiles' ENV), which replace the host-side ones the
#: environment computes for a local process.
IMAGE_PATH = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
IMAGE_LD_LIBRARY_PATH = "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
TASK_ROOT = "/var/task"
RUNTIME_DIR = "/var/runtime"
OPT_DIR = "/opt"

#: Where the runtime's output goes inside the container: a FIFO lambda-emu reads on the host. Docker's
#: own output path (containerd, dockerd, the attach stream) lags behind the Runtime API, so output
#: written just before a reply could arrive after it; a pipe is as synchronous as the process runner's.
OUTPUT_PATH = "/var/lambda-emu-output"
OUTPUT_WRAPPER = f'exec >>{OUTPUT_PATH} 2>&1; exec "$@"'


@dataclass
class ContainerConfig:
    """The arguments of the container's create call."""

    entry_point: list[str]
    command: list[str]
    working_dir: str | None
    environment: dict[str, str]
    binds: dict[str, dict[str, str]]
    tmpfs: dict[str, str]
    memory: str
    host_network: bool


def container_config(spec: RuntimeSpec, image_command: tuple[list[str], list[str]], runtime_api_host: str,
                     output: Path | None) -> ContainerConfig:
    """The container of one environment. ``image_command`` is the image's own (ENTRYPOINT, CMD);
    ``output`` a host FIFO the runtime's stdout and stderr are redirected to (see OUTPUT_WRAPPER)."""
    if spec.image is None and spec.runtime.startswith("provided"):
        check_bootstrap(spec)
    binds: dict[str, dict[str, str]] = {}
    if spec.image is None:
        # A zip function's code, read-only as on Lambda; an image function's code is in its image.
        binds[str(spec.code_dir)] = {"bind": TASK_ROOT, "mode": "ro"}
    if spec.opt_dir is not None:
        # The layers, merged in order as Lambda extracts them, read-only as on Lambda.
        binds[str(spec.opt_dir)] = {"bind": OPT_DIR, "mode": "ro"}
    if output is not None:
        binds[str(output)] = {"bind": OUTPUT_PATH, "mode": "rw"}
    # The handler is the image's command (the base images' /lambda-entrypoint.sh takes it as its one
    # argument); an image function keeps its own CMD and ENTRYPOINT unless ImageConfig overrides them.
    entry_point, command = image_command
    working_dir = None
    if spec.image is None:
        command = [spec.handler]
    else:
        entry_point = spec.image.entry_point or entry_point
        command = spec.image.command or command
        working_dir = spec.image.working_directory
    if output is not None:
        entry_point = ["/bin/sh", "-c", OUTPUT_WRAPPER, "lambda-emu", *entry_point]
    return ContainerConfig(
        entry_point=entry_point,
        command=command,
        working_dir=working_dir,
        environment=container_environment(spec, runtime_api_host),
        binds=binds,
        # A write past EphemeralStorage fails with ENOSPC, as on Lambda.
        tmpfs={"/tmp": f"rw,size={spec.ephemeral_storage_mb}m,mode=1777"},
        memory=f"{spec.memory_mb}m",
        host_network=runtime_api_host == "127.0.0.1",
    )


def check_bootstrap(spec: RuntimeSpec) -> None:
    """A provided.* zip function needs an executable bootstrap in its code or a layer (Lambda looks in
    /var/task, then /opt); without one the invoke fails as on Lambda (Runtime.InvalidEntrypoint), in the
    container's paths, before any container starts."""
    found = [(Path(TASK_ROOT), spec.code_dir / "bootstrap")]
    if spec.opt_dir is not None:
        found.append((Path(OPT_DIR), spec.opt_dir / "bootstrap"))
    for inside, host in found:
        if host.is_file():
            if not os.access(host, os.X_OK):
                raise EntrypointMissing(f"fork/exec {inside / 'bootstrap'}: permission denied")
            return
    raise EntrypointMissing(f"Couldn't find valid bootstrap(s): [{TASK_ROOT}/bootstrap {OPT_DIR}/bootstrap]")


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
