"""Mount points below the log root, on the real filesystem: never entered, never deleted.

Every case mounts something from outside the root into it: bind mounts of a directory from
the root's own filesystem (same device number: only the mount id tells them apart), bind
mounts of a single file, and a tmpfs. Each runs a dry run first, then a real run, and checks
that nothing outside the root changed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polarstack.cleaners import mounts
from polarstack.cleaners.deleting import clean
from polarstack.cleaners.logs import MOUNT_POINT, plan_clean
from polarstack.errors import UnsafeRootError
from polarstack.model import LiveIds
from polarstack.procfs import OpenHandles
from tests.conftest import require
from tests.integration.test_logs_safety import check_dry_run_matches_real_run, snapshot, trees
from tests.logtree import check_root, make, set_age

pytestmark = pytest.mark.root

Mount = Callable[..., None]


class Mounts:
    """Mounts made by a test, undone (innermost first) however it ends."""

    def __init__(self) -> None:
        self.points: list[Path] = []

    def bind(self, source: Path, target: Path) -> None:
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch(exist_ok=True)
        self._mount(["mount", "--bind", str(source), str(target)], target)

    def tmpfs(self, target: Path) -> None:
        target.mkdir(parents=True, exist_ok=True)
        self._mount(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(target)], target)

    def _mount(self, command: list[str], target: Path) -> None:
        done = subprocess.run(command, capture_output=True, text=True)
        require(done.returncode == 0, f"cannot mount here: {done.stderr.strip()}")
        self.points.append(target)

    def undo(self) -> None:
        while self.points:
            point = self.points.pop()
            if subprocess.run(["umount", str(point)], capture_output=True).returncode:
                subprocess.run(["umount", "-l", str(point)], check=True)


@pytest.fixture
def mounted(require_root) -> Iterator[Mounts]:
    require(shutil.which("mount") is not None, "mount is not installed (util-linux)")
    made = Mounts()
    try:
        yield made
    finally:
        made.undo()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the root, on the same filesystem, full of old files."""
    top = tmp_path / "outside"
    make(top / "postgresql-1.log", days=10)
    make(top / "data.bin", days=10)
    make(top / "rm_data_9" / "x", days=10)
    make(top / "deep" / "postgresql-2.log", days=10)
    for path in (top / "rm_data_9", top / "deep", top):
        set_age(path, 10)
    return top


def run(root: Path, *, dry_run: bool = False):
    plan = plan_clean(str(root), live=LiveIds.given(["ins-live"]), open_handles=OpenHandles)
    return plan, clean(plan, dry_run=dry_run)


def skipped_reasons(plan) -> dict[str, str]:
    return {"/".join(s.parts): s.reason for s in plan.skipped}


@pytest.mark.parametrize(
    "where",
    ["ins-gone/data", "ins-live/logs", "ins-live/rm_data_1", "ins-gone/rm_data_1/deeper"],
)
def test_a_bind_mounted_directory_is_never_entered(
    tmp_path: Path, outside: Path, mounted: Mounts, where: str
):
    root = tmp_path / "root"
    make(root / "ins-gone" / "postgresql-0.log", days=10)
    make(root / "ins-live" / "postgresql-0.log", days=10)
    mounted.bind(outside, root / where)
    for path in sorted(root.rglob("*"), reverse=True):
        if outside not in path.parents and not path.is_relative_to(root / where):
            set_age(path, 10)
    before = snapshot(outside)
    # Same filesystem: the device number cannot tell the mount.
    assert (root / where).stat().st_dev == root.stat().st_dev

    plan, _dry = run(root, dry_run=True)
    assert skipped_reasons(plan)[where] == MOUNT_POINT
    planned = [item.path for item in plan.items]
    assert not any(where.startswith(p + "/") or p.startswith(where) for p in planned)
    assert snapshot(outside) == before

    plan, report = run(root)
    assert snapshot(outside) == before
    assert (root / where / "postgresql-1.log").exists()
    assert report.failed == 0
    # The file rules still ran beside the mount: the old logs of both folders went.
    assert not (root / "ins-gone" / "postgresql-0.log").exists()
    assert not (root / "ins-live" / "postgresql-0.log").exists()
    assert report.totals().deleted_files == 2
    if where.startswith("ins-gone"):
        kept = skipped_reasons(plan)["ins-gone"]
        assert kept.startswith("kept whole: holds ins-gone/") and MOUNT_POINT in kept


def test_a_bind_mounted_file_is_never_deleted(tmp_path: Path, outside: Path, mounted: Mounts):
    root = tmp_path / "root"
    make(root / "ins-live" / "postgresql-0.log", days=10)
    make(root / "ins-gone" / "x", days=10)
    mounted.bind(outside / "postgresql-1.log", root / "ins-live" / "postgresql-1.log")
    mounted.bind(outside / "data.bin", root / "ins-gone" / "data.bin")
    before = snapshot(outside)

    plan, _ = run(root, dry_run=True)
    reasons = skipped_reasons(plan)
    assert reasons["ins-live/postgresql-1.log"] == MOUNT_POINT
    assert reasons["ins-gone"] == f"kept whole: holds ins-gone/data.bin, {MOUNT_POINT}"
    assert [item.path for item in plan.items] == ["ins-live/postgresql-0.log"]

    _, report = run(root)
    assert snapshot(outside) == before
    assert (root / "ins-live" / "postgresql-1.log").exists()
    assert report.totals().deleted_files == 1 and report.failed == 0


def test_a_tmpfs_below_the_root_is_never_entered(tmp_path: Path, mounted: Mounts):
    root = tmp_path / "root"
    make(root / "ins-gone" / "old", days=10)
    mounted.tmpfs(root / "ins-gone" / "mnt")
    inside = make(root / "ins-gone" / "mnt" / "postgresql.log", days=10)
    set_age(root / "ins-gone" / "mnt", 10)

    plan, _ = run(root, dry_run=True)
    assert skipped_reasons(plan)["ins-gone/mnt"] == MOUNT_POINT
    assert plan.items == ()
    run(root)
    assert inside.exists()


def test_a_mount_made_after_planning_is_not_entered(tmp_path: Path, outside: Path, mounted: Mounts):
    root = tmp_path / "root"
    for name in ("a", "b"):
        make(root / "ins-gone" / "data" / name, days=10)
    make(root / "ins-live" / "rm_data_1" / "x", days=10)
    set_age(root / "ins-live" / "rm_data_1", 10)
    plan = plan_clean(str(root), live=LiveIds.given(["ins-live"]), open_handles=OpenHandles)
    assert {item.path for item in plan.items} == {"ins-gone", "ins-live/rm_data_1"}
    # Both planned directories are mounted over between planning and deletion.
    mounted.bind(outside, root / "ins-gone" / "data")
    mounted.bind(outside, root / "ins-live" / "rm_data_1")
    before = snapshot(outside)

    report = clean(plan)
    assert snapshot(outside) == before
    by_path = {o.item.path: o for o in report.outcomes}
    # The mount tables, read again before deleting, name both mount points.
    assert by_path["ins-live/rm_data_1"].status == "skipped"
    assert by_path["ins-live/rm_data_1"].error == MOUNT_POINT
    gone = by_path["ins-gone"]
    assert gone.status == "failed"
    assert (
        gone.error
        == f"kept 1 entry (first: {root}/ins-gone/data: {MOUNT_POINT}); the directory stays"
    )
    assert report.totals().deleted_files == 0


def test_a_mount_made_while_deleting_is_found_on_the_fd(tmp_path: Path, mounted: Mounts):
    # A directory bound onto itself keeps its inode, so only its mount id tells: the mount
    # is made after the executor read the mount tables, just before the item is deleted.
    root = tmp_path / "root"
    for name in ("a", "b"):
        make(root / "ins-gone" / "data" / name, days=10)
    plan = plan_clean(str(root), live=LiveIds.given(["ins-live"]), open_handles=OpenHandles)
    data = root / "ins-gone" / "data"

    def mount_then_go_on() -> bool:
        if not mounted.points:
            mounted.bind(data, data)
        return False

    report = clean(plan, stop=mount_then_go_on)
    (outcome,) = report.outcomes
    assert outcome.status == "failed"
    assert outcome.error == f"kept 1 entry (first: {data}: {MOUNT_POINT}); the directory stays"
    assert (data / "a").exists() and (data / "b").exists()
    assert report.totals().deleted_files == 0


def test_a_file_mounted_after_planning_is_not_deleted(
    tmp_path: Path, outside: Path, mounted: Mounts
):
    root = tmp_path / "root"
    log = make(root / "ins-live" / "postgresql-1.log", days=10)
    plan = plan_clean(str(root), live=LiveIds.given(["ins-live"]), open_handles=OpenHandles)
    # The same inode stays in place, so only the kernel's refusal can keep the mount whole.
    source = outside / "postgresql-1.log"
    mounted.bind(source, log)
    (outcome,) = clean(plan).outcomes
    assert source.exists() and log.exists()
    assert outcome.status == "skipped"


def test_the_root_itself_may_be_a_mount(tmp_path: Path, outside: Path, mounted: Mounts):
    root = tmp_path / "root"
    mounted.bind(outside, root)
    plan, report = run(root)
    assert {item.path for item in plan.items} == {"postgresql-1.log", "deep", "rm_data_9"}
    assert report.failed == 0
    assert not (outside / "postgresql-1.log").exists()


def test_a_mount_of_another_namespace_is_never_removed(tmp_path: Path, outside: Path, mounted):
    # Seen from here the mount points are plain directories; removing one would make the
    # kernel detach the other namespace's mount (a tmpfs and its data would be gone).
    require(shutil.which("unshare") is not None, "unshare is not installed (util-linux)")
    root = tmp_path / "root"
    make(root / "ins-gone" / "sub" / "x", days=10)
    make(root / "ins-gone" / "postgresql-0.log", days=10)
    (root / "ins-tmp" / "data").mkdir(parents=True)
    set_age(root / "ins-tmp" / "data", 10)
    set_age(root / "ins-tmp", 10)
    ready = tmp_path / "ready"
    script = (
        f"mount --bind {outside} {root}/ins-gone/sub && "
        f"mount -t tmpfs -o size=1m t {root}/ins-tmp/data && "
        f"echo kept > {root}/ins-tmp/data/file && touch {ready} && exec sleep 60"
    )
    other = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script])
    try:
        deadline = time.monotonic() + 10
        while not ready.exists() and other.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        require(ready.exists(), "cannot make a mount namespace here")
        plan, _dry = run(root, dry_run=True)
        reasons = skipped_reasons(plan)
        assert reasons["ins-gone/sub"] == MOUNT_POINT
        assert reasons["ins-tmp/data"] == MOUNT_POINT
        assert [item.path for item in plan.items] == ["ins-gone/postgresql-0.log"]
        _, report = run(root)
        assert report.failed == 0
        table = Path(f"/proc/{other.pid}/mountinfo").read_text()
        assert f"{root}/ins-gone/sub " in table and f"{root}/ins-tmp/data " in table
        inside = Path(f"/proc/{other.pid}/root") / str(root).lstrip("/") / "ins-tmp/data/file"
        assert inside.read_text() == "kept\n"
    finally:
        other.kill()
        other.wait()


CHROOTED = """
import os, sys, time
os.chroot(sys.argv[1])
open("/ready", "w").close()
time.sleep(60)
"""

THREAD = """
import ctypes, os, subprocess, sys, threading, time
def mount_alone():
    ctypes.CDLL(None, use_errno=True).unshare(0x00020000)  # CLONE_NEWNS, this thread only
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    os.system(f"mount -t tmpfs -o size=1m t {sys.argv[1]} && echo kept > {sys.argv[1]}/file")
    open(sys.argv[2], "w").close()
    time.sleep(60)
threading.Thread(target=mount_alone, daemon=True).start()
time.sleep(60)
"""


@pytest.mark.parametrize("how", ["chrooted", "thread"])
def test_a_mount_seen_only_by_a_chroot_or_a_thread_is_never_removed(
    tmp_path: Path, mounted, how: str
):
    require(shutil.which("unshare") is not None, "unshare is not installed (util-linux)")
    root = tmp_path / "root"
    target = root / "ins-tmp" / "data"
    target.mkdir(parents=True)
    for path in (target, target.parent):
        set_age(path, 10)
    ready = tmp_path / "ready"
    if how == "chrooted":
        script = (
            f"mount -t tmpfs -o size=1m t {target} && echo kept > {target}/file && "
            f"exec {sys.executable} -c '{CHROOTED}' {tmp_path}"
        )
        other = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script])
    else:
        # unshare(CLONE_NEWNS) in a thread: the process's other threads keep the namespace.
        other = subprocess.Popen([sys.executable, "-c", THREAD, str(target), str(ready)])
    try:
        deadline = time.monotonic() + 10
        while not ready.exists() and other.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        require(ready.exists(), f"cannot make a {how} mount namespace here")
        plan, _ = run(root)
        assert skipped_reasons(plan)["ins-tmp/data"] == MOUNT_POINT
        assert plan.items == ()
        assert target.exists()
    finally:
        other.kill()
        other.wait()


@pytest.mark.parametrize("when", ["before planning", "after planning"])
def test_while_a_namespace_held_by_a_file_is_unseen_no_directory_goes_whole(
    tmp_path: Path, mounted, when: str
):
    # A mount namespace pinned by an nsfs file has no process whose table could be read:
    # a mount point in it looks like a plain directory, so only files are deleted.
    require(shutil.which("nsenter") is not None, "nsenter is not installed (util-linux)")
    root = tmp_path / "root"
    make(root / "ins-gone" / "postgresql-0.log", days=10)
    (root / "ins-gone" / "mnt").mkdir()
    for path in (root / "ins-gone" / "mnt", root / "ins-gone"):
        set_age(path, 10)
    early = plan_clean(str(root), live=LiveIds.given(["ins-live"]), open_handles=OpenHandles)
    assert {item.path for item in early.items} == {"ins-gone"}
    holder = tmp_path / "nsfile"
    holder.touch()
    made = subprocess.run(
        ["unshare", f"--mount={holder}", "--propagation", "private", "true"], capture_output=True
    )
    require(made.returncode == 0, f"cannot pin a mount namespace here: {made.stderr!r}")
    try:
        script = (
            f"mount -t tmpfs -o size=1m t {root}/ins-gone/mnt && "
            f"echo precious > {root}/ins-gone/mnt/p"
        )
        subprocess.run(["nsenter", f"--mount={holder}", "sh", "-c", script], check=True)
        if when == "before planning":
            plan, report = run(root)
            reasons = {s.rule.value: s.reason for s in plan.skipped_rules}
            assert "held by a file with no process in them" in reasons["orphan"]
            assert "held by a file with no process in them" in reasons["expired-removed-data"]
            assert [item.path for item in plan.items] == ["ins-gone/postgresql-0.log"]
            assert report.failed == 0
        else:  # the executor reads the tables again, and keeps the planned folder
            (outcome,) = clean(early).outcomes
            assert outcome.status == "skipped"
            assert "held by a file with no process in them" in (outcome.error or "")
        kept = subprocess.run(
            ["nsenter", f"--mount={holder}", "cat", f"{root}/ins-gone/mnt/p"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert kept.stdout == "precious\n"
    finally:
        subprocess.run(["nsenter", f"--mount={holder}", "umount", f"{root}/ins-gone/mnt"])
        subprocess.run(["umount", str(holder)])


def test_mount_ids_tell_a_same_filesystem_bind_mount_apart(tmp_path: Path, mounted: Mounts):
    source, target = tmp_path / "source", tmp_path / "target"
    source.mkdir()
    mounted.bind(source, target)
    ids = []
    for path in (tmp_path, source, target):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            ids.append((mounts.mount_id(fd), mounts._mount_id_from_fdinfo(fd)))
        finally:
            os.close(fd)
    (parent, parent_proc), (src, src_proc), (bound, bound_proc) = ids
    assert (parent, src, bound) == (parent_proc, src_proc, bound_proc)  # statx = fdinfo
    assert parent == src != bound
    found = mounts.mount_points_below(str(tmp_path), parent)
    assert ("target",) in found.below


def fake_proc(tmp_path: Path, tables: dict[str, bytes | None]) -> Path:
    """A /proc with a mount table and a mount namespace per pid (``None``: unreadable)."""
    proc = tmp_path / "proc"
    for pid, table in tables.items():
        (proc / pid / "ns").mkdir(parents=True)
        if table is None:
            (proc / pid / "mountinfo").mkdir()  # reading it fails, not as a gone process
        else:
            (proc / pid / "mountinfo").write_bytes(table)
        (proc / pid / "ns" / "mnt").write_text(pid)
    return proc


HOST = (
    b"20 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
    b"31 20 8:1 /other /flash/root/ins\\040a/b\\012c rw - ext4 /dev/sda1 rw\n"
    b"32 20 8:1 / /flash/rootless rw - ext4 /dev/sda1 rw\n"
    b"33 20 0:40 / /flash/root/ins-2/tmp rw - tmpfs t rw\n"
)
CONTAINER = (  # the agent's pod: the root is a hostPath mount at /data
    b"100 99 0:50 / / rw - overlay o rw\n"
    b"101 100 8:1 /flash/root /data rw - ext4 /dev/sda1 rw\n"
    b"102 101 0:60 / /data/ins-1/backup rw - tmpfs t rw\n"
    b"103 100 0:61 / /other rw - tmpfs t rw\n"
)


def test_mount_points_of_every_namespace_are_found_where_they_really_lie(tmp_path: Path):
    proc = fake_proc(tmp_path, {"self": HOST, "42": CONTAINER, "43": b"", "44": None})
    found = mounts.mount_points_below("/flash/root", 20, proc=str(proc))
    assert found.below == {("ins a", "b\nc"), ("ins-2", "tmp"), ("ins-1", "backup")}
    assert found.unreadable == 1
    # Seen from the pod: the same mounts, the root being /data there.
    pod = fake_proc(tmp_path / "pod", {"self": CONTAINER, "1": HOST})
    assert mounts.mount_points_below("/data", 101, proc=str(pod)).below == found.below


def test_a_bind_of_a_system_directory_on_its_own_filesystem_is_refused(
    tmp_path: Path, mounted: Mounts
):
    # /dev/shm is a filesystem of its own: its bind lies on no path of "/"'s filesystem,
    # and is refused through the other name its filesystem gives it.
    require(os.path.ismount("/dev/shm"), "no /dev/shm mount here")
    mounted.bind(Path("/dev/shm"), tmp_path / "shm")
    with pytest.raises(UnsafeRootError, match="it is also /dev/shm"):
        check_root(str(tmp_path / "shm"))


def test_other_names_come_from_every_mount_of_the_filesystem(tmp_path: Path):
    proc = fake_proc(
        tmp_path,
        {
            "self": b"20 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
            b"21 20 8:2 / /boot rw - ext4 /dev/sda2 rw\n"
            b"22 20 8:2 /grub /tmp/b/grub rw - ext4 /dev/sda2 rw\n"
            b"23 20 8:1 /var/lib/x /flash rw - ext4 /dev/sda1 rw\n"
        },
    )
    assert mounts.other_names("/tmp/b/grub", 22, proc=str(proc)) == ["/boot/grub"]
    assert mounts.other_names("/tmp/b/grub/fonts", 22, proc=str(proc)) == ["/boot/grub/fonts"]
    assert mounts.other_names("/flash/polardb", 23, proc=str(proc)) == ["/var/lib/x/polardb"]
    assert mounts.other_names("/var/lib", 20, proc=str(proc)) == []
    # The mount moved away from the path (or is gone): nothing can be told.
    assert mounts.other_names("/elsewhere", 22, proc=str(proc)) is None
    assert mounts.other_names("/tmp/b/grub", 99, proc=str(proc)) is None


# --- the properties, with bind mounts ------------------------------------------------------

mount_places = st.lists(
    st.tuples(
        st.sampled_from(["ins-live", "ins-gone", "ins-other"]),
        st.sampled_from(["data", "rm_data_1", "sub", "postgresql-1.log", "x.log"]),
    ),
    max_size=3,
    unique=True,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees, mount_places)
def test_with_bind_mounts_a_dry_run_plans_what_a_real_run_deletes_and_nothing_outside(tree, places):
    require(os.geteuid() == 0 and shutil.which("mount") is not None, "bind mounts need root")
    made = Mounts()
    with tempfile.TemporaryDirectory() as top:
        try:

            def mount(root: Path, sibling: Path) -> None:
                # Mount what lies beside the root (old files and folders) into it.
                for number, (instance, name) in enumerate(places):
                    target = root / instance / name
                    if any(p.exists() and not p.is_dir() for p in target.parents):
                        continue
                    source = sibling / f"mounted-{number}"
                    if name.endswith(".log"):
                        make(source, days=10)
                        if target.exists() and not target.is_file():
                            continue
                    else:
                        make(source / "postgresql-1.log", days=10)
                        make(source / "rm_data_2" / "f", days=10)
                        set_age(source / "rm_data_2", 10)
                        set_age(source, 10)
                        if target.exists() and not target.is_dir():
                            continue
                    made.bind(source, target)

            check_dry_run_matches_real_run(Path(top), tree, mount)
        finally:
            made.undo()
