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
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polarstack.cleaners import mounts
from polarstack.cleaners.deleting import clean
from polarstack.cleaners.logs import MOUNT_POINT, LiveIds, plan_clean
from polarstack.procfs import OpenHandles
from tests.conftest import require
from tests.integration.test_logs_safety import check_dry_run_matches_real_run, snapshot, trees
from tests.logtree import make, set_age

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
    assert report.totals()["deleted_files"] == 2
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
    assert report.totals()["deleted_files"] == 1 and report.failed == 0


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
    # The lstat before deletion sees the mount's root, not the planned inode.
    assert by_path["ins-live/rm_data_1"].status == "skipped"
    gone = by_path["ins-gone"]
    assert gone.status == "failed"
    assert f"kept 1 entry (first: {root}/ins-gone/data: changed since planning" in (
        gone.error or ""
    )
    assert report.totals()["deleted_files"] == 0


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
    assert mounts.mount_points_below(str(tmp_path)) == {("target",)}


def test_mountinfo_paths_with_odd_bytes(tmp_path: Path):
    info = tmp_path / "mountinfo"
    info.write_bytes(
        b"36 35 98:0 / /flash/root/ins\\040a/b\\012c rw - ext4 /dev/x rw\n"
        b"37 35 98:0 / /flash/rootless rw - ext4 /dev/x rw\n"
        b"38 35 98:0 / /flash/root rw - ext4 /dev/x rw\n"
    )
    found = mounts.mount_points_below("/flash/root", str(info))
    assert found == {("ins a", "b\nc")}


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
