import json

import pytest

from events import bounded_json


@pytest.mark.parametrize("raw", [b"[[[]]]", "[[[]]]", b'{"a": {"b": [1]}}', b"1", b'"[[[[[[["'])
def test_a_document_within_the_bounds_is_parsed_as_json_parses_it(raw):
    assert bounded_json.loads(raw, max_bytes=100, max_depth=3) == json.loads(raw)


@pytest.mark.parametrize(
    "raw",
    [b"[[[[]]]]", b'{"a": {"b": {"c": {}}}}', b'[1, [2, [3, {"d": []}]]]', b"[" * 100_000 + b"]" * 100_000],
    ids=["lists", "objects", "mixed", "past-recursion-limit"],
)
def test_a_document_nested_deeper_than_the_bound_is_too_deep(raw):
    with pytest.raises(bounded_json.TooDeep, match="nested more than 3 levels deep"):
        bounded_json.loads(raw, max_bytes=len(raw), max_depth=3)


def test_many_shallow_containers_are_not_too_deep():
    raw = json.dumps([[{"a": 1}] for _ in range(1000)])

    assert len(bounded_json.loads(raw, max_bytes=len(raw), max_depth=3)) == 1000


def test_a_document_larger_than_the_bound_is_too_large_whatever_it_holds():
    with pytest.raises(bounded_json.TooLarge, match="it is 11 bytes, more than the 10 allowed"):
        bounded_json.loads(b'"123456789"', max_bytes=10, max_depth=3)


def test_depth_counts_containers_not_scalars():
    assert not bounded_json.depth_exceeds([[1, "x"], {"a": None}], 2)
    assert bounded_json.depth_exceeds([[[1]]], 2)
    assert not bounded_json.depth_exceeds(7, 0)
