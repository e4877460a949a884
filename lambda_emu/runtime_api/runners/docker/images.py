"""Images: which image runs a function (AWS's base image of its runtime unless ``--image`` names
another, or an image function's own), making sure it is here, its own ENTRYPOINT and CMD, and
``docker build`` for a template's image function."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lambda_emu.runtime_api.runners.base import RuntimeSpec
from lambda_emu.runtime_api.runners.docker.engine import DockerEngine

#: AWS's base image of each runtime (public.ecr.aws/lambda/...), used unless --image overrides it.
DEFAULT_IMAGES = {
    **{f"python3.{minor}": f"public.ecr.aws/lambda/python:3.{minor}" for minor in range(9, 15)},
    **{f"nodejs{major}.x": f"public.ecr.aws/lambda/nodejs:{major}" for major in (18, 20, 22)},
    "provided.al2023": "public.ecr.aws/lambda/provided:al2023",
    "provided.al2": "public.ecr.aws/lambda/provided:al2",
    "provided": "public.ecr.aws/lambda/provided:alami",
}


class ImageBuildFailed(Exception):
    """``docker build`` failed; the message is the engine's error."""


class ImageUnavailable(OSError):
    """The image is neither present nor pullable (reported to the invoker like a failed start)."""


class Images:
    """The images functions run in (synchronous: called in executor threads)."""

    def __init__(self, engine: DockerEngine, images: dict[str, str] | None = None) -> None:
        self.engine = engine
        self.by_runtime = {**DEFAULT_IMAGES, **(images or {})}
        self._present: set[str] = set()
        self._configs: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def image_for(self, spec: RuntimeSpec) -> str:
        if spec.image is not None:
            return spec.image.uri
        image = self.by_runtime.get(spec.runtime)
        if image is None:
            raise ImageUnavailable(f"no container image for runtime {spec.runtime}; pass --image {spec.runtime}=IMAGE")
        return image

    def resolve(self, image: str) -> str:
        """The local image's id (sha256:...); LookupError when there is no such image here."""
        import docker.errors

        try:
            found = self.engine.client.images.get(image)
        except docker.errors.ImageNotFound:
            raise LookupError(image) from None
        except docker.errors.APIError as exc:
            raise LookupError(f"{image}: {exc.explanation or exc}") from None
        with self._lock:
            self._present.add(image)
        return str(found.id)

    def build(self, context_dir: Path, dockerfile: str, tag: str, build_args: dict[str, str],
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
        return image_id or self.resolve(tag)

    def ensure(self, image: str) -> None:
        """The image is here (pulled when it is not), else ImageUnavailable."""
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
        with self._lock:
            self._present.add(image)

    def command(self, image: str) -> tuple[list[str], list[str]]:
        """The image's own ENTRYPOINT and CMD (inspected once per image)."""
        config = self._configs.get(image)
        if config is None:
            config = self.engine.client.api.inspect_image(image).get("Config") or {}
            self._configs[image] = config
        return list(config.get("Entrypoint") or []), list(config.get("Cmd") or [])
