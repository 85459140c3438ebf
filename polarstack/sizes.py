"""Sizes as people read them."""

from __future__ import annotations


def human_size(count: float) -> str:
    """Format a byte count with binary units.

    Example:
        >>> human_size(512), human_size(1536), human_size(3 * 1024**4)
        ('512 B', '1.5 KiB', '3.0 TiB')
    """
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"
