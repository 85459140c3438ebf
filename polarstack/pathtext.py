r"""Render file names that may hold any bytes as readable, reversible text.

Linux file names are bytes. Names that are not UTF-8, or that hold newlines, must still be
reported, never dropped or mangled: valid UTF-8 is kept, a backslash becomes ``\\``, control
characters become ``\n``, ``\t`` or ``\xNN``, and bytes that are not UTF-8 become ``\xNN``.
"""

from __future__ import annotations

import codecs
import os
import re
import sys

# Anything render() must escape; names without any are returned as they decode.
_NEEDS_ESCAPE = re.compile("[\\\\\x00-\x1f\x7f\udc80-\udcff]")
_NAMED = {"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def render(raw: bytes) -> str:
    r"""Return ``raw`` as text from which the same bytes can be read back (see the module).

    Example:
        >>> render(b"log\xff\n.txt")
        'log\\xff\\n.txt'
    """
    return _render_decoded(raw.decode("utf-8", "surrogateescape"))


def render_name(name: str) -> str:
    r"""``render(os.fsencode(name))`` for a name as ``os`` gives it (``os.fsdecode``).

    A file name seen through ``os.scandir`` is already that decoded text; where the
    filesystem encoding is UTF-8 (Linux, Python 3.7 and later) it is rendered as it is,
    without encoding it back to bytes first.

    Example:
        >>> render_name(os.fsdecode(b"log\xff\n.txt"))
        'log\\xff\\n.txt'
    """
    if _FS_IS_UTF8:
        return _render_decoded(name)
    return render(os.fsencode(name))


_FS_IS_UTF8 = codecs.lookup(sys.getfilesystemencoding()).name == "utf-8"


def _render_decoded(text: str) -> str:
    """Escape ``text``, decoded from bytes as UTF-8 with surrogateescape."""
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    out = []
    for char in text:
        code = ord(char)
        if char in _NAMED:
            out.append(_NAMED[char])
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        else:
            out.append(char)
    return "".join(out)
