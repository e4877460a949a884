"""Lambda's tagging: TagResource / UntagResource / ListTags on functions and event source mappings.

Lambda tags functions (unqualified: never a version or an alias), event source mappings and code
signing configurations, each by its ARN (docs/aws-behaviour.md §Lambda tags and permissions). Tags live
on the function or mapping they name, so they are written through to the state directory with it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.errors import invalid_parameter, resource_not_found

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import FunctionRegistry
    from lambda_emu.emulator.services.lambda_.mappings import MappingRegistry

#: The kinds of taggable ARN lambda-emu holds (the model's TaggableResource admits more: code signing
#: configs, capacity providers, which lambda-emu does not keep).
_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:lambda:(?P<region>[^:]+):(?P<account>\d{12}):"
                  r"(?:function:(?P<function>[a-zA-Z0-9-_]+)(?::(?P<qualifier>[^:]+))?"
                  r"|event-source-mapping:(?P<mapping>[0-9a-fA-F-]{36}))$")


class TagsApi:
    """Mixed into LambdaService (which provides ``functions``, ``mappings``, ``region``, ``account_id``)."""

    functions: FunctionRegistry
    mappings: MappingRegistry
    region: str
    account_id: str

    def TagResource(self, params: dict[str, Any]) -> dict[str, Any]:
        tags, save = self._tagged(params["Resource"])
        tags.update({str(k): str(v) for k, v in (params.get("Tags") or {}).items()})
        save()
        return {}

    def UntagResource(self, params: dict[str, Any]) -> dict[str, Any]:
        tags, save = self._tagged(params["Resource"])
        for key in params.get("TagKeys") or []:
            tags.pop(key, None)
        save()
        return {}

    def ListTags(self, params: dict[str, Any]) -> dict[str, Any]:
        tags, _save = self._tagged(params["Resource"])
        return {"Tags": dict(tags)}

    def _tagged(self, arn: str) -> tuple[dict[str, str], Any]:
        """The resource's own tag map, and how to write it through after a change."""
        found = _ARN.match(arn)
        if found is None:
            raise invalid_parameter(f"lambda-emu keeps no taggable resource of this kind: {arn}")
        if found["region"] != self.region or found["account"] != self.account_id:
            raise resource_not_found(f"Function not found: {arn}")
        if found["mapping"]:
            mapping = self.mappings.get(found["mapping"])
            if mapping is None:
                raise resource_not_found("The resource you requested does not exist.")
            return mapping.tags, lambda: self.mappings.saved(mapping)
        if found["qualifier"]:
            # AWS: tags belong to the function itself, never to one of its versions or aliases.
            raise invalid_parameter("Tags on function aliases and versions are not supported. "
                                    "Please specify a function ARN.")
        function = self.functions.find(found["function"])
        if function is None:
            raise resource_not_found(f"Function not found: {arn}")
        return function.tags, lambda: self.functions.saved(function)
