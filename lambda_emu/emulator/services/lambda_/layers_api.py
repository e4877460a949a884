"""Lambda's layer API: PublishLayerVersion, GetLayerVersion(ByArn), ListLayers, ListLayerVersions,
DeleteLayerVersion (rest-json operations on the layer store, plain dicts in and out)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from lambda_emu.emulator.invocation.layers import LAYER_ARN_RE, NOT_FOUND, LayerStore, LayerVersion
from lambda_emu.emulator.platform.errors import AwsError, invalid_parameter, resource_not_found
from lambda_emu.emulator.services import pagination

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.clock import Clock


class LayersApi:
    """PublishLayerVersion, GetLayerVersion(ByArn), ListLayers, ListLayerVersions, DeleteLayerVersion."""

    layers: LayerStore
    clock: Clock
    region: str
    account_id: str

    def _endpoint(self) -> str:
        raise NotImplementedError

    def _layer_output(self, version: LayerVersion) -> dict[str, Any]:
        output = {
            "Content": {"Location": f"{self._endpoint()}/_emu/layer-content?arn={quote(version.arn)}",
                        "CodeSha256": version.sha256, "CodeSize": version.code_size},
            "LayerArn": version.layer_arn,
        }
        output.update(version.summary())
        return output

    async def download_layer(self, request: web.Request) -> web.Response:
        """Content.Location: the layer version's zip as published (AWS's is a presigned S3 URL)."""
        from lambda_emu.emulator.services.control.api import ControlError

        found = LAYER_ARN_RE.match(request.query.get("arn", ""))
        try:
            version = self.layers.get(found["name"], int(found["version"] or 0)) if found else None
        except AwsError:
            version = None
        if version is None:
            raise ControlError(404, "NotFound", "No such layer version")
        return web.Response(body=version.package.read_bytes(), content_type="application/zip")

    def PublishLayerVersion(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self.layers.name_of(params["LayerName"])
        content = params["Content"]
        if content.get("ZipFile") is None:
            raise invalid_parameter("lambda-emu has no S3: upload the layer as Content.ZipFile")
        version = self.layers.publish(name, content["ZipFile"], params, self.clock.now())
        return self._layer_output(version)

    def GetLayerVersion(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self.layers.name_of(params["LayerName"])
        return self._layer_output(self.layers.get(name, params["VersionNumber"]))

    def GetLayerVersionByArn(self, params: dict[str, Any]) -> dict[str, Any]:
        found = LAYER_ARN_RE.match(params["Arn"])
        if found is None or found["version"] is None:
            raise resource_not_found(NOT_FOUND)
        if found["region"] != self.region or found["account"] != self.account_id:
            raise resource_not_found(NOT_FOUND)
        return self._layer_output(self.layers.get(found["name"], int(found["version"])))

    def ListLayers(self, params: dict[str, Any]) -> dict[str, Any]:
        runtime, architecture = params.get("CompatibleRuntime"), params.get("CompatibleArchitecture")
        items = []
        for layer in self.layers.layers():
            latest = next((v for v in self.layers.versions(layer.name) if v.matches(runtime, architecture)), None)
            if latest is not None:
                items.append({"LayerName": layer.name, "LayerArn": latest.layer_arn,
                              "LatestMatchingVersion": latest.summary()})
        return pagination.listing("Layers", items, params, 50)

    def ListLayerVersions(self, params: dict[str, Any]) -> dict[str, Any]:
        runtime, architecture = params.get("CompatibleRuntime"), params.get("CompatibleArchitecture")
        name = self.layers.name_of(params["LayerName"])
        versions = [v.summary() for v in self.layers.versions(name) if v.matches(runtime, architecture)]
        return pagination.listing("LayerVersions", versions, params, 50)

    def DeleteLayerVersion(self, params: dict[str, Any]) -> dict[str, Any]:
        self.layers.delete(self.layers.name_of(params["LayerName"]), params["VersionNumber"])
        return {}
