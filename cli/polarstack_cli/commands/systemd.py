"""``polarstack systemd``: install or remove the hardened systemd units on this host."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from polarstack.systemd import SYSTEMD_ENV_FILE, SYSTEMD_UNIT_DIR, install_units, uninstall_units
from polarstack_cli.options import GlobalOptions, global_options, pass_options

F = TypeVar("F", bound=Callable[..., Any])


@click.group()
@global_options
def systemd() -> None:
    """Install or remove polarstack's systemd services and timers."""


def _binary() -> str:
    found = shutil.which("polarstack")
    return str(Path(found).resolve()) if found else str(Path(sys.argv[0]).resolve())


def _common(func: F) -> F:
    """``--dry-run`` and ``--unit-dir``, on install and uninstall alike."""
    func = click.option(
        "--unit-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=str(SYSTEMD_UNIT_DIR),
        show_default=True,
        help="Where the unit files are.",
    )(func)
    return click.option(
        "--dry-run", is_flag=True, help="Print what would be done; change nothing."
    )(func)


def _print_steps(options: GlobalOptions, steps: list[Any], dry_run: bool) -> None:
    for step in steps:
        print(("would " if dry_run else "") + str(step), file=options.env.stdout)


@systemd.command()
@_common
@click.option(
    "--binary",
    help="The polarstack command the units run (default: the one on PATH).",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=str(SYSTEMD_ENV_FILE),
    show_default=True,
    help="The units' environment file, written from a template when missing.",
)
@global_options
@pass_options
def install(
    options: GlobalOptions, dry_run: bool, unit_dir: Path, binary: str | None, env_file: Path
) -> None:
    """Write the units, reload systemd, and enable the four job timers.

    The environment file /etc/polarstack/polarstack.env is written only when missing; put the
    kubeconfig at /etc/polarstack/kubeconfig (readable by root only: the units receive it as
    a credential). polarstack-daemon.service is installed but not enabled: enable it instead
    of the timers of ports, versions and net where one long-running process is preferred.
    """
    steps = install_units(
        binary=binary or _binary(), unit_dir=unit_dir, env_file=env_file, dry_run=dry_run
    )
    _print_steps(options, steps, dry_run)


@systemd.command()
@_common
@global_options
@pass_options
def uninstall(options: GlobalOptions, dry_run: bool, unit_dir: Path) -> None:
    """Stop and disable the timers and the daemon, and remove the unit files.

    The environment file and the kubeconfig in /etc/polarstack are left in place.
    """
    _print_steps(options, uninstall_units(unit_dir=unit_dir, dry_run=dry_run), dry_run)
