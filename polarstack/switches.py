"""On/off values in the platform's ConfigMaps (``enablePrintPort``, ``isCheckOObIP``)."""

from __future__ import annotations

_ON = frozenset({"1", "t", "y", "true", "yes"})
_OFF = frozenset({"0", "f", "n", "false", "no"})


def parse_switch(value: str | None) -> bool:
    """Read a switch as the platform does: off only when it clearly says off.

    Missing, empty and unrecognised values are on, so a typo never silently stops a job.

    Example:
        >>> [parse_switch(v) for v in (None, "", " Yes ", "F", "off")]
        [True, True, True, False, True]
    """
    text = (value or "").strip().lower()
    return text not in _OFF or text in _ON
