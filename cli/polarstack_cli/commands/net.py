"""``polarstack net``: the client NIC, the BMC IP and a heartbeat, as node conditions."""

from __future__ import annotations

from pathlib import Path

import click

from polarstack import NetJob, NetProbe
from polarstack_cli.environment import Environment
from polarstack_cli.jobrun import job_context, run_job
from polarstack_cli.looping import loop_options
from polarstack_cli.options import GlobalOptions, global_options, pass_options
from polarstack_cli.publishing import check_publish_options, publish_options
from polarstack_cli.settings_options import setting_option


@click.group()
@global_options
def net() -> None:
    """The client NIC, the BMC IP and a heartbeat, as node conditions."""


def _table(env: Environment, probe: NetProbe) -> None:
    from rich.table import Table

    table = Table(
        title=f"conditions of node {probe.node} (NIC {probe.nic.name}: {probe.nic.operstate})",
        title_justify="left",
    )
    for column in ("type", "status", "reason", "message"):
        table.add_column(column)
    for condition in probe.conditions:
        table.add_row(condition.type, condition.status, condition.reason, condition.message)
    env.console.print(table)


def _report(env: Environment, probe: NetProbe, *, loop: bool) -> None:
    for note in probe.notes:
        env.warn(note)
    if loop:  # a one-shot run ends with these as its error
        for failure in probe.cluster_failures:
            env.warn(failure)
    sync = probe.sync
    if sync is None:
        return
    if sync.error:
        if loop:
            env.warn(f"retrying the conditions after {sync.retry_at}")
    elif sync.written:
        changed = ", ".join(
            f"{t.condition.type} {t.previous or 'unset'} -> {t.condition.status}"
            for t in sync.transitions
        )
        print(
            f"wrote {len(probe.conditions)} condition(s) to node {probe.node}"
            + (f": {changed}" if changed else " (heartbeat)"),
            file=env.stderr,
        )


@net.command()
@setting_option(
    "--nic",
    setting="net.client_nic",
    help="The client NIC (default: ccm-config NET_CARD_NAME, else bond1).",
)
@setting_option(
    "--oob/--no-oob",
    setting="net.check_oob",
    help="Report the BMC IP (ipmitool lan print 1) [default: controller-config isCheckOObIP, "
    "else on].",
)
@publish_options(
    "Write the conditions to this node's status in the cluster, on change and heartbeat.",
    "them",
)
@loop_options("net")
@setting_option(
    "--heartbeat",
    setting="net.heartbeat",
    help="Rewrite unchanged conditions this often.",
)
@global_options
@pass_options
def probe(
    options: GlobalOptions,
    publish: bool,
    publish_dir: Path | None,
    loop: bool,
) -> None:
    """Probe the client NIC and the BMC; print (or publish) the four node conditions.

    \b
    NodeClientNetworkUnavailable  False when the NIC is up; True when down or unknown
    NodeClientIP                  True with the NIC's IPv4 (else the last known, 0.0.0.0)
    NodeOobIP                     True with the BMC's IP from ipmitool
    NodeRefreshFlag               the heartbeat

    With --publish (or --publish-dir) the conditions are written only when one changed or
    the heartbeat is due, all in one patch; --loop keeps probing every --interval, so a
    change reaches the node within one interval.

    \b
    Examples:
      polarstack net probe --nic eth0 --no-oob
      polarstack net probe --publish --loop --interval 3s
    """
    check_publish_options(publish, publish_dir)
    context = job_context(options, publish=publish, publish_dir=publish_dir)

    def report(env: Environment, probe: NetProbe) -> None:
        _report(env, probe, loop=loop)

    # In a loop only changes are told (stderr); a table every 3 s would drown them.
    run_job(
        options, NetJob(context), table=_table, loop=loop, report=report,
        print_in_loop=False,
    )  # fmt: skip
