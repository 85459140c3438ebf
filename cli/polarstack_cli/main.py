"""Entry point of the ``polarstack`` command; maps errors to exit codes in one place."""

from __future__ import annotations

import functools
import importlib
import signal
import sys
import tomllib
import traceback
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import click

from polarstack import (
    ClusterError,
    ConfigurationError,
    PolarstackError,
    UsageError,
    __version__,
    registered_jobs,
)
from polarstack_cli.environment import Environment
from polarstack_cli.options import GlobalOptions, global_options
from polarstack_cli.signals import StoppedBySignal, interrupted_message
from polarstack_cli.status import ExitStatus

DEFAULT_CONFIG = "/etc/polarstack/config.toml"

# Subcommands load on use, so `polarstack --help` does not import every job. Beside these,
# each registered job has a command: module polarstack_cli.commands.<job>, attribute <job>.
_COMMANDS = {
    "daemon": (
        "polarstack_cli.commands.daemon",
        "daemon",
        "Run the jobs in loops with health, metrics and the HTTP API.",
    ),
    "systemd": (
        "polarstack_cli.commands.systemd",
        "systemd",
        "Install or remove polarstack's systemd services and timers.",
    ),
    "version": ("polarstack_cli.commands.version", "version", "Print the polarstack version."),
}


def _commands() -> dict[str, tuple[str, str, str]]:
    jobs = {
        job.name: (f"polarstack_cli.commands.{job.name}", job.name, job.summary)
        for job in registered_jobs()
    }
    return dict(sorted({**jobs, **_COMMANDS}.items()))


class LazyGroup(click.Group):
    """A group whose subcommands are imported when first used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Name every subcommand without importing any."""
        return list(_commands())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import the subcommand's module on first use."""
        found = _commands().get(cmd_name)
        if found is None:
            return None
        module, attribute, _help = found
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List subcommands from the table, so --help imports none of them."""
        rows = [(name, short) for name, (_m, _a, short) in _commands().items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _load_config(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """Turn the config file into click's default map: flags and env still win over it."""
    path = value or DEFAULT_CONFIG
    try:
        with open(path, "rb") as f:
            config = tomllib.load(f)
    except FileNotFoundError:
        if value:
            raise click.BadParameter(f"{path}: no such file") from None
        return
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise click.BadParameter(f"{path}: {exc}") from exc
    ctx.default_map = {key.replace("_", "-"): v for key, v in config.items()}


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "POLARSTACK"},
)
@click.option(
    "--config",
    envvar="POLARSTACK_CONFIG",
    callback=_load_config,
    expose_value=False,
    is_eager=True,
    type=click.Path(dir_okay=False),
    help=f"TOML file of option defaults per command (default: {DEFAULT_CONFIG}, if present).",
)
@functools.partial(global_options, root=True)
@click.version_option(__version__, "--version", prog_name="polarstack")
def cli() -> None:
    """Polarstack: the PolarDB Stack node agent.

    Finds occupied ports, available engine versions, cleans the database log tree and reports
    the client NIC. Without a cluster every job prints to the terminal.
    """


# Library errors to exit codes, most specific first; anything else is a partial failure.
_EXIT_STATUS: tuple[tuple[type[BaseException], ExitStatus], ...] = (
    (UsageError, ExitStatus.USAGE),
    (ClusterError, ExitStatus.CLUSTER),
    (ConfigurationError, ExitStatus.CONFIGURATION),
)


def _exit_status(exc: BaseException) -> ExitStatus:
    return next(
        (status for kind, status in _EXIT_STATUS if isinstance(exc, kind)),
        ExitStatus.PARTIAL_FAILURE,
    )


def run(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    """Run the CLI with ``argv`` in ``env``; return the exit status (never raises)."""
    env = env or Environment()
    args = list(sys.argv[1:] if argv is None else argv)
    options = GlobalOptions(env=env)
    with redirect_stdout(env.stdout), redirect_stderr(env.stderr):
        try:
            result: Any = cli.main(
                args=args, prog_name="polarstack", standalone_mode=False, obj=options
            )
        except click.exceptions.Exit as exc:
            return exc.exit_code
        except click.exceptions.Abort:
            print(interrupted_message(signal.SIGINT), file=env.stderr)
            return ExitStatus.INTERRUPTED
        except click.ClickException as exc:
            exc.show(file=env.stderr)
            return ExitStatus.USAGE if isinstance(exc, click.UsageError) else exc.exit_code
        except KeyboardInterrupt:
            print(interrupted_message(signal.SIGINT), file=env.stderr)
            return ExitStatus.INTERRUPTED
        except StoppedBySignal as exc:
            print(interrupted_message(exc.signum), file=env.stderr)
            return 128 + exc.signum
        except PolarstackError as exc:
            if env.verbose:
                traceback.print_exc(file=env.stderr)
            print(f"error: {exc}", file=env.stderr)
            return _exit_status(exc)
        except Exception as exc:  # a bug: say so plainly, details with -v
            if env.verbose:
                traceback.print_exc(file=env.stderr)
            print(
                f"internal error: {type(exc).__name__}: {exc} (run with -v for details)",
                file=env.stderr,
            )
            return ExitStatus.PARTIAL_FAILURE
    return int(result) if isinstance(result, int) else ExitStatus.OK
