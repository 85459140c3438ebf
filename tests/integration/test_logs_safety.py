"""Safety of the log cleaner, on the real filesystem."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polarstack.cleaners import safety
from polarstack.cleaners.deleting import RuleCounts, clean
from polarstack.cleaners.logs import plan_clean
from polarstack.errors import UnsafeRootError
from polarstack.model import LiveIds, Rule
from polarstack.procfs import OpenHandles
from tests.conftest import require
from tests.logtree import check_root, make, on_disk, set_age
from tests.pathtext import parse

NO_HANDLES = OpenHandles


def run(root: Path, *, live=("ins-live",), dry_run: bool = False, **kwargs):
    plan = plan_clean(str(root), live=LiveIds.given(live), open_handles=NO_HANDLES, **kwargs)
    return plan, clean(plan, dry_run=dry_run)


def snapshot(top: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every path below ``top`` with its mtime and content (or link target)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            if os.path.islink(path):
                found[path] = (info.st_mtime_ns, os.readlink(path).encode())
            elif os.path.isfile(path):
                found[path] = (info.st_mtime_ns, Path(path).read_bytes())
            else:
                found[path] = (0, None)
    return found


# --- roots ------------------------------------------------------------------


@pytest.mark.parametrize(
    "root",
    [
        "/", "//", "/usr", "/etc", "/var", "/home", "/tmp", "/usr/../etc", "/etc/", "//etc",
        # below the system's own trees
        "/proc/1", "/proc/self/cwd", "/sys/fs", "/dev/shm", "/boot/grub", "/etc/polarstack",
        "/usr/local/lib", "/bin/x", "/sbin/x", "/lib/modules", "/lib64", "/libx32/x",
        "/lib32/a/b",
        # the shared directories themselves
        "/var/lib", "/var/log", "/root", "/run", "/opt", "/srv", "/mnt", "/media", "/var/lib/",
        "/var/./lib", "/var/lib/../log",
    ],
)  # fmt: skip
def test_system_directories_are_refused(root: str):
    with pytest.raises(UnsafeRootError, match="system directory"):
        plan_clean(root, live=LiveIds.given(["x"]), open_handles=NO_HANDLES)


@pytest.mark.parametrize("root", ["/var/lib/polar", "/disk1/polardb", "/flash/polardb_dbcluster"])
def test_roots_below_shared_directories_are_allowed(root: str):
    # They pass the rule; here they do not exist, which is the next refusal.
    with pytest.raises(UnsafeRootError, match="does not exist"):
        check_root(root)


def test_a_directory_below_tmp_is_allowed(tmp_path: Path):
    assert str(tmp_path).startswith("/tmp/")
    assert check_root(str(tmp_path)).st_ino == tmp_path.stat().st_ino


def test_symlinks_in_any_component_are_resolved_before_the_rule(tmp_path: Path):
    # /tmp/x/sys -> /sys: the root /tmp/x/sys/fs lies below /sys once resolved.
    (tmp_path / "sys").symlink_to("/sys")
    (tmp_path / "var").symlink_to("/var")
    (tmp_path / "var-lib").symlink_to("/var/lib")
    for root in (tmp_path / "sys" / "fs", tmp_path / "var" / "lib", tmp_path / "var-lib"):
        with pytest.raises(UnsafeRootError, match="system directory"):
            check_root(str(root))


def test_relative_missing_file_and_symlink_roots_are_refused(tmp_path: Path):
    (tmp_path / "file").write_text("")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    cases = {
        "relative/path": "not an absolute path",
        str(tmp_path / "missing"): "does not exist",
        str(tmp_path / "file"): "not a directory",
        str(tmp_path / "link"): "is a symlink",
    }
    for root, message in cases.items():
        with pytest.raises(UnsafeRootError, match=message):
            check_root(root)


def test_a_symlink_to_a_system_directory_is_refused(tmp_path: Path):
    (tmp_path / "etc").symlink_to("/etc")
    with pytest.raises(UnsafeRootError):
        check_root(str(tmp_path / "etc"))


# --- symlinks ---------------------------------------------------------------


def test_symlinks_are_never_followed_nor_deleted(tmp_path: Path):
    outside = tmp_path / "outside"
    victim = make(outside / "postgresql-victim.log", days=10)
    make(outside / "rm_data_victim" / "x", days=10)
    set_age(outside / "rm_data_victim", 10)
    root = tmp_path / "root"
    link_file = root / "ins-live" / "postgresql-link.log"
    link_file.parent.mkdir(parents=True)
    link_file.symlink_to(victim)
    (root / "ins-live" / "dirlink").symlink_to(outside)
    (root / "ins-live" / "rm_data_link").symlink_to(outside / "rm_data_victim")
    for link in (link_file, root / "ins-live" / "dirlink", root / "ins-live" / "rm_data_link"):
        set_age(link, 10)
    before = snapshot(tmp_path)
    plan, report = run(root)
    assert not plan.items
    assert snapshot(tmp_path) == before
    skipped = {s.parts[-1]: s.reason for s in plan.skipped}
    assert set(skipped) == {"postgresql-link.log", "dirlink", "rm_data_link"}
    assert all("symlink" in reason for reason in skipped.values())
    statuses = {a["path"]: a["status"] for a in report.to_dict()["actions"]}
    assert statuses[str(link_file)] == "skipped"


def test_an_orphan_holding_a_symlink_is_kept_whole_and_still_cleaned_inside(tmp_path: Path):
    root = tmp_path / "root"
    old_log = make(root / "ins-gone" / "postgresql-old.log", days=10)
    make(root / "ins-gone" / "data", days=10)
    (root / "ins-gone" / "link").symlink_to(tmp_path)
    plan, _ = run(root)
    assert [(i.rule.value, i.entry.parts) for i in plan.items] == [
        ("expired-log", ("ins-gone", "postgresql-old.log"))
    ]
    assert any("kept whole" in s.reason for s in plan.skipped)
    assert not old_log.exists()
    assert (root / "ins-gone" / "data").exists() and (root / "ins-gone" / "link").is_symlink()


def test_a_directory_swapped_for_a_symlink_after_planning_redirects_nothing(tmp_path: Path):
    root = tmp_path / "root"
    make(root / "ins-live" / "log" / "postgresql-1.log", days=10)
    outside = tmp_path / "outside"
    victim = make(outside / "postgresql-1.log", days=10)
    plan = plan_clean(str(root), live=LiveIds.given(["ins-live"]), open_handles=NO_HANDLES)
    assert len(plan.items) == 1
    # the attack: the planned file's directory becomes a symlink to a same-shaped tree
    (root / "ins-live" / "log").rename(root / "ins-live" / "log.moved")
    (root / "ins-live" / "log").symlink_to(outside)
    report = clean(plan)
    assert victim.exists()
    (outcome,) = report.outcomes
    assert outcome.status == "skipped"
    assert "no longer a directory" in (outcome.error or "")


def test_a_file_replaced_after_planning_is_kept(tmp_path: Path):
    root = tmp_path / "root"
    log = make(root / "ins-live" / "postgresql.log", days=10)
    plan = plan_clean(str(root), live=LiveIds.given(["ins-live"]), open_handles=NO_HANDLES)
    log.unlink()
    make(log, days=10, content=b"new file, same name and age")
    (outcome,) = clean(plan).outcomes
    assert outcome.status == "skipped" and log.exists()


def test_a_file_written_after_planning_is_kept(tmp_path: Path):
    root = tmp_path / "root"
    log = make(root / "ins-live" / "postgresql.log", days=10)
    plan = plan_clean(str(root), live=LiveIds.given(["ins-live"]), open_handles=NO_HANDLES)
    with log.open("a") as f:
        f.write("still in use")
    (outcome,) = clean(plan).outcomes
    assert outcome.status == "skipped" and log.exists()


def test_files_created_in_an_orphan_after_planning_are_kept(tmp_path: Path):
    root = tmp_path / "root"
    make(root / "ins-gone" / "a" / "old", days=10)
    plan = plan_clean(str(root), live=LiveIds.given(["ins-live"]), open_handles=NO_HANDLES)
    assert [i.rule.value for i in plan.items] == ["orphan"]
    new = make(root / "ins-gone" / "a" / "new")
    (outcome,) = clean(plan).outcomes
    assert outcome.status == "failed" and "not in the plan" in (outcome.error or "")
    assert new.exists() and not (root / "ins-gone" / "a" / "old").exists()


# --- open files, mounts, depth, odd names, failures -----------------------------


def test_a_file_open_by_a_process_is_kept(tmp_path: Path):
    root = tmp_path / "root"
    log = make(root / "ins-live" / "postgresql.log", days=10)
    with log.open("a"):
        plan = plan_clean(str(root), live=LiveIds.given(["ins-live"]))
    assert not plan.items
    assert plan.skipped[0].reason == "open by a running process"
    assert log.exists()


@pytest.mark.root
def test_another_filesystem_below_the_root_is_not_entered(tmp_path: Path, require_root):
    require(shutil.which("mount") is not None, "mount is not installed")
    root = tmp_path / "root"
    mounted = root / "ins-gone" / "mnt"
    mounted.mkdir(parents=True)
    make(root / "ins-gone" / "old", days=10)
    done = subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mounted)], capture_output=True)
    require(done.returncode == 0, f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        inside = make(mounted / "postgresql.log", days=10)
        set_age(mounted, 10)
        plan, _ = run(root)
        assert inside.exists()
        assert [s.reason for s in plan.skipped if s.parts == ("ins-gone", "mnt")] == [
            "a mount point: never entered or deleted"
        ]
        assert not any(i.rule.value == "orphan" for i in plan.items)
    finally:
        subprocess.run(["umount", str(mounted)], check=True)


def test_the_walk_stops_at_the_depth_bound(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(safety, "MAX_DEPTH", 4)
    root = tmp_path / "root"
    deep = make(root / "ins-live" / "a" / "b" / "c" / "d" / "postgresql.log", days=10)
    shallow = make(root / "ins-live" / "a" / "postgresql.log", days=10)
    plan, _ = run(root)
    assert deep.exists() and not shallow.exists()
    assert any("deeper than 4" in s.reason for s in plan.skipped)


@pytest.mark.parametrize(
    "name",
    [
        b"postgresql with space.log",
        b"postgresql\nnewline.log",
        b"postgresql-\xff\xfe.log",
        b"postgresql-\\x41.log",
    ],
)
def test_odd_names_are_deleted_and_reported_reversibly(tmp_path: Path, name: bytes):
    root = tmp_path / "root"
    folder = root / "ins-live"
    folder.mkdir(parents=True)
    path = os.path.join(os.fsencode(folder), name)
    with open(path, "wb") as f:
        f.write(b"x")
    set_age(os.fsdecode(path), 10)
    _, report = run(root)
    assert not os.path.exists(path)
    (action,) = report.to_dict()["actions"]
    assert action["status"] == "deleted"
    assert parse(action["path"]) == path


def test_leading_dash_instance_is_just_a_folder(tmp_path: Path):
    root = tmp_path / "root"
    make(root / "-rf" / "x", days=10)
    make(root / "ins-live" / "y", days=10)
    plan, _ = run(root)
    assert not (root / "-rf").exists() and (root / "ins-live" / "y").exists()
    assert [i.entry.parts for i in plan.items] == [("-rf",)]


@pytest.mark.parametrize("bad", [".", "..", "a/b", "/"])
def test_odd_live_ids_never_match(tmp_path: Path, bad: str):
    root = tmp_path / "root"
    make(root / "ins-gone" / "x", days=10)
    plan, _ = run(root, live=(bad,))
    assert [i.entry.parts for i in plan.items] == [("ins-gone",)]


def test_one_failing_path_is_reported_and_the_run_goes_on(tmp_path: Path, monkeypatch):
    root = tmp_path / "root"
    first = make(root / "ins-live" / "postgresql-1.log", days=10)
    second = make(root / "ins-live" / "postgresql-2.log", days=10)
    second_size = on_disk(second)
    real_unlink = os.unlink

    def refuse_first(path, *, dir_fd=None):
        if path == first.name:
            raise PermissionError(13, "Permission denied")
        return real_unlink(path, dir_fd=dir_fd)

    monkeypatch.setattr(os, "unlink", refuse_first)
    _, report = run(root)
    by_name = {o.item.entry.name: o for o in report.outcomes}
    assert by_name["postgresql-1.log"].status == "failed"
    assert by_name["postgresql-1.log"].error == "Permission denied"
    assert by_name["postgresql-2.log"].status == "deleted"
    assert first.exists() and not second.exists()
    assert report.failed == 1
    assert report.per_rule()[Rule.EXPIRED_LOG] == RuleCounts(
        done=1, bytes=second_size, skipped=0, failed=1
    )
    assert report.totals().deleted_files == 1 and report.totals().failed == 1


def test_a_vanished_file_is_skipped(tmp_path: Path):
    root = tmp_path / "root"
    log = make(root / "ins-live" / "postgresql.log", days=10)
    plan = plan_clean(str(root), live=LiveIds.given(["ins-live"]), open_handles=NO_HANDLES)
    log.unlink()
    (outcome,) = clean(plan).outcomes
    assert outcome.status == "skipped" and outcome.error == "vanished since planning"


# --- properties --------------------------------------------------------------

names = st.sampled_from(
    [
        "postgresql-1.log",
        "postgresql.log",
        "x.log",
        "data",
        "rm_data_1",
        "rm_data_2",
        "sub",
        "postgresql-2.log",
    ]
)
trees = st.lists(
    st.tuples(
        st.sampled_from(["ins-live", "ins-gone", "ins-other"]),
        st.lists(names, min_size=1, max_size=3),
        st.sampled_from([0.0, 1.0, 2.9, 3.5, 10.0]),
        st.booleans(),
    ),
    max_size=12,
)


def _build(root: Path, tree) -> None:
    for instance, parts, days, as_dir in tree:
        path = root.joinpath(instance, *parts)
        if any(p.exists() and not p.is_dir() for p in path.parents) or (
            path.exists() and path.is_dir() != as_dir
        ):
            continue
        if as_dir:
            path.mkdir(parents=True, exist_ok=True)
        elif not path.exists():
            make(path, days=days)
        set_age(path, days)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees)
def test_a_dry_run_plans_exactly_what_a_real_run_deletes_and_nothing_outside(tree):
    with tempfile.TemporaryDirectory() as top:
        check_dry_run_matches_real_run(Path(top), tree)


def check_dry_run_matches_real_run(base: Path, tree, mount=None) -> None:
    """Build ``tree`` under ``base/root`` and a copy beside it; plan, dry-run, clean; check.

    ``mount(root, sibling)``, when given, is called after building, to mount things from
    outside the root into it (the mount tests); it must be undone by the caller.
    """
    root = base / "root"
    root.mkdir()
    _build(root, tree)
    sibling = base / "sibling"
    _build(sibling, tree)
    if mount is not None:
        mount(root, sibling)
    outside = snapshot(sibling)
    before = snapshot(root)
    plan = plan_clean(str(root), live=LiveIds.given(["ins-live"]), open_handles=NO_HANDLES)
    dry = clean(plan, dry_run=True)
    assert snapshot(root) == before  # a dry run touches nothing
    real = clean(plan_clean(str(root), live=LiveIds.given(["ins-live"]), open_handles=NO_HANDLES))
    planned = {a["path"] for a in dry.to_dict()["actions"] if a["status"] == "planned"}
    deleted = {a["path"] for a in real.to_dict()["actions"] if a["status"] == "deleted"}
    assert planned == deleted
    assert real.failed == 0
    after = snapshot(root)
    gone = set(before) - set(after)
    assert all(any(g == p or g.startswith(p + "/") for p in deleted) for g in gone)
    assert all(not os.path.exists(p) for p in deleted)
    assert snapshot(sibling) == outside
    # The report counts every file removed, neither more nor less.
    removed_files = {g for g in gone if before[g][1] is not None}
    assert real.totals().deleted_files == len(removed_files)
    assert real.totals().deleted_dirs == len(gone) - len(removed_files)


def test_a_directory_renamed_out_of_the_root_during_a_pause_is_not_followed(
    tmp_path: Path, monkeypatch
):
    # The executor reuses its directory fds between siblings; after a pause longer than
    # REUSE_SECONDS it opens them again from the root, so a rename out is seen.
    monkeypatch.setattr(safety, "REUSE_SECONDS", 0.05)
    root = tmp_path / "root"
    logs = [make(root / "ins-1" / "log" / f"postgresql-{n}.log", days=10) for n in range(3)]
    archive = tmp_path / "archive"
    archive.mkdir()
    plan = plan_clean(str(root), live=LiveIds.given(["ins-1"]), open_handles=NO_HANDLES)
    asked = []

    def move_the_directory_out_after_the_first_item() -> bool:
        asked.append(1)
        if len(asked) == 2:
            os.rename(root / "ins-1" / "log", archive / "log")
            (root / "ins-1" / "log").mkdir()
            time.sleep(0.1)
        return False

    report = clean(plan, stop=move_the_directory_out_after_the_first_item)
    assert [o.status for o in report.outcomes] == ["deleted", "skipped", "skipped"]
    later = sorted(item.entry.name for item in plan.items[1:])
    assert sorted(p.name for p in (archive / "log").iterdir()) == later
    assert len(logs) == 3 and len(later) == 2


def test_a_file_opened_after_planning_is_kept(tmp_path: Path):
    root = tmp_path / "root"
    log = make(root / "ins-live" / "postgresql-1.log", days=10)
    make(root / "ins-gone" / "held", days=10)
    plan = plan_clean(str(root), live=LiveIds.given(["ins-live"]), open_handles=NO_HANDLES)
    assert len(plan.items) == 2
    with log.open(), (root / "ins-gone" / "held").open():
        report = clean(plan)  # reads the open files again before deleting
    statuses = {o.item.path: (o.status, o.error) for o in report.outcomes}
    assert statuses["ins-live/postgresql-1.log"] == (
        "skipped",
        "changed since planning: open by a process",
    )
    assert statuses["ins-gone"][0] == "failed" and "open by a process" in statuses["ins-gone"][1]
    assert log.exists() and (root / "ins-gone" / "held").exists()


def test_a_directory_moved_out_while_it_is_emptied_stops_its_item(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(safety, "REUSE_SECONDS", 0.01)
    root = tmp_path / "root"
    big = root / "ins-live" / "rm_data_big"
    big.mkdir(parents=True)
    count = 20_000
    for number in range(count):
        os.close(os.open(big / f"f{number:05d}", os.O_WRONLY | os.O_CREAT, 0o644))
    set_age(big, 10)
    plan = plan_clean(str(root), live=LiveIds.given(["ins-live"]), open_handles=NO_HANDLES)
    saved = tmp_path / "saved"

    def move_out_once_deleting_began() -> None:
        while len(os.listdir(big)) == count:
            time.sleep(0.001)
        os.rename(big, saved)

    mover = threading.Thread(target=move_out_once_deleting_began)
    mover.start()
    report = clean(plan)
    mover.join(10)
    (outcome,) = report.outcomes
    left = len(os.listdir(saved))
    assert left > 0, "the item went on deleting in the directory moved out of the root"
    assert outcome.status == "failed"
    assert outcome.error == (
        "a directory on its path moved while it was deleted, after removing part of it"
    )
    assert report.totals().deleted_files == count - left == outcome.files


def test_an_orphan_with_subdirectories_at_the_top_of_the_root_is_deleted_through_the_checks(
    tmp_path: Path, monkeypatch
):
    # A whole-directory item right below the root: its directory chain above is the root
    # alone, and the periodic in-place check must handle that (checked every entry here).
    monkeypatch.setattr(safety, "REUSE_SECONDS", 0.0)
    root = tmp_path / "root"
    for name in ("a", "sub/b", "sub/deeper/c"):
        make(root / "ins-gone" / name, days=10)
    report = clean(plan_clean(str(root), live=LiveIds.given(["x"]), open_handles=NO_HANDLES))
    (outcome,) = report.outcomes
    assert (outcome.status, outcome.files, outcome.dirs) == ("deleted", 3, 3)
    assert not (root / "ins-gone").exists()
