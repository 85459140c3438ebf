"""Port-range notation shared with the platform: ``N``, ``A-B``, ``A+K`` and comma lists.

Ranges are inclusive at both ends. Two parsers share one grammar:

* :func:`parse_ranges` is strict, for what a person types (``--range``): anything that does
  not parse, or lies outside 1-65535, is a :class:`~polarstack.errors.UsageError` naming the
  bad part.
* :func:`parse_annotation` is lenient, as the platform's own parser is for what it writes into
  the ``polardb4mpd-controller`` annotations: spaces allowed, reversed bounds swapped, negative
  numbers clamped to 0; a value that is not a range list returns ``None`` so the caller can skip
  it with a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from polarstack.errors import UsageError

MIN_PORT = 1
MAX_PORT = 65535

# One item of a list: a number, a span A-B, or a count A+K. A leading minus on a number is
# accepted by the lenient parser only (the platform clamps it to 0).
_ITEM = re.compile(r"^\s*(-?\d+)\s*(?:([-+])\s*(-?\d+))?\s*$")


@dataclass(frozen=True, order=True)
class PortRange:
    """An inclusive range of TCP ports."""

    start: int
    end: int

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.start <= port <= self.end

    def __len__(self) -> int:
        return self.end - self.start + 1

    def __str__(self) -> str:
        return str(self.start) if self.start == self.end else f"{self.start}-{self.end}"

    def to_list(self) -> list[int]:
        """Return ``[start, end]``, the form the JSON output uses."""
        return [self.start, self.end]


FULL_RANGE = PortRange(MIN_PORT, MAX_PORT)


def _split_item(item: str, *, clamp: bool) -> tuple[int, int] | None:
    """Return the (first, last) bounds of one item, or None when it is not one.

    With ``clamp``, each number is clamped to 0 as it is read, before ``A+K`` is added up:
    ``-3+4`` is 0-4. Without it a negative number is not an item at all.
    """
    match = _ITEM.match(item)
    if match is None:
        return None
    try:
        numbers = [int(group) for group in match.group(1, 3) if group is not None]
    except ValueError:  # more digits than int() converts (4300): no port, no item
        return None
    if clamp:
        numbers = [max(number, 0) for number in numbers]
    elif min(numbers) < 0:
        return None
    first, op = numbers[0], match.group(2)
    if op is None:
        return first, first
    return (first, first + numbers[1]) if op == "+" else (first, numbers[1])


def parse_ranges(spec: str) -> list[PortRange]:
    """Parse a range list typed by a person, strictly.

    Example:
        >>> [str(r) for r in parse_ranges("5400-5800,5432,6000+10")]
        ['5400-5800', '5432', '6000-6010']
    """
    if not spec.strip():
        raise UsageError("empty port range")
    ranges = []
    for item in spec.split(","):
        bounds = _split_item(item, clamp=False)
        if bounds is None:
            raise UsageError(f"bad port range {item.strip()!r} in {spec!r}: expected N, A-B or A+K")
        first, last = bounds
        if first > last:
            raise UsageError(f"bad port range {item.strip()!r}: start {first} is above end {last}")
        if first < MIN_PORT or last > MAX_PORT:
            raise UsageError(f"bad port range {item.strip()!r}: ports are {MIN_PORT}-{MAX_PORT}")
        ranges.append(PortRange(first, last))
    return ranges


def parse_annotation(value: str) -> list[PortRange] | None:
    """Parse an annotation value leniently, as the platform does; None when it is not ranges.

    Numbers are clamped to 0 as they are read (so ``-3+4`` is 0-4), bounds are capped at
    65535 and ordered; port 0 is never a port, so a range that clamps to nothing above 0
    contributes nothing.

    Example:
        >>> parse_annotation(" 6000 - 5990 , -3+4")
        [PortRange(start=5990, end=6000), PortRange(start=1, end=4)]
        >>> parse_annotation("true") is None
        True
    """
    items = value.split(",")
    parsed = [_split_item(item, clamp=True) for item in items]
    if not value.strip() or any(bounds is None for bounds in parsed):
        return None
    ranges = []
    for bounds in parsed:
        assert bounds is not None
        first, last = sorted(min(bound, MAX_PORT) for bound in bounds)
        first = max(first, MIN_PORT)
        if first <= last:
            ranges.append(PortRange(first, last))
    return ranges


def merge(ranges: Iterable[PortRange]) -> list[PortRange]:
    """Return the union of ``ranges`` as sorted, disjoint, non-adjacent ranges."""
    merged: list[PortRange] = []
    for current in sorted(ranges):
        if merged and current.start <= merged[-1].end + 1:
            last = merged[-1]
            merged[-1] = PortRange(last.start, max(last.end, current.end))
        else:
            merged.append(current)
    return merged


def contains(ranges: list[PortRange], port: int) -> bool:
    """Return whether ``port`` is in any of the merged ``ranges`` (binary search)."""
    lo, hi = 0, len(ranges)
    while lo < hi:
        mid = (lo + hi) // 2
        if ranges[mid].end < port:
            lo = mid + 1
        else:
            hi = mid
    return lo < len(ranges) and ranges[lo].start <= port
