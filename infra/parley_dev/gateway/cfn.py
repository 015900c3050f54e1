"""CloudFormation YAML: short tags and the intrinsic functions wiring needs.

`load_template` keeps `!Ref`, `!GetAtt`, `!Sub`... as the long-form dicts
(`{"Ref": ...}`), so one resolver serves both spellings. `Resolver` resolves
only what can be known without deploying: parameters (defaults and
overrides), pseudo parameters, and references to resources, which resolve to
their logical id (enough to follow `integrations/${ConnectIntegration}` or
`${ConnectFunction.Arn}` back to a resource).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from parley_dev.lambda_runtime import function_arn
from parley_dev.localenv import ACCOUNT_ID, REGION

_PSEUDO = {
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::StackName": "local",
    "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/local/0",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NoValue": None,
}

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns `!Tag value` into `{"Fn::Tag": value}`."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        # The short form is "Resource.Attribute"; the long one a list.
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as stream:
        document = yaml.load(stream, Loader=_CfnLoader)
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a CloudFormation template")
    return document


@dataclass
class Resolver:
    """Resolves intrinsic functions as far as local wiring needs."""

    parameters: dict[str, str]
    resources: dict[str, Any] = field(default_factory=dict)
    conditions: dict[str, Any] = field(default_factory=dict)
    # SAM's generated aliases (`<Function>Alias<name>`, from AutoPublishAlias),
    # by logical id: each resolves to its function's ARN with the alias.
    aliases: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_template(cls, template: dict[str, Any], overrides: dict[str, str]) -> Resolver:
        parameters: dict[str, str] = {}
        for name, spec in (template.get("Parameters") or {}).items():
            default = (spec or {}).get("Default")
            if default is not None:
                listed = isinstance(default, list)
                parameters[name] = ",".join(map(str, default)) if listed else str(default)
        parameters.update(overrides)
        resources = template.get("Resources") or {}
        global_alias = ((template.get("Globals") or {}).get("Function") or {}).get(
            "AutoPublishAlias"
        )
        aliases = {}
        for logical_id, resource in resources.items():
            if (resource or {}).get("Type") != "AWS::Serverless::Function":
                continue
            alias = ((resource or {}).get("Properties") or {}).get("AutoPublishAlias", global_alias)
            if isinstance(alias, str) and alias:
                aliases[f"{logical_id}Alias{alias}"] = f"{function_arn(logical_id)}:{alias}"
        return cls(parameters, resources, template.get("Conditions") or {}, aliases)

    def condition(self, name: str) -> bool:
        """A named condition, evaluated with the parameters' local values."""
        if name not in self.conditions:
            raise ValueError(f"unknown condition {name!r}")
        return self._truth(self.conditions[name])

    def _truth(self, expression: Any) -> bool:
        if isinstance(expression, bool):
            return expression
        if isinstance(expression, dict) and len(expression) == 1:
            ((key, argument),) = expression.items()
            if key in ("Condition", "Fn::Condition"):
                return self.condition(argument)
            if key == "Fn::Equals":
                left, right = (self.resolve(item) for item in argument)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self._truth(argument[0])
            if key == "Fn::And":
                return all(self._truth(item) for item in argument)
            if key == "Fn::Or":
                return any(self._truth(item) for item in argument)
        raise ValueError(f"cannot evaluate condition {expression!r}")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Fn::GetAtt":
                return self._get_att(argument)
            if key == "Fn::Sub":
                return self._sub(argument)
            if key == "Fn::Join":
                separator, items = argument
                resolved = self.resolve(items)
                return separator.join(str(item) for item in resolved if item is not None)
            if key == "Fn::Select":
                index, items = argument
                resolved = self.resolve(items)
                if isinstance(resolved, str):  # a CommaDelimitedList parameter
                    resolved = resolved.split(",") if resolved else []
                position = int(self.resolve(index))
                return resolved[position] if position < len(resolved) else None
            if key == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text)).split(separator)
            if key == "Fn::If":
                name, when_true, when_false = argument
                chosen = when_true if self.condition(name) else when_false
                return self.resolve(chosen)
        return {key: self.resolve(item) for key, item in value.items()}

    def _ref(self, name: str) -> Any:
        if name in _PSEUDO:
            return _PSEUDO[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.aliases:
            return self.aliases[name]
        return name  # a resource: its logical id stands for its physical name

    def _get_att(self, argument: list[str]) -> str:
        resource, attribute = argument[0], argument[1]
        if attribute == "Arn" and self._type(resource) == "AWS::Serverless::Function":
            return function_arn(resource)
        return f"{resource}.{attribute}"

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            template, variables = argument[0], self.resolve(argument[1])
        else:
            template, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.resources:
                return str(self._get_att(name.split(".", 1)))
            value = self._ref(name)
            return "" if value is None else str(value)

        return _SUB_VARIABLE.sub(replace, template).replace("${!", "${")

    def _type(self, logical_id: str) -> str | None:
        resource = self.resources.get(logical_id)
        return resource.get("Type") if isinstance(resource, dict) else None


def logical_id_from_arn(arn: str) -> str | None:
    """`...:function:Name` (alone or inside an integration URI) -> `Name`."""
    match = re.search(r":function:([A-Za-z0-9_-]+)", arn)
    return match.group(1) if match else None
