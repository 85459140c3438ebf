"""``polarstack version``."""

from __future__ import annotations

import platform
from typing import Any

import click

from polarstack._version import __version__
from polarstack_cli.environment import Environment
from polarstack_cli.options import GlobalOptions, global_options, pass_options
from polarstack_cli.output import default_format, emit


def _table(env: Environment, data: dict[str, Any]) -> None:
    print(f"polarstack {data['version']} (python {data['python']})", file=env.stdout)


@click.command()
@global_options
@pass_options
def version(options: GlobalOptions) -> None:
    """Print the polarstack version."""
    data = {"version": __version__, "python": platform.python_version()}
    emit(options.env, options.output or default_format(options.env), data, _table)
