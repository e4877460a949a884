"""Published versions and aliases of functions: their snapshots, how a qualifier resolves, and how a
weighted alias picks the version that runs.

A version is a :class:`~lambda_emu.emulator.invocation.functions.Function` of its own (``version`` "1",
"2", ...) with its own copy of the code and configuration, so it keeps its own execution environments
and never changes after it is published. An alias names a version (and at most one more with a
weight); it is resolved at every invocation, with the run's seeded RNG when it is weighted.
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from lambda_emu.emulator.platform.errors import invalid_parameter, resource_not_found

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.state import StateStore

#: functions.Function and functions.Code: functions.py builds on this module, so it can't import them back
#: (import-linter's no-cycles contract counts type-only imports too).
Function = Any
Code = Any

LATEST = "$LATEST"


@dataclass
class Alias:
    name: str
    function_name: str
    arn: str
    function_version: str
    description: str = ""
    revision_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    #: RoutingConfig.AdditionalVersionWeights: {version: weight}, at most one entry.
    routing: dict[str, float] = field(default_factory=dict)
    #: The alias's own async settings (PutFunctionEventInvokeConfig with Qualifier=alias).
    event_invoke_config: dict[str, Any] | None = None
    #: The alias's own resource-based policy statements (AddPermission with Qualifier=alias).
    policy: list[dict[str, Any]] = field(default_factory=list)

    def configuration(self) -> dict[str, Any]:
        """AliasConfiguration as AWS returns it: RoutingConfig only when it routes somewhere."""
        config: dict[str, Any] = {"AliasArn": self.arn, "Name": self.name, "FunctionVersion": self.function_version,
                                  "Description": self.description}
        if self.routing:
            config["RoutingConfig"] = {"AdditionalVersionWeights": dict(self.routing)}
        config["RevisionId"] = self.revision_id
        return config


class Target(NamedTuple):
    """What a (possibly qualified) function reference names: the function or version that answers for it
    (an alias's primary version), the alias when it is one, and the ARN as addressed."""

    function: Function
    alias: Alias | None
    arn: str


class VersionsMixin:
    """Versions and aliases, mixed into FunctionRegistry (which provides what is declared here)."""

    region: str
    account_id: str
    code_root: Path
    _functions: dict[str, Function]
    _state: StateStore | None

    def arn(self, name: str) -> str:
        raise NotImplementedError

    def parse_name(self, reference: str) -> tuple[str, str | None]:
        raise NotImplementedError

    def qualified(self, reference: str, qualifier: str | None = None) -> tuple[str, str | None]:
        """A name or ARN and the Qualifier parameter → (name, qualifier or None); AWS refuses the two
        when the reference's own qualifier disagrees with the parameter."""
        name, embedded = self.parse_name(reference)
        if embedded and qualifier and embedded != qualifier:
            raise invalid_parameter(
                "The derived qualifier from the function name does not match the specified qualifier."
            )
        return name, qualifier or embedded

    def _versions_init(self, rng: random.Random | None) -> None:
        #: Weighted aliases draw from the run's one seeded RNG (same seed, same versions picked).
        self.rng = rng or random.Random()
        self._versions: dict[str, dict[str, Function]] = {}
        self._aliases: dict[str, dict[str, Alias]] = {}

    # ---- lookups ----

    def versions_of(self, name: str) -> list[Function]:
        """Published versions, ascending."""
        return sorted(self._versions.get(name, {}).values(), key=lambda f: int(f.version))

    def version(self, name: str, number: str) -> Function | None:
        if number == LATEST:
            return self._functions.get(name)
        return self._versions.get(name, {}).get(number)

    def aliases_of(self, name: str) -> list[Alias]:
        return sorted(self._aliases.get(name, {}).values(), key=lambda a: a.name)

    def alias(self, name: str, alias: str) -> Alias | None:
        return self._aliases.get(name, {}).get(alias)

    def current(self, function: Function) -> Function | None:
        """The registered function or version ``function`` stands for (None: deleted or replaced)."""
        return self.version(function.name, function.version)

    def resolve(self, reference: str, qualifier: str | None = None) -> Target:
        """A name or ARN, maybe qualified (``fn:3``, ``fn:live``, ``...:function:fn:live``), and the
        Qualifier parameter → what it names; AWS's ResourceNotFoundException when nothing is there."""
        return self.resolve_qualified(*self.qualified(reference, qualifier))

    def resolve_qualified(self, name: str, qualifier: str | None) -> Target:
        """``resolve`` for a reference already split by ``qualified`` (Invoke splits it once)."""
        base = self._functions.get(name)
        addressed = self.arn(name) + (f":{qualifier}" if qualifier else "")
        if base is None:
            raise resource_not_found(f"Function not found: {addressed}")
        if qualifier is None or qualifier == LATEST:
            return Target(base, None, addressed)
        if qualifier.isdigit():
            version = self.version(name, qualifier)
            if version is None:
                raise resource_not_found(f"Function not found: {addressed}")
            return Target(version, None, addressed)
        alias = self.alias(name, qualifier)
        target = self.version(name, alias.function_version) if alias is not None else None
        if alias is None or target is None:
            raise resource_not_found(f"Function not found: {addressed}")
        return Target(target, alias, addressed)

    def pick(self, target: Target) -> Function:
        """The version that runs for ``target``: a weighted alias draws with the run's RNG."""
        alias = target.alias
        if alias is None or not alias.routing:
            return target.function
        (extra, weight), = alias.routing.items()
        if self.rng.random() < weight:
            chosen = self.version(alias.function_name, extra)
            if chosen is not None:
                return chosen
        return target.function

    def routed(self, reference: str) -> Function | None:
        """What runs now for a stored reference (a mapping's FunctionArn, an async event's invoked ARN);
        None when the function, version or alias is gone."""
        try:
            return self.pick(self.resolve(reference))
        except Exception:  # noqa: BLE001 - gone (or never valid): the caller drops its work
            return None

    def event_invoke_config_for(self, reference: str) -> dict[str, Any] | None:
        """The EventInvokeConfig that applies to an invocation of ``reference``: AWS keeps one per qualifier
        (the function's own for an unqualified invocation, the alias's, the version's)."""
        try:
            target = self.resolve(reference)
        except Exception:  # noqa: BLE001 - gone: no settings
            return None
        holder: Function | Alias = target.alias if target.alias is not None else target.function
        return holder.event_invoke_config

    # ---- versions ----

    def publish(self, function: Function, description: str | None, now: float) -> Function:
        """PublishVersion: the newest version when $LATEST did not change since it was published (AWS
        publishes nothing then, whatever Description says); otherwise a new snapshot."""
        existing = self.versions_of(function.name)
        if existing and existing[-1].source_revision == function.revision_id:
            return existing[-1]
        function.last_version += 1
        number = str(function.last_version)
        version = dataclasses.replace(
            function,
            version=number,
            code=snapshot_code(function.code, self.code_root / f"{function.name}-v{number}-{uuid.uuid4().hex[:8]}"),
            environment=dict(function.environment),
            tags={},
            architectures=list(function.architectures),
            event_invoke_config=None,
            image_config=dict(function.image_config) if function.image_config else None,
            # Shared, not copied: a template function's requirements may still be installing when
            # AutoPublishAlias publishes, and the version becomes invocable when they are in.
            dependencies=function.dependencies,
            layers=list(function.layers),
            policy=[],
            description=function.description if description is None else description,
            source_revision=function.revision_id,
            revision_id=str(uuid.uuid4()),
            last_modified=now,
            generation=0,
            reserved_concurrency=None,
            update_in_progress=False,  # a version is finished: it never changes
        )
        self._versions.setdefault(function.name, {})[number] = version
        # Publishing gives $LATEST a new RevisionId too (recorded: test_function_revisions_version_and_alias);
        # the version was published from that revision, so a publish right after still has nothing new.
        function.revision_id = version.source_revision = str(uuid.uuid4())
        self._save_version(version)
        self._save_base(function)
        return version

    def republish(self, function: Function, now: float) -> Function | None:
        """After a template function's code changed: with AutoPublishAlias, a new version and its alias
        moved to it (what `sam sync` / `sam deploy` do); None without."""
        alias = self.alias(function.name, function.auto_publish_alias) if function.auto_publish_alias else None
        if alias is None:
            return None
        version = self.publish(function, None, now)
        alias.function_version = version.version
        alias.revision_id = str(uuid.uuid4())
        self.saved_alias(alias)
        return version

    def remove_version(self, version: Function) -> None:
        self._versions.get(version.name, {}).pop(version.version, None)
        version.code.discard()
        if self._state is not None:
            self._state.delete("function-version", f"{version.name}:{version.version}")

    def _save_version(self, version: Function) -> None:
        # Only while registered: a version deleted before a late save (its Pending → Active with
        # --creation-delays) must not be written back and restored by the next start.
        registered = self._versions.get(version.name, {}).get(version.version) is version
        if self._state is not None and registered:
            self._state.put("function-version", f"{version.name}:{version.version}",
                            lambda: self._record(version), owner=version.name)

    def _save_base(self, function: Function) -> None:
        """FunctionRegistry.saved (the $LATEST record keeps the version counter)."""
        raise NotImplementedError

    def _record(self, function: Function) -> dict[str, Any]:
        raise NotImplementedError

    def _from_record(self, record: dict[str, Any]) -> Function:
        raise NotImplementedError

    # ---- aliases ----

    def add_alias(self, alias: Alias) -> None:
        self._aliases.setdefault(alias.function_name, {})[alias.name] = alias
        self.saved_alias(alias)

    def saved_alias(self, alias: Alias) -> None:
        if self._state is not None and self.alias(alias.function_name, alias.name) is alias:
            self._state.put("function-alias", f"{alias.function_name}:{alias.name}",
                            lambda: dataclasses.asdict(alias), owner=alias.function_name)

    def remove_alias(self, alias: Alias) -> None:
        self._aliases.get(alias.function_name, {}).pop(alias.name, None)
        if self._state is not None:
            self._state.delete("function-alias", f"{alias.function_name}:{alias.name}")

    # ---- the function's end, the state directory ----

    def _forget_versions(self, name: str) -> list[Function]:
        """A deleted function's versions and aliases go with it; its versions are returned (their
        environments end too)."""
        versions = list(self._versions.pop(name, {}).values())
        self._aliases.pop(name, None)
        for version in versions:
            version.code.discard()
        if self._state is not None:
            self._state.delete_owned("function-version", name)
            self._state.delete_owned("function-alias", name)
        return versions

    def _restore_versions(self) -> None:
        if self._state is None:
            return
        for _key, record in self._state.load("function-version"):
            version = self._from_record(record)
            if version.name in self._functions:
                self._versions.setdefault(version.name, {})[version.version] = version
        for _key, record in self._state.load("function-alias"):
            alias = Alias(**record)
            if alias.function_name in self._functions:
                self._aliases.setdefault(alias.function_name, {})[alias.name] = alias


#: Left out of a template folder's snapshot.
NOT_CODE = (".git", ".aws-sam", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache")


def snapshot_code(code: Code, target: Path) -> Code:
    """The code of a new version: its own copy, so an update of $LATEST (which discards the old code) or an
    edit of a template's folder never changes what the version runs. lambda-emu's own extracted files are
    never written again, so they are hard-linked where the file system allows; a template's folder is
    copied."""
    copy = shutil.copy2 if not code.owned else _link_or_copy
    # A template's folder (CodeUri defaults to the template's own) may hold a repository and caches no
    # function reads.
    ignore = None if code.owned else shutil.ignore_patterns(*NOT_CODE)
    shutil.copytree(code.directory, target, symlinks=True, copy_function=copy, ignore=ignore)
    package = None
    if code.package is not None and code.package.exists():
        package = target.with_name(target.name + ".zip")
        _link_or_copy(str(code.package), str(package))
    return dataclasses.replace(code, directory=target, owned=True, package=package)


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)
