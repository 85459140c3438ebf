"""The logs job's link to the cluster: the live set, and an Event when it deleted something."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from polarstack.cleaners.deleting import CleanReport, clean
from polarstack.cleaners.logs import ALL_RULES, LiveIds, LiveIdsProvider, Rule, plan_clean
from polarstack.errors import PolarstackError
from polarstack.publishers.base import NodeEvent, Publisher
from polarstack.settings import LogsSettings
from polarstack.timefmt import utc_now
from polarstack.units import human_size


def clean_event(report: CleanReport) -> NodeEvent | None:
    """The Event a real run records: what it deleted, failures as a warning; else None."""
    if report.dry_run:
        return None
    totals = report.totals()
    if not (totals["deleted_files"] or totals["deleted_dirs"] or totals["failed"]):
        return None
    message = (
        f"deleted {totals['deleted_files']} file(s) and {totals['deleted_dirs']} "
        f"directory(ies) under {report.plan.root}, freeing {human_size(totals['freed_bytes'])}"
    )
    if totals["failed"]:
        message += f"; {totals['failed']} item(s) could not be deleted"
        return NodeEvent("LogsCleanFailed", message, "Warning")
    return NodeEvent("LogsCleaned", message)


@dataclass(frozen=True)
class LogsRun:
    """What one run of the logs job did."""

    report: CleanReport
    notes: tuple[str, ...] = ()
    """What went wrong beside the cleaning: an Event that could not be recorded."""

    def to_dict(self, *, lazy: bool = False) -> dict[str, Any]:
        """The report's JSON object (see :meth:`CleanReport.to_dict`)."""
        return self.report.to_dict(lazy=lazy)


def run_logs(
    *,
    live: LiveIds | LiveIdsProvider,
    settings: LogsSettings = LogsSettings(),  # noqa: B008 (frozen)
    rules: Sequence[Rule] = ALL_RULES,
    dry_run: bool = False,
    node: str | None = None,
    publisher: Publisher | None = None,
    clock: Callable[[], datetime] = utc_now,
    walked: Callable[[int], None] | None = None,
    deleted: Callable[[int, int], None] | None = None,
) -> LogsRun:
    """Plan and clean the log tree once; record an Event on ``node`` when it deleted something.

    Raises:
        PartialFailureError: some items could not be deleted (the report is on the error).
    """
    plan = plan_clean(
        settings.root, days=settings.days, live=live, rules=rules, clock=clock, progress=walked
    )
    report = clean(plan, dry_run=dry_run, clock=clock, progress=deleted, workers=settings.workers)
    notes = list(plan.notes)
    event = clean_event(report)
    if publisher is not None and node is not None and event is not None:
        try:
            publisher.record_event(node, event, now=clock())
        except PolarstackError as exc:
            notes.append(f"could not record the event on node {node}: {exc}")
    return LogsRun(report, tuple(notes))
