"""``polarstack version``."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Any

import click

from polarstack import (
    __version__,
)
from polarstack_cli.environment import Environment
from polarstack_cli.options import GlobalOptions, global_options, pass_options
from polarstack_cli.output import default_format, emit


@dataclass(frozen=True)
class Versions:
    """What ``polarstack version`` reports."""

    version: str
    python: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"version": self.version, "python": self.python}


def _table(env: Environment, versions: Versions) -> None:
    print(f"polarstack {versions.version} (python {versions.python})", file=env.stdout)


@click.command()
@global_options
@pass_options
def version(options: GlobalOptions) -> None:
    """Print the polarstack version."""
    versions = Versions(__version__, platform.python_version())
    emit(options.env, options.output or default_format(options.env), versions, _table)
