"""Click parameter types for the library's notations."""

from __future__ import annotations

from typing import Any

import click

from polarstack.errors import UsageError
from polarstack.portranges import PortRange, parse_ranges


class PortRangesType(click.ParamType[list[PortRange]]):
    """``N``, ``A-B``, ``A+K`` or a comma list of them, strictly."""

    name = "RANGE"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> list[PortRange]:
        """Parse ``value``; a bad spec fails as a usage error naming the bad part."""
        if isinstance(value, list):
            return value
        try:
            return parse_ranges(str(value))
        except UsageError as exc:
            self.fail(str(exc), param, ctx)


PORT_RANGES = PortRangesType()
