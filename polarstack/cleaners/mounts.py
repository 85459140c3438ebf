"""Which mount a directory fd is on, and which mount points lie below the log root.

A mount point below the root must never be entered: what is mounted there (a backup, a
container's volume, another instance's data) lies outside the root. Device numbers do not
find it: a bind mount of a directory from the root's own filesystem has the root's device
number. The mount id does: every mount, bind mounts included, has its own.

The id is read from the directory fd the walk already holds, so nothing can be swapped between
the check and the use: ``statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID)``, one system call (Linux
5.8 and later). ``/proc/self/fdinfo/FD`` gives the same id on older kernels, for the price of
opening and reading a file; ``name_to_handle_at`` would too, but refuses filesystems that
cannot export file handles. Python 3.11 has no ``os.statx``, so libc's is called through
ctypes.

Two kinds of mount point are not seen through an fd, and are found from the mount tables
(``/proc/PID/mountinfo``) instead, once per plan and once more before deleting:

* a file can be a mount point (a bind mount of one file);
* a mount made in another mount namespace (a container's, or the host's while the agent runs
  in a pod) is invisible here: the directory looks empty or holds what the mount hides.
  Removing it would succeed, and the kernel would then detach the other namespace's mount,
  destroying a tmpfs or hiding its data. Every namespace that a process visible in ``/proc``
  lives in is read: a mount's location is its parent mount's filesystem and path, which
  every namespace describes alike, so it is compared with the root's own.

Only the fd check is free of races; the tables narrow the window to the time between the
read before deleting and the deletion.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import struct
from collections.abc import Callable, Iterator
from functools import cache
from typing import NamedTuple

_AT_EMPTY_PATH = 0x1000
_AT_STATX_DONT_SYNC = 0x4000
_STATX_MNT_ID = 0x1000
_STATX_SIZE = 256
_MASK_OFFSET = 0
_MNT_ID_OFFSET = 144


@cache
def _statx() -> Callable[..., int] | None:
    """The C library's ``statx``, or None where it lacks one."""
    try:
        function = ctypes.CDLL(None, use_errno=True).statx
    except (AttributeError, OSError):
        return None
    function.argtypes = (
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_char_p,
    )
    function.restype = ctypes.c_int
    return function


def mount_id(fd: int) -> int:
    """The id of the mount that the open file ``fd`` is on.

    Raises:
        OSError: the kernel gave no mount id for ``fd``.
    """
    statx = _statx()
    if statx is not None:
        buffer = ctypes.create_string_buffer(_STATX_SIZE)
        flags = _AT_EMPTY_PATH | _AT_STATX_DONT_SYNC
        if statx(fd, b"", flags, _STATX_MNT_ID, buffer) == 0:
            (mask,) = struct.unpack_from("=I", buffer, _MASK_OFFSET)
            if mask & _STATX_MNT_ID:
                (found,) = struct.unpack_from("=Q", buffer, _MNT_ID_OFFSET)
                return int(found)
    return _mount_id_from_fdinfo(fd)


def _mount_id_from_fdinfo(fd: int) -> int:
    with open(f"/proc/self/fdinfo/{fd}", "rb") as f:
        for line in f:
            if line.startswith(b"mnt_id:"):
                return int(line.split()[1])
    raise OSError(f"no mount id for fd {fd} in /proc/self/fdinfo")


_OCTAL_ESCAPE = re.compile(rb"\\([0-7]{3})")


def _unescape(field: bytes) -> str:
    """A mountinfo path: the kernel writes space, tab, newline and backslash octal-escaped."""
    return os.fsdecode(_OCTAL_ESCAPE.sub(lambda m: bytes([int(m.group(1), 8)]), field))


class MountEntry(NamedTuple):
    """One line of a mountinfo table (proc(5)), the fields the cleaner needs."""

    mount_id: int
    parent_id: int
    device: str
    """``major:minor`` of the filesystem."""
    root: str
    """The directory of the filesystem that is mounted (not ``/`` for a bind mount)."""
    mount_point: str
    """Where it is mounted, relative to the process's root directory."""


def read_mountinfo(path: str) -> list[MountEntry] | None:
    """The entries of a mountinfo file; None when it cannot be read.

    Raises:
        FileNotFoundError: the process whose table it is has exited.
    """
    try:
        with open(path, "rb") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            raise FileNotFoundError(path) from exc
        return None
    entries = []
    for line in lines:
        fields = line.split(b" ")
        if len(fields) < 5:
            continue
        try:
            mount_id, parent_id = int(fields[0]), int(fields[1])
        except ValueError:
            continue
        entries.append(
            MountEntry(
                mount_id,
                parent_id,
                fields[2].decode("ascii", "replace"),
                _unescape(fields[3]),
                _unescape(fields[4]),
            )
        )
    return entries


def _own_table(proc: str) -> list[MountEntry]:
    """This process's mount table ([] without a readable /proc)."""
    try:
        return read_mountinfo(os.path.join(proc, "self", "mountinfo")) or []
    except FileNotFoundError:
        return []


def _below(path: str, top: str) -> str | None:
    """``path`` relative to ``top`` when it lies strictly below it, else None."""
    if top == "/":
        return path[1:] or None
    if path.startswith(top + "/") and len(path) > len(top) + 1:
        return path[len(top) + 1 :]
    return None


def _location(entry: MountEntry, path: str) -> str | None:
    """Where ``path`` lies in ``entry``'s filesystem, or None.

    ``path`` is a path of the namespace ``entry`` is in, at or below its mount point.
    """
    if path == entry.mount_point:
        return entry.root
    rest = _below(path, entry.mount_point)
    if rest is None:
        return None
    return entry.root.rstrip("/") + "/" + rest


class MountPoints(NamedTuple):
    """The mount points below a root, from every mount table that could be read."""

    below: frozenset[tuple[str, ...]]
    """Their path components below the root."""
    unreadable: int = 0
    """Processes whose mount table could not be read."""
    chroot_only: int = 0
    """Mount namespaces seen only through a chrooted process, whose table shows only the
    mounts inside its chroot."""
    without_process: int = 0
    """Mount namespaces held by a file (``nsfs``) and by no process seen: not read."""
    root_unknown: bool = False
    """The root's own mount was not found in this process's table: nothing was read."""

    @property
    def blind(self) -> str | None:
        """Why no directory may be deleted whole now, or None.

        Removing a directory that is a mount point of an unseen namespace would detach that
        mount and lose its data, so while some namespace cannot be seen at all, only files
        are deleted.
        """
        if self.root_unknown:
            return "mount check impossible: the root's mount is not in the mount table"
        if self.without_process:
            return (
                f"mount check incomplete: {self.without_process} mount namespace(s) held by a "
                "file with no process in them cannot be read"
            )
        return None


def _tasks(proc: str) -> Iterator[str]:
    """Every thread's /proc directory.

    A thread may live in a mount namespace of its own, and a process whose main thread has
    ended is seen through its other threads.
    """
    try:
        pids = [entry.name for entry in os.scandir(proc) if entry.name.isdigit()]
    except OSError:
        return
    for pid in pids:
        task_dir = os.path.join(proc, pid, "task")
        try:
            tids = os.listdir(task_dir)
        except FileNotFoundError:
            if os.path.isdir(os.path.join(proc, pid)):
                yield os.path.join(proc, pid)  # no task list: the process alone
            continue
        except OSError:
            yield os.path.join(proc, pid)
            continue
        for tid in tids:
            yield os.path.join(task_dir, tid)


def _chrooted(task: str) -> bool:
    """Whether the thread's root is not its namespace's (unknown counts as chrooted)."""
    try:
        return os.readlink(os.path.join(task, "root")) != "/"
    except OSError:
        return True


def _held_namespaces(table: list[MountEntry]) -> set[int]:
    """Mount namespaces that a file holds (``nsfs`` mounts shown as ``mnt:[INODE]``)."""
    held = set()
    for entry in table:
        if entry.root.startswith("mnt:[") and entry.root.endswith("]"):
            with contextlib.suppress(ValueError):
                held.add(int(entry.root[5:-1]))
    return held


def _through_chroot(
    task: str, table: list[MountEntry], real_root: str
) -> Iterator[tuple[str, ...]]:
    """Mount points below the root that a chrooted thread's table shows without a parent.

    Such a table shows only the mounts inside the chroot, with paths relative to it; their
    parent mounts are not listed. The chroot's own path (``/proc/TID/root``) placed before
    the mount point gives a path here; it is taken when the mount point's directory seen
    from the thread and that path's directory here are the same directory (device, inode).
    """
    ids = {entry.mount_id for entry in table}
    try:
        chroot = os.readlink(os.path.join(task, "root"))
    except OSError:
        return
    for entry in table:
        if entry.parent_id in ids or not entry.mount_point.startswith("/"):
            continue
        here = os.path.normpath(chroot.rstrip("/") + entry.mount_point)
        relative = _below(here, real_root)
        if relative is None:
            continue
        there = os.path.join(task, "root") + os.path.dirname(entry.mount_point)
        try:
            same = os.path.samestat(os.lstat(os.path.dirname(here)), os.stat(there))
        except OSError:
            same = True  # cannot be told: keep it, never delete blind
        if same:
            yield tuple(relative.split("/"))


def mount_points_below(real_root: str, root_mount: int, proc: str = "/proc") -> MountPoints:
    """Every mount point strictly below ``real_root`` (resolved), in any mount namespace.

    ``root_mount`` is the root's mount id here (:func:`mount_id`). Each namespace is read
    through one of its threads that is not chrooted, when there is one. What could not be
    read is counted, not fatal: the fd checks still hold for this namespace.
    """
    own = _own_table(proc)
    mine = next((e for e in own if e.mount_id == root_mount), None)
    root_location = None if mine is None else _location(mine, real_root)
    if mine is None or root_location is None:
        return MountPoints(frozenset(), root_unknown=True)
    unreadable = 0
    tables = [own]
    chrooted_tables: list[tuple[str, list[MountEntry]]] = []
    read_whole: set[int] = set()
    read_chrooted: set[int] = set()
    with contextlib.suppress(OSError):
        read_whole.add(os.stat(os.path.join(proc, "self", "ns", "mnt")).st_ino)
    for task in _tasks(proc):
        namespace: int | None
        try:
            namespace = os.stat(os.path.join(task, "ns", "mnt")).st_ino
        except FileNotFoundError:
            continue  # gone
        except OSError:
            namespace = None  # not to be told: its table is read all the same
        if namespace in read_whole:
            continue
        chrooted = _chrooted(task)
        if chrooted and namespace in read_chrooted:
            continue
        try:
            table = read_mountinfo(os.path.join(task, "mountinfo"))
        except FileNotFoundError:
            continue  # gone
        if table is None:
            unreadable += 1
            continue
        tables.append(table)
        if chrooted:
            chrooted_tables.append((task, table))
        if namespace is not None:
            (read_chrooted if chrooted else read_whole).add(namespace)
    found: set[tuple[str, ...]] = set()
    for table in tables:
        by_id = {entry.mount_id: entry for entry in table}
        for entry in table:
            parent = by_id.get(entry.parent_id)
            if parent is None or parent.device != mine.device or parent is entry:
                continue
            location = _location(parent, entry.mount_point)
            if location is None:
                continue
            relative = _below(location, root_location)
            if relative is not None:
                found.add(tuple(relative.split("/")))
    for task, table in chrooted_tables:
        found.update(_through_chroot(task, table, real_root))
    held = _held_namespaces(own) - read_whole - read_chrooted
    return MountPoints(
        frozenset(found),
        unreadable,
        chroot_only=len(read_chrooted - read_whole),
        without_process=len(held),
    )


def other_names(real_path: str, mount: int, proc: str = "/proc") -> list[str] | None:
    """The other paths of the directory ``real_path`` (on the mount ``mount``), or None.

    They are the paths under which it is seen here through other mounts of its filesystem;
    None when that cannot be told.

    A bind mount shows a directory under a second name: ``/tmp/x`` bound from ``/boot/grub``
    has the other name ``/boot/grub`` wherever its filesystem is mounted as well. None (the
    mount table unreadable, or the mount no longer where the path says) makes the root
    guard refuse rather than guess.
    """
    table = _own_table(proc)
    mine = next((entry for entry in table if entry.mount_id == mount), None)
    if mine is None:
        return None
    location = _location(mine, real_path)
    if location is None:
        return None
    names = []
    for entry in table:
        if entry.device != mine.device or entry is mine:
            continue
        if location == entry.root:
            names.append(entry.mount_point)
            continue
        rest = _below(location, entry.root)
        if rest is not None:
            names.append(entry.mount_point.rstrip("/") + "/" + rest)
    return names
