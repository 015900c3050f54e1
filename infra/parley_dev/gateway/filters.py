"""Event filtering, as Lambda applies a mapping's `FilterCriteria` before invoking.

A record goes to the function when any one of the filters' patterns matches
it; the others are dropped, and consumption moves past them. A Kafka
mapping's patterns may name only `value`: the record's value parsed as JSON
(a value that is not JSON is matched as a plain string).

The pattern syntax is EventBridge's, in the part Lambda documents for event
filtering: a pattern is an object whose keys the record must have, nested as
in the record; a leaf is a list of what a value may be (any one of them
matches; an array value matches when any of its elements does). A list item
is a literal (string, number, boolean, null) or one of `prefix`, `suffix`,
`equals-ignore-case`, `anything-but`, `numeric` and `exists`. A pattern
using anything else is refused when the template is read, with its name.
"""

from __future__ import annotations

import json
import numbers
import operator
from collections.abc import Callable
from typing import Any

_MISSING = object()

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class FilterPatternError(ValueError):
    """A filter pattern that Lambda would refuse, or that this emulation does not know."""


class RecordFilter:
    """The compiled `FilterCriteria` of one event source mapping."""

    def __init__(self, patterns: list[dict[str, Any]], *, allowed_keys: set[str]) -> None:
        for pattern in patterns:
            unknown = set(pattern) - allowed_keys
            if unknown:
                raise FilterPatternError(
                    f"this event source filters only on {sorted(allowed_keys)}, "
                    f"not {sorted(unknown)}"
                )
            _check(pattern)
        self.patterns = patterns

    @classmethod
    def from_criteria(cls, criteria: Any, *, allowed_keys: set[str]) -> RecordFilter | None:
        """From a template's `FilterCriteria` ({"Filters": [{"Pattern": "<json>"}]})."""
        filters = (criteria or {}).get("Filters") or []
        patterns = []
        for item in filters:
            text = item.get("Pattern") if isinstance(item, dict) else None
            try:
                pattern = json.loads(text) if isinstance(text, str) else None
            except json.JSONDecodeError as error:
                raise FilterPatternError(f"a filter pattern is not JSON: {error}") from error
            if not isinstance(pattern, dict):
                raise FilterPatternError("a filter's Pattern must be a JSON object")
            patterns.append(pattern)
        return cls(patterns, allowed_keys=allowed_keys) if patterns else None

    def accepts_kafka_value(self, value: bytes | None) -> bool:
        text = (value or b"").decode("utf-8", errors="replace")
        try:
            parsed: Any = json.loads(text)
        except json.JSONDecodeError:
            parsed = text
        record = {"value": parsed}
        return any(_matches(pattern, record) for pattern in self.patterns)


def _check(pattern: dict[str, Any]) -> None:
    for value in pattern.values():
        if isinstance(value, dict):
            _check(value)
        elif isinstance(value, list):
            for rule in value:
                if isinstance(rule, dict):
                    _check_rule(rule)
        else:
            raise FilterPatternError(f"a pattern's leaf must be a list, not {value!r}")


def _check_rule(rule: dict[str, Any]) -> None:
    if len(rule) != 1:
        raise FilterPatternError(f"one operator per rule: {rule!r}")
    ((name, argument),) = rule.items()
    if name not in _RULES:
        raise FilterPatternError(f"filter operator {name!r} is not supported here")
    if name == "numeric":
        if not isinstance(argument, list) or len(argument) not in (2, 4):
            raise FilterPatternError(f"numeric takes [op, n] or [op, n, op, n]: {argument!r}")
        for op, bound in zip(argument[::2], argument[1::2], strict=True):
            if op not in _COMPARISONS or not _is_number(bound):
                raise FilterPatternError(f"numeric: {op!r} {bound!r} is not a comparison")


def _matches(pattern: dict[str, Any], record: Any) -> bool:
    if not isinstance(record, dict):
        return False
    for key, expected in pattern.items():
        actual = record.get(key, _MISSING)
        if isinstance(expected, dict):
            if not _matches(expected, actual):
                return False
        elif not _leaf_matches(expected, actual):
            return False
    return True


def _leaf_matches(rules: list[Any], actual: Any) -> bool:
    values = actual if isinstance(actual, list) else [actual]
    return any(_rule_matches(rule, value) for rule in rules for value in values)


def _rule_matches(rule: Any, value: Any) -> bool:
    if isinstance(rule, dict):
        ((name, argument),) = rule.items()
        return _RULES[name](argument, value)
    if value is _MISSING:
        return False
    if _is_number(rule) and _is_number(value):
        return float(rule) == float(value)
    return type(rule) is type(value) and rule == value


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _prefix(argument: str, value: Any) -> bool:
    return isinstance(value, str) and value.startswith(argument)


def _suffix(argument: str, value: Any) -> bool:
    return isinstance(value, str) and value.endswith(argument)


def _equals_ignore_case(argument: str, value: Any) -> bool:
    return isinstance(value, str) and value.casefold() == str(argument).casefold()


def _anything_but(argument: Any, value: Any) -> bool:
    if value is _MISSING:
        return False
    excluded = argument if isinstance(argument, list) else [argument]
    return not any(_rule_matches(item, value) for item in excluded)


def _numeric(argument: list[Any], value: Any) -> bool:
    if not _is_number(value):
        return False
    comparisons = zip(argument[::2], argument[1::2], strict=True)
    return all(_COMPARISONS[op](value, bound) for op, bound in comparisons)


def _exists(argument: bool, value: Any) -> bool:
    return (value is not _MISSING) == bool(argument)


_RULES: dict[str, Callable[[Any, Any], bool]] = {
    "prefix": _prefix,
    "suffix": _suffix,
    "equals-ignore-case": _equals_ignore_case,
    "anything-but": _anything_but,
    "numeric": _numeric,
    "exists": _exists,
}
