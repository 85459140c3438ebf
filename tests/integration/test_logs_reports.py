"""The clean report tells the truth: every file removed is counted, and only freed bytes."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from polarstack.cleaners.deleting import Totals, clean
from polarstack.cleaners.logs import plan_clean
from polarstack.jobs.logs import clean_event
from polarstack.model import LiveIds
from polarstack.procfs import OpenHandles
from polarstack.sizes import human_size
from tests.conftest import CliRunner
from tests.fakekube import FakeKube
from tests.logtree import make, on_disk, set_age


def plan_of(root: Path):
    return plan_clean(str(root), live=LiveIds.given(["ins-live"]), open_handles=OpenHandles)


def test_a_directory_that_gains_a_file_counts_what_was_removed(tmp_path: Path):
    root = tmp_path / "root"
    for name in ("a", "b", "sub/c"):
        make(root / "ins-gone" / name, days=10, content=b"12345")
    freed = on_disk(*(root / "ins-gone" / n for n in ("a", "b", "sub/c")))
    plan = plan_of(root)
    (item,) = plan.items
    assert (item.files, item.dirs) == (3, 2)
    late = root / "ins-gone" / "sub" / "late"
    late.write_text("written after planning")

    report = clean(plan)
    (outcome,) = report.outcomes
    assert outcome.status == "failed"
    assert f"first: {root}/ins-gone/sub/late: not in the plan" in (outcome.error or "")
    # a, b and sub/c went; ins-gone/sub and ins-gone stay, holding the late file.
    assert not any((root / "ins-gone" / n).exists() for n in ("a", "b", "sub/c"))
    assert late.exists()
    assert (outcome.files, outcome.dirs, outcome.freed) == (3, 0, freed)
    totals = report.totals()
    assert (totals.deleted_files, totals.deleted_dirs) == (3, 0)
    assert totals.freed_bytes == freed
    assert totals.failed == 1
    event = clean_event(report)
    assert event is not None and event.reason == "LogsCleanFailed"
    assert event.message.startswith("deleted 3 file(s) and 0 directory(ies)")


def test_totals_are_one_frozen_type_whose_json_keeps_its_keys_and_order(tmp_path: Path):
    log = make(tmp_path / "root" / "ins-gone" / "postgresql-1.log", days=10)
    report = clean(plan_of(tmp_path / "root"), dry_run=True)
    totals = report.totals()
    assert totals == Totals(
        deleted_files=1, deleted_dirs=1, freed_bytes=on_disk(log), planned_bytes=on_disk(log),
        failed=0,
    )  # fmt: skip
    with pytest.raises(dataclasses.FrozenInstanceError):
        totals.failed = 1  # type: ignore[misc]
    data = report.to_dict()["totals"]
    assert data == totals.to_dict()
    assert list(data) == ["deleted_files", "deleted_dirs", "freed_bytes", "planned_bytes", "failed"]


def test_a_sparse_file_frees_its_blocks_not_its_size(tmp_path: Path):
    root = tmp_path / "root"
    log = root / "ins-live" / "postgresql-1.log"
    log.parent.mkdir(parents=True)
    with log.open("wb") as f:
        f.truncate(1 << 40)  # 1 TiB long, no block written
    set_age(log, 10)
    blocks = on_disk(log)
    report = clean(plan_of(root))
    assert report.totals().freed_bytes == blocks < 1 << 20


def test_a_hard_linked_file_frees_nothing(tmp_path: Path):
    root = tmp_path / "root"
    log = make(root / "ins-live" / "postgresql-1.log", days=10, content=b"x" * 10000)
    os.link(log, tmp_path / "kept-elsewhere")
    alone = make(root / "ins-live" / "postgresql-2.log", days=10, content=b"y" * 10)
    freed = on_disk(alone)
    plan = plan_of(root)
    assert plan.bytes == freed  # planned: only what deleting would free

    report = clean(plan)
    assert not log.exists() and not alone.exists()
    assert (tmp_path / "kept-elsewhere").read_bytes() == b"x" * 10000
    totals = report.totals()
    assert totals.deleted_files == 2
    assert totals.freed_bytes == freed


def test_two_links_inside_one_deleted_folder_free_their_data_once(tmp_path: Path):
    root = tmp_path / "root"
    first = make(root / "ins-gone" / "first", days=10, content=b"z" * 10000)
    os.link(first, root / "ins-gone" / "second")
    set_age(root / "ins-gone" / "second", 10)
    data = on_disk(first)
    assert data > 0
    report = clean(plan_of(root))
    (outcome,) = report.outcomes
    assert outcome.status == "deleted"
    assert (outcome.files, outcome.freed) == (2, data)


def test_the_event_gives_the_reports_figures(
    cli: CliRunner, fake_kube: FakeKube, kubeconfig: Path, tmp_path: Path
):
    root = tmp_path / "logs"
    for name in ("a", "b"):
        make(root / "ins-gone" / name, days=10, content=b"1234")
    make(root / "ins-live" / "postgresql-1.log", days=10, content=b"1234")
    fake_kube.put(
        "pods",
        {
            "metadata": {
                "name": "db",
                "namespace": "default",
                "labels": {"apsara.metric.ins_id": "ins-live"},
            },
            "spec": {"nodeName": "n1", "containers": []},
        },
    )
    result = cli(
        ["logs", "clean", "--root", str(root), "--kubeconfig", str(kubeconfig),
         "--node-name", "n1", "-o", "json"]
    )  # fmt: skip
    assert result.status == 0, result.stderr
    totals = json.loads(result.stdout)["totals"]
    (event,) = fake_kube.writes("events")
    assert event.body["message"] == (
        f"deleted {totals['deleted_files']} file(s) and {totals['deleted_dirs']} "
        f"directory(ies) under {root}, freeing {human_size(totals['freed_bytes'])}"
    )
    assert (totals["deleted_files"], totals["deleted_dirs"]) == (3, 1)


@pytest.mark.parametrize("dry_run", [True, False])
def test_json_says_whether_the_run_was_interrupted(tmp_path: Path, dry_run: bool):
    root = tmp_path / "root"
    make(root / "ins-live" / "postgresql-1.log", days=10)
    report = clean(plan_of(root), dry_run=dry_run)
    assert report.to_dict()["interrupted"] is False
