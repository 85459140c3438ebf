"""``polarstack ports``: occupied TCP ports in the platform's ranges."""

from __future__ import annotations

from typing import Any

import click

from polarstack.nodename import resolve_node_name
from polarstack.scanners.ports import PortScan, scan_ports
from polarstack_cli.environment import Environment
from polarstack_cli.options import GlobalOptions, global_options, pass_options
from polarstack_cli.output import default_format, emit
from polarstack_cli.params import PORT_RANGES


@click.group()
@global_options
def ports() -> None:
    """Occupied TCP ports in the platform's ranges."""


def _table(env: Environment, scan: PortScan) -> None:
    from rich.table import Table

    data = scan.to_dict()
    ranges = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in data["ranges"])
    table = Table(
        title=f"{len(data['used_ports'])} occupied port(s) on {data['node']} in {ranges}",
        title_justify="left",
    )
    for column in ("port", "state", "address", "family", "pid", "process", "source"):
        table.add_column(column, justify="right" if column in ("port", "pid") else "left")
    for holder in data["sockets"]:
        process = holder["process"] or ""
        if holder["pod"]:
            process = holder["pod"]
        table.add_row(
            str(holder["port"]),
            holder["state"],
            holder["address"],
            holder["family"],
            "" if holder["pid"] is None else str(holder["pid"]),
            process,
            holder["source"],
        )
    env.console.print(table)


@ports.command()
@click.option(
    "-r",
    "--range",
    type=PORT_RANGES,
    multiple=True,
    metavar="RANGE",
    help="Ports to report on: N, A-B (inclusive) or A+K (A to A+K), or a comma list; "
    "repeatable. Default: 1-65535.",
)
@click.option("--owners", is_flag=True, help="Show the pid and process holding each socket.")
@click.option(
    "--verify-bind",
    is_flag=True,
    help="Confirm each occupied port with a real bind(); ports that bind are dropped.",
)
@click.option(
    "--method",
    type=click.Choice(["auto", "netlink", "procfs"]),
    default="auto",
    show_default=True,
    help="How to read the kernel's socket table.",
)
@global_options
@pass_options
def scan(
    options: GlobalOptions,
    range: tuple[list[Any], ...],  # the option's name: env var and config key follow it
    owners: bool,
    verify_bind: bool,
    method: str,
) -> None:
    """Find the TCP ports occupied on this host.

    A port is occupied when a TCP socket (IPv4 or IPv6, any address, any state but
    TIME_WAIT) has it as its local port in this network namespace.

    \b
    Examples:
      polarstack ports scan --range 5400-5800
      polarstack ports scan -r 5432 -r 6000+100 --owners -o json
    """
    env = options.env
    node = resolve_node_name(options.node_name, environ=env.environ)
    requested = [r for spec in range for r in spec]
    result = scan_ports(
        requested or None, node=node, owners=owners, verify_bind=verify_bind, method=method
    )
    fmt = options.output or default_format(env)
    for warning in result.warnings:
        env.warn(warning)
    emit(env, fmt, result, _table)
