"""Options every command takes, before or after the subcommand (as with kubectl).

One decorator puts the same options on the group and on each command. A value given
nearer the command wins: ``polarstack --output json ports scan --output yaml`` prints YAML.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from polarstack_cli.environment import Environment
from polarstack_cli.output import FORMATS

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class GlobalOptions:
    """The global options as finally resolved, with the environment they apply to."""

    env: Environment
    node_name: str | None = None
    output: str | None = None
    kubeconfig: str | None = None
    context: str | None = None


def _store(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    # Every copy defaults to None (or 0), so a value means it was given at that level;
    # later levels are nearer the command and overwrite earlier ones.
    options = ctx.find_object(GlobalOptions)
    if options is None or param.name is None or value is None:
        return value
    if param.name == "verbose":
        options.env.verbose = max(options.env.verbose, int(value))
    else:
        setattr(options, param.name, value)
    return value


def global_options(func: F, *, root: bool = False) -> F:
    """Add ``--node-name``, ``--output``, ``-v``, ``--kubeconfig`` and ``--context``.

    Only the ``root`` copy (on the top-level group) reads ``POLARSTACK_*`` variables: were the
    copies nearer the command to read them too, a variable would override a flag given
    before the subcommand.
    """

    def envvar(name: str) -> str | None:
        return name if root else None

    decorators = [
        click.option(
            "--node-name",
            envvar=envvar("POLARSTACK_NODE_NAME"),
            callback=_store,
            expose_value=False,
            help="Node to report as (default: $NODE_NAME, $CURRENT_NODE_NAME, the hostname).",
        ),
        click.option(
            "-o",
            "--output",
            type=click.Choice(FORMATS),
            envvar=envvar("POLARSTACK_OUTPUT"),
            callback=_store,
            expose_value=False,
            help="Output format (default: table on a terminal, json otherwise).",
        ),
        click.option(
            "-v",
            "--verbose",
            count=True,
            default=None,
            callback=_store,
            expose_value=False,
            help="More detail on stderr; tracebacks on errors.",
        ),
        click.option(
            "--kubeconfig",
            envvar=envvar("POLARSTACK_KUBECONFIG"),
            callback=_store,
            expose_value=False,
            type=click.Path(dir_okay=False),
            help="Kubeconfig file (default: in-cluster, $KUBECONFIG, ~/.kube/config).",
        ),
        click.option(
            "--context",
            envvar=envvar("POLARSTACK_CONTEXT"),
            callback=_store,
            expose_value=False,
            help="Kubeconfig context to use.",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


pass_options = click.make_pass_decorator(GlobalOptions)
