"""The reverse of polarstack.pathtext.render, for tests that prove the escaping reversible.

The library never reads rendered names back; reports promise readers they can (docs/cli.md).
"""

from __future__ import annotations

import re

_ESCAPE = re.compile(r"\\(\\|n|t|r|x[0-9a-f]{2})")
_UNNAMED = {"\\": b"\\", "n": b"\n", "t": b"\t", "r": b"\r"}


def parse(text: str) -> bytes:
    """Return the bytes ``render`` rendered as ``text``."""
    out = bytearray()
    pos = 0
    for match in _ESCAPE.finditer(text):
        out += text[pos : match.start()].encode()
        token = match.group(1)
        out += bytes([int(token[1:], 16)]) if token.startswith("x") else _UNNAMED[token]
        pos = match.end()
    out += text[pos:].encode()
    return bytes(out)
