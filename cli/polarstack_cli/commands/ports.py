"""``polarstack ports``: occupied TCP ports in the platform's ranges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from polarstack import PortsJob, PortsRun
from polarstack_cli.environment import Environment
from polarstack_cli.jobrun import job_context, run_job
from polarstack_cli.looping import loop_options
from polarstack_cli.options import GlobalOptions, global_options, pass_options
from polarstack_cli.params import PORT_RANGES
from polarstack_cli.publishing import (
    check_publish_options,
    publish_options,
    report_published,
)


@click.group()
@global_options
def ports() -> None:
    """Occupied TCP ports in the platform's ranges."""


def _table(env: Environment, run: PortsRun) -> None:
    from rich.table import Table

    data = run.scan.to_dict()
    ranges = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in data["ranges"]) or "no ranges"
    table = Table(
        title=f"{len(data['used_ports'])} occupied port(s) on {run.node} in {ranges}",
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
    "repeatable. Default: the cluster's ranges when a cluster is used, else 1-65535.",
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
@publish_options(
    "Write ConfigMap cloud-provider-port-usage-<node> in the cluster (only when the set of "
    "ports changed), unless controller-config has enablePrintPort off.",
    "that ConfigMap",
)
@loop_options("ports")
@global_options
@pass_options
def scan(
    options: GlobalOptions,
    range: tuple[list[Any], ...],  # the option's name: env var and config key follow it
    owners: bool,
    verify_bind: bool,
    method: str,
    publish: bool,
    publish_dir: Path | None,
    loop: bool,
) -> None:
    """Find the TCP ports occupied on this host.

    A port is occupied when a TCP socket (IPv4 or IPv6, any address, any state but
    TIME_WAIT) has it as its local port in this network namespace.

    A cluster is used with --publish, --kubeconfig or --context, or in a pod: the ranges
    then come from the annotations of ConfigMap polardb4mpd-controller (unless --range is
    given), and ports that pods on this node take through a hostPort mapping (with no
    socket on the host) count as occupied too.

    \b
    Examples:
      polarstack ports scan --range 5400-5800
      polarstack ports scan -r 5432 -r 6000+100 --owners -o json
      polarstack ports scan --publish --kubeconfig ~/.kube/config
    """
    check_publish_options(publish, publish_dir)
    requested = [r for spec in range for r in spec]
    context = job_context(options, publish=publish, publish_dir=publish_dir)
    job = PortsJob(
        context, ranges=requested or None, owners=owners, verify_bind=verify_bind, method=method
    )

    def report(env: Environment, run: PortsRun) -> None:
        for warning in (*run.notes, *run.scan.warnings):
            env.warn(warning)
        count = f" ({len(run.published.data)} port(s))" if run.published else ""
        report_published(env, run.published, run.outcome, publish_dir, count)

    run_job(options, job, table=_table, loop=loop, report=report)
