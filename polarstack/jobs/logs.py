"""The logs job's link to the cluster: the live set, and an Event when it deleted something."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from polarstack.cleaners.deleting import CleanReport, clean
from polarstack.cleaners.logs import plan_clean
from polarstack.errors import ClusterError, PolarstackError
from polarstack.jobs.contract import Job, JobContext, Metric
from polarstack.kube.client import Kube
from polarstack.kube.readers import read_live_ids
from polarstack.model import ALL_RULES, LiveIds, NodeEvent, Rule
from polarstack.publishers.base import Publisher
from polarstack.settings import LogsSettings, Settings
from polarstack.sizes import human_size
from polarstack.timefmt import utc_now


def clean_event(report: CleanReport) -> NodeEvent | None:
    """The Event a real run records: what it deleted, failures as a warning; else None."""
    if report.dry_run:
        return None
    totals = report.totals()
    if not (totals.deleted_files or totals.deleted_dirs or totals.failed):
        return None
    message = (
        f"deleted {totals.deleted_files} file(s) and {totals.deleted_dirs} "
        f"directory(ies) under {report.plan.root}, freeing {human_size(totals.freed_bytes)}"
    )
    if report.interrupted:
        message += " before it was interrupted"
    if totals.failed:
        message += f"; {totals.failed} item(s) could not be deleted"
        return NodeEvent("LogsCleanFailed", message, "Warning")
    return NodeEvent("LogsCleaned", message)


@dataclass(frozen=True)
class LogsRun:
    """What one run of the logs job did."""

    report: CleanReport
    notes: tuple[str, ...] = ()
    """Warnings beside the cleaning (an incomplete open-file check)."""
    cluster_failures: tuple[str, ...] = ()
    """What the cluster was asked for and did not give: the live set, the Event. The rules
    that need no cluster ran all the same; callers report the run as failed."""

    def to_dict(self, *, lazy: bool = False) -> dict[str, Any]:
        """The report's JSON object (see :meth:`CleanReport.to_dict`)."""
        return self.report.to_dict(lazy=lazy)


@dataclass(frozen=True)
class LogsInputs:
    """The live set, and what the cluster failed to give."""

    live: LiveIds
    cluster_failures: tuple[str, ...] = ()


class LogsJob(Job[LogsInputs, LogsRun]):
    """Clean the log tree; record an Event on the node when something was deleted."""

    name = "logs"
    settings_type = LogsSettings
    metrics = (Metric("logs_freed_bytes", "Bytes freed by the logs job.", "counter"),)

    def __init__(
        self,
        context: JobContext,
        *,
        live: LiveIds | None = None,
        live_ids_file: str | None = None,
        extra_ids: Sequence[str] = (),
        rules: Sequence[Rule] = ALL_RULES,
        dry_run: bool = False,
        clock: Callable[[], datetime] = utc_now,
        walked: Callable[[int], None] | None = None,
        deleted: Callable[[int, int], None] | None = None,
    ) -> None:
        super().__init__(context)
        self.live = live
        self.live_ids_file = live_ids_file
        """Read at each run, with ``extra_ids``: instances come and go between runs."""
        self.extra_ids = tuple(extra_ids)
        self.rules = tuple(rules)
        self.dry_run = dry_run
        self.clock = clock
        self.walked = walked
        self.deleted = deleted

    @property
    def settings(self) -> LogsSettings:
        """``settings.logs``."""
        return self.context.settings.logs

    def gather(self) -> LogsInputs:
        """The live ids given (or in the file), else the cluster's.

        A failed read of the cluster leaves them unknown, and is the run's failure.

        Raises:
            UsageError: the live ids file cannot be read.
        """
        if self.live_ids_file is not None:
            return LogsInputs(LiveIds.read_file(self.live_ids_file, extra=self.extra_ids))
        if self.live is not None:
            return LogsInputs(self.live)
        kube = self.context.kube
        if kube is None:
            return LogsInputs(LiveIds.unknown("no cluster and no live ids given"))
        try:
            return LogsInputs(read_live_ids(kube, self.settings))
        except ClusterError as exc:
            return LogsInputs(
                LiveIds.unknown(f"cannot list pods: {exc}"),
                (f"live instances not read: {exc}",),
            )

    def run(self, inputs: LogsInputs) -> LogsRun:
        """Plan, then delete (nothing in a dry run); the context's ``stop`` ends it early."""
        stop = self.context.stop
        plan = plan_clean(
            self.settings.root,
            days=self.settings.days,
            live=inputs.live,
            rules=self.rules,
            clock=self.clock,
            progress=self.walked,
            stop=stop,
        )
        report = clean(
            plan, dry_run=self.dry_run, clock=self.clock, progress=self.deleted, stop=stop
        )
        return LogsRun(report, plan.notes, inputs.cluster_failures)

    def publish(self, result: LogsRun) -> LogsRun:
        """Record the Event of a run that deleted (or failed to delete) something."""
        publisher, node = self.context.publisher, self.context.node
        event = clean_event(result.report)
        if publisher is None or not node or event is None:
            return result
        try:
            publisher.record_event(node, event, now=self.clock())
        except PolarstackError as exc:
            failure = f"could not record the event on node {node}: {exc}"
            return dataclasses.replace(result, cluster_failures=(*result.cluster_failures, failure))
        return result

    def interrupted(self, result: LogsRun) -> bool:
        """Whether a stop ended the clean before its end."""
        return result.report.interrupted

    def measure(self, result: LogsRun) -> Mapping[str, float]:
        """``logs_freed_bytes``, by a real run."""
        if result.report.dry_run:
            return {}
        return {"logs_freed_bytes": result.report.totals().freed_bytes}


def run_logs(
    *,
    live: LiveIds | None = None,
    kube: Kube | None = None,
    settings: LogsSettings = LogsSettings(),  # noqa: B008 (frozen)
    rules: Sequence[Rule] = ALL_RULES,
    dry_run: bool = False,
    node: str | None = None,
    publisher: Publisher | None = None,
    clock: Callable[[], datetime] = utc_now,
    walked: Callable[[int], None] | None = None,
    deleted: Callable[[int, int], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> LogsRun:
    """Plan and clean the log tree once; record an Event on ``node`` when it deleted something.

    Args:
        live: the live instance ids; None: read from ``kube`` (unknown without it).
        kube: the cluster to read the live set from, when ``live`` is None.
        settings: the root, N and the instance label.
        rules: the rules to apply.
        dry_run: plan and report only.
        node: the node the Event is recorded on.
        publisher: where the Event goes; None records none.
        clock: the time ages are measured against.
        walked: progress of the walk (entries seen).
        deleted: progress of the deletion (items done, items planned).
        stop: asked between items (and directories while planning): True ends the run
            after the item in hand, and the report says it was interrupted.
    """
    context = JobContext(
        node or "",
        kube,
        publisher if node else None,
        Settings(logs=settings),
        stop or (lambda: False),
    )
    job = LogsJob(
        context,
        live=live,
        rules=rules,
        dry_run=dry_run,
        clock=clock,
        walked=walked,
        deleted=deleted,
    )
    return job.once()
