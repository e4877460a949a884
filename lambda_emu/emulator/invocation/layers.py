"""Lambda layers: the layer-version store, a function's ``Layers`` and its ``/opt`` (the API is
services/lambda_/layers_api.py).

A layer version is a zip extracted once under the state directory. A function's ``/opt`` is its layers
extracted over each other in the order listed (a file in several layers comes from the last), built
once per list of layer versions. Deleting a layer version only unlists it: functions that use it keep
their copy, as on Lambda.

With ``--state-dir`` each layer is one record (kind ``layer``: its versions, deleted ones included, and
the last version number, which is never reused); the files are already under the state directory.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.invocation.deployment_package import MAX_ZIPPED_BYTES, extract_zip
from lambda_emu.emulator.invocation.functions import timestamp_text
from lambda_emu.emulator.platform.errors import AwsError, invalid_parameter, resource_not_found
from lambda_emu.emulator.platform.logging import get_logger

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.state import StateStore

log = get_logger("layers")

MAX_LAYERS = 5
LAYER_ARN_RE = re.compile(r"^arn:[a-zA-Z0-9-]+:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):layer:"
                          r"(?P<name>[a-zA-Z0-9-_]+)(?::(?P<version>[0-9]+))?$")
NOT_FOUND = "The resource you requested does not exist."


@dataclass
class LayerVersion:
    name: str
    version: int
    layer_arn: str
    directory: Path
    package: Path
    code_size: int
    sha256: str
    created: float
    description: str = ""
    compatible_runtimes: list[str] | None = None
    compatible_architectures: list[str] | None = None
    license_info: str | None = None
    #: The layer version's permission statements (AddLayerVersionPermission), as GetLayerVersionPolicy
    #: renders them, and the policy's RevisionId ("" while there is no policy).
    policy: list[dict[str, Any]] = field(default_factory=list)
    policy_revision: str = ""

    @property
    def arn(self) -> str:
        return f"{self.layer_arn}:{self.version}"

    def summary(self) -> dict[str, Any]:
        """The LayerVersionsListItem shape."""
        item: dict[str, Any] = {"LayerVersionArn": self.arn, "Version": self.version,
                                "Description": self.description, "CreatedDate": timestamp_text(self.created)}
        if self.compatible_runtimes is not None:
            item["CompatibleRuntimes"] = list(self.compatible_runtimes)
        if self.license_info is not None:
            item["LicenseInfo"] = self.license_info
        if self.compatible_architectures is not None:
            item["CompatibleArchitectures"] = list(self.compatible_architectures)
        return item

    def matches(self, runtime: str | None, architecture: str | None) -> bool:
        if runtime and runtime not in (self.compatible_runtimes or []):
            return False
        return not (architecture and architecture not in (self.compatible_architectures or []))


@dataclass
class Layer:
    name: str
    versions: dict[int, LayerVersion] = field(default_factory=dict)
    last_version: int = 0  # version numbers are never reused, even after a delete
    #: Deleted versions: unlisted, but a function that uses one keeps it (a restart must find it again).
    deleted: dict[int, LayerVersion] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The layer as the state directory keeps it."""
        return {"name": self.name, "last_version": self.last_version,
                "versions": [_version_record(v) for v in self.versions.values()],
                "deleted": [_version_record(v) for v in self.deleted.values()]}


def _version_record(version: LayerVersion) -> dict[str, Any]:
    record = asdict(version)
    record["directory"], record["package"] = str(version.directory), str(version.package)
    return record


def _version_from_record(record: dict[str, Any]) -> LayerVersion:
    known = {f.name for f in fields(LayerVersion)}
    values = {k: v for k, v in record.items() if k in known}
    values["directory"], values["package"] = Path(record["directory"]), Path(record["package"])
    return LayerVersion(**values)


class LayerStore:
    def __init__(self, region: str, account_id: str, root: Path, state: StateStore | None = None) -> None:
        self.region = region
        self.account_id = account_id
        self.root = root
        self._layers: dict[str, Layer] = {}
        #: --state-dir: each layer is written through as it changes; None without it.
        self._state = state

    # ---- the state directory ----

    def _saved(self, layer: Layer) -> None:
        if self._state is not None:
            self._state.put("layer", layer.name, layer.record)

    def restore(self) -> None:
        """The layers of the state directory (restored before functions, which name their versions)."""
        if self._state is None:
            return
        for name, record in self._state.load("layer"):
            layer = Layer(name, last_version=record["last_version"])
            for kept, listed in ((record["deleted"], layer.deleted), (record["versions"], layer.versions)):
                for version_record in kept:
                    version = _version_from_record(version_record)
                    if version.directory.is_dir():
                        listed[version.version] = version
                    else:
                        log.warning("layer version's files are gone from the state directory; not restored",
                                    layer=version.arn, directory=str(version.directory))
            self._layers[name] = layer

    def restored_layers(self, arns: list[str]) -> list[LayerVersion]:
        """A restored function's layers: its versions by ARN, deleted ones included (the function kept
        them, as on Lambda); one whose files are gone is left out, and said so."""
        result = []
        for arn in arns:
            found = LAYER_ARN_RE.match(arn)
            layer = self._layers.get(found["name"]) if found and found["version"] else None
            number = int(found["version"]) if found and found["version"] else 0
            version = (layer.versions.get(number) or layer.deleted.get(number)) if layer else None
            if version is None:
                log.warning("a restored function's layer version is not in the state directory; it runs without it",
                            layer=arn)
                continue
            result.append(version)
        return result

    def clear(self) -> None:
        """Forget every layer (POST /_emu/reset); version numbers start over, as in a fresh run, so their
        files go too (a version published after the reset is extracted where its namesake was). Every
        function, and so every /opt built from these layers, is gone by then."""
        self._layers.clear()
        if self._state is not None:
            self._state.delete_all("layer")
        shutil.rmtree(self.root / "layers", ignore_errors=True)
        shutil.rmtree(self.root / "opt", ignore_errors=True)

    def saved(self, version: LayerVersion) -> None:
        """Written through after a change to one of the layer's versions (its policy)."""
        layer = self._layers.get(version.name)
        if layer is not None:
            self._saved(layer)

    def layer_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:layer:{name}"

    def name_of(self, reference: str) -> str:
        """LayerName is a name or a layer ARN."""
        found = LAYER_ARN_RE.match(reference)
        return found["name"] if found else reference

    def publish(self, name: str, data: bytes, params: dict[str, Any], now: float) -> LayerVersion:
        if len(data) > MAX_ZIPPED_BYTES:
            raise AwsError("RequestEntityTooLargeException",
                           f"Zipped size must be smaller than {MAX_ZIPPED_BYTES} bytes", 413, fields={"Type": "User"})
        layer = self._layers.setdefault(name, Layer(name))
        version = layer.last_version + 1
        directory = self.root / "layers" / name / str(version)
        extract_zip(data, directory)
        layer.last_version = version
        package = directory.with_name(f"{version}.zip")
        package.write_bytes(data)
        layer_version = LayerVersion(
            name=name, version=version, layer_arn=self.layer_arn(name), directory=directory, package=package,
            code_size=len(data), sha256=base64.b64encode(hashlib.sha256(data).digest()).decode(), created=now,
            description=params.get("Description", ""),
            compatible_runtimes=params.get("CompatibleRuntimes"),
            compatible_architectures=params.get("CompatibleArchitectures"),
            license_info=params.get("LicenseInfo"),
        )
        layer.versions[version] = layer_version
        self._saved(layer)
        return layer_version

    def get(self, name: str, version: int | str) -> LayerVersion:
        version = int(version)
        if version < 1:
            raise invalid_parameter("Layer Version Cannot be less than 1")
        layer = self._layers.get(name)
        found = layer.versions.get(version) if layer else None
        if found is None:
            raise resource_not_found(NOT_FOUND)
        return found

    def delete(self, name: str, version: int | str) -> None:
        version = int(version)
        if version < 1:
            raise invalid_parameter("Layer Version Cannot be less than 1")
        layer = self._layers.get(name)
        removed = layer.versions.pop(version, None) if layer is not None else None
        if layer is not None and removed is not None:
            # Its files stay: functions using it keep their copy.
            layer.deleted[version] = removed
            self._saved(layer)

    def versions(self, name: str) -> list[LayerVersion]:
        layer = self._layers.get(name)
        return sorted(layer.versions.values(), key=lambda v: -v.version) if layer else []

    def layers(self) -> list[Layer]:
        return [self._layers[name] for name in sorted(self._layers)]

    def resolve(self, arns: list[str]) -> list[LayerVersion]:
        """A function's Layers, checked as Lambda checks them (CreateFunction / UpdateFunctionConfiguration)."""
        if len(arns) > MAX_LAYERS:
            raise invalid_parameter(f"Cannot reference more than {MAX_LAYERS} layers.")
        parsed = []
        for arn in arns:
            found = LAYER_ARN_RE.match(arn)
            if found is None or found["version"] is None:
                raise AwsError("ValidationException", f"1 validation error detected: Value '[{arn}]' at 'layers' "
                               "failed to satisfy constraint: Member must satisfy constraint: [Member must have "
                               "length less than or equal to 2048, Member must have length greater than or equal "
                               "to 1, Member must satisfy regular expression pattern: "
                               "(arn:[a-zA-Z0-9-]+:lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:"
                               "layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+), "
                               "Member must not be null]")
            if found["region"] != self.region:
                raise invalid_parameter("Layers are not in the same region as the function. "
                                        f"Layers are expected to be in region {self.region}.")
            parsed.append((arn, found))
        seen: dict[str, str] = {}
        for arn, found in parsed:
            key = f"{found['account']}:{found['name']}"
            if key in seen:
                raise invalid_parameter("Two different versions of the same layer are not allowed to be referenced "
                                        f"in the same function. {seen[key]} and {arn} are versions of the same layer.")
            seen[key] = arn
        result = []
        for arn, found in parsed:
            layer = self._layers.get(found["name"]) if found["account"] == self.account_id else None
            version = layer.versions.get(int(found["version"])) if layer else None
            if version is None:
                raise invalid_parameter(f"Layer version {arn} does not exist.")
            result.append(version)
        return result

    def opt_dir(self, layers: list[LayerVersion]) -> Path:
        """The layers extracted over each other in order, as Lambda fills /opt (built once per list)."""
        key = hashlib.sha256("\n".join(f"{v.arn}@{v.sha256}" for v in layers).encode()).hexdigest()[:16]
        target = self.root / "opt" / key
        if not target.is_dir():
            scratch = target.with_name(key + ".partial")
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir(parents=True)
            for layer in layers:
                shutil.copytree(layer.directory, scratch, dirs_exist_ok=True, symlinks=True)
            scratch.rename(target)
        return target
