"""A function's code: a .zip package (Code.ZipFile, unzipped in a thread) or a local container image,
and Code.Location, the package served back as uploaded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambda_emu.emulator.invocation.deployment_package import zip_directory
from lambda_emu.emulator.platform.errors import invalid_parameter
from lambda_emu.emulator.services.control.api import ControlError

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import Code, FunctionRegistry


class FunctionCode:
    """Mixed into LambdaService (which provides ``functions`` and ``resolve_image``)."""

    functions: FunctionRegistry
    #: An image function's local image to its id (LookupError: no such image; OSError: no engine).
    resolve_image: Callable[[str], str]

    async def download_code(self, request: web.Request) -> web.Response:
        """Code.Location: the deployment package as uploaded (AWS's is a presigned S3 URL)."""
        function = self.functions.version(request.query.get("functionName", ""),
                                          request.query.get("qualifier", "$LATEST"))
        if function is None:
            raise ControlError(404, "NotFound", "No such function")
        if function.code.package is not None:
            data = function.code.package.read_bytes()
        else:
            data = zip_directory(function.code.directory)
        return web.Response(body=data, content_type="application/zip")

    async def _code(self, name: str, code: dict[str, Any]) -> Code:
        if code.get("ZipFile") is not None:
            # In a thread: a 250 MB unzip must not stall every other request and timer.
            return await asyncio.to_thread(self.functions.code_from_zip, name, code["ZipFile"])
        if code.get("ImageUri"):
            raise invalid_parameter("Please don't provide ImageUri when the intended function PackageType is Zip")
        if code.get("S3Bucket") or code.get("S3Key"):
            raise invalid_parameter("lambda-emu has no S3: upload the package as Code.ZipFile")
        raise invalid_parameter("Please provide a source for function code.")

    def _image_code(self, name: str, code: dict[str, Any]) -> tuple[Code, str]:
        uri = code.get("ImageUri")
        if not uri:
            raise invalid_parameter("Please provide a source for function code.")
        return self.image_code(name, uri)

    def image_code(self, name: str, uri: str, image_id: str | None = None) -> tuple[Code, str]:
        """An image function's code: a local image (no registry), resolved to its id now, as Lambda
        resolves a tag to a digest; (its Code, ResolvedImageUri)."""
        if image_id is None:
            try:
                image_id = self.resolve_image(uri)
            except LookupError:
                raise invalid_parameter(f"Source image {uri} does not exist. Provide a valid source image.") from None
            except OSError as exc:  # no Docker engine: image functions can't run at all
                raise invalid_parameter(str(exc)) from None
        return self.functions.code_from_image(name, image_id), f"{repository_of(uri)}@{image_id}"


def repository_of(uri: str) -> str:
    """An image reference without its tag or digest (registry/repository)."""
    uri = uri.split("@", 1)[0]
    slash = uri.rfind("/")
    colon = uri.rfind(":")
    return uri[:colon] if colon > slash else uri

