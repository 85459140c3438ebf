"""SIGINT and SIGTERM sent to a real ``polarstack logs clean`` process while it deletes.

The run must finish the item in hand, start no other, print its partial report, and exit
with 128 + the signal's number; every file it deleted must be in the report's count.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

FOLDERS = 200
FILES_PER_FOLDER = 500  # 100,000 files in all


def build(root: Path) -> None:
    """Orphaned instance folders only: each goes whole, whatever its files' ages."""
    for folder in range(FOLDERS):
        directory = root / f"ins-gone-{folder:03d}"
        directory.mkdir(parents=True)
        for number in range(FILES_PER_FOLDER):
            fd = os.open(directory / f"f{number}", os.O_WRONLY | os.O_CREAT, 0o644)
            os.close(fd)


def remaining_files(root: Path) -> int:
    return sum(len(files) for _dirpath, _dirs, files in os.walk(root))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "status", "output"),
    [(signal.SIGINT, 130, "json"), (signal.SIGTERM, 143, "json"), (signal.SIGTERM, 143, "table")],
)
def test_a_signal_stops_after_the_item_in_hand_and_reports(
    tmp_path: Path, signum: int, status: int, output: str
):
    root = tmp_path / "root"
    build(root)
    process = subprocess.Popen(
        [sys.executable, "-m", "polarstack_cli", "logs", "clean", "--root", str(root),
         "--live-id", "ins-live", "-o", output],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "POLARSTACK_CONFIG": os.devnull, "COLUMNS": "200"},
    )  # fmt: skip
    # Wait until deleting has begun (the first folder is gone), then signal.
    first = root / "ins-gone-000"
    deadline = time.monotonic() + 60
    while first.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == status, stderr
    assert stderr.strip().splitlines()[-1] == f"interrupted by {signal.Signals(signum).name}"
    left = remaining_files(root)
    folders_left = sum(1 for _ in root.iterdir())
    assert 0 < folders_left < FOLDERS, "the signal landed before or after the deletions"
    deleted = FOLDERS * FILES_PER_FOLDER - left
    # Whole items only: the item in hand was finished, none was half-done.
    assert left == folders_left * FILES_PER_FOLDER
    if output == "json":
        report = json.loads(stdout)
        assert report["interrupted"] is True
        assert report["totals"]["deleted_files"] == deleted
        assert report["totals"]["deleted_dirs"] == FOLDERS - folders_left
        carried_out = [a for a in report["actions"] if a["status"] == "deleted"]
        assert len(carried_out) == FOLDERS - folders_left
        assert report["totals"]["failed"] == 0
    else:
        assert f"deleted: {deleted} files, {FOLDERS - folders_left} directories" in stdout
        assert f"interrupted: {FOLDERS - folders_left} of {FOLDERS} planned item(s)" in stdout


def test_a_signal_while_planning_deletes_nothing(tmp_path: Path):
    from polarstack.cleaners.deleting import clean
    from polarstack.cleaners.logs import plan_clean
    from polarstack.model import LiveIds

    root = tmp_path / "root"
    for folder in range(3):
        (root / f"ins-gone-{folder}").mkdir(parents=True)
        (root / f"ins-gone-{folder}" / "f").write_text("x")
    asked = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) > 2  # stop once the walk has begun

    plan = plan_clean(str(root), live=LiveIds.given(["ins-live"]), stop=stop)
    assert plan.interrupted
    report = clean(plan)
    assert report.interrupted and report.outcomes == ()
    assert sum(1 for _ in root.iterdir()) == 3
    assert report.to_dict()["interrupted"] is True


def test_a_stop_between_items_leaves_the_rest_untouched(tmp_path: Path):
    from polarstack.cleaners.deleting import clean
    from polarstack.cleaners.logs import plan_clean
    from polarstack.model import LiveIds

    root = tmp_path / "root"
    for folder in range(5):
        (root / f"ins-gone-{folder}").mkdir(parents=True)
        (root / f"ins-gone-{folder}" / "f").write_text("x")
    plan = plan_clean(str(root), live=LiveIds.given(["ins-live"]))
    done = []

    def stop() -> bool:
        done.append(1)
        return len(done) > 2  # two items, then stop

    report = clean(plan, stop=stop)
    assert report.interrupted
    assert [o.status for o in report.outcomes] == ["deleted", "deleted"]
    assert sum(1 for _ in root.iterdir()) == 3
    assert report.totals().deleted_files == 2
