"""Parse human durations such as ``90s``, ``5m``, ``6h``, ``1d``."""

from __future__ import annotations

import math
import re

from polarstack.errors import UsageError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(text: str) -> float:
    """Return the number of seconds in ``text``.

    A bare number means seconds. Parts may be combined, largest first or not: ``1h30m``.

    Raises:
        UsageError: ``text`` is empty, negative, not a duration, or too long to be finite.

    Example:
        >>> parse_duration("1h30m")
        5400.0
        >>> parse_duration("90")
        90.0
    """
    spec = text.strip().lower()
    if not spec:
        raise UsageError("empty duration")
    try:
        seconds = float(spec)
    except ValueError:
        pass
    else:
        if seconds < 0:
            raise UsageError(f"negative duration: {text!r}")
        return _finite(seconds, text)
    pos, total = 0, 0.0
    while pos < len(spec):
        match = _PART.match(spec, pos)
        if match is None:
            raise UsageError(
                f"bad duration {text!r}: expected numbers with units ms, s, m, h or d "
                "(e.g. 90s, 5m, 1h30m)"
            )
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return _finite(total, text)


def _finite(seconds: float, text: str) -> float:
    # float() reads "nan", "inf" and 1e400 too; a wait that long fails later, in a sleep.
    if not math.isfinite(seconds):
        raise UsageError(f"duration out of range: {text!r}")
    return seconds


_SHOWN = (("d", 86400), ("h", 3600), ("m", 60))


def format_duration(seconds: float) -> str:
    """Write ``seconds`` as :func:`parse_duration` reads it.

    The unit is the largest that counts it whole at least twice (a minute stays ``60s``).

    Example:
        >>> [format_duration(s) for s in (3, 60, 300, 600, 21600, 0.5)]
        ['3s', '60s', '5m', '10m', '6h', '0.5s']
    """
    for unit, size in _SHOWN:
        if seconds >= 2 * size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
