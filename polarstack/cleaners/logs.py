"""The logs job: plan which files and directories of the database log tree to delete.

The tree: ``ROOT/<instance id>/...``. Three rules (docs/logs.md):

* ``orphan``: an instance folder whose id is not live and that holds no ``*.log`` file
  modified within N days is deleted whole;
* ``expired-log``: ``postgresql*.log`` files, at any depth, older than N days;
* ``expired-removed-data``: ``rm_data_*`` directories, at any depth, older than N days,
  deleted whole.

"Older than N days" is age > N x 24 h. The planner only reads; :mod:`.deleting` carries a plan
out. A whole directory is planned only when everything in it may go (no symlink, open file or
other filesystem inside); its inventory is part of the plan, so nothing created or changed
after planning is deleted.
"""

from __future__ import annotations

import fnmatch
import math
import os
import re
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, NamedTuple

from polarstack.cleaners import mounts, safety
from polarstack.errors import UsageError
from polarstack.model import ALL_RULES, LiveIds, Rule
from polarstack.pathtext import render_name
from polarstack.procfs import OpenHandles, read_open_handles
from polarstack.settings import LogsSettings
from polarstack.timefmt import utc_now

DEFAULT_ROOT = LogsSettings.root
DEFAULT_DAYS = LogsSettings.days


MOUNT_POINT = "a mount point: never entered or deleted"
"""Why a mount point below the root is skipped."""

MAX_DAYS = 100_000
"""The largest N: about 270 years, far beyond any log and within what a time can hold."""


class Entry(NamedTuple):
    """One file or directory as the planner saw it: enough to recognise it again.

    An immutable record like ``os.stat_result``; a tuple rather than a frozen dataclass
    because a plan holds one per file, and a tuple is built in a third of the time.
    """

    parts: tuple[str, ...]
    """Path components below the root (str with surrogateescape for non-UTF-8 bytes)."""
    is_dir: bool
    dev: int
    ino: int
    mtime_ns: int
    size: int
    """Bytes deleting it frees (:func:`freed_bytes`); 0 for a directory."""

    @property
    def name(self) -> str:
        """The last path component."""
        return self.parts[-1]


@dataclass(frozen=True, slots=True)
class PlannedItem:
    """One deletion the plan holds."""

    rule: Rule
    entry: Entry
    bytes: int
    """Bytes freed: the file's size, or the sum over a directory's inventory."""
    inventory: tuple[Entry, ...] = field(default=(), repr=False)
    """Everything inside a directory item, depth-first, children before their parents."""

    @property
    def kind(self) -> str:
        """``file`` or ``dir``."""
        return "dir" if self.entry.is_dir else "file"

    @property
    def path(self) -> str:
        """The path below the root, non-UTF-8 bytes escaped (reports add the root)."""
        return _relative(self.entry.parts)

    @property
    def files(self) -> int:
        """Files that deleting the item removes."""
        if not self.entry.is_dir:
            return 1
        return sum(1 for entry in self.inventory if not entry.is_dir)

    @property
    def dirs(self) -> int:
        """Directories that deleting the item removes, itself included."""
        if not self.entry.is_dir:
            return 0
        return 1 + sum(1 for entry in self.inventory if entry.is_dir)


@dataclass(frozen=True, slots=True)
class SkippedPath:
    """Something under the root the cleaner saw and chose to leave, and why."""

    parts: tuple[str, ...]
    reason: str
    rule: Rule | None = None


@dataclass(frozen=True)
class SkippedRule:
    """A rule that did not run, and why."""

    rule: Rule
    reason: str


@dataclass(frozen=True)
class CleanPlan:
    """What a clean would delete, and what it leaves and why."""

    root: str
    days: float
    rules: tuple[Rule, ...]
    live_ids_source: str
    skipped_rules: tuple[SkippedRule, ...]
    items: tuple[PlannedItem, ...]
    skipped: tuple[SkippedPath, ...]
    notes: tuple[str, ...]
    planned_at: datetime
    root_dev: int
    root_ino: int
    open_files: frozenset[tuple[int, int]] = field(default=frozenset(), repr=False)
    """(dev, ino) of files processes held open when planned; the executor skips them too."""
    mount_points: frozenset[tuple[str, ...]] = field(default=frozenset(), repr=False)
    """Mount points below the root that the mount tables name, in any namespace."""
    interrupted: bool = False
    """The walk was stopped before its end: the plan is partial, and nothing is deleted."""

    def path_of(self, parts: Sequence[str]) -> str:
        """Return the readable absolute path of ``parts`` below the root."""
        if not parts:
            return render_name(os.path.normpath(self.root))
        return render_name(self._root_slash + "/".join(parts))

    @cached_property
    def _root_slash(self) -> str:
        # A report renders one path per action, 100,000 in a large clean: the root's part
        # of them is worked out once.
        root = os.path.normpath(self.root)
        return root if root.endswith("/") else root + "/"

    @property
    def bytes(self) -> int:
        """Bytes the plan would free."""
        return sum(item.bytes for item in self.items)


def freed_bytes(info: os.stat_result) -> int:
    """Bytes on disk that removing the file of ``info`` (its lstat) frees.

    The space allocated (``st_blocks``), not the size: a sparse file frees only its blocks.
    A file with other hard links keeps its data: removing one name frees nothing (the last
    name's removal frees it, and is counted then).
    """
    return info.st_blocks * 512 if info.st_nlink == 1 else 0


def expired_before(now_ns: int, days: float) -> int:
    """The mtime (ns) below which something is older than N days at ``now_ns``.

    Older means age > N x 24 h: ``now_ns - mtime_ns > N x 24 h``. The age is a whole number
    of nanoseconds, so that holds exactly when ``mtime_ns < now_ns - floor(N x 24 h)``; one
    integer comparison per file, in the planner and in the executor alike.
    """
    return now_ns - math.floor(days * 86400 * 1_000_000_000)


# The expired-log rule's pattern, compiled once: ``fnmatch.fnmatchcase`` would look its
# compiled form up again for each of the tree's files.
_is_postgresql_log = re.compile(fnmatch.translate("postgresql*.log")).match


@dataclass
class _Walk:
    """State of one planning walk."""

    root_dev: int
    root_mount: int
    mount_points: frozenset[tuple[str, ...]]
    """Mount points below the root that the mount tables name: files, and mounts of other
    namespaces, which no fd shows."""
    cutoff_ns: int
    """Modified before this (ns): older than N days (:func:`expired_before`)."""
    rules: frozenset[Rule]
    live: frozenset[str] | None
    open_files: frozenset[tuple[int, int]]
    progress: Callable[[int], None] | None
    stop: Callable[[], bool] | None
    items: list[PlannedItem] = field(default_factory=list)
    skipped: list[SkippedPath] = field(default_factory=list)
    seen: int = 0

    def tick(self) -> None:
        self.seen += 1
        if self.progress is not None and self.seen % 1000 == 0:
            self.progress(self.seen)

    def scan(self, dir_fd: int, parts: tuple[str, ...]) -> list[Entry | SkippedPath]:
        """List ``dir_fd``: an Entry per file or directory, a SkippedPath for anything else.

        Only lists; the caller decides whether a skip is reported (a look-ahead does not).
        """
        listed: list[Entry | SkippedPath] = []
        with os.scandir(dir_fd) as it:
            for dirent in it:
                self.tick()
                listed.append(self.entry_of(dirent, (*parts, dirent.name)))
        return listed

    def visit(self, dir_fd: int, parts: tuple[str, ...]) -> None:
        """Apply the rules below the directory ``dir_fd`` at ``parts``.

        Most files here concern no rule (only ``postgresql*.log`` files can be deleted one
        by one), so the kind of each entry comes from the directory listing itself
        (``d_type``) and only directories and candidate logs are ``stat``-ed: on a tree of
        200,000 files that is most of the walk's cost saved.
        """
        if len(parts) >= safety.MAX_DEPTH:
            self.skipped.append(SkippedPath(parts, f"deeper than {safety.MAX_DEPTH} levels"))
            return
        logs_rule = Rule.EXPIRED_LOG in self.rules
        directories: list[Entry] = []
        try:
            listing = os.scandir(dir_fd)
        except OSError as exc:  # out of fds, or no longer readable
            self.skipped.append(SkippedPath(parts, f"cannot list: {exc.strerror}"))
            return
        with listing as it:
            for dirent in it:
                self.tick()
                name = dirent.name
                try:
                    if dirent.is_file(follow_symlinks=False):
                        if logs_rule and _is_postgresql_log(name):
                            info = dirent.stat(follow_symlinks=False)
                            if info.st_mtime_ns < self.cutoff_ns:  # else kept
                                self.consider_log((*parts, name), info)
                        continue  # any other file: no rule deletes it one by one
                    if dirent.is_dir(follow_symlinks=False):
                        listed = self.entry_of(dirent, (*parts, name))
                        if isinstance(listed, Entry):
                            directories.append(listed)
                        else:
                            self.skipped.append(listed)
                        continue
                    if dirent.is_symlink():
                        reason = "symlink: never followed or deleted"
                    else:
                        reason = "not a regular file or directory"
                except OSError as exc:
                    reason = f"cannot stat: {exc.strerror}"
                self.skipped.append(SkippedPath((*parts, name), reason))
        for entry in directories:
            self.visit_dir(dir_fd, entry)

    def entry_of(self, dirent: os.DirEntry[str], parts: tuple[str, ...]) -> Entry | SkippedPath:
        """``stat`` one listed entry: an Entry, or why it is left alone."""
        try:
            info = dirent.stat(follow_symlinks=False)
        except OSError as exc:
            return SkippedPath(parts, f"cannot stat: {exc.strerror}")
        return self.recognise(parts, info)

    def recognise(self, parts: tuple[str, ...], info: os.stat_result) -> Entry | SkippedPath:
        """An Entry for a file or directory of the root's filesystem, else why it stays."""
        mode = info.st_mode
        if stat.S_ISLNK(mode):  # replaced by a symlink since it was listed
            return SkippedPath(parts, "symlink: never followed or deleted")
        if info.st_dev != self.root_dev or parts in self.mount_points:
            # A directory on the root's device may still be a bind mount: opening it
            # checks its mount (safety.open_dir).
            return SkippedPath(parts, MOUNT_POINT)
        if stat.S_ISREG(mode):
            return Entry(
                parts, False, info.st_dev, info.st_ino, info.st_mtime_ns, freed_bytes(info)
            )
        if stat.S_ISDIR(mode):
            return Entry(parts, True, info.st_dev, info.st_ino, info.st_mtime_ns, 0)
        return SkippedPath(parts, "not a regular file or directory")

    def consider_log(self, parts: tuple[str, ...], info: os.stat_result) -> None:
        """Plan an expired ``postgresql*.log`` file (lstat ``info``) unless it must stay."""
        entry = self.recognise(parts, info)
        if isinstance(entry, SkippedPath):
            self.skipped.append(entry)
        elif entry.is_dir:
            return  # replaced by a directory since it was listed: visited next time
        elif (info.st_dev, info.st_ino) in self.open_files:
            self.skipped.append(SkippedPath(parts, "open by a running process", Rule.EXPIRED_LOG))
        else:
            self.plan(Rule.EXPIRED_LOG, entry, ())

    def visit_dir(self, parent_fd: int, entry: Entry) -> None:
        if self.stop is not None and self.stop():
            raise _StoppedError()
        try:
            fd = safety.open_dir(parent_fd, entry.name, self.root_mount)
        except safety.MountPointError:
            self.skipped.append(SkippedPath(entry.parts, MOUNT_POINT))
            return
        except OSError as exc:
            self.skipped.append(SkippedPath(entry.parts, f"cannot open: {exc.strerror}"))
            return
        try:
            if not self.plan_whole(fd, entry):
                self.visit(fd, entry.parts)
        finally:
            os.close(fd)

    def plan_whole(self, fd: int, entry: Entry) -> bool:
        """Plan ``entry`` whole when a rule deletes it and nothing inside blocks that."""
        if (
            Rule.EXPIRED_REMOVED_DATA in self.rules
            and entry.name.startswith("rm_data_")
            and entry.mtime_ns < self.cutoff_ns
        ):
            rule = Rule.EXPIRED_REMOVED_DATA
        elif (
            len(entry.parts) == 1
            and Rule.ORPHAN in self.rules
            and self.live is not None
            and entry.name not in self.live
        ):
            rule = Rule.ORPHAN
        else:
            return False
        inventory, blocker = self.inventory(fd, entry.parts)
        if rule is Rule.ORPHAN:
            # One walk serves both questions; only a blocked inventory (cut short) needs
            # the separate look for a recent log.
            if blocker is None:
                recent = any(self.is_recent_log(e) for e in inventory)
            else:
                recent = self.has_recent_log(fd, entry.parts)
            if recent:
                return False
        if blocker is not None:
            self.skipped.append(SkippedPath(entry.parts, f"kept whole: {blocker}", rule))
            return False
        self.plan(rule, entry, inventory)
        return True

    def is_recent_log(self, entry: Entry) -> bool:
        """Whether ``entry`` is a ``*.log`` file modified within N days."""
        return (
            not entry.is_dir
            and entry.parts[-1].endswith(".log")
            and entry.mtime_ns >= self.cutoff_ns
        )

    def has_recent_log(self, fd: int, parts: tuple[str, ...]) -> bool:
        """Whether any ``*.log`` file below ``fd`` was modified within N days."""
        try:
            entries = self.scan(fd, parts)
        except OSError:
            return True  # cannot tell: assume recent, never delete blind
        for entry in entries:
            if isinstance(entry, SkippedPath):
                continue
            if self.is_recent_log(entry):
                return True
            if entry.is_dir:
                if len(entry.parts) >= safety.MAX_DEPTH:
                    return True  # unknown depths: assume recent, never delete blind
                try:
                    child = safety.open_dir(fd, entry.name, self.root_mount)
                except OSError:  # a mount point among them: assume recent, keep the folder
                    return True
                try:
                    if self.has_recent_log(child, entry.parts):
                        return True
                finally:
                    os.close(child)
        return False

    def inventory(self, fd: int, parts: tuple[str, ...]) -> tuple[tuple[Entry, ...], str | None]:
        """List everything below ``fd``, children before parents; or say what blocks it."""
        listed: list[Entry] = []
        if len(parts) >= safety.MAX_DEPTH:
            return (), f"deeper than {safety.MAX_DEPTH} levels"
        try:
            entries = self.scan(fd, parts)
        except OSError as exc:
            return (), f"cannot list {_relative(parts)}: {exc.strerror}"
        for entry in entries:
            if isinstance(entry, SkippedPath):
                return (), f"holds {_relative(entry.parts)}, {entry.reason}"
            if entry.is_dir:
                try:
                    child = safety.open_dir(fd, entry.name, self.root_mount)
                except safety.MountPointError:
                    return (), f"holds {_relative(entry.parts)}, {MOUNT_POINT}"
                except OSError as exc:
                    return (), f"cannot open {_relative(entry.parts)}: {exc.strerror}"
                try:
                    below, blocker = self.inventory(child, entry.parts)
                finally:
                    os.close(child)
                if blocker is not None:
                    return (), blocker
                listed.extend(below)
            elif (entry.dev, entry.ino) in self.open_files:
                return (), f"holds {_relative(entry.parts)}, open by a process"
            listed.append(entry)
        return tuple(listed), None

    def plan(self, rule: Rule, entry: Entry, inventory: tuple[Entry, ...]) -> None:
        size = entry.size + sum(e.size for e in inventory)
        self.items.append(PlannedItem(rule, entry, size, inventory))


class _StoppedError(Exception):
    """The caller asked the walk to stop."""


def _relative(parts: Sequence[str]) -> str:
    """The readable path of ``parts`` below the root (no component holds a ``/``)."""
    return render_name("/".join(parts))


def _live_ids(live: LiveIds | Iterable[str] | None) -> LiveIds:
    if live is None:
        return LiveIds.unknown("no live instance ids were given")
    if isinstance(live, LiveIds):
        return live
    if isinstance(live, str):
        raise UsageError("live must be a list of instance ids, not one string")
    return LiveIds.given(live)


def plan_clean(
    root: str = DEFAULT_ROOT,
    *,
    days: float = DEFAULT_DAYS,
    live: LiveIds | Iterable[str] | None = None,
    rules: Sequence[Rule] = ALL_RULES,
    clock: Callable[[], datetime] = utc_now,
    open_handles: Callable[[], OpenHandles] | None = None,
    progress: Callable[[int], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> CleanPlan:
    """Walk ``root`` and return what the rules would delete. Reads only; deletes nothing.

    Args:
        root: the log tree; refused when unsafe (:func:`~.safety.open_root`); the plan holds
            it with its symlinks resolved.
        days: N of the rules: older means age > N x 24 h.
        live: the live instance ids: a :class:`LiveIds`, or plain ids (as ``--live-id``
            gives them). None: unknown, and the orphan rule is skipped.
        rules: the rules to apply.
        clock: the time ages are measured against.
        open_handles: reads which files processes hold open (default: one pass over /proc);
            such files are never deleted.
        progress: called with the number of entries seen so far, every 1,000.
        stop: asked before each directory is visited; once it answers True the walk ends, and the
            plan is marked ``interrupted`` (:func:`~.deleting.clean` then deletes nothing).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tree:
        ...     plan = plan_clean(tree, live=["ins-1"])
        >>> plan.items
        ()
    """
    if not (0 <= days <= MAX_DAYS):
        raise UsageError(f"days must be a number from 0 to {MAX_DAYS}, not {days}")
    live_ids = _live_ids(live)
    chosen = frozenset(rules)
    skipped_rules = []
    if Rule.ORPHAN in chosen:
        if live_ids.ids is None:
            skipped_rules.append(
                SkippedRule(Rule.ORPHAN, f"live instances unknown: {live_ids.reason}")
            )
        elif not live_ids.ids:
            skipped_rules.append(
                SkippedRule(
                    Rule.ORPHAN, "the live set is empty: every instance folder would look deleted"
                )
            )
    top = safety.open_root(root)
    try:
        handles = (open_handles or read_open_handles_with_files)()
        found = mounts.mount_points_below(top.path, top.mount)
        walk_rules = chosen
        if found.blind is not None:
            # Only files are deleted while a namespace is unseen (MountPoints.blind).
            for rule in (Rule.ORPHAN, Rule.EXPIRED_REMOVED_DATA):
                if rule in chosen:
                    skipped_rules.append(SkippedRule(rule, found.blind))
            walk_rules = chosen - {Rule.ORPHAN, Rule.EXPIRED_REMOVED_DATA}
        notes = []
        if not handles.complete:
            notes.append(
                f"open-file check incomplete: {handles.unreadable_pids} process(es) could not "
                "be inspected; files they hold open may be deleted"
            )
        notes.extend(mount_check_notes(found))
        planned_at = clock()
        now_ns = int(planned_at.timestamp() * 1e9)
        walk = _Walk(
            root_dev=top.info.st_dev,
            root_mount=top.mount,
            mount_points=found.below,
            cutoff_ns=expired_before(now_ns, days),
            rules=walk_rules,
            live=live_ids.ids if live_ids.ids else None,
            open_files=handles.files,
            progress=progress,
            stop=stop,
        )
        interrupted = False
        try:
            walk.visit(top.fd, ())
        except _StoppedError:
            interrupted = True
    finally:
        top.close()
    return CleanPlan(
        root=top.path,
        days=days,
        rules=tuple(r for r in ALL_RULES if r in chosen),
        live_ids_source=live_ids.source,
        skipped_rules=tuple(skipped_rules),
        items=tuple(walk.items),
        skipped=tuple(walk.skipped),
        notes=tuple(notes),
        planned_at=planned_at,
        root_dev=top.info.st_dev,
        root_ino=top.info.st_ino,
        open_files=handles.files,
        mount_points=found.below,
        interrupted=interrupted,
    )


def mount_check_notes(found: mounts.MountPoints) -> list[str]:
    """What the report says when the mount tables did not show everything."""
    notes = []
    if found.unreadable:
        notes.append(
            f"mount check incomplete: the mount tables of {found.unreadable} process(es) "
            "could not be read; a mount made in their namespaces is not seen"
        )
    if found.chroot_only:
        notes.append(
            f"mount check incomplete: {found.chroot_only} mount namespace(s) seen only "
            "through a chroot; their mounts outside it are not seen"
        )
    return notes


def read_open_handles_with_files() -> OpenHandles:
    """The default open-file check: one pass over /proc, statting files held open."""
    return read_open_handles(files=True)


def parse_rules(text: str) -> list[Rule]:
    """Parse a comma list of rule names (``all`` for every rule)."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if names in ([], ["all"]):
        return list(ALL_RULES)
    valid = [rule.value for rule in Rule]
    for name in names:
        if name not in valid:
            raise UsageError(f"unknown rule {name!r}: choose from {', '.join(valid)}")
    return [Rule(name) for name in names]


def action_dict(
    plan: CleanPlan,
    parts: Sequence[str],
    *,
    rule: Rule | None,
    kind: str,
    size: int,
    status: str,
    error: str | None,
) -> dict[str, Any]:
    """One entry of the report's ``actions`` list (shared by planned and executed items)."""
    return {
        "rule": rule.value if rule else None,
        "path": plan.path_of(parts),
        "kind": kind,
        "bytes": size,
        "status": status,
        "error": error,
    }
