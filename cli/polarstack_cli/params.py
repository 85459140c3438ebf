"""Click parameter types for the library's notations."""

from __future__ import annotations

from typing import Any

import click

from polarstack import (
    PortRange,
    UsageError,
    parse_duration,
    parse_ranges,
)


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


class DurationType(click.ParamType[float]):
    """``90s``, ``5m``, ``6h``, ``1d``, ``1h30m`` or plain seconds, as seconds; above zero."""

    name = "DURATION"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        """Parse ``value``; a bad or zero duration fails as a usage error."""
        if isinstance(value, float):
            return value
        try:
            seconds = parse_duration(str(value))
        except UsageError as exc:
            self.fail(str(exc), param, ctx)
        if seconds <= 0:
            self.fail(f"must be more than zero: {value!r}", param, ctx)
        return seconds


DURATION = DurationType()
