"""The guards the log cleaner relies on: which roots it accepts, and fd-relative access.

Everything below the root is reached through directory file descriptors opened with
``O_NOFOLLOW | O_DIRECTORY``, one path component at a time. A directory swapped for a symlink
between planning and deletion then makes the open fail instead of redirecting a deletion
outside the root. Every such open also checks the mount the fd is on (:mod:`.mounts`): a
directory on another mount than the root's is a mount point, and is never entered.

The roots refused (after resolving symlinks in every component):

* ``/``, and any path that is or lies below a directory of the system itself:
  :data:`SYSTEM_TREES` and every top-level ``/lib*``;
* the shared top-level directories themselves (:data:`SHARED_DIRS`), which hold other
  programs' data beside any log tree: ``/var/lib/x`` or a directory below ``/tmp`` is
  allowed, ``/var/lib`` or ``/tmp`` is not.
"""

from __future__ import annotations

import errno
import os
import stat

from polarstack.cleaners import mounts
from polarstack.errors import UnsafeRootError

SYSTEM_TREES = ("/proc", "/sys", "/dev", "/boot", "/etc", "/usr", "/bin", "/sbin")
"""A root may not be, nor lie below, any of these (nor ``/lib*``)."""

SHARED_DIRS = frozenset(
    (
        "/var",
        "/var/lib",
        "/var/log",
        "/home",
        "/root",
        "/tmp",
        "/run",
        "/opt",
        "/srv",
        "/mnt",
        "/media",
        "/snap",
    )
)
"""A root may lie below these, but may not be one of them."""


def _refusal(path: str) -> str | None:
    """Why ``path`` (absolute, normalised) may not be a log root, or None."""
    if path == "/":
        return "/ holds every system directory"
    top = "/" + path.split("/")[1]
    if top.startswith("/lib"):
        return f"{path} lies in {top}, a system directory"
    for tree in SYSTEM_TREES:
        if path == tree or path.startswith(tree + "/"):
            return f"{path} lies in {tree}, a system directory"
    if path in SHARED_DIRS:
        return f"{path} is a system directory shared by other programs"
    return None


MAX_DEPTH = 32
"""Levels below the root the cleaner descends; deeper entries are reported, never deleted."""

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def check_root(root: str) -> os.stat_result:
    """Refuse a root that is unsafe to clean; return its lstat.

    Raises:
        UnsafeRootError: relative, missing, not a directory, a symlink, or a system
            directory (see the module's docstring), also when it resolves to one.
    """
    if not os.path.isabs(root):
        raise UnsafeRootError(f"refusing log root {root!r}: not an absolute path")
    normal = os.path.normpath(root)
    if normal.startswith("//"):  # POSIX keeps a leading "//"; the kernel reads it as "/"
        normal = "/" + normal.lstrip("/")
    for candidate in (normal, os.path.realpath(normal)):
        reason = _refusal(candidate)
        if reason is not None:
            raise UnsafeRootError(f"refusing log root {root!r}: {reason}")
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


class MountPointError(OSError):
    """A directory below the root is on another mount: a mount point, never entered."""

    def __init__(self) -> None:
        super().__init__(errno.EXDEV, "a mount point: never entered or deleted")


def open_dir(parent_fd: int, name: str, root_mount: int) -> int:
    """Open ``name`` below ``parent_fd`` as a directory, never through a symlink or a mount.

    ``root_mount`` is the root's mount id (:func:`~.mounts.mount_id`). The check runs on the
    opened fd itself, so a mount made at any moment is found.

    Raises:
        MountPointError: ``name`` is a mount point (the fd is closed).
        OSError: ``name`` is not a directory, a symlink, or cannot be opened.
    """
    fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    try:
        if mounts.mount_id(fd) != root_mount:
            raise MountPointError()
    except BaseException:
        os.close(fd)
        raise
    return fd


class ParentDirs:
    """Directory fds opened component by component from the root, reused for siblings.

    Plans list siblings one after another, so consecutive deletions share their parent;
    reopening the same chain for each of 100,000 files would dominate the run. An fd stays
    bound to the directory it opened, so reuse never redirects a deletion.
    """

    def __init__(self, root_fd: int, root_mount: int) -> None:
        self._root_fd = root_fd
        self._root_mount = root_mount
        self._parts: tuple[str, ...] = ()
        self._fds: list[int] = []

    def get(self, parts: tuple[str, ...]) -> int:
        """Return a fd for ``parts`` below the root (OSError when a component is not a dir).

        Raises:
            MountPointError: a component is a mount point.
        """
        if parts != self._parts:
            keep = 0
            while keep < min(len(parts), len(self._parts)) and parts[keep] == self._parts[keep]:
                keep += 1
            for fd in self._fds[keep:]:
                os.close(fd)
            del self._fds[keep:]
            self._parts = parts[:keep]
            for part in parts[keep:]:
                parent = self._fds[-1] if self._fds else self._root_fd
                self._fds.append(open_dir(parent, part, self._root_mount))
                self._parts = (*self._parts, part)
        return self._fds[-1] if self._fds else self._root_fd

    def close(self) -> None:
        """Close every fd this opened (not the root's)."""
        for fd in reversed(self._fds):
            os.close(fd)
        self._fds.clear()
        self._parts = ()
