"""Log cleaning: polarstack vs ``find -delete`` vs the previous daemon's ``find -exec rm``.

Run:  python bench/logs.py [--instances 200] [--files 1000] [--repeat 3] [--workdir /var/tmp]
      [--on-disk] [--fresh-ext4]

Each method gets its own freshly generated, identical tree (same seed): by default 200
instance folders x 1,000 files (expired and fresh postgresql logs, other files, rm_data_*
dirs), 10% of the instances orphaned. polarstack deletes on one thread. The previous
daemon's procedure forks one ``rm`` per file, so it runs on a 20,000-file tree and its
per-file cost is reported and scaled.
Wall time, peak RSS and CPU time (user, system) come from ``os.wait4`` on each child. The
methods run ``--repeat`` times, interleaved, and the medians are compared.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

from _common import compile_checkout, polarstack_script

DAY = 86400
DRY = "polarstack --dry-run"
TABLE = "polarstack logs clean -o table"
JSON = "polarstack logs clean -o json"
FIND = "find -delete (+ rm -rf)"
DAYS = 3


def generate(root: Path, instances: int, files: int, *, seed: int = 7) -> tuple[int, list[str]]:
    """Build the tree; return (file count, live instance ids)."""
    rng = random.Random(seed)
    now = time.time()
    live, count = [], 0
    for i in range(instances):
        ins = f"ins-{i:04d}"
        orphan = i % 10 == 0
        if not orphan:
            live.append(ins)
        log_dir = root / ins / "log"
        rm_dir = root / ins / "data" / f"rm_data_{i}"
        log_dir.mkdir(parents=True)
        rm_dir.mkdir(parents=True)
        for n in range(files):
            if n < files * 7 // 10:
                path = log_dir / f"postgresql-{n}.log"
                expired = orphan or rng.random() < 0.5
            elif n < files * 9 // 10:
                path = root / ins / "data" / f"table-{n}.csv"
                expired = rng.random() < 0.5
            else:
                path = rm_dir / f"chunk-{n}"
                expired = True
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(fd, b"x" * 512)
            os.close(fd)
            stamp = now - (DAYS + 1) * DAY if expired else now - rng.random() * DAY
            os.utime(path, (stamp, stamp))
            count += 1
        old = now - (DAYS + 1) * DAY if i % 2 else now
        os.utime(rm_dir, (old, old))
    return count, live


def make_tree(root: Path, instances: int, files: int) -> tuple[Path, int]:
    """Make ``root`` and its tree, with the live ids in a file beside it; return that file
    and the number of files made."""
    root.mkdir()
    count, live = generate(root, instances, files)
    ids = root.with_name(root.name + ".ids")
    ids.write_text("\n".join(live))
    return ids, count


ON_DISK = False


class Measured(NamedTuple):
    """One run of one method."""

    seconds: float
    rss_mib: float
    user: float
    """CPU seconds in the method's processes' own code."""
    sys: float
    """CPU seconds the kernel spent on their behalf (the deletions themselves, mostly)."""
    deleted: int = 0


def timed(command: list[str], **kwargs: object) -> Measured:
    """Run ``command``; return its wall time, peak RSS and CPU times (children included).

    With ``--on-disk``, the tree (and any earlier method's deletions) is written out first
    (``sync``): deleting files already on disk costs the filesystem far more than deleting
    files still only in the page cache, and a real log tree is on disk.
    """
    if ON_DISK:
        os.sync()
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{command[0]} failed: {os.waitstatus_to_exitcode(status)}")
    # wait4's usage includes the child's own children (a shell's find and rm).
    return Measured(elapsed, usage.ru_maxrss / 1024, usage.ru_utime, usage.ru_stime)


def deleted_then_removed(root: Path, total: int) -> int:
    """Count the files a method deleted from ``root``, then remove the rest of the tree.

    Removing it keeps the disk (and a small volume's inodes) free for the next tree; the
    ``sync`` after it writes that removal out now, so its writeback does not fall into the
    next method's run.
    """
    left = sum(len(files) for _, _, files in os.walk(root))
    shutil.rmtree(root)
    os.sync()
    return total - left


def mount_of(path: Path) -> str:
    """The filesystem type and mount options ``path`` lives on, from /proc/mounts."""
    best, found = "", "unknown filesystem"
    with open("/proc/mounts") as mounts:
        for line in mounts:
            _dev, point, fstype, options, *_ = line.split()
            inside = str(path) == point or str(path).startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(best):
                best, found = point, f"{fstype} ({options})"
    return found


@contextlib.contextmanager
def fresh_ext4(workdir: str) -> Iterator[str]:
    """A journaled ext4 volume without ``discard`` on a loop device, as a database
    host's log volume usually is; removed afterwards. Needs root and mkfs.ext4.
    """
    image = Path(tempfile.mkdtemp(prefix="polarstack-bench-ext4-", dir=workdir))
    volume, mount = image / "volume.img", image / "mnt"
    mount.mkdir()
    with open(volume, "wb") as sparse:
        sparse.truncate(8 << 30)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-N", "600000", str(volume)], check=True)
    subprocess.run(["mount", "-o", "loop", str(volume), str(mount)], check=True)
    try:
        yield str(mount)
    finally:
        subprocess.run(["umount", str(mount)], check=True)
        shutil.rmtree(image)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--workdir", default="/var/tmp")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved runs of each method")
    parser.add_argument(
        "--on-disk", action="store_true", help="sync before each method: delete files on disk"
    )
    parser.add_argument(
        "--fresh-ext4",
        action="store_true",
        help="run on a new journaled ext4 volume (loop device, made in --workdir; needs root)",
    )
    args = parser.parse_args()
    global ON_DISK
    ON_DISK = args.on_disk
    with (
        fresh_ext4(args.workdir)
        if args.fresh_ext4
        else contextlib.nullcontext(args.workdir) as workdir
    ):
        measure(args, workdir)


def measure(args: argparse.Namespace, workdir: str) -> None:
    """Run every method ``args.repeat`` times in ``workdir`` and print the comparison."""
    polarstack = polarstack_script()
    compile_checkout(Path(__file__).resolve().parent.parent)
    work = Path(tempfile.mkdtemp(prefix="polarstack-bench-", dir=workdir))
    filesystem = mount_of(work)
    mmin = f"+{DAYS * 24 * 60}"
    results: dict[str, Measured] = {}
    try:

        def fresh(name: str, instances: int) -> tuple[Path, Path, int]:
            root = work / name
            ids, count = make_tree(root, instances, args.files)
            return root, ids, count

        def polarstack_run(name: str, *extra: str) -> Measured:
            root, ids, total = fresh(name, args.instances)
            command = [polarstack, "logs", "clean", "--root", str(root),
                       "--live-ids-file", str(ids), *extra]  # fmt: skip
            return timed(command)._replace(deleted=deleted_then_removed(root, total))

        def find_run(name: str) -> Measured:
            root, ids, total = fresh(name, args.instances)
            live = set(ids.read_text().split())
            orphans = [str(p) for p in root.iterdir() if p.name not in live]
            script = (
                f"find {root} -type f -name 'postgresql*.log' -mmin {mmin} -delete && "
                f"find {root} -depth -type d -name 'rm_data_*' -mmin {mmin} -exec rm -rf {{}} + && "
                f"rm -rf {' '.join(orphans)}"
            )
            measured = timed(["sh", "-c", script])
            return measured._replace(deleted=deleted_then_removed(root, total))

        total = args.instances * args.files
        runs: dict[str, list[Measured]] = {}
        # Interleaved, so the disk's and page cache's moods fall on every method alike.
        for n in range(args.repeat):
            plan: list[tuple[str, Callable[[], Measured]]] = [
                (DRY, lambda n=n: polarstack_run(f"dry{n}", "--dry-run", "-o", "table")),
                (TABLE, lambda n=n: polarstack_run(f"table{n}", "-o", "table")),
                (FIND, lambda n=n: find_run(f"find{n}")),
                (JSON, lambda n=n: polarstack_run(f"json{n}", "-o", "json")),
            ]
            # Each round starts with another method, so none always follows the same one.
            for name, run in plan[n % len(plan) :] + plan[: n % len(plan)]:
                runs.setdefault(name, []).append(run())
        for name, measured in runs.items():
            results[name] = Measured(
                statistics.median(m.seconds for m in measured),
                max(m.rss_mib for m in measured),
                statistics.median(m.user for m in measured),
                statistics.median(m.sys for m in measured),
                measured[0].deleted,
            )
        ratios = [t.seconds / f.seconds for t, f in zip(runs[TABLE], runs[FIND], strict=True)]

        small = max(1, args.instances // 10)
        root, _, small_total = fresh("previous", small)
        measured = timed(
            ["sh", "-c", f"find {root} -name 'postgresql*.log' -mtime +{DAYS} -exec rm -f {{}} \\;"]
        )
        previous = measured._replace(deleted=deleted_then_removed(root, small_total))
        results[f"previous: find -exec rm ({small_total} files)"] = previous
    finally:
        shutil.rmtree(work, ignore_errors=True)

    ours = results[TABLE]
    find = results[FIND]
    per_file = previous.seconds / max(previous.deleted, 1)
    where = "on disk (synced before each method)" if ON_DISK else "in the page cache"
    print(f"tree: {args.instances} x {args.files} = {total} files, {where}; N = {DAYS}")
    print(f"filesystem: {filesystem}")
    print(
        f"  {'method (medians; max RSS)':<40}{'wall':>8}{'user':>8}{'sys':>8}"
        f"{'peak RSS':>12}{'deleted':>9}{'x find':>8}"
    )
    for name, m in results.items():
        print(
            f"  {name:<40}{m.seconds:>7.2f}s{m.user:>7.2f}s{m.sys:>7.2f}s"
            f"{m.rss_mib:>9.1f}MiB{m.deleted:>9}{m.seconds / find.seconds:>8.2f}"
        )
    scaled = per_file * ours.deleted
    print(
        f"  previous procedure: {per_file * 1000:.2f} ms per deleted file; for the "
        f"{ours.deleted} files polarstack deleted that is ~{scaled:.0f}s, "
        f"{scaled / ours.seconds:.0f}x polarstack (goal >= 20x)"
    )
    print("  per run, polarstack (table) / find: " + ", ".join(f"{r:.2f}x" for r in ratios))
    print(
        f"  polarstack vs find -delete, medians of {args.repeat}: "
        f"{ours.seconds / find.seconds:.2f}x (goal <= 1.5x); "
        f"peak RSS {ours.rss_mib:.1f} MiB (goal <= 80); "
        f"dry run {results[DRY].seconds:.2f}s (goal < 5s)"
    )


if __name__ == "__main__":
    main()
