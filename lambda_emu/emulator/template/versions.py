"""Template versions and aliases: SAM's ``AutoPublishAlias`` (a version, the alias, and the function's
event sources and EventInvokeConfig on the alias, as SAM wires them), ``AWS::Lambda::Version`` and
``AWS::Lambda::Alias``, each created through the Lambda API's own operations."""

from __future__ import annotations

from typing import Any

from lambda_emu.emulator.invocation.functions import Function
from lambda_emu.emulator.template.loader import (
    PHASE_FUNCTION_SETTINGS,
    LoadContext,
    Unresolvable,
    as_text,
    call_api,
    dotted_ref,
    function_property,
    resource_type,
)

#: Versions are published once the functions exist, aliases right after: both before the settings
#: (an EventInvokeConfig may name an alias) and the mappings (which may invoke one).
PHASE_VERSIONS = PHASE_FUNCTION_SETTINGS - 2
PHASE_ALIASES = PHASE_FUNCTION_SETTINGS - 1

SERVERLESS_FUNCTION = "AWS::Serverless::Function"


def _call(context: LoadContext, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    return call_api(context, "lambda", operation, params)


# ---- SAM: AutoPublishAlias ------------------------------------------------------------------------


def auto_publish_alias(context: LoadContext, logical_id: str) -> str | None:
    """The alias name of a SAM function with AutoPublishAlias (its own, else Globals'), else None."""
    resource = context.resources.get(logical_id) or {}
    if resource.get("Type") != SERVERLESS_FUNCTION:
        return None
    props = resource.get("Properties") or {}
    raw = props.get("AutoPublishAlias")
    if raw is None:
        raw = ((context.document.get("Globals") or {}).get("Function") or {}).get("AutoPublishAlias")
    if raw is None:
        return None
    return as_text(context.value(logical_id, "AutoPublishAlias", raw))


def alias_arn(context: LoadContext, logical_id: str, function_name: str) -> str | None:
    """What SAM points a function's event sources and EventInvokeConfig at: its alias, when it has one."""
    alias = auto_publish_alias(context, logical_id)
    return None if alias is None else f"{context.stack.functions.arn(function_name)}:{alias}"


def _auto_publish(context: LoadContext, logical_id: str, function: Function, raw: Any) -> None:
    name = auto_publish_alias(context, logical_id)
    if name is None:
        return

    def publish() -> None:
        version = _call(context, "PublishVersion", {"FunctionName": function.name})["Version"]
        _call(context, "CreateAlias", {"FunctionName": function.name, "Name": name, "FunctionVersion": version})
        # As `sam sync` / `sam deploy` would after an edit: a code change publishes again and moves the alias.
        function.auto_publish_alias = name
        context.stack.functions.saved(function)

    context.defer(PHASE_VERSIONS, logical_id, publish)


def _dotted(context: LoadContext, logical_id: str, suffix: str) -> str:
    """``!Ref Fn.Alias`` / ``!Ref Fn.Version``: SAM's references to what AutoPublishAlias generates."""
    resource = context.resources.get(logical_id) or {}
    name = as_text(context.ref(logical_id))
    alias = auto_publish_alias(context, logical_id)
    if resource.get("Type") != SERVERLESS_FUNCTION or alias is None:
        raise Unresolvable(f"Ref to {logical_id}.{suffix}: {logical_id} has no AutoPublishAlias")
    found = context.stack.functions.alias(name, alias)
    if found is None:
        raise Unresolvable(f"Ref to {logical_id}.{suffix}: the alias is not published yet")
    if suffix == "Alias":
        return found.arn
    return f"{context.stack.functions.arn(name)}:{found.function_version}"


# ---- AWS::Lambda::Version -------------------------------------------------------------------------


def _version_attributes(context: LoadContext, logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
    # Ref is the version's ARN, known once published: the context computes attributes once, so the first
    # reference (or the load) publishes, and every reference gets the same version.
    params: dict[str, Any] = {"FunctionName": as_text(context.value(logical_id, "FunctionName",
                                                                    props.get("FunctionName")))}
    for key in ("Description", "CodeSha256"):
        if key in props:
            params[key] = as_text(context.value(logical_id, key, props[key]))
    published = _call(context, "PublishVersion", params)
    return {"Ref": published["FunctionArn"], "Version": published["Version"], "FunctionArn": published["FunctionArn"]}


def _load_version(context: LoadContext, logical_id: str, props: dict[str, Any]) -> None:
    if "FunctionName" not in props:
        raise context.error(logical_id, "FunctionName is required")
    context.attributes(logical_id)


# ---- AWS::Lambda::Alias ---------------------------------------------------------------------------


def _alias_params(context: LoadContext, logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key in ("FunctionName", "FunctionVersion", "Name"):
        if key not in props:
            raise context.error(logical_id, f"{key} is required")
        params[key] = as_text(context.value(logical_id, key, props[key]))
    if "Description" in props:
        params["Description"] = as_text(context.value(logical_id, "Description", props["Description"]))
    routing = context.value(logical_id, "RoutingConfig", props.get("RoutingConfig")) or {}
    weights = routing.get("AdditionalVersionWeights") if isinstance(routing, dict) else None
    if weights:
        # CloudFormation's form is a list of {FunctionVersion, FunctionWeight}; the API's a map.
        if not isinstance(weights, list) or not all(isinstance(w, dict) for w in weights):
            raise context.error(logical_id, "RoutingConfig.AdditionalVersionWeights must be a list of "
                                "{FunctionVersion, FunctionWeight}")
        try:
            params["RoutingConfig"] = {"AdditionalVersionWeights": {
                as_text(context.resolve(w.get("FunctionVersion"))): float(context.resolve(w.get("FunctionWeight")))
                for w in weights}}
        except (TypeError, ValueError):
            raise context.error(logical_id, "RoutingConfig: FunctionWeight must be a number") from None
    return params


def _alias_attributes(context: LoadContext, logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
    function_name = as_text(context.value(logical_id, "FunctionName", props.get("FunctionName")))
    name = as_text(context.value(logical_id, "Name", props.get("Name")))
    # A function given by ARN (the usual !GetAtt Fn.Arn) names the same alias ARN.
    base, _qualifier = context.stack.functions.parse_name(function_name)
    arn = f"{context.stack.functions.arn(base)}:{name}"
    return {"Ref": arn, "AliasArn": arn}


def _load_alias(context: LoadContext, logical_id: str, props: dict[str, Any]) -> None:
    _call(context, "CreateAlias", _alias_params(context, logical_id, props))


function_property("AutoPublishAlias", _auto_publish)
dotted_ref("Alias", _dotted)
dotted_ref("Version", _dotted)
resource_type("AWS::Lambda::Version", phase=PHASE_VERSIONS, attributes=_version_attributes, load=_load_version)
resource_type("AWS::Lambda::Alias", phase=PHASE_ALIASES, attributes=_alias_attributes, load=_load_alias)
