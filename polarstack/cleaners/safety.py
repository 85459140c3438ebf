"""The guards the log cleaner relies on: which roots it accepts, and fd-relative access.

Everything below the root is reached through directory file descriptors opened with
``O_NOFOLLOW | O_DIRECTORY``, one path component at a time. A directory swapped for a symlink
between planning and deletion then makes the open fail instead of redirecting a deletion
outside the root.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from polarstack.errors import UnsafeRootError

# Top-level directories a log root may never be: cleaning them would destroy the system.
SYSTEM_DIRS = frozenset(
    (
        "/",
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/home",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/media",
        "/mnt",
        "/opt",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/snap",
        "/srv",
        "/sys",
        "/tmp",
        "/usr",
        "/var",
    )
)

MAX_DEPTH = 32
"""Levels below the root the cleaner descends; deeper entries are reported, never deleted."""

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def check_root(root: str) -> os.stat_result:
    """Refuse a root that is unsafe to clean; return its lstat.

    Raises:
        UnsafeRootError: relative, missing, not a directory, a symlink, ``/`` or a top-level
            system directory (also when it resolves to one).
    """
    if not os.path.isabs(root):
        raise UnsafeRootError(f"refusing log root {root!r}: not an absolute path")
    normal = os.path.normpath(root)
    for candidate in {normal, os.path.realpath(normal)}:
        if candidate in SYSTEM_DIRS:
            raise UnsafeRootError(f"refusing log root {root!r}: {candidate} is a system directory")
    try:
        info = os.lstat(normal)
    except FileNotFoundError:
        raise UnsafeRootError(f"refusing log root {root!r}: it does not exist") from None
    except OSError as exc:
        raise UnsafeRootError(f"refusing log root {root!r}: {exc.strerror}") from exc
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeRootError(f"refusing log root {root!r}: it is a symlink")
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeRootError(f"refusing log root {root!r}: not a directory")
    return info


def open_root(root: str, expected: os.stat_result) -> int:
    """Open the root as a directory fd, checking it is still the directory that was checked."""
    fd = os.open(os.path.normpath(root), _DIR_FLAGS)
    info = os.fstat(fd)
    if (info.st_dev, info.st_ino) != (expected.st_dev, expected.st_ino):
        os.close(fd)
        raise UnsafeRootError(f"log root {root!r} was replaced while the cleaner ran")
    return fd


def open_dir(parent_fd: int, name: str) -> int:
    """Open ``name`` below ``parent_fd`` as a directory, never through a symlink."""
    return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)


@contextmanager
def walk_to(root_fd: int, parts: Sequence[str]) -> Iterator[int]:
    """Yield a fd for the directory at ``parts`` below the root, opened component by component.

    Raises OSError (ELOOP or ENOTDIR) when any component is no longer a real directory.
    """
    fds: list[int] = []
    try:
        current = root_fd
        for part in parts:
            current = open_dir(current, part)
            fds.append(current)
        yield current
    finally:
        for fd in reversed(fds):
            os.close(fd)
