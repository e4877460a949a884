"""Image functions in templates: SAM's ``Metadata`` (Dockerfile, DockerContext, DockerTag, DockerBuildArgs)
built at load as `sam build` builds it, the function Pending until built, Failed with the build's error."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_emu.emulator.invocation.functions import Function
from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.template.loader import LoadContext, Stack, as_text, log


@dataclass(frozen=True)
class ImageBuild:
    """What `sam build` builds for an image function (and lambda-emu at load)."""

    context_dir: Path
    dockerfile: str
    tag: str
    build_args: dict[str, str]


def image_build(context: LoadContext, logical_id: str, props: dict[str, Any],
                image_uri: str | None) -> tuple[ImageBuild | None, str]:
    """(the build to run, or None for a ready image; the function's image URI)."""
    metadata = context.resources[logical_id].get("Metadata") or {}
    if isinstance(metadata, dict) and "Dockerfile" in metadata:
        docker_context = (context.directory / as_text(context.resolve(metadata.get("DockerContext", ".")))).resolve()
        if not docker_context.is_dir():
            raise context.error(logical_id, f"Metadata.DockerContext: no directory {docker_context}")
        dockerfile = as_text(context.resolve(metadata["Dockerfile"]))
        if not (docker_context / dockerfile).is_file():
            raise context.error(logical_id, f"Metadata.Dockerfile: no file {docker_context / dockerfile}")
        args = context.resolve(metadata.get("DockerBuildArgs") or {})
        if not isinstance(args, dict):
            raise context.error(logical_id, "Metadata.DockerBuildArgs must be a mapping")
        # `sam build` tags the image <logical id, lower case>:<DockerTag>.
        tag = f"{logical_id.lower()}:{as_text(context.resolve(metadata.get('DockerTag', 'latest')))}"
        return ImageBuild(docker_context, dockerfile, tag, {str(k): as_text(v) for k, v in args.items()}), tag
    uri = image_uri
    code = context.value(logical_id, "Code", props["Code"]) if "Code" in props else None
    if uri is None and isinstance(code, dict):
        uri = code.get("ImageUri")
    if not uri:
        raise context.error(logical_id, "PackageType Image needs ImageUri (or Metadata with a Dockerfile to build)")
    return None, str(uri)


#: Image builds under way (a task must be referenced until it ends).
_BUILDS: set[asyncio.Task[None]] = set()


def start_build(stack: Stack, function: Function, build: ImageBuild) -> None:
    task = asyncio.get_running_loop().create_task(_build(stack, function, build))
    _BUILDS.add(task)
    task.add_done_callback(_BUILDS.discard)


async def _build(stack: Stack, function: Function, build: ImageBuild) -> None:
    """Build the image off the loop, showing its progress; then Active, or Failed with the build's error."""
    name = function.name

    def progress(line: str) -> None:
        log.info("building image", function=name, tag=build.tag, step=line)

    log.info("building image", function=name, tag=build.tag, dockerfile=str(build.context_dir / build.dockerfile))
    try:
        if stack.build_image is None:
            raise RuntimeError("no container runner to build images with")
        loop = asyncio.get_running_loop()
        image_id = await loop.run_in_executor(None, stack.build_image, build.context_dir, build.dockerfile,
                                              build.tag, build.build_args, progress)
        code, resolved = stack.lambda_.image_code(name, build.tag, image_id)
    except Exception as exc:  # noqa: BLE001 - every failure is the function's state, not a crash
        reason = (exc.message if isinstance(exc, AwsError) else str(exc)) or type(exc).__name__
        function.state, function.state_reason_code = "Failed", "InvalidImage"
        function.state_reason = f"Image build failed: {reason}"
        log.error("image build failed", function=name, tag=build.tag, error=reason)
        return
    old, function.code = function.code, code
    old.discard()
    function.resolved_image_uri = resolved
    function.state, function.state_reason, function.state_reason_code = "Active", None, None
    log.info("image built", function=name, tag=build.tag, image=resolved)
