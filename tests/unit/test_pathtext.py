"""File names as reversible text: any bytes in, readable text out, the same bytes back."""

from __future__ import annotations

import os

from hypothesis import example, given
from hypothesis import strategies as st

from polarstack.pathtext import render, render_name
from tests.pathtext import parse

names = st.binary(max_size=40).filter(lambda raw: b"/" not in raw)


@given(names)
@example(b"plain.log")
@example(b"new\nline\\back\xff\xfe\x7f")
def test_rendered_names_parse_back_and_hold_no_control_character(raw: bytes) -> None:
    text = render(raw)
    assert parse(text) == raw
    assert not any(ord(char) < 0x20 or ord(char) == 0x7F for char in text)
    assert all(not 0xDC80 <= ord(char) <= 0xDCFF for char in text)


@given(names)
@example(b"caf\xc3\xa9 \xff.log")
def test_a_name_as_os_decodes_it_renders_as_its_bytes_do(raw: bytes) -> None:
    assert render_name(os.fsdecode(raw)) == render(raw)
