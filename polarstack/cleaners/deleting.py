"""Carry out a clean plan: delete exactly what it holds, re-checking each item first.

Every deletion goes through directory fds opened from the root one component at a time with
``O_NOFOLLOW``, and is preceded by an ``lstat`` on that fd: the entry must still be the one
planned (same device and inode, same type), still old enough, and not open by a process.
A directory item is emptied of its planned inventory only; anything else found in it (created
after planning, or changed since) is kept, and the directory with it.

The items of a plan are disjoint subtrees, so they may be deleted in any order and by several
threads at once. On a journaled filesystem most of an ``unlink`` is the kernel's work
(journal, block and inode bitmaps), during which Python releases the GIL: two threads
overlap that work. Each thread takes consecutive items in batches and opens its own
directory fds; the report keeps the plan's order.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, NamedTuple

from polarstack.cleaners import safety
from polarstack.cleaners.logs import (
    _ORPHAN,
    CleanPlan,
    Entry,
    PlannedItem,
    Rule,
    action_dict,
    expired_before,
)
from polarstack.errors import UnsafeRootError, UsageError
from polarstack.settings import LogsSettings
from polarstack.timefmt import utc_now


class Outcome(NamedTuple):
    """What happened to one planned item.

    Immutable, like the plan; a tuple rather than a frozen dataclass because a report holds
    one per planned file, and a tuple is built in a third of the time.
    """

    item: PlannedItem
    status: str
    """``planned`` (dry run), ``deleted``, ``skipped`` (no longer matches) or ``failed``."""
    freed: int = 0
    """Bytes freed (in a dry run: that deleting the item would free)."""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class RuleCounts:
    """One rule's line in a report."""

    done: int
    """Items deleted (in a dry run: planned)."""
    bytes: int
    """Bytes those items freed (in a dry run: would free)."""
    skipped: int
    """Items and paths the rule left: changed since planning, open, or kept whole."""
    failed: int


class _Tally(NamedTuple):
    totals: dict[str, int]
    per_rule: dict[Rule, RuleCounts]


@dataclass(frozen=True)
class CleanReport:
    """The result of a clean run, dry or real."""

    plan: CleanPlan
    dry_run: bool
    outcomes: tuple[Outcome, ...]
    finished_at: datetime

    @property
    def failed(self) -> int:
        """Items that could not be deleted."""
        return self._tally.totals["failed"]

    def iter_actions(self) -> Iterator[dict[str, Any]]:
        """Every outcome, then every path the planner left, in the JSON form, one by one."""
        plan = self.plan
        for o in self.outcomes:
            yield action_dict(
                plan,
                o.item.entry.parts,
                rule=o.item.rule,
                kind=o.item.kind,
                size=o.item.bytes,
                status=o.status,
                error=o.error,
            )
        for s in plan.skipped:
            yield action_dict(
                plan, s.parts, rule=s.rule, kind="-", size=0, status="skipped", error=s.reason
            )

    def actions(self) -> list[dict[str, Any]]:
        """Every outcome, then every path the planner left, in the JSON form."""
        return list(self.iter_actions())

    def totals(self) -> dict[str, int]:
        """Counts over the run; in a dry run, what a real run would delete and free."""
        return dict(self._tally.totals)

    def per_rule(self) -> dict[Rule, RuleCounts]:
        """The counts of each rule the plan applied, in the plan's order of rules."""
        return dict(self._tally.per_rule)

    @cached_property
    def _tally(self) -> _Tally:
        # One pass over what may be 100,000 outcomes serves the totals, the per-rule counts
        # and ``failed``; the report is frozen, so it is counted once.
        rows = {rule: [0, 0, 0, 0] for rule in self.plan.rules}
        files = dirs = freed = failed = 0
        for item, status, item_freed, _error in self.outcomes:
            row = rows[item.rule]
            freed += item_freed
            if status == "deleted" or status == "planned":
                row[0] += 1
                row[1] += item_freed
                if item.entry.is_dir:
                    dirs += 1
                    for entry in item.inventory:
                        dirs += entry.is_dir
                        files += not entry.is_dir
                else:
                    files += 1
            elif status == "failed":
                row[3] += 1
                failed += 1
            else:
                row[2] += 1
        for skipped in self.plan.skipped:
            if skipped.rule is not None:
                rows[skipped.rule][2] += 1
        totals = {
            "deleted_files": files,
            "deleted_dirs": dirs,
            "freed_bytes": freed,
            "planned_bytes": self.plan.bytes,
            "failed": failed,
        }
        return _Tally(totals, {rule: RuleCounts(*row) for rule, row in rows.items()})

    def to_dict(self, *, lazy: bool = False) -> dict[str, Any]:
        """Return the JSON object ``polarstack logs clean --output json`` prints.

        With ``lazy``, ``actions`` is an iterator, for a writer that streams it: a clean of
        a large tree holds 100,000 actions, and their dicts need not all be in memory.
        """
        plan = self.plan
        return {
            "root": plan.root,
            "days": plan.days,
            "dry_run": self.dry_run,
            "rules": [r.value for r in plan.rules],
            "live_ids_source": plan.live_ids_source,
            "skipped_rules": [
                {"rule": s.rule.value, "reason": s.reason} for s in plan.skipped_rules
            ],
            "notes": list(plan.notes),
            "actions": self.iter_actions() if lazy else self.actions(),
            "totals": self.totals(),
            "planned_at": plan.planned_at.isoformat().replace("+00:00", "Z"),
        }


class _ChangedError(Exception):
    """The entry on disk is no longer the one planned."""


DEFAULT_WORKERS = LogsSettings.workers

BATCH_ENTRIES = 512
"""A batch ends at a change of directory once it holds this many entries to delete (a
directory item counts its inventory), and at four times as many in any case: batches big
enough that handing them out costs nothing, small enough to keep both threads busy."""


def clean(
    plan: CleanPlan,
    *,
    dry_run: bool = False,
    clock: Callable[[], datetime] = utc_now,
    progress: Callable[[int, int], None] | None = None,
    workers: int = DEFAULT_WORKERS,
) -> CleanReport:
    """Delete what ``plan`` holds (nothing with ``dry_run``), each item re-checked first.

    One failing item (permission denied, vanished, changed) is recorded and the run goes on.
    ``workers`` threads delete at once (1: all in the calling thread); ``progress`` is
    called in the calling thread. If the caller is interrupted, no further batch starts.

    Example:
        >>> import tempfile
        >>> from polarstack.cleaners.logs import LiveIds, plan_clean
        >>> with tempfile.TemporaryDirectory() as tree:
        ...     report = clean(plan_clean(tree, live=LiveIds.given(["ins-1"])))
        >>> report.to_dict()["totals"]["failed"]
        0
    """
    if workers < 1:
        raise UsageError(f"workers must be at least 1, not {workers}")
    if dry_run:
        outcomes = tuple(Outcome(item, "planned", item.bytes) for item in plan.items)
        return CleanReport(plan, True, outcomes, clock())
    root_info = safety.check_root(plan.root)
    if (root_info.st_dev, root_info.st_ino) != (plan.root_dev, plan.root_ino):
        raise UnsafeRootError(f"log root {plan.root!r} was replaced since it was planned")
    cutoff_ns = expired_before(int(clock().timestamp() * 1e9), plan.days)
    results: list[Outcome] = []
    fd = safety.open_root(plan.root, root_info)

    def carry_out(batch: Sequence[PlannedItem]) -> list[Outcome]:
        parents = safety.ParentDirs(fd)
        try:
            return [_carry_out(parents, plan, item, cutoff_ns) for item in batch]
        finally:
            parents.close()

    jobs = list(_batches(plan.items, BATCH_ENTRIES))
    try:
        # Closed before the root fd, so no thread still uses the fd when it closes.
        with closing(_in_order(carry_out, jobs, min(workers, len(jobs)))) as done:
            for batch_outcomes in done:
                results.extend(batch_outcomes)
                if progress is not None:
                    progress(len(results), len(plan.items))
    finally:
        os.close(fd)
    return CleanReport(plan, False, tuple(results), clock())


def _batches(items: Sequence[PlannedItem], size: int) -> Iterator[Sequence[PlannedItem]]:
    """Split ``items`` into runs of consecutive items (see :data:`BATCH_ENTRIES`)."""
    start = entries = 0
    for end, item in enumerate(items):
        if entries >= size and (
            entries >= 4 * size or item.entry.parts[:-1] != items[end - 1].entry.parts[:-1]
        ):
            yield items[start:end]
            start, entries = end, 0
        entries += 1 + len(item.inventory)
    if start < len(items):
        yield items[start:]


def _in_order(
    work: Callable[[Sequence[PlannedItem]], list[Outcome]],
    jobs: Iterable[Sequence[PlannedItem]],
    workers: int,
) -> Generator[list[Outcome], None, None]:
    """``work`` of each job, in the jobs' order, done by ``workers`` threads."""
    if workers <= 1:
        yield from map(work, jobs)
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix="polarstack-clean")
    futures: list[Future[list[Outcome]]] = []
    try:
        for job in jobs:
            futures.append(pool.submit(work, job))
        for future in futures:
            yield future.result()
    finally:
        # Interrupted (or the consumer stopped): batches not yet started never start.
        for future in futures:
            future.cancel()
        pool.shutdown(wait=True)


def _carry_out(
    parents: safety.ParentDirs, plan: CleanPlan, item: PlannedItem, cutoff_ns: int
) -> Outcome:
    entry = item.entry
    parts = entry.parts
    try:
        parent = parents.get(parts[:-1])
        info = _check(parent, entry, plan.open_files)
        if item.rule is not _ORPHAN and info.st_mtime_ns >= cutoff_ns:
            raise _ChangedError("no longer old enough")
        if not entry.is_dir:
            os.unlink(parts[-1], dir_fd=parent)
            return Outcome(item, "deleted", entry.size)
        freed, kept = _empty_dir(parent, entry, item.inventory, plan)
        if kept:
            return Outcome(
                item,
                "failed",
                freed,
                f"kept {kept} entr{'y' if kept == 1 else 'ies'} not in the plan "
                "or changed since planning; the directory stays",
            )
        os.rmdir(entry.name, dir_fd=parent)
        return Outcome(item, "deleted", freed)
    except _ChangedError as exc:
        return Outcome(item, "skipped", 0, f"changed since planning: {exc}")
    except FileNotFoundError:
        return Outcome(item, "skipped", 0, "vanished since planning")
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            return Outcome(item, "skipped", 0, "a directory on its path is no longer a directory")
        return Outcome(item, "failed", 0, exc.strerror or str(exc))


def _check(dir_fd: int, entry: Entry, open_files: frozenset[tuple[int, int]]) -> os.stat_result:
    """Raise _ChangedError unless ``entry`` is still what was planned (and not open)."""
    parts, is_dir, dev, ino, mtime_ns, _size = entry
    info = os.stat(parts[-1], dir_fd=dir_fd, follow_symlinks=False)
    kind_ok = stat.S_ISDIR(info.st_mode) if is_dir else stat.S_ISREG(info.st_mode)
    if not kind_ok or info.st_ino != ino or info.st_dev != dev:
        raise _ChangedError("replaced by another file")
    if not is_dir:
        if info.st_mtime_ns != mtime_ns:
            raise _ChangedError("modified")
        if (dev, ino) in open_files:
            raise _ChangedError("open by a process")
    return info


def _empty_dir(
    parent_fd: int, top: Entry, inventory: tuple[Entry, ...], plan: CleanPlan
) -> tuple[int, int]:
    """Delete the inventory of ``top``, deepest first; return (bytes freed, entries kept)."""
    by_dir: dict[tuple[str, ...], list[Entry]] = {}
    for entry in inventory:
        by_dir.setdefault(entry.parts[:-1], []).append(entry)
    freed = kept = 0

    def empty(fd: int, parts: tuple[str, ...]) -> None:
        nonlocal freed, kept
        planned = {e.parts[-1]: e for e in by_dir.get(parts, [])}
        for name in os.listdir(fd):
            entry = planned.get(name)
            if entry is None:
                kept += 1
                continue
            try:
                _check(fd, entry, plan.open_files)
                if entry.is_dir:
                    child = safety.open_dir(fd, name)
                    try:
                        empty(child, entry.parts)
                    finally:
                        os.close(child)
                    os.rmdir(name, dir_fd=fd)
                else:
                    os.unlink(name, dir_fd=fd)
                    freed += entry.size
            except FileNotFoundError:
                continue
            except (_ChangedError, OSError):
                kept += 1

    fd = safety.open_dir(parent_fd, top.name)
    try:
        if os.fstat(fd).st_ino != top.ino:
            raise _ChangedError("replaced by another directory")
        empty(fd, top.parts)
    finally:
        os.close(fd)
    return freed, kept
