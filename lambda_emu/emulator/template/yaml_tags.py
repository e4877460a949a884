"""Templates as YAML (or JSON) with CloudFormation's short-form tags: every !Tag becomes its long
form, so loading never fails on syntax lambda-emu doesn't model."""

from __future__ import annotations

from typing import Any, cast

import yaml


class TemplateError(Exception):
    """A template lambda-emu can't load; the message is meant for the user as it is."""


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's ``!Tag`` short forms, each turned into its long form."""


def _construct_node(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    # The only other kind of node left.
    return loader.construct_mapping(cast(yaml.MappingNode, node), deep=True)


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value = _construct_node(loader, node)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        # !GetAtt Resource.Attribute (the attribute itself may contain dots: Outputs.X).
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{suffix}": value}


# One multi-constructor covers every short form (!Ref, !GetAtt, !Sub, !If, !Cidr, !Transform...),
# including ones CloudFormation adds later: loading never fails on a tag.
_CfnLoader.add_multi_constructor("!", _intrinsic)


def parse(text: str, source: str = "<template>") -> dict[str, Any]:
    try:
        document = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise TemplateError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise TemplateError(f"{source}: a template is a mapping with a Resources section")
    resources = document.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise TemplateError(f"{source}: the template has no Resources")
    return document
