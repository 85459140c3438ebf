"""Carry out a clean plan: delete exactly what it holds, re-checking each item first.

Every deletion goes through directory fds opened from the root one component at a time with
``O_NOFOLLOW``, each checked to be on the root's mount (:func:`.safety.open_dir`), and is
preceded by an ``lstat`` on that fd: the entry must still be the one planned (same device and
inode, same type), still old enough, and not open by a process. A directory item is emptied
of its planned inventory only; anything else found in it (created after planning, changed
since, or a mount point) is kept, and the directory with it.

Deletion runs on the calling thread, one item after another: the job runs every few hours
beside a database, whose cores it should not compete for, and an interruption then always
falls between two items. Every file and directory removed is counted as it goes, so a report
is true even for an item that failed half-way.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, NamedTuple

from polarstack.cleaners import mounts, safety
from polarstack.cleaners.logs import (
    MOUNT_POINT,
    CleanPlan,
    Entry,
    PlannedItem,
    action_dict,
    expired_before,
    freed_bytes,
    read_open_handles_with_files,
)
from polarstack.errors import UnsafeRootError
from polarstack.model import Rule
from polarstack.procfs import OpenHandles
from polarstack.timefmt import utc_now, utc_stamp


class ItemOutcome(NamedTuple):
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
    files: int = 0
    """Files removed (in a dry run: that deleting the item would remove), also when the
    item then failed."""
    dirs: int = 0
    """Directories removed, the item's own included, counted as ``files`` is."""


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


@dataclass(frozen=True, slots=True)
class Totals:
    """A report's counts over the run; in a dry run, what a real run would delete and free."""

    deleted_files: int
    """Files removed, also inside a directory item that then failed."""
    deleted_dirs: int
    """Directories removed, counted as ``deleted_files`` is."""
    freed_bytes: int
    """Space freed: a file with other hard links frees nothing."""
    planned_bytes: int
    """What the plan expected deleting to free."""
    failed: int
    """Items that could not be deleted."""

    def to_dict(self) -> dict[str, int]:
        """The report's ``totals`` JSON object: the fields, in their order here."""
        return dataclasses.asdict(self)


@dataclass
class _RuleTally:
    """A rule's counts while a report is being counted (:class:`RuleCounts` once done)."""

    done: int = 0
    bytes: int = 0
    skipped: int = 0
    failed: int = 0


@dataclass
class _Tally:
    """What a report adds up to: totals and one line per rule."""

    deleted_files: int = 0
    deleted_dirs: int = 0
    freed_bytes: int = 0
    failed: int = 0
    rules: dict[Rule, _RuleTally] = field(default_factory=dict)


@dataclass(frozen=True)
class CleanReport:
    """The result of a clean run, dry or real."""

    plan: CleanPlan
    dry_run: bool
    outcomes: tuple[ItemOutcome, ...]
    interrupted: bool = False
    """The run was stopped (a signal) before its end: ``outcomes`` holds the items carried
    out, and the plan's other items were not touched."""

    @property
    def failed(self) -> int:
        """Items that could not be deleted."""
        return self._tally.failed

    def iter_actions(self) -> Iterator[dict[str, Any]]:
        """Every outcome, then every path the planner left, in the JSON form, one by one."""
        plan = self.plan
        for outcome in self.outcomes:
            item = outcome.item
            yield action_dict(
                plan,
                item.entry.parts,
                rule=item.rule,
                kind=item.kind,
                size=outcome.freed,
                status=outcome.status,
                error=outcome.error,
            )
        for skipped in plan.skipped:
            yield action_dict(
                plan,
                skipped.parts,
                rule=skipped.rule,
                kind="-",
                size=0,
                status="skipped",
                error=skipped.reason,
            )

    def actions(self) -> list[dict[str, Any]]:
        """Every outcome, then every path the planner left, in the JSON form."""
        return list(self.iter_actions())

    def totals(self) -> Totals:
        """Counts over the run; in a dry run, what a real run would delete and free."""
        tally = self._tally
        return Totals(
            deleted_files=tally.deleted_files,
            deleted_dirs=tally.deleted_dirs,
            freed_bytes=tally.freed_bytes,
            planned_bytes=self.plan.bytes,
            failed=tally.failed,
        )

    def per_rule(self) -> dict[Rule, RuleCounts]:
        """The counts of each rule the plan applied, in the plan's order of rules."""
        return {
            rule: RuleCounts(**dataclasses.asdict(counts))
            for rule, counts in self._tally.rules.items()
        }

    @cached_property
    def _tally(self) -> _Tally:
        # One pass over what may be 100,000 outcomes serves the totals, the per-rule counts
        # and ``failed``; the report is frozen, so it is counted once.
        tally = _Tally(rules={rule: _RuleTally() for rule in self.plan.rules})
        for outcome in self.outcomes:
            rule = tally.rules[outcome.item.rule]
            # What was removed counts whatever the item's status: a directory item that
            # failed half-way still removed what went before.
            tally.deleted_files += outcome.files
            tally.deleted_dirs += outcome.dirs
            tally.freed_bytes += outcome.freed
            if outcome.status in ("deleted", "planned"):
                rule.done += 1
                rule.bytes += outcome.freed
            elif outcome.status == "failed":
                rule.failed += 1
                tally.failed += 1
            else:
                rule.skipped += 1
        for skipped in self.plan.skipped:
            if skipped.rule is not None:
                tally.rules[skipped.rule].skipped += 1
        return tally

    def to_dict(self, *, lazy: bool = False) -> dict[str, Any]:
        """Return the JSON object ``polarstack logs clean --output json`` prints.

        With ``lazy``, ``actions`` is an iterator, for a writer that streams it: a clean of
        a large tree holds 100,000 actions, and their dicts need not all be in memory.
        """
        plan = self.plan
        return {
            "root": plan.path_of(()),
            "days": plan.days,
            "dry_run": self.dry_run,
            "interrupted": self.interrupted,
            "rules": [r.value for r in plan.rules],
            "live_ids_source": plan.live_ids_source,
            "skipped_rules": [
                {"rule": s.rule.value, "reason": s.reason} for s in plan.skipped_rules
            ],
            "notes": list(plan.notes),
            "actions": self.iter_actions() if lazy else self.actions(),
            "totals": self.totals().to_dict(),
            "planned_at": utc_stamp(plan.planned_at),
        }


class _ChangedError(Exception):
    """The entry on disk is no longer the one planned."""


class _MovedError(Exception):
    """A directory being emptied, or one above it, is no longer where it was opened."""


PROGRESS_EVERY = 256
"""Items between two calls of the progress callback."""


def clean(
    plan: CleanPlan,
    *,
    dry_run: bool = False,
    clock: Callable[[], datetime] = utc_now,
    progress: Callable[[int, int], None] | None = None,
    stop: Callable[[], bool] | None = None,
    open_handles: Callable[[], OpenHandles] | None = None,
) -> CleanReport:
    """Delete what ``plan`` holds (nothing with ``dry_run``), each item re-checked first.

    One failing item (permission denied, vanished, changed) is recorded and the run goes on.
    ``stop`` is asked before each item: once it answers True, the item in hand is finished,
    no other starts, and the report is marked ``interrupted``. An interrupted plan
    (:func:`~.logs.plan_clean` stopped) deletes nothing.

    Before deleting, the open files (``open_handles``, default: one pass over /proc) and
    the mount tables are read again: what was opened or mounted since planning is kept too.

    Example:
        >>> import tempfile
        >>> from polarstack.cleaners.logs import LiveIds, plan_clean
        >>> with tempfile.TemporaryDirectory() as tree:
        ...     report = clean(plan_clean(tree, live=LiveIds.given(["ins-1"])))
        >>> report.to_dict()["totals"]["failed"]
        0
    """
    if plan.interrupted:
        return CleanReport(plan, dry_run, (), interrupted=True)
    if dry_run:
        outcomes = tuple(
            ItemOutcome(item, "planned", item.bytes, None, item.files, item.dirs)
            for item in plan.items
        )
        return CleanReport(plan, True, outcomes)
    top = safety.open_root(plan.root)
    results: list[ItemOutcome] = []
    interrupted = False
    try:
        if (top.info.st_dev, top.info.st_ino) != (plan.root_dev, plan.root_ino):
            raise UnsafeRootError(f"log root {plan.root!r} was replaced since it was planned")
        handles = (open_handles or read_open_handles_with_files)()
        found = mounts.mount_points_below(top.path, top.mount)
        # The root's mount as it is now: anything on another is a mount point, whatever the
        # planner saw. The id cannot pass to another mount while the root's fd holds it.
        guard = _Guard(
            root_mount=top.mount,
            open_files=plan.open_files | handles.files,
            mount_points=plan.mount_points | found.below,
            blind=found.blind,
            cutoff_ns=expired_before(int(clock().timestamp() * 1e9), plan.days),
        )
        parents = safety.ParentDirs(top.fd, top.mount)
        try:
            for item in plan.items:
                if stop is not None and stop():
                    interrupted = True
                    break
                results.append(_carry_out(parents, plan, item, guard))
                if progress is not None and len(results) % PROGRESS_EVERY == 0:
                    progress(len(results), len(plan.items))
        finally:
            parents.close()
    finally:
        top.close()
    if progress is not None:
        progress(len(results), len(plan.items))
    return CleanReport(plan, False, tuple(results), interrupted=interrupted)


@dataclass(frozen=True)
class _Guard:
    """What every deletion of one run is checked against."""

    root_mount: int
    open_files: frozenset[tuple[int, int]]
    """(dev, ino) of files held open, when planned or just before deleting."""
    mount_points: frozenset[tuple[str, ...]]
    """Mount points the mount tables name (any namespace), when planned or just before."""
    cutoff_ns: int
    """Modified before this: older than N days, now."""
    blind: str | None = None
    """Why no directory may be deleted whole now (:attr:`.mounts.MountPoints.blind`)."""


@dataclass
class _Removed:
    """What one item's deletion removed so far.

    Kept up to date as it goes, so an item that fails half-way still reports what went
    before.
    """

    files: int = 0
    dirs: int = 0
    freed: int = 0
    kept: int = 0
    first_kept: str = ""
    """The first entry kept, and why: the failure's message names it."""

    def keep(self, plan: CleanPlan, parts: tuple[str, ...], reason: str) -> None:
        self.kept += 1
        if not self.first_kept:
            self.first_kept = f"{plan.path_of(parts)}: {reason}"

    def outcome(self, item: PlannedItem, status: str, error: str | None = None) -> ItemOutcome:
        return ItemOutcome(item, status, self.freed, error, self.files, self.dirs)

    def stopped(self, item: PlannedItem, why: str) -> ItemOutcome:
        """The item left off for ``why``: skipped when nothing was removed, else failed."""
        if not (self.files or self.dirs):
            return self.outcome(item, "skipped", why)
        return self.outcome(item, "failed", f"{why}, after removing part of it")


def _carry_out(
    parents: safety.ParentDirs, plan: CleanPlan, item: PlannedItem, guard: _Guard
) -> ItemOutcome:
    entry = item.entry
    removed = _Removed()
    try:
        if entry.parts in guard.mount_points:
            raise safety.MountPointError()
        if entry.is_dir and guard.blind is not None:
            return removed.outcome(item, "skipped", guard.blind)
        parent = parents.get(entry.parts[:-1])
        info = _check(parent, entry, guard)
        if item.rule is not Rule.ORPHAN and info.st_mtime_ns >= guard.cutoff_ns:
            raise _ChangedError("no longer old enough")
        if not entry.is_dir:
            os.unlink(entry.name, dir_fd=parent)
            removed.files = 1
            removed.freed = freed_bytes(info)
            return removed.outcome(item, "deleted")
        _empty_dir(parents, parent, entry, item.inventory, plan, guard, removed)
        if removed.kept:
            return removed.outcome(
                item,
                "failed",
                f"kept {removed.kept} entr{'y' if removed.kept == 1 else 'ies'} "
                f"(first: {removed.first_kept}); the directory stays",
            )
        os.rmdir(entry.name, dir_fd=parent)
        removed.dirs += 1
        return removed.outcome(item, "deleted")
    except _MovedError as exc:
        return removed.stopped(item, str(exc))
    except _ChangedError as exc:
        return removed.stopped(item, f"changed since planning: {exc}")
    except safety.MountPointError:
        return removed.stopped(item, MOUNT_POINT)
    except FileNotFoundError:
        return removed.stopped(item, "vanished since planning")
    except OSError as exc:
        if exc.errno == errno.EBUSY:  # the kernel refuses to remove a mount point
            return removed.stopped(item, MOUNT_POINT)
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            return removed.stopped(item, "a directory on its path is no longer a directory")
        return removed.outcome(item, "failed", exc.strerror or str(exc))


def _check(dir_fd: int, entry: Entry, guard: _Guard) -> os.stat_result:
    """Raise _ChangedError unless ``entry`` is still what was planned (and not open)."""
    info = os.stat(entry.name, dir_fd=dir_fd, follow_symlinks=False)
    kind_ok = stat.S_ISDIR(info.st_mode) if entry.is_dir else stat.S_ISREG(info.st_mode)
    if not kind_ok or info.st_ino != entry.ino or info.st_dev != entry.dev:
        raise _ChangedError("replaced by another file")
    if not entry.is_dir:
        if info.st_mtime_ns != entry.mtime_ns:
            raise _ChangedError("modified")
        if (entry.dev, entry.ino) in guard.open_files:
            raise _ChangedError("open by a process")
    return info


def _empty_dir(
    parents: safety.ParentDirs,
    parent_fd: int,
    top: Entry,
    inventory: tuple[Entry, ...],
    plan: CleanPlan,
    guard: _Guard,
    removed: _Removed,
) -> None:
    """Delete the inventory of ``top``, deepest first, counting into ``removed``.

    Every :data:`~.safety.REUSE_SECONDS` the directories being emptied and those above them
    are checked to be still where they were opened: one moved out of the root meanwhile
    ends the item (:class:`_MovedError`).
    """
    by_dir: dict[tuple[str, ...], list[Entry]] = {}
    for entry in inventory:
        by_dir.setdefault(entry.parts[:-1], []).append(entry)
    opened: list[tuple[int, str, int]] = []
    """(parent fd, name, fd) of each directory being emptied, outermost first."""
    next_check = time.monotonic() + safety.REUSE_SECONDS

    def check_in_place() -> None:
        nonlocal next_check
        now = time.monotonic()
        if now < next_check:
            return
        next_check = now + safety.REUSE_SECONDS
        chain = [*parents.opened(), *opened]
        if not all(safety.in_place(*link) for link in chain):
            raise _MovedError("a directory on its path moved while it was deleted")

    def empty(fd: int, parts: tuple[str, ...]) -> None:
        planned = {entry.name: entry for entry in by_dir.get(parts, [])}
        for name in os.listdir(fd):
            check_in_place()
            entry = planned.get(name)
            if entry is None:
                removed.keep(plan, (*parts, name), "not in the plan")
                continue
            try:
                if entry.parts in guard.mount_points:
                    raise safety.MountPointError()
                info = _check(fd, entry, guard)
                if entry.is_dir:
                    kept_before = removed.kept
                    child = safety.open_dir(fd, name, guard.root_mount)
                    opened.append((fd, name, child))
                    try:
                        empty(child, entry.parts)
                    finally:
                        opened.pop()
                        os.close(child)
                    if removed.kept > kept_before:
                        continue  # it holds what was kept: it stays, and is counted once
                    os.rmdir(name, dir_fd=fd)
                    removed.dirs += 1
                else:
                    os.unlink(name, dir_fd=fd)
                    removed.files += 1
                    removed.freed += freed_bytes(info)
            except FileNotFoundError:
                continue
            except _ChangedError as exc:
                removed.keep(plan, entry.parts, f"changed since planning: {exc}")
            except OSError as exc:
                if isinstance(exc, safety.MountPointError) or exc.errno == errno.EBUSY:
                    removed.keep(plan, entry.parts, MOUNT_POINT)
                else:
                    removed.keep(plan, entry.parts, exc.strerror or str(exc))

    fd = safety.open_dir(parent_fd, top.name, guard.root_mount)
    opened.append((parent_fd, top.name, fd))
    try:
        if os.fstat(fd).st_ino != top.ino:
            raise _ChangedError("replaced by another directory")
        empty(fd, top.parts)
    finally:
        os.close(fd)
