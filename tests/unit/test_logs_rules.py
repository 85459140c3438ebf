"""The planner's rules, on pyfakefs: which paths each rule picks, at which ages."""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polarstack.cleaners.logs import expired_before, parse_rules, plan_clean
from polarstack.errors import UsageError
from polarstack.model import LiveIds, Rule
from polarstack.procfs import OpenHandles
from tests.logtree import on_disk

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY = 86400
ROOT = "/flash/polardb_dbcluster"


@pytest.fixture(autouse=True)
def fake_mount_ids(monkeypatch):
    """pyfakefs has devices but no mount ids: a fake fd's mount is its fake device.

    The kernel's mount ids are tested on the real filesystem (tests/integration/
    test_logs_mounts.py); here a fake fd must not reach the real statx.
    """
    from polarstack.cleaners import mounts

    monkeypatch.setattr(mounts, "mount_id", lambda fd: os.fstat(fd).st_dev)
    # One mount of one filesystem: the root has no other name.
    monkeypatch.setattr(mounts, "other_names", lambda path, mount: [])
    # No mount table in a fake filesystem, and no mount in it either.
    monkeypatch.setattr(
        mounts, "mount_points_below", lambda root, mount: mounts.MountPoints(frozenset())
    )


def age(fs, path: str, seconds: float, *, is_dir: bool = False, size: int = 10) -> None:
    full = os.path.join(ROOT, path)
    if is_dir:
        if not os.path.isdir(full):
            fs.create_dir(full)
    else:
        fs.create_file(full, contents="x" * size)
    stamp = NOW.timestamp() - seconds
    os.utime(full, (stamp, stamp))


def plan(live=("ins-live",), **kwargs):
    return plan_clean(
        ROOT,
        live=LiveIds.given(live) if live is not None else LiveIds.unknown("no cluster"),
        clock=lambda: NOW,
        open_handles=lambda: OpenHandles(),
        **kwargs,
    )


def picked(result) -> set[tuple[str, str]]:
    return {(item.rule.value, "/".join(item.entry.parts)) for item in result.items}


def test_expired_logs_at_any_depth(fs):
    age(fs, "ins-live/postgresql-1.log", 4 * DAY)
    age(fs, "ins-live/a/b/c/postgresql.log", 4 * DAY)
    age(fs, "ins-live/postgresql-fresh.log", 1 * DAY)
    age(fs, "ins-live/error.log", 10 * DAY)
    age(fs, "ins-live/postgresql-1.log.gz", 10 * DAY)
    age(fs, "ins-live/postgresql.txt", 10 * DAY)
    assert picked(plan()) == {
        ("expired-log", "ins-live/postgresql-1.log"),
        ("expired-log", "ins-live/a/b/c/postgresql.log"),
    }


@pytest.mark.parametrize(
    ("seconds", "deleted"),
    [
        (3 * DAY - 1, False),
        (3 * DAY, False),  # exactly N x 24 h is not more than it
        (3 * DAY + 1, True),
        (3 * DAY + DAY / 2, True),  # find -mtime +3 would keep this until 4 days
    ],
)
def test_older_means_more_than_n_times_24_hours(fs, seconds: float, deleted: bool):
    age(fs, "ins-live/postgresql.log", seconds)
    assert bool(plan().items) is deleted


def test_days_is_configurable(fs):
    age(fs, "ins-live/postgresql.log", 2 * DAY)
    assert not plan().items
    assert plan(days=1).items
    assert plan(days=0.5).items


@pytest.mark.parametrize("days", [-1, math.inf, math.nan])
def test_days_must_be_finite_and_not_negative(fs, days: float):
    with pytest.raises(UsageError, match="days must be"):
        plan(days=days)


@given(
    now_ns=st.integers(0, 2**62),
    age_ns=st.integers(-(2**40), 2**62),
    days=st.integers(0, 10_000) | st.floats(0, 10_000, allow_nan=False),
)
def test_the_cutoff_is_exactly_age_more_than_n_days(now_ns: int, age_ns: int, days: float):
    """One comparison against the cutoff decides what age > N x 24 h decides."""
    mtime_ns = now_ns - age_ns
    older = now_ns - mtime_ns > days * 86400 * 1_000_000_000  # int vs float: exact
    assert (mtime_ns < expired_before(now_ns, days)) is older


def test_expired_removed_data_dirs_go_whole(fs):
    age(fs, "ins-live/data/rm_data_1/file", 0)
    age(fs, "ins-live/data/rm_data_1", 5 * DAY, is_dir=True)
    age(fs, "ins-live/rm_data_fresh/file", 0)
    age(fs, "ins-live/rm_data_file", 10 * DAY)  # a file, not a directory
    result = plan()
    assert picked(result) == {("expired-removed-data", "ins-live/data/rm_data_1")}
    (item,) = result.items
    assert item.kind == "dir" and item.bytes == on_disk(os.path.join(ROOT, item.path, "file"))
    assert [e.parts[-1] for e in item.inventory] == ["file"]


def test_orphans_are_folders_of_instances_not_live(fs):
    age(fs, "ins-gone/log/postgresql.log", 10 * DAY, size=5)
    age(fs, "ins-gone/data", 10 * DAY, size=7)
    age(fs, "ins-live/postgresql.log", 1 * DAY)
    age(fs, "ins-gone-recent/log/deep/er/x.log", 1 * DAY)  # any *.log counts as recent
    age(fs, "ins-gone-recent/postgresql-old.log", 10 * DAY)
    result = plan()
    assert picked(result) == {
        ("orphan", "ins-gone"),
        ("expired-log", "ins-gone-recent/postgresql-old.log"),
    }
    orphan = next(i for i in result.items if i.rule is Rule.ORPHAN)
    files = [os.path.join(ROOT, "ins-gone", p) for p in ("log/postgresql.log", "data")]
    assert orphan.bytes == on_disk(*files) > 0


@pytest.mark.parametrize(
    ("live", "reason"),
    [(None, "live instances unknown: no cluster"), ((), "the live set is empty")],
)
def test_orphan_rule_skipped_without_a_live_set(fs, live, reason: str):
    age(fs, "ins-gone/postgresql.log", 10 * DAY)
    age(fs, "ins-gone/other", 10 * DAY)
    result = plan(live=live)
    assert picked(result) == {("expired-log", "ins-gone/postgresql.log")}
    (skipped,) = result.skipped_rules
    assert skipped.rule is Rule.ORPHAN and reason in skipped.reason


def test_rules_can_be_chosen(fs):
    age(fs, "ins-gone/x", 10 * DAY)
    age(fs, "ins-live/postgresql.log", 10 * DAY)
    age(fs, "ins-live/rm_data_1", 10 * DAY, is_dir=True)
    assert {r for r, _ in picked(plan(rules=[Rule.EXPIRED_LOG]))} == {"expired-log"}
    assert {r for r, _ in picked(plan(rules=[Rule.ORPHAN]))} == {"orphan"}
    assert {r for r, _ in picked(plan())} == {"orphan", "expired-log", "expired-removed-data"}


def test_a_live_rm_data_root_child_is_still_an_instance_folder(fs):
    # An instance whose id happens to look like a removed-data dir: live, fresh, kept.
    age(fs, "rm_data_ins/postgresql.log", 0)
    age(fs, "ins-live/x", 0)
    assert not plan(live=("rm_data_ins", "ins-live")).items


def test_files_open_by_a_process_are_kept(fs):
    age(fs, "ins-live/postgresql.log", 10 * DAY)
    info = os.stat(os.path.join(ROOT, "ins-live/postgresql.log"))
    result = plan_clean(
        ROOT,
        live=LiveIds.given(["ins-live"]),
        clock=lambda: NOW,
        open_handles=lambda: OpenHandles(files=frozenset({(info.st_dev, info.st_ino)})),
    )
    assert not result.items
    assert result.skipped[0].reason == "open by a running process"


def test_unreadable_processes_are_noted(fs):
    fs.create_dir(ROOT)
    result = plan_clean(
        ROOT,
        live=LiveIds.given(["x"]),
        clock=lambda: NOW,
        open_handles=lambda: OpenHandles(unreadable_pids=3),
    )
    assert any("3 process(es) could not be inspected" in note for note in result.notes)


@pytest.mark.parametrize(
    ("text", "rules"),
    [
        ("all", list(Rule)),
        ("orphan", [Rule.ORPHAN]),
        ("expired-log, expired-removed-data", [Rule.EXPIRED_LOG, Rule.EXPIRED_REMOVED_DATA]),
    ],
)
def test_parse_rules(text: str, rules: list[Rule]):
    assert parse_rules(text) == rules


def test_parse_rules_names_the_bad_one():
    with pytest.raises(UsageError, match="'orphans'"):
        parse_rules("expired-log,orphans")


@given(st.text(alphabet="postgreql.ogx-_1", max_size=20))
def test_the_fast_log_name_check_is_the_pattern(name: str) -> None:
    import fnmatch

    from polarstack.cleaners.logs import _is_postgresql_log

    assert bool(_is_postgresql_log(name)) == fnmatch.fnmatchcase(name, "postgresql*.log")
