"""Streams, terminal detection and consoles, in one object tests can replace."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:  # rich is imported only when something is rendered
    from rich.console import Console


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@dataclass
class Environment:
    """Where the CLI reads and writes. Tests build one on StringIO streams."""

    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    stdout_isatty: bool | None = None
    stderr_isatty: bool | None = None
    verbose: int = 0
    width: int | None = None
    """Console width; None asks the terminal (tests fix it)."""

    def __post_init__(self) -> None:
        if self.stdout_isatty is None:
            self.stdout_isatty = _isatty(self.stdout)
        if self.stderr_isatty is None:
            self.stderr_isatty = _isatty(self.stderr)

    @cached_property
    def console(self) -> Console:
        """A rich console on stdout, for tables."""
        from rich.console import Console

        return Console(
            file=self.stdout,
            force_terminal=self.stdout_isatty,
            width=self.width,
            no_color="NO_COLOR" in self.environ,
            highlight=False,
        )

    @cached_property
    def error_console(self) -> Console:
        """A rich console on stderr, for warnings and progress bars."""
        from rich.console import Console

        return Console(
            file=self.stderr,
            force_terminal=self.stderr_isatty,
            width=self.width,
            no_color="NO_COLOR" in self.environ,
            highlight=False,
        )

    def warn(self, message: str) -> None:
        """Print one warning line on stderr."""
        print(f"warning: {message}", file=self.stderr)

    def error(self, message: str) -> None:
        """Print one error line on stderr (a loop goes on after it)."""
        print(f"error: {message}", file=self.stderr, flush=True)

    def info(self, message: str) -> None:
        """Print a line on stderr only with ``-v``."""
        if self.verbose:
            print(message, file=self.stderr)
