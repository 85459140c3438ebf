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
import time
from collections.abc import Callable
from dataclasses import dataclass

from polarstack.cleaners import mounts
from polarstack.errors import UnsafeRootError

SYSTEM_TREES = (
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/efi",
    "/etc",
    "/usr",
    "/bin",
    "/sbin",
    "/nix",
    "/sysroot",
    "/ostree",
)
"""A root may not be, nor lie below, any of these (nor ``/lib*``)."""

SHARED_DIRS = frozenset(
    (
        "/var",
        "/var/lib",
        "/var/log",
        "/var/tmp",
        "/var/cache",
        "/var/spool",
        "/var/mail",
        "/var/opt",
        "/var/backups",
        "/var/local",
        "/run/user",
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


def _normal(root: str) -> str:
    normal = os.path.normpath(root)
    if normal.startswith("//"):  # POSIX keeps a leading "//"; the kernel reads it as "/"
        normal = "/" + normal.lstrip("/")
    return normal


def _refused_directories() -> list[str]:
    tops = [f"/{name}" for name in _listdir("/") if name.startswith("lib")]
    return ["/", *SYSTEM_TREES, *sorted(SHARED_DIRS), *tops]


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _refusal_by_identity(real: str, info: os.stat_result, mount: int) -> str | None:
    """Why the opened root may not be cleaned although its path passed, or None.

    A bind mount (or a second name) can show a system directory under an innocent path:
    the directory itself is compared with each refused one, and every other name it has
    through another mount of its filesystem is judged by the same rule.
    """
    for directory in _refused_directories():
        try:
            other = os.stat(directory)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino):
            return f"it is {directory} under another name (a bind mount or a link)"
    names = mounts.other_names(real, mount)
    if names is None:
        return "cannot tell which mount it is on (the mount table is unreadable, or it moved)"
    for name in names:
        reason = _refusal(os.path.normpath(name))
        if reason is not None:
            return f"it is also {name}, through a bind mount: {reason}"
    return None


@dataclass(frozen=True)
class RootDir:
    """The log root, checked and open."""

    path: str
    """The root with every symlink resolved: the directory actually cleaned."""
    fd: int
    info: os.stat_result
    mount: int
    """Its mount id: any directory on another mount below it is a mount point."""

    def close(self) -> None:
        """Close the fd."""
        os.close(self.fd)


def open_root(root: str) -> RootDir:
    """Check the log root, open it, and check the directory opened; the caller closes it.

    The path is resolved (``realpath``: symlinks in every component, then ``..``) and the
    rules apply to it; the directory is then opened from ``/`` one component at a time with
    ``O_NOFOLLOW``, so a component swapped for a symlink after the check fails the open
    instead of leading elsewhere. The directory opened must not be a refused one under
    another name (see :func:`_refusal_by_identity`).

    Raises:
        UnsafeRootError: relative, missing, not a directory, a symlink, or a system
            directory (see the module's docstring), also when it resolves to one.
    """
    if not os.path.isabs(root):
        raise UnsafeRootError(f"refusing log root {root!r}: not an absolute path")
    if "\0" in root:
        raise UnsafeRootError(f"refusing log root {root!r}: it holds a NUL byte")
    real = os.path.realpath(root)
    for candidate in (_normal(root), real):
        reason = _refusal(candidate)
        if reason is not None:
            raise UnsafeRootError(f"refusing log root {root!r}: {reason}")
    try:
        given = os.lstat(root)
    except FileNotFoundError:
        raise UnsafeRootError(f"refusing log root {root!r}: it does not exist") from None
    except OSError as exc:
        raise UnsafeRootError(f"refusing log root {root!r}: {exc.strerror}") from exc
    if stat.S_ISLNK(given.st_mode):
        raise UnsafeRootError(f"refusing log root {root!r}: it is a symlink")
    if not stat.S_ISDIR(given.st_mode):
        raise UnsafeRootError(f"refusing log root {root!r}: not a directory")
    fd = os.open("/", _DIR_FLAGS)
    try:
        for part in real.split("/"):
            if part:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = child
        info = os.fstat(fd)
        mount = mounts.mount_id(fd)
        reason = _refusal_by_identity(real, info, mount)
    except OSError as exc:
        os.close(fd)
        raise UnsafeRootError(
            f"refusing log root {root!r}: {real} changed while it was checked "
            f"({exc.strerror or exc})"
        ) from exc
    except BaseException:
        os.close(fd)
        raise
    if reason is not None:
        os.close(fd)
        raise UnsafeRootError(f"refusing log root {root!r}: {reason}")
    return RootDir(real, fd, info, mount)


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


def in_place(parent_fd: int, name: str, fd: int) -> bool:
    """Whether ``name`` below ``parent_fd`` is still the directory ``fd`` holds open."""
    try:
        there = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    except OSError:
        return False
    return os.path.samestat(there, os.fstat(fd))


REUSE_SECONDS = 0.1
"""How long an opened chain of directory fds is reused before it is opened anew."""


class ParentDirs:
    """Directory fds opened component by component from the root, reused for siblings.

    Plans list siblings one after another, so consecutive deletions share their parent;
    reopening the same chain for each of 100,000 files would dominate the run. An fd stays
    bound to the directory it opened, so reuse never redirects a deletion to other files;
    but a directory renamed out of the root keeps its fd. So a chain is reused for at most
    :data:`REUSE_SECONDS`, then opened again from the root: a rename during a long pause (a
    slow disk) is then seen, and the window left is of the order of the one between any
    check and the deletion after it.
    """

    def __init__(
        self, root_fd: int, root_mount: int, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._root_fd = root_fd
        self._root_mount = root_mount
        self._monotonic = monotonic
        self._opened_at = 0.0
        self._parts: tuple[str, ...] = ()
        self._fds: list[int] = []

    def get(self, parts: tuple[str, ...]) -> int:
        """Return a fd for ``parts`` below the root (OSError when a component is not a dir).

        Raises:
            MountPointError: a component is a mount point.
        """
        now = self._monotonic()
        if now - self._opened_at > REUSE_SECONDS:
            self.close()
            self._opened_at = now
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

    def opened(self) -> list[tuple[int, str, int]]:
        """(parent fd, name, fd) of each directory of the chain, outermost first."""
        parents = [self._root_fd, *self._fds][: len(self._fds)]
        return list(zip(parents, self._parts, self._fds, strict=True))

    def close(self) -> None:
        """Close every fd this opened (not the root's)."""
        for fd in reversed(self._fds):
            os.close(fd)
        self._fds.clear()
        self._parts = ()
