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
from collections.abc import Callable
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


def mount_points_below(real_root: str, root_mount: int, proc: str = "/proc") -> MountPoints:
    """Every mount point strictly below ``real_root`` (resolved), in any mount namespace.

    ``root_mount`` is the root's mount id here (:func:`mount_id`). A table that cannot be
    read is counted, not fatal: the fd checks still hold for this namespace.
    """
    own = _own_table(proc)
    mine = next((e for e in own if e.mount_id == root_mount), None)
    if mine is None:
        return MountPoints(frozenset(), 1)
    root_location = _location(mine, real_root)
    if root_location is None:
        return MountPoints(frozenset(), 1)
    found: set[tuple[str, ...]] = set()
    unreadable = 0
    tables = [own]
    seen_namespaces: set[int] = set()
    with contextlib.suppress(OSError):
        seen_namespaces.add(os.stat(os.path.join(proc, "self", "ns", "mnt")).st_ino)
    try:
        pids = [entry.name for entry in os.scandir(proc) if entry.name.isdigit()]
    except OSError:
        pids = []
    for pid in pids:
        try:
            namespace = os.stat(os.path.join(proc, pid, "ns", "mnt")).st_ino
        except FileNotFoundError:
            continue  # gone
        except OSError:
            unreadable += 1
            continue
        if namespace in seen_namespaces:
            continue
        try:
            table = read_mountinfo(os.path.join(proc, pid, "mountinfo"))
        except FileNotFoundError:
            continue  # gone
        if table is None:
            unreadable += 1
            continue
        seen_namespaces.add(namespace)
        tables.append(table)
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
    return MountPoints(frozenset(found), unreadable)


def source_location(real_path: str, mount: int) -> tuple[str, str] | None:
    """(device, path in its filesystem) of ``real_path``, which lies on the mount ``mount``.

    For a directory reached through a bind mount, the path is where it really lies: the
    root guard judges that path too.
    """
    for entry in _own_table("/proc"):
        if entry.mount_id == mount:
            location = _location(entry, real_path)
            return None if location is None else (entry.device, location)
    return None
