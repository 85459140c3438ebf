"""The logs job's link to the cluster: the live set, and an Event when it deleted something."""

from __future__ import annotations

from polarstack.cleaners.deleting import CleanReport
from polarstack.publishers.base import NodeEvent
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
