"""One pass over ``/proc/*/fd``: which process holds which socket or file open.

The ports job uses it for socket owners, the logs job to skip files a process still writes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass(frozen=True)
class OpenHandles:
    """What the processes visible in ``proc`` hold open."""

    socket_owners: dict[int, int] = field(default_factory=dict)
    """Socket inode to the pid of one process holding it."""
    files: frozenset[tuple[int, int]] = frozenset()
    """(st_dev, st_ino) of every regular file held open."""
    unreadable_pids: int = 0
    """Processes whose fd table could not be read (another user's, without privileges)."""

    @property
    def complete(self) -> bool:
        """Whether every process's fd table was read."""
        return self.unreadable_pids == 0


_SOCKET_PREFIX = "socket:["


def read_open_handles(proc: str = "/proc", *, files: bool = False) -> OpenHandles:
    """Walk every process's fd table once.

    With ``files``, also stat each regular file held open (costlier: one stat per fd).
    Processes that exit during the walk are ignored.
    """
    owners: dict[int, int] = {}
    open_files: set[tuple[int, int]] = set()
    unreadable = 0
    for entry in os.scandir(proc):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        fd_dir = os.path.join(entry.path, "fd")
        try:
            fds = os.listdir(fd_dir)
        except FileNotFoundError:
            continue
        except PermissionError:
            unreadable += 1
            continue
        for fd in fds:
            fd_path = os.path.join(fd_dir, fd)
            try:
                target = os.readlink(fd_path)
            except OSError:
                continue
            if target.startswith(_SOCKET_PREFIX):
                owners.setdefault(int(target[len(_SOCKET_PREFIX) : -1]), pid)
            elif files and target.startswith("/"):
                try:
                    stat = os.stat(fd_path)
                except OSError:
                    continue
                open_files.add((stat.st_dev, stat.st_ino))
    return OpenHandles(owners, frozenset(open_files), unreadable)


def process_name(pid: int, proc: str = "/proc") -> str | None:
    """Return the short command name of ``pid``, or None when it is gone or unreadable."""
    try:
        with open(os.path.join(proc, str(pid), "comm"), encoding="utf-8", errors="replace") as f:
            return f.read().strip() or None
    except OSError:
        return None
