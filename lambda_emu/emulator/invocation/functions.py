"""Functions: their configuration, their code on disk, and how names and ARNs resolve to them."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lambda_emu.emulator.invocation.deployment_package import MAX_ZIPPED_BYTES, extract_zip
from lambda_emu.emulator.invocation.versions import LATEST, VersionsMixin
from lambda_emu.emulator.platform.errors import (
    access_denied,
    invalid_parameter,
    lambda_error,
    resource_conflict,
    resource_not_found,
)

if TYPE_CHECKING:
    import random

    from lambda_emu.emulator.platform.state import StateStore

PYTHON_RUNTIMES = ("python3.9", "python3.10", "python3.11", "python3.12", "python3.13", "python3.14")
OS_ONLY_RUNTIMES = ("provided", "provided.al2", "provided.al2023")
#: Runtimes Lambda still creates functions with that only a container runs locally (--runner docker).
CONTAINER_ONLY_RUNTIMES = ("nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x", "java8.al2", "java11", "java17",
                           "java21", "java25", "dotnet8", "dotnet10", "ruby3.2", "ruby3.3", "ruby3.4")
SUPPORTED_RUNTIMES = PYTHON_RUNTIMES + OS_ONLY_RUNTIMES + CONTAINER_ONLY_RUNTIMES
#: Runtimes of Lambda's model that AWS no longer creates or updates functions with (its deprecated-runtimes
#: table; recorded for java8, go1.x, provided, ruby2.7, nodejs14.x, python3.7, dotnetcore3.1, nodejs12.x).
DEPRECATED_RUNTIMES = frozenset({
    "nodejs", "nodejs4.3", "nodejs4.3-edge", "nodejs6.10", "nodejs8.10", "nodejs10.x", "nodejs12.x", "nodejs14.x",
    "nodejs16.x", "java8", "python2.7", "python3.6", "python3.7", "python3.8", "dotnetcore1.0", "dotnetcore2.0",
    "dotnetcore2.1", "dotnetcore3.1", "dotnet6", "go1.x", "ruby2.5", "ruby2.7", "provided",
})

MAX_ENV_BYTES = 4096

RESERVED_ENV_KEYS = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})

MAX_NAME_LENGTH = 64
NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
ARN_RE = re.compile(
    r"^(?:arn:(?P<partition>aws[a-zA-Z-]*):lambda:(?P<region>[a-z0-9-]+):)?"
    r"(?:(?P<account>\d{12}):)?(?:function:)?(?P<name>[a-zA-Z0-9_-]+)(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?$"
)


def runtime_version_arn(function_arn: str, runtime: str) -> str:
    """A stable stand-in for AWS's runtime version ARN (its region, no account, a 64-hex id)."""
    region = function_arn.split(":")[3]
    return f"arn:aws:lambda:{region}::runtime:{hashlib.sha256(runtime.encode()).hexdigest()}"


def timestamp_text(epoch: float) -> str:
    """Lambda's LastModified format: 2024-05-01T12:34:56.789+0000."""
    dt = datetime.fromtimestamp(epoch, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


@dataclass
class Code:
    directory: Path
    size: int
    sha256: str  # base64, as AWS reports CodeSha256
    owned: bool  # extracted by us (deleted with the function) vs a template's directory used in place
    #: The deployment package as uploaded (GetFunction's Code.Location serves it); None for a directory.
    package: Path | None = None

    def discard(self) -> None:
        """Delete what lambda-emu made for this code (never a template's own directory)."""
        if self.owned:
            shutil.rmtree(self.directory, ignore_errors=True)
        if self.package is not None:
            self.package.unlink(missing_ok=True)


DependencyStatus = Literal["none", "installing", "ready", "failed"]


@dataclass
class Dependencies:
    """A template function's requirements.txt, installed into lambda-emu's cache (never the code folder)."""

    status: DependencyStatus = "none"
    requirements: Path | None = None
    #: The folder the requirements are installed in (on the path right after the code).
    path: Path | None = None
    error: str | None = None
    #: Installing for the first time (State Pending) rather than again after an edit (an update).
    creating: bool = True

    @property
    def invocable(self) -> bool:
        """False while a first install runs or after it failed (Lambda: Pending / Failed)."""
        return not (self.creating and self.status in ("installing", "failed"))

    @property
    def state(self) -> str:
        return {"installing": "Pending", "failed": "Failed"}.get(self.status, "Active") if self.creating else "Active"

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "requirements": str(self.requirements) if self.requirements else None,
                "path": str(self.path) if self.path else None, "error": self.error}


@dataclass
class Function:
    name: str
    arn: str
    runtime: str
    handler: str
    role: str
    code: Code
    timeout: int = 3
    memory_size: int = 128
    description: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    #: Environment was given (even with no variables): AWS then echoes {"Variables": {}}.
    environment_set: bool = False
    reserved_concurrency: int | None = None
    dead_letter_target: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    architectures: list[str] = field(default_factory=lambda: ["x86_64"])
    ephemeral_storage: int = 512
    #: TracingConfig.Mode as set ("Active" or "PassThrough"); kept and echoed as AWS does.
    tracing_mode: str = "PassThrough"
    last_modified: float = 0.0
    revision_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    #: Bumped on every code or configuration change: environments of an older generation retire.
    generation: int = 0
    #: Async settings (PutFunctionEventInvokeConfig), kept as AWS returns them; None when absent.
    event_invoke_config: dict[str, Any] | None = None
    #: "Image": the code is a container image (Code.ImageUri), run by the container runner.
    package_type: Literal["Zip", "Image"] = "Zip"
    image_uri: str | None = None
    #: The image as resolved at create/update: "<repository>@sha256:<digest>" (GetFunction's ResolvedImageUri).
    resolved_image_uri: str | None = None
    #: ImageConfig as given (EntryPoint, Command, WorkingDirectory); None when not set.
    image_config: dict[str, Any] | None = None
    #: Lambda's function state: a template's image function is Pending while its image builds, Failed
    #: (with the reason) when the build fails.
    state: Literal["Pending", "Active", "Failed"] = "Active"
    state_reason: str | None = None
    state_reason_code: str | None = None
    dependencies: Dependencies = field(default_factory=Dependencies)
    #: Layer versions in Lambda's order (layers.LayerVersion), extracted over each other into /opt.
    layers: list[Any] = field(default_factory=list)
    #: The resource-based policy's statements (AddPermission), as GetPolicy renders them.
    policy: list[dict[str, Any]] = field(default_factory=list)
    #: PutFunctionRecursionConfig's RecursiveLoop (Lambda's default: Terminate).
    recursive_loop: str = "Terminate"
    #: "$LATEST", or a published version's number (versions.py: a version is a Function of its own).
    version: str = LATEST
    #: $LATEST: the highest version number ever published (AWS never reuses one, even after a delete).
    last_version: int = 0
    #: A version: $LATEST's RevisionId when it was published (unchanged since: PublishVersion adds none).
    source_revision: str = ""
    #: A template function's SAM AutoPublishAlias: a code change publishes a version and moves this alias.
    auto_publish_alias: str | None = None

    @property
    def qualified_arn(self) -> str:
        """The ARN of this version ($LATEST: the unqualified ARN, as AWS reports it)."""
        return self.arn if self.version == LATEST else f"{self.arn}:{self.version}"

    @property
    def key(self) -> str:
        """One name per version: environments are pooled by it."""
        return self.name if self.version == LATEST else f"{self.name}:{self.version}"
    #: LoggingConfig as given (LogFormat, ApplicationLogLevel, SystemLogLevel, LogGroup); AWS's defaults
    #: are filled in where it is shown.
    logging_config: dict[str, str] = field(default_factory=dict)
    #: An update is in progress (--creation-delays): LastUpdateStatus InProgress until it is done.
    update_in_progress: bool = False
    #: The code signing configuration associated (stored, not enforced).
    code_signing_config_arn: str | None = None
    #: Configuration kept and echoed as FunctionConfiguration shows it (SnapStart, VpcConfig, KMSKeyArn...).
    kept_config: dict[str, Any] = field(default_factory=dict)
    #: Function URL configurations by qualifier ("" for the unqualified function), as the API keeps them.
    url_configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Provisioned concurrency configurations by qualifier (a version number or an alias name):
    #: {"Requested", "LastModified", "ReadyAt"} (services/lambda_/provisioned_concurrency_api.py).
    provisioned_concurrency: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def log_group(self) -> str:
        """The CloudWatch Logs group the function writes to (LoggingConfig.LogGroup, else Lambda's default)."""
        return self.logging_config.get("LogGroup") or f"/aws/lambda/{self.name}"

    def touch(self, now: float) -> None:
        self.last_modified = now
        self.revision_id = str(uuid.uuid4())
        self.generation += 1

    def configuration(self, change: Literal["created", "updated"] | None = None) -> dict[str, Any]:
        """The FunctionConfiguration shape, as GetFunctionConfiguration returns it.

        ``change`` gives the shape of CreateFunction's / Update*'s own response: there Lambda still
        reports the change as under way (State Pending / LastUpdateStatus InProgress), although the
        function is ready by the next read, so waiters pass at once.
        """
        config: dict[str, Any] = {
            "FunctionName": self.name,
            "FunctionArn": self.qualified_arn,
            "Runtime": self.runtime,
            "Role": self.role,
            "Handler": self.handler,
            "CodeSize": self.code.size,
            "Description": self.description,
            "Timeout": self.timeout,
            "MemorySize": self.memory_size,
            "LastModified": timestamp_text(self.last_modified),
            "CodeSha256": self.code.sha256,
            "Version": self.version,
            "TracingConfig": {"Mode": self.tracing_mode},
            "RevisionId": self.revision_id,
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": list(self.architectures),
            "EphemeralStorage": {"Size": self.ephemeral_storage},
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
            "RuntimeVersionConfig": {"RuntimeVersionArn": runtime_version_arn(self.arn, self.runtime)},
            "LoggingConfig": {"LogFormat": self.logging_config.get("LogFormat") or "Text",
                              **{k: self.logging_config[k] for k in ("ApplicationLogLevel", "SystemLogLevel")
                                 if self.logging_config.get(k)},
                              "LogGroup": self.log_group},
        }
        dependencies = self.dependencies
        if change == "created":
            # AWS's CreateFunction response has no LastUpdateStatus at all (recorded, test_function_lifecycle).
            del config["LastUpdateStatus"]
            config.update(State="Pending", StateReason="The function is being created.", StateReasonCode="Creating")
        elif (change == "updated" or self.update_in_progress
              or (dependencies.status == "installing" and not dependencies.creating)):
            # Lambda's wording for any update in progress, code or configuration alike.
            config.update(LastUpdateStatus="InProgress", LastUpdateStatusReason="The function is being created.",
                          LastUpdateStatusReasonCode="Creating")
        elif dependencies.status == "installing":
            # Requirements being installed: the function is being created, as Lambda reports it.
            config.update(State="Pending", StateReason="The function is being created.", StateReasonCode="Creating",
                          LastUpdateStatus="InProgress", LastUpdateStatusReason="The function is being created.",
                          LastUpdateStatusReasonCode="Creating")
        elif dependencies.status == "failed":
            # No AWS code names a build failure; InvalidConfiguration is the model's nearest (aws-behaviour.md).
            reason = f"requirements.txt could not be installed: {dependencies.error}"
            config.update(LastUpdateStatus="Failed", LastUpdateStatusReason=reason,
                          LastUpdateStatusReasonCode="InvalidConfiguration")
            if dependencies.creating:
                config.update(State="Failed", StateReason=reason, StateReasonCode="InvalidConfiguration")
        if self.layers:
            config["Layers"] = [{"Arn": layer.arn, "CodeSize": layer.code_size} for layer in self.layers]
        if self.package_type == "Image":
            # Image functions have no runtime or handler of their own (the image is the runtime).
            for key in ("Runtime", "Handler", "RuntimeVersionConfig"):
                config.pop(key, None)
            config["PackageType"] = "Image"
            if self.image_config:
                config["ImageConfigResponse"] = {"ImageConfig": dict(self.image_config)}
        if self.state != "Active" and change is None:
            config.update(State=self.state, StateReason=self.state_reason or "",
                          StateReasonCode=self.state_reason_code or "")
            if self.state == "Pending":
                del config["LastUpdateStatus"]  # as in CreateFunction's own response
            else:
                config.update(LastUpdateStatus="Failed", LastUpdateStatusReason=self.state_reason or "",
                              LastUpdateStatusReasonCode=self.state_reason_code or "")
        config.update(self.kept_config)
        if self.environment or self.environment_set:
            config["Environment"] = {"Variables": dict(self.environment)}
        if self.dead_letter_target:
            config["DeadLetterConfig"] = {"TargetArn": self.dead_letter_target}
        return config


class FunctionRegistry(VersionsMixin):
    def __init__(self, region: str, account_id: str, code_root: Path, state: StateStore | None = None,
                 rng: random.Random | None = None) -> None:
        self.region = region
        self.account_id = account_id
        self.code_root = code_root
        self._functions: dict[str, Function] = {}
        self._state = state
        #: At restore: a function's layer versions by ARN (the layer store, restored first).
        self._restored_layers: Callable[[list[str]], list[Any]] | None = None
        self._versions_init(rng)

    # ---- the state directory ----

    def saved(self, function: Function) -> None:
        """Write the function's configuration through to the state directory (after any change)."""
        if function.version != LATEST:
            self._save_version(function)
        elif self._state is not None and self._functions.get(function.name) is function:
            self._state.put("function", function.name, lambda: function_record(function))

    def restore(self, layers: Callable[[list[str]], list[Any]] | None = None) -> None:
        """The functions of the state directory (their code is already in it, under ``code_root``);
        ``layers`` finds their layer versions by ARN (the layer store, restored first)."""
        if self._state is None:
            return
        self._restored_layers = layers
        for _name, record in self._state.load("function"):
            function = self._from_record(record)
            self._functions[function.name] = function
        self._restore_versions()  # published versions name their layer versions too

    def _save_base(self, function: Function) -> None:
        self.saved(function)

    def _record(self, function: Function) -> dict[str, Any]:
        return function_record(function)

    def _from_record(self, record: dict[str, Any]) -> Function:
        return function_from_record(record, self._restored_layers)

    def arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"

    def __iter__(self) -> Iterator[Function]:
        return iter(sorted(self._functions.values(), key=lambda f: f.name))

    def reserved_total(self) -> int:
        """The concurrency all functions reserve (read on every invocation: not sorted by name first)."""
        total = 0
        for function in self._functions.values():
            total += function.reserved_concurrency or 0
        return total

    def parse_name(self, reference: str) -> tuple[str, str | None]:
        """A name, partial ARN or full ARN (each may end in :qualifier) → (name, qualifier)."""
        found = ARN_RE.match(reference)
        if found is None:
            raise lambda_error(
                "ValidationException",
                f"1 validation error detected: Value '{reference}' at 'functionName' failed to satisfy constraint: "
                "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?"
                "([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?",
            )
        if found["region"] and found["region"] != self.region:
            # AWS's wording for an ARN of another region (404 ResourceNotFoundException).
            raise resource_not_found(
                f"Functions from '{found['region']}' are not reachable in this region ('{self.region}')"
            )
        if found["account"] and found["account"] != self.account_id:
            raise access_denied()
        return found["name"], found["qualifier"]

    def check_new_name(self, reference: str, name: str) -> None:
        """CreateFunction's length check (the model admits 140 for ARNs), in Coral's words but as a 400
        InvalidParameterValueException (recorded). Only creating checks it: a lookup of a longer name is
        "Function not found", as AWS answers GetFunction, DeleteFunction and Invoke (recorded)."""
        if len(name) > MAX_NAME_LENGTH:
            raise invalid_parameter(f"1 validation error detected: Value '{reference}' at 'functionName' failed to "
                                    f"satisfy constraint: Member must have length less than or equal to "
                                    f"{MAX_NAME_LENGTH}")

    def get(self, reference: str, qualifier: str | None = None) -> Function:
        name, qualifier = self.qualified(reference, qualifier)
        function = self._functions.get(name)
        if function is None or (qualifier is not None and qualifier != "$LATEST"):
            shown = self.arn(name) + (f":{qualifier}" if qualifier else "")
            raise resource_not_found(f"Function not found: {shown}")
        return function

    def find(self, name: str) -> Function | None:
        return self._functions.get(name)

    def add(self, function: Function) -> None:
        if function.name in self._functions:
            raise resource_conflict(f"Function already exist: {function.name}")
        self._functions[function.name] = function
        self.saved(function)

    def remove(self, function: Function) -> list[Function]:
        """Delete the function with its versions and aliases; its versions are returned."""
        self._functions.pop(function.name, None)
        function.code.discard()
        if self._state is not None:
            self._state.delete("function", function.name)
        return self._forget_versions(function.name)

    # ---- code ----

    def code_from_zip(self, name: str, data: bytes) -> Code:
        if len(data) > MAX_ZIPPED_BYTES:
            raise lambda_error("RequestEntityTooLargeException",
                               f"Zipped size must be smaller than {MAX_ZIPPED_BYTES} bytes", 413)
        target = self.code_root / f"{name}-{uuid.uuid4().hex[:12]}"
        extract_zip(data, target)
        package = target.with_name(target.name + ".zip")
        package.write_bytes(data)
        return Code(target, len(data), base64.b64encode(hashlib.sha256(data).digest()).decode(), owned=True,
                    package=package)

    def code_from_image(self, name: str, image_id: str) -> Code:
        """An image function's Code: its image digest (CodeSha256 is the digest's hex); the directory is an
        empty stand-in, since the code lives in the image."""
        directory = self.code_root / name / f"image-{uuid.uuid4().hex[:8]}"
        directory.mkdir(parents=True, exist_ok=True)
        return Code(directory=directory, size=0, sha256=image_id.removeprefix("sha256:"), owned=True)

    @staticmethod
    def code_from_directory(directory: Path) -> Code:
        if not directory.is_dir():
            raise invalid_parameter(f"CodeUri {directory} is not a directory")
        digest = hashlib.sha256()
        size = 0
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                info = path.stat()
                size += info.st_size
                digest.update(f"{path.relative_to(directory)}:{info.st_size}:{info.st_mtime_ns}".encode())
        return Code(directory.resolve(), size, base64.b64encode(digest.digest()).decode(), owned=False)


def function_record(function: Function) -> dict[str, Any]:
    record = asdict(function)
    code = function.code
    record["code"] = {"directory": str(code.directory), "size": code.size, "sha256": code.sha256,
                      "owned": code.owned, "package": str(code.package) if code.package else None}
    record["dependencies"] = {**function.dependencies.to_json(), "creating": function.dependencies.creating}
    # Layer versions live in the layer store (its own records): a function keeps their ARNs.
    record["layers"] = [layer.arn for layer in function.layers]
    return record


def function_from_record(record: dict[str, Any], layers: Callable[[list[str]], list[Any]] | None = None) -> Function:
    code = record["code"]
    known = {f.name for f in fields(Function)}
    values = {k: v for k, v in record.items() if k in known}
    values["code"] = Code(Path(code["directory"]), code["size"], code["sha256"], code["owned"],
                          Path(code["package"]) if code.get("package") else None)
    values["dependencies"] = _dependencies_from_record(record.get("dependencies") or {})
    values["layers"] = layers(list(record.get("layers") or [])) if layers is not None else []
    # An update in progress ended with the run that started it (its timer is gone): it is done.
    values["update_in_progress"] = False
    if values.get("state") == "Pending" and values.get("package_type", "Zip") == "Zip":
        # Created with --creation-delays just before the stop: nothing is left to wait for.
        values["state"], values["state_reason"], values["state_reason_code"] = "Active", None, None
    return Function(**values)


def _dependencies_from_record(record: dict[str, Any]) -> Dependencies:
    status = record.get("status", "none")
    error = record.get("error")
    if status == "installing":
        # The install ended with the run that started it; nothing will finish it now.
        status, error = "failed", "the install was interrupted when lambda-emu stopped"
    requirements = Path(record["requirements"]) if record.get("requirements") else None
    return Dependencies(status=status, requirements=requirements,
                        path=Path(record["path"]) if record.get("path") else None, error=error,
                        creating=bool(record.get("creating", True)))
