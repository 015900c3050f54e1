"""FilterCriteria: which Kafka records a mapping lets through to its function."""

from __future__ import annotations

import json

import pytest

from parley_dev.gateway.filters import FilterPatternError, RecordFilter

pytestmark = pytest.mark.unit


def accepts(patterns: list[dict], value: object) -> bool:
    record_filter = RecordFilter(patterns, allowed_keys={"value"})
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return record_filter.accepts_kafka_value(raw)


def test_a_literal_matches_a_nested_field_exactly() -> None:
    pattern = {"value": {"data": {"fanOut": ["deferred"]}}}

    assert accepts([pattern], {"type": "message.created", "data": {"fanOut": "deferred"}})
    assert not accepts([pattern], {"data": {"fanOut": "inline"}})
    assert not accepts([pattern], {"data": {}})
    assert not accepts([pattern], {"data": "deferred"})


def test_any_value_of_a_list_and_any_element_of_an_array_match() -> None:
    pattern = {"value": {"kind": ["a", "b"], "tags": ["red"]}}

    assert accepts([pattern], {"kind": "b", "tags": ["blue", "red"]})
    assert not accepts([pattern], {"kind": "c", "tags": ["red"]})
    assert not accepts([pattern], {"kind": "a", "tags": ["blue"]})


def test_any_one_filter_is_enough() -> None:
    patterns = [{"value": {"kind": ["a"]}}, {"value": {"size": [{"numeric": [">", 10]}]}}]

    assert accepts(patterns, {"kind": "a", "size": 1})
    assert accepts(patterns, {"kind": "z", "size": 11})
    assert not accepts(patterns, {"kind": "z", "size": 10})


def test_numbers_compare_as_numbers_and_never_as_strings_or_booleans() -> None:
    assert accepts([{"value": {"n": [3]}}], {"n": 3.0})
    assert not accepts([{"value": {"n": [3]}}], {"n": "3"})
    assert not accepts([{"value": {"n": [1]}}], {"n": True})
    between = {"value": {"n": [{"numeric": [">=", 0, "<", 5]}]}}
    assert accepts([between], {"n": 0}) and accepts([between], {"n": 4.5})
    assert not accepts([between], {"n": 5}) and not accepts([between], {"n": "1"})


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        ({"prefix": "message."}, "message.created", True),
        ({"prefix": "message."}, "user.created", False),
        ({"suffix": ".created"}, "message.created", True),
        ({"equals-ignore-case": "DEFERRED"}, "deferred", True),
        ({"anything-but": ["inline"]}, "deferred", True),
        ({"anything-but": "inline"}, "inline", False),
        ({"exists": True}, "anything", True),
    ],
)
def test_operators(rule: dict, value: str, expected: bool) -> None:
    assert accepts([{"value": {"field": [rule]}}], {"field": value}) is expected


def test_exists_false_and_anything_but_on_a_missing_field() -> None:
    assert accepts([{"value": {"field": [{"exists": False}]}}], {"other": 1})
    assert not accepts([{"value": {"field": [{"exists": False}]}}], {"field": None})
    assert not accepts([{"value": {"field": [{"anything-but": "x"}]}}], {"other": 1})


def test_a_value_that_is_not_json_is_matched_as_a_string() -> None:
    assert accepts([{"value": [{"prefix": "Hello"}]}], b"Hello, this is a test.")
    assert not accepts([{"value": {"data": ["x"]}}], b"Hello, this is a test.")


def test_from_criteria_reads_the_templates_json_patterns() -> None:
    criteria = {"Filters": [{"Pattern": '{"value": {"kind": ["a"]}}'}]}

    record_filter = RecordFilter.from_criteria(criteria, allowed_keys={"value"})

    assert record_filter is not None
    assert record_filter.accepts_kafka_value(b'{"kind": "a"}')
    assert RecordFilter.from_criteria(None, allowed_keys={"value"}) is None
    assert RecordFilter.from_criteria({"Filters": []}, allowed_keys={"value"}) is None


@pytest.mark.parametrize(
    ("criteria", "reason"),
    [
        ({"Filters": [{"Pattern": "{not json"}]}, "not JSON"),
        ({"Filters": [{"Pattern": "[1]"}]}, "JSON object"),
        ({"Filters": [{"Pattern": '{"key": {"a": ["b"]}}'}]}, "filters only on"),
        ({"Filters": [{"Pattern": '{"value": {"a": "b"}}'}]}, "must be a list"),
        ({"Filters": [{"Pattern": '{"value": {"a": [{"wildcard": "b*"}]}}'}]}, "'wildcard'"),
        ({"Filters": [{"Pattern": '{"value": {"a": [{"numeric": [">>", 1]}]}}'}]}, "comparison"),
    ],
)
def test_a_pattern_lambda_would_refuse_is_refused_with_its_reason(
    criteria: dict, reason: str
) -> None:
    with pytest.raises(FilterPatternError, match=reason):
        RecordFilter.from_criteria(criteria, allowed_keys={"value"})
