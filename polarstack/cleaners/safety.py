"""The guards the log cleaner relies on: which roots it accepts, and fd-relative access.

Everything below the root is reached through directory file descriptors opened with
``O_NOFOLLOW | O_DIRECTORY``, one path component at a time. A directory swapped for a symlink
between planning and deletion then makes the open fail instead of redirecting a deletion
outside the root.
"""

from __future__ import annotations

import os
import stat

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


class ParentDirs:
    """Directory fds opened component by component from the root, reused for siblings.

    Plans list siblings one after another, so consecutive deletions share their parent;
    reopening the same chain for each of 100,000 files would dominate the run. An fd stays
    bound to the directory it opened, so reuse never redirects a deletion.
    """

    def __init__(self, root_fd: int) -> None:
        self._root_fd = root_fd
        self._parts: tuple[str, ...] = ()
        self._fds: list[int] = []

    def get(self, parts: tuple[str, ...]) -> int:
        """Return a fd for ``parts`` below the root (OSError when a component is not a dir)."""
        if parts != self._parts:
            keep = 0
            while keep < min(len(parts), len(self._parts)) and parts[keep] == self._parts[keep]:
                keep += 1
            for fd in self._fds[keep:]:
                os.close(fd)
            del self._fds[keep:]
            self._parts = parts[:keep]
            for part in parts[keep:]:
                self._fds.append(open_dir(self._fds[-1] if self._fds else self._root_fd, part))
                self._parts = (*self._parts, part)
        return self._fds[-1] if self._fds else self._root_fd

    def close(self) -> None:
        """Close every fd this opened (not the root's)."""
        for fd in reversed(self._fds):
            os.close(fd)
        self._fds.clear()
        self._parts = ()
