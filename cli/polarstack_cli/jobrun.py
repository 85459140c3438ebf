"""The one body every job command runs: connect, run once or in a loop, report, exit status.

A command module declares its options (its settings through
:func:`~polarstack_cli.settings_options.setting_option`) and its table, makes its job with
:func:`job_context`, and hands it to :func:`run_job`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from polarstack import Job, JobContext, KubePublisher, Publisher, resolve_node_name
from polarstack_cli import cluster
from polarstack_cli.environment import Environment
from polarstack_cli.looping import run_repeatedly
from polarstack_cli.options import GlobalOptions
from polarstack_cli.output import Result, default_format, emit
from polarstack_cli.publishing import choose_publisher
from polarstack_cli.settings_options import settings_from
from polarstack_cli.signals import SignalStop

R = TypeVar("R", bound=Result)


def job_context(
    options: GlobalOptions,
    *,
    publish: bool = False,
    publish_dir: Path | None = None,
    cluster_wanted: bool = True,
    events: bool = False,
    signals: SignalStop | None = None,
) -> JobContext:
    """The context of a job run from the command line.

    The cluster is connected for ``--publish``, or when one was named or this runs in a pod
    (and ``cluster_wanted``). The publisher is the cluster (``--publish``), a directory
    (``--publish-dir``), or, with ``events``, the cluster whenever connected (the logs job's
    Event needs no flag). The settings are the command's (:func:`settings_from`).
    """
    kube = None
    if publish or (cluster_wanted and cluster.wanted(options)):
        kube = cluster.connect_cluster(options)
    publisher: Publisher | None
    if events:
        publisher = KubePublisher(kube) if kube is not None else None
    else:
        publisher = choose_publisher(publish, publish_dir, kube)
    return JobContext(
        node=resolve_node_name(options.node_name, environ=options.env.environ),
        kube=kube,
        publisher=publisher,
        settings=settings_from(),
        stop=signals.is_set if signals is not None else JobContext.stop,
    )


def run_job(
    options: GlobalOptions,
    job: Job[Any, R],
    *,
    table: Callable[[Environment, R], None],
    loop: bool,
    report: Callable[[Environment, R], None] | None = None,
    check: Callable[[R], None] | None = None,
    signals: SignalStop | None = None,
    print_in_loop: bool = True,
) -> None:
    """Run ``job`` once, or every ``--interval`` with ``loop``; print and check each run.

    ``report`` writes what a run did beside its result (warnings, what was published) on
    stderr; ``check`` adds the command's own failures to the job's :meth:`~Job.check`. A
    one-shot run prints its result before its failure is raised, so the exit status and the
    report come together. ``signals``: SIGINT/SIGTERM end the run at its next safe point.
    """
    env = options.env

    def once() -> R:
        result = job.once()
        if report is not None:
            report(env, result)
        if print_in_loop or not loop:
            emit(env, options.output or default_format(env), result, table, compact=loop)
        return result

    def checked(result: R) -> R:
        job.check(result)
        if check is not None:
            check(result)
        return result

    if loop:
        run_repeatedly(
            env,
            job.name,
            lambda: checked(once()),
            interval=job.settings.interval,
            timeout=job.settings.timeout,
            signals=signals,
        )
        return
    with signals or SignalStop() as stopping:
        result = once()
    # A run a signal cut short says so first; then the cluster's failure; then the rest.
    if job.interrupted(result):
        stopping.raise_if_stopped()
    checked(result)
