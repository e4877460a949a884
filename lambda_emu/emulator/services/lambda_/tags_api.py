"""Lambda's tagging: TagResource / UntagResource / ListTags on functions and event source mappings.

Lambda tags functions (unqualified: never a version or an alias), event source mappings and code
signing configurations, each by its ARN (docs/aws-behaviour.md §Lambda tags and permissions). Tags live
on the function or mapping they name, so they are written through to the state directory with it.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.errors import AwsError, invalid_parameter, resource_not_found

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import FunctionRegistry
    from lambda_emu.emulator.services.lambda_.mappings import MappingRegistry

#: The kinds of taggable ARN lambda-emu holds (the model's TaggableResource admits more: code signing
#: configs, capacity providers). A capacity provider is never found: lambda-emu keeps none.
_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:lambda:(?P<region>[^:]+):(?P<account>\d{12}):"
                  r"(?:function:(?P<function>[a-zA-Z0-9-_]+)(?::(?P<qualifier>[^:]+))?"
                  r"|event-source-mapping:(?P<mapping>[0-9a-fA-F-]{36})"
                  r"|capacity-provider:(?P<capacity_provider>[a-zA-Z0-9-_]+))$")
#: Lambda's limit of tags per resource.
MAX_TAGS = 50


def check_tag_count(tags: dict[str, str] | None) -> None:
    """TagResource's result, or the Tags of CreateFunction / CreateEventSourceMapping: at most 50 (recorded)."""
    if tags is not None and len(tags) > MAX_TAGS:
        raise invalid_parameter("Number of tags exceeds resource tag limit.")


class TagsApi:
    """Mixed into LambdaService (which provides ``functions``, ``mappings``, ``region``, ``account_id``)."""

    functions: FunctionRegistry
    mappings: MappingRegistry
    region: str
    account_id: str

    def TagResource(self, params: dict[str, Any]) -> dict[str, Any]:
        tags, save = self._tagged(params["Resource"])
        if not params.get("Tags"):
            raise invalid_parameter("An error occurred and the request cannot be processed.")  # recorded
        check_tag_count({**tags, **params["Tags"]})
        tags.update({str(k): str(v) for k, v in params["Tags"].items()})
        save()
        return {}

    def UntagResource(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("TagKeys"):
            # An empty list never reaches the wire (a query list of nothing): AWS's required-member problem.
            raise AwsError("ValidationException", "1 validation error detected: Value null at 'tagKeys' failed to "
                           "satisfy constraint: Member must not be null", 400)
        tags, save = self._tagged(params["Resource"])
        for key in params["TagKeys"]:
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
        if found["capacity_provider"]:
            raise resource_not_found(f"Capacity provider not found: {arn}")
        if found["mapping"]:
            mapping = self.mappings.get(found["mapping"])
            if mapping is None:
                raise resource_not_found(f"Event source mapping not found: {arn}")
            return mapping.tags, lambda: self.mappings.saved(mapping)
        if found["qualifier"]:
            # AWS: tags belong to the function itself, never to one of its versions or aliases.
            raise invalid_parameter("Tags on function aliases and versions are not supported. "
                                    "Please specify a function ARN.")
        function = self.functions.find(found["function"])
        if function is None:
            raise resource_not_found(f"Function not found: {arn}")

        def save() -> None:
            # A tag change is a new revision of the function (recorded), not a new generation: what its
            # environments run is unchanged.
            function.revision_id = str(uuid.uuid4())
            self.functions.saved(function)

        return function.tags, save
