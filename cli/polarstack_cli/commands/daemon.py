"""``polarstack daemon``: every job in a loop, with health, metrics and the HTTP API."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

import click

from polarstack import (
    RUNTIMES,
    ConfigurationError,
    job_names,
    resolve_node_name,
)
from polarstack_cli import cluster
from polarstack_cli.logging_setup import setup_logging
from polarstack_cli.options import GlobalOptions, global_options, pass_options
from polarstack_cli.params import DURATION
from polarstack_cli.settings_options import setting_option, settings_from

# Flags of the previous daemon's DaemonSet that mean nothing here: accepted, with a warning,
# so an old DaemonSet spec can switch image and keep its args.
OBSOLETE_FLAGS = {
    "v": "logging: use -v",
    "logtostderr": "logging: polarstack always logs to stderr",
    "alsologtostderr": "logging: polarstack always logs to stderr",
    "log-dir": "logging: polarstack logs to stderr",
    "log-file": "logging: polarstack logs to stderr",
    "log-flush-frequency": "logging: lines are written at once",
    "stderrthreshold": "logging: use -v",
    "events-enable-upload": "events go to the Kubernetes API as Events",
    "events-upload-url": "events go to the Kubernetes API as Events",
    "events-upload-timeout": "events go to the Kubernetes API as Events",
    "job-enable-del-fip": "floating IPs are not managed by polarstack",
    "job-enable-add-fip": "floating IPs are not managed by polarstack",
    "service-owner-db-cluster": "floating IPs are not managed by polarstack",
    "polarstack-daemon-pod-labels": "re-check requests travel through a ConfigMap, not pod IPs",
    "master": "give the API server in the kubeconfig",
    "develop-mode": "no such mode",
    "node-status-update-frequency": "conditions are written on change and every --heartbeat",
    "logs-workers": "log files are deleted on one thread",
}


def _obsolete_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for flag in sorted(OBSOLETE_FLAGS, reverse=True):
        func = click.option(
            f"--{flag}",
            f"obsolete_{flag.replace('-', '_')}",
            is_flag=False,
            flag_value="true",
            default=None,
            hidden=True,
            help=f"Previous daemon's flag; ignored ({OBSOLETE_FLAGS[flag]}).",
        )(func)
    return func


def _jobs(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(j.strip() for j in value.split(",") if j.strip()))
    unknown = [j for j in chosen if j not in job_names()]
    if unknown or not chosen:
        raise click.BadParameter(f"choose from {', '.join(job_names())} (got {value!r})")
    return chosen


def _interval_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for name in reversed(job_names()):
        func = setting_option(f"--{name}-interval", setting=f"{name}.interval", type=DURATION)(func)
    return func


@click.command()
@setting_option(
    "--jobs",
    setting="daemon.jobs",
    parse=_jobs,
    default=",".join(job_names()),
    help="Jobs to run, comma-separated (leave out versions without a runtime, …).",
)
@setting_option("--listen", setting="daemon.listen", help="HTTP address.")
@setting_option(
    "--port", setting="daemon.port", type=click.IntRange(0, 65535),
    help="HTTP port (0: any free port).",
)  # fmt: skip
@_interval_options
@setting_option(
    "--heartbeat", setting="net.heartbeat", help="Rewrite unchanged node conditions this often."
)
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="json: one object per line (time, level, job, message, fields).",
)  # fmt: skip
@setting_option("--root", "--dbcluster-log-dir", setting="logs.root", help="The database log tree.")
@setting_option(
    "--days", "--ins-folder-overdue-days", setting="logs.days", type=click.FloatRange(min=0),
    help="N of the log rules.",
)  # fmt: skip
@setting_option(
    "--nic", setting="net.client_nic",
    help="Client NIC (default: ccm-config NET_CARD_NAME, else bond1).",
)  # fmt: skip
@setting_option(
    "--oob/--no-oob", setting="net.check_oob", help="Report the BMC IP [default: isCheckOObIP]."
)
@setting_option("--runtime", setting="versions.runtime", type=click.Choice(RUNTIMES))
@setting_option(
    "--runtime-endpoint", setting="versions.runtime_endpoint", metavar="SOCKET",
    help="Container runtime socket.",
)  # fmt: skip
@setting_option(
    "--core-version-cm-labels", setting="versions.selector",
    help="Label selector of the version ConfigMaps.",
)  # fmt: skip
@setting_option(
    "--mpd-controller-cm-name", setting="ports.ranges_config_map",
    help="ConfigMap whose annotations hold the port ranges.",
)  # fmt: skip
@click.option(
    "--current-node-name", "current_node_name", default=None,
    help="Previous daemon's name for --node-name.",
)  # fmt: skip
@_obsolete_options
@global_options
@pass_options
def daemon(
    options: GlobalOptions,
    /,
    log_format: str,
    current_node_name: str | None,
    **obsolete: str | None,
) -> None:
    """Run the jobs in loops, publish to the cluster, and serve health, metrics and the API.

    \b
    Schedules (each with jitter; after a failure the job retries sooner, backing off up to
    its interval or 60 s, whichever is larger):
      ports     every 60 s       versions  every 10 min, and on version ConfigMap changes
      logs      every 6 h        net       every 3 s, writes on change and --heartbeat

    \b
    HTTP (--port, default 8900):
      /healthz  200 while every job's loop is alive (never fails for an API outage)
      /readyz   200 while every job's last run succeeded recently, else 503 with errors
      /metrics  Prometheus text format
      /api/v1/TestConn, GetStandByIp, RequestCheckCoreVersion, InnerCheckCoreVersion

    Every flag of the previous daemon's DaemonSet is accepted; those that mean nothing here
    are ignored with a warning.
    """
    env = options.env
    setup_logging(env, log_format)
    for key, value in obsolete.items():
        if value is not None:
            flag = key.removeprefix("obsolete_").replace("_", "-")
            env.warn(f"--{flag} is ignored: {OBSOLETE_FLAGS[flag]}")
    settings = settings_from()
    listen, port = settings.daemon.listen, settings.daemon.port
    from polarstack.daemon.http import ApiServer
    from polarstack.daemon.service import Daemon

    node = resolve_node_name(options.node_name or current_node_name, environ=env.environ)
    agent = Daemon(
        kube=cluster.connect_cluster(options),
        node=node,
        settings=settings,
    )
    try:
        server = ApiServer(agent, listen, port)
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on {listen}:{port}: {exc.strerror}") from exc
    stop = threading.Event()
    handlers = {
        sig: signal.signal(sig, lambda _signum, _frame: stop.set())
        for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        server.start()
        agent.start()
        print(
            f"polarstack daemon on node {node}: jobs {', '.join(agent.loops)}; "
            f"HTTP on {listen}:{server.port}",
            file=env.stderr,
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        server.stop()
        finished = agent.stop(grace=4.0)
    print(
        "polarstack daemon stopped" + ("" if finished else " (a run was cut short)"),
        file=env.stderr,
    )
