"""The streaming JSON writer writes what json.dumps would."""

from __future__ import annotations

import io
import json

from hypothesis import given
from hypothesis import strategies as st
from polarstack_cli.output import write_json

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(VALUES, st.sampled_from([None, 2]))
def test_same_bytes_as_json_dumps(value: object, indent: int | None) -> None:
    out = io.StringIO()
    write_json(out, value, indent=indent)
    assert out.getvalue() == json.dumps(value, indent=indent, ensure_ascii=False)


def test_iterators_become_arrays_without_being_listed_first() -> None:
    seen = []

    def actions():
        for n in range(3):
            seen.append(n)
            yield {"n": n}

    out = io.StringIO()
    write_json(out, {"actions": actions(), "empty": iter(())}, indent=None)
    assert json.loads(out.getvalue()) == {"actions": [{"n": 0}, {"n": 1}, {"n": 2}], "empty": []}


@given(st.lists(VALUES, max_size=5), VALUES, st.sampled_from([None, 2]))
def test_streamed_lists_lay_out_as_json_dumps(
    items: list, other: object, indent: int | None
) -> None:
    out = io.StringIO()
    write_json(out, {"actions": iter(items), "other": other}, indent=indent)
    expected = json.dumps({"actions": items, "other": other}, indent=indent, ensure_ascii=False)
    assert out.getvalue() == expected
