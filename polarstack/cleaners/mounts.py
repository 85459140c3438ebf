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

A file can be a mount point too (a bind mount of one file). Deleting one is refused by the
kernel (``EBUSY``); the planner reports it beforehand from ``/proc/self/mountinfo``, read once
per run.
"""

from __future__ import annotations

import ctypes
import os
import re
import struct
from collections.abc import Callable
from functools import cache

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


def _unescape(field: bytes) -> bytes:
    """A mountinfo path: the kernel writes space, tab, newline and backslash octal-escaped."""
    return _OCTAL_ESCAPE.sub(lambda m: bytes([int(m.group(1), 8)]), field)


def mount_points_below(
    root: str, mountinfo: str = "/proc/self/mountinfo"
) -> frozenset[tuple[str, ...]]:
    """The mount points strictly below ``root``: their path components, as ``os`` names them.

    ``root`` is resolved first (mountinfo holds resolved paths). An unreadable mountinfo
    gives no paths: the fd checks and the kernel's ``EBUSY`` still keep every mount whole.
    """
    top = os.fsencode(os.path.realpath(root)).rstrip(b"/") + b"/"
    found = set()
    try:
        with open(mountinfo, "rb") as f:
            lines = f.read().splitlines()
    except OSError:
        return frozenset()
    for line in lines:
        fields = line.split(b" ")
        if len(fields) < 5:
            continue
        point = _unescape(fields[4])
        if point.startswith(top) and len(point) > len(top):
            relative = os.fsdecode(point[len(top) :].rstrip(b"/"))
            found.add(tuple(relative.split("/")))
    return frozenset(found)
