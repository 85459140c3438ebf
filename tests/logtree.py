"""Files and directories of a log tree for the cleaner's tests, with the ages they need."""

from __future__ import annotations

import os
import time
from pathlib import Path

from polarstack.cleaners.safety import open_root

DAY = 86400


def make(path: Path, *, days: float = 0, content: bytes = b"log") -> Path:
    """Create the file ``path`` (and its parents) unless it exists; make it ``days`` old."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_bytes(content)
    set_age(path, days)
    return path


def set_age(path: Path | str, days: float) -> None:
    """Set the mtime (and atime) of ``path`` itself, never a symlink's target."""
    stamp = time.time() - days * DAY
    os.utime(path, (stamp, stamp), follow_symlinks=False)


def on_disk(*paths: Path | str) -> int:
    """Bytes the files take on disk (``st_blocks``): what deleting them frees."""
    return sum(os.lstat(path).st_blocks * 512 for path in paths)


def check_root(root: str) -> os.stat_result:
    """Refuse ``root`` as the cleaner does (``open_root``), else close it and return its stat."""
    opened = open_root(root)
    opened.close()
    return opened.info
