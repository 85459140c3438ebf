from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polarstack.errors import UsageError
from polarstack.portranges import (
    PortRange,
    contains,
    merge,
    parse_annotation,
    parse_ranges,
)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("5432", [(5432, 5432)]),
        ("5400-5800", [(5400, 5800)]),
        ("5400+400", [(5400, 5800)]),
        ("1-65535", [(1, 65535)]),
        ("5400-5800,5432, 6000+10", [(5400, 5800), (5432, 5432), (6000, 6010)]),
        (" 7 - 9 ", [(7, 9)]),
    ],
)
def test_strict_parser_accepts_the_three_notations(spec: str, expected: list[tuple[int, int]]):
    assert parse_ranges(spec) == [PortRange(a, b) for a, b in expected]


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        ("", "empty"),
        ("abc", "'abc'"),
        ("5400-5800,x", "'x'"),
        ("5800-5400", "'5800-5400'"),
        ("0", "'0'"),
        ("65536", "'65536'"),
        ("65530+10", "'65530+10'"),
        ("-5", "'-5'"),
        ("1-2-3", "'1-2-3'"),
        ("5400,", "''"),
    ],
)
def test_strict_parser_names_the_bad_part(spec: str, names: str):
    with pytest.raises(UsageError) as err:
        parse_ranges(spec)
    assert names in str(err.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5400-5800", [(5400, 5800)]),
        ("5800-5400", [(5400, 5800)]),  # reversed bounds are swapped
        (" 5400 + 10 ", [(5400, 5410)]),
        ("1000, 2000-2001,3000+1", [(1000, 1000), (2000, 2001), (3000, 3001)]),
        ("-3+4", [(1, 4)]),  # numbers clamp to 0 as read: 0-4, and port 0 is no port
        ("-10--5", []),  # clamps to 0-0: nothing
        ("0", []),
        ("65000-70000", [(65000, 65535)]),
    ],
)
def test_lenient_parser_follows_the_platform(value: str, expected: list[tuple[int, int]]):
    assert parse_annotation(value) == [PortRange(a, b) for a, b in expected]


@pytest.mark.parametrize("value", ["", "true", "5400-", "a-b", "1,2,x", "{}", "5400 5800"])
def test_lenient_parser_returns_none_for_other_values(value: str):
    assert parse_annotation(value) is None


ranges = st.builds(
    lambda a, b: PortRange(min(a, b), max(a, b)),
    st.integers(1, 65535),
    st.integers(1, 65535),
)


@given(st.lists(ranges, max_size=20), st.integers(1, 65535))
def test_merge_keeps_exactly_the_same_ports(items: list[PortRange], port: int):
    merged = merge(items)
    assert contains(merged, port) == any(port in r for r in items)
    assert all(a.end + 1 < b.start for a, b in itertools.pairwise(merged))


@given(ranges)
def test_a_range_prints_as_it_parses(item: PortRange):
    assert parse_ranges(str(item)) == [item]
    assert parse_annotation(str(item)) == [item]
