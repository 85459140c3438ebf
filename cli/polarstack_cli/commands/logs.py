"""``polarstack logs``: clean the database log tree."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from polarstack import (
    LiveIds,
    LogsJob,
    LogsRun,
    PartialFailureError,
    human_size,
    parse_rules,
)
from polarstack_cli.environment import Environment
from polarstack_cli.jobrun import job_context, run_job
from polarstack_cli.looping import loop_options
from polarstack_cli.options import GlobalOptions, global_options, pass_options
from polarstack_cli.settings_options import setting_option
from polarstack_cli.signals import SignalStop


@click.group()
@global_options
def logs() -> None:
    """Clean the database log tree."""


def _table(env: Environment, run: LogsRun) -> None:
    from rich.table import Table
    from rich.text import Text

    report = run.report
    plan = report.plan
    verb = "would delete" if report.dry_run else "deleted"
    # Paths and reasons are data, never markup: a root named "[bold]x" is shown as it is.
    table = Table(
        title=Text(
            f"{plan.path_of(())}: older than {plan.days:g} days "
            f"({'dry run' if report.dry_run else 'cleaned'})"
        ),
        title_justify="left",
    )
    for column in ("rule", f"items {verb}", "bytes", "skipped", "failed"):
        table.add_column(column, justify="left" if column == "rule" else "right")
    for rule, counts in report.per_rule().items():
        table.add_row(
            rule.value,
            str(counts.done),
            human_size(counts.bytes),
            str(counts.skipped),
            str(counts.failed),
        )
    env.console.print(table)
    for skipped_rule in plan.skipped_rules:
        env.console.print(f"rule {skipped_rule.rule} skipped: {skipped_rule.reason}", markup=False)
    totals = report.totals()
    failed = f"; {totals.failed} failed" if totals.failed else ""
    env.console.print(
        f"{verb}: {totals.deleted_files} files, {totals.deleted_dirs} directories, "
        f"{human_size(totals.freed_bytes)}{failed}"
    )
    if report.interrupted:
        env.console.print(
            f"interrupted: {len(report.outcomes)} of {len(plan.items)} planned item(s) "
            "carried out; the rest were not touched"
            + ("" if not plan.interrupted else " (the walk itself was stopped)")
        )
    if env.verbose:
        for action in report.actions():
            error = f"  ({action['error']})" if action["error"] else ""
            env.console.print(
                f"  {action['status']:<8} {action['rule'] or '-':<21} {action['path']}{error}",
                markup=False,
            )


@contextmanager
def _progress(
    env: Environment,
) -> Iterator[tuple[Callable[[int], None], Callable[[int, int], None]]]:
    """Progress callbacks: a rich bar on a terminal's stderr, nothing otherwise."""
    if not env.stderr_isatty:
        yield (lambda seen: None), (lambda done, total: None)
        return
    from rich.progress import Progress

    with Progress(console=env.error_console, transient=True) as bar:
        walking = bar.add_task("walking the log tree", total=None)
        deleting = bar.add_task("deleting", total=None, visible=False)

        def walked(seen: int) -> None:
            bar.update(walking, completed=seen, description=f"walking: {seen} entries")

        def deleted(done: int, total: int) -> None:
            bar.update(deleting, completed=done, total=total, visible=True)

        yield walked, deleted


@contextmanager
def _fewer_collections(loop: bool) -> Iterator[None]:
    """Run the garbage collector's youngest generation every 100,000 allocations, not 700.

    A clean of a large tree builds a plan and a report of 100,000 objects each that live
    until the command ends; at the default threshold the collector walks them again and
    again, 3-5% of the run. Only for one run, in a process that ends after it (the library,
    which the daemon runs beside its other jobs, never changes the collector); not in a
    ``--loop``, whose process goes on.
    """
    if loop:
        yield
        return
    before = gc.get_threshold()
    gc.set_threshold(100_000, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


@logs.command()
@setting_option(
    "--root",
    setting="logs.root",
    type=click.Path(file_okay=False),
    help="The log tree: one folder per instance.",
)
@setting_option(
    "--days",
    setting="logs.days",
    type=click.FloatRange(min=0),
    help="N of the rules: delete what is older than N x 24 h.",
)
@click.option(
    "--live-id",
    "live_id",
    multiple=True,
    metavar="ID",
    help="A live instance id (repeatable); stands in for the cluster.",
)
@click.option(
    "--live-ids-file",
    type=click.Path(dir_okay=False),
    help="File of live instance ids, one per line (or comma-separated).",
)
@click.option(
    "--rules",
    default="all",
    show_default=True,
    help="Rules to apply: all, or a comma list of orphan, expired-log, expired-removed-data.",
)
@click.option("--dry-run", is_flag=True, help="Plan and report only; delete nothing.")
@click.option(
    "--workers",
    type=click.IntRange(1, 16),
    hidden=True,
    help="Ignored: deletion runs on one thread (kept so that older scripts still run).",
)
@loop_options("logs")
@global_options
@pass_options
def clean(
    options: GlobalOptions,
    live_id: tuple[str, ...],
    live_ids_file: str | None,
    rules: str,
    dry_run: bool,
    workers: int | None,
    loop: bool,
) -> None:
    """Delete expired logs, expired removed-data dirs and folders of deleted instances.

    \b
    Rules (N = --days; "older" means modified more than N x 24 h ago):
      orphan                an instance folder whose id is not live and that holds
                            no *.log modified within N days: deleted whole
      expired-log           postgresql*.log files, at any depth, older than N days
      expired-removed-data  rm_data_* directories, at any depth, older: deleted whole

    Live ids come from --live-id / --live-ids-file, else from the cluster's pods (label
    apsara.metric.ins_id) when a cluster is used (--kubeconfig, --context, or in a pod).
    Without them the orphan rule is skipped and the report says why. With a cluster, a run
    that deleted something records an Event on this node.

    Symlinks are never followed nor deleted, mount points (bind mounts included) are never
    entered, and files a process holds open are kept.

    SIGINT (Ctrl-C) or SIGTERM stops the run after the item in hand: the report of what was
    deleted is printed (JSON: "interrupted": true) and the exit status is 130 or 143. When
    the cluster was asked for the live set or the Event and failed, the other rules still
    run, and the exit status is 4.

    \b
    Examples:
      polarstack logs clean --dry-run
      polarstack logs clean --root /flash/polardb_dbcluster --days 7 --live-ids-file ids.txt
    """
    env = options.env
    chosen = parse_rules(rules)
    if workers is not None:
        env.warn("--workers is ignored: deletion runs on one thread")
    signals = SignalStop()
    context = job_context(options, events=True, signals=signals)
    live: LiveIds | None = None
    if live_ids_file is None and live_id:
        live = LiveIds.given(live_id)
    elif live_ids_file is None and context.kube is None:
        live = LiveIds.unknown("no cluster given and no --live-id / --live-ids-file")

    def report(env: Environment, run: LogsRun) -> None:
        for note in run.notes:
            env.warn(note)

    with _progress(env) as (walked, deleted), _fewer_collections(loop):
        job = LogsJob(
            context,
            live=live,
            live_ids_file=live_ids_file,
            extra_ids=live_id,
            rules=chosen,
            dry_run=dry_run,
            walked=walked,
            deleted=deleted,
        )
        run_job(
            options, job, table=_table, loop=loop, report=report,
            check=_raise_for_partial_failure, signals=signals,
        )  # fmt: skip


def _raise_for_partial_failure(run: LogsRun) -> None:
    if run.report.failed:
        raise PartialFailureError(
            f"{run.report.failed} item(s) could not be deleted; see the report"
        )
