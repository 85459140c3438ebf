"""``polarstack logs clean`` through the Environment."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from polarstack.sizes import human_size
from tests.conftest import CliRunner
from tests.logtree import on_disk


def old(path: Path, days: float = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x" * 100)
    stamp = time.time() - days * 86400
    os.utime(path, (stamp, stamp))
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "logs"
    old(root / "ins-live" / "postgresql-1.log")
    old(root / "ins-gone" / "data")
    return root


def test_dry_run_json(cli: CliRunner, tree: Path):
    result = cli(
        ["logs", "clean", "--root", str(tree), "--live-id", "ins-live", "--dry-run", "-o", "json"]
    )
    assert result.status == 0, result.stderr
    data = json.loads(result.stdout)
    assert {
        "root",
        "days",
        "dry_run",
        "live_ids_source",
        "skipped_rules",
        "actions",
        "totals",
    } <= set(data)
    assert data["dry_run"] is True and data["live_ids_source"] == "argument"
    assert {(a["rule"], a["status"]) for a in data["actions"]} == {
        ("expired-log", "planned"),
        ("orphan", "planned"),
    }
    assert set(data["actions"][0]) == {"rule", "path", "kind", "bytes", "status", "error"}
    assert set(data["totals"]) >= {"deleted_files", "deleted_dirs", "freed_bytes", "failed"}
    assert (tree / "ins-gone").exists()


def test_real_run_deletes_and_counts(cli: CliRunner, tree: Path):
    freed = on_disk(tree / "ins-live" / "postgresql-1.log", tree / "ins-gone" / "data")
    result = cli(["logs", "clean", "--root", str(tree), "--live-id", "ins-live", "-o", "json"])
    totals = json.loads(result.stdout)["totals"]
    assert totals == {
        "deleted_files": 2,
        "deleted_dirs": 1,
        "freed_bytes": freed,
        "planned_bytes": freed,
        "failed": 0,
    }
    assert not (tree / "ins-gone").exists()


def test_live_ids_file(cli: CliRunner, tree: Path, tmp_path: Path):
    ids = tmp_path / "ids.txt"
    ids.write_text("ins-live\nins-gone\n")
    data = json.loads(
        cli(
            ["logs", "clean", "--root", str(tree), "--live-ids-file", str(ids), "-o", "json"]
        ).stdout
    )
    assert [a["rule"] for a in data["actions"]] == ["expired-log"]


def test_without_live_ids_orphans_are_skipped_and_said_so(cli: CliRunner, tree: Path):
    data = json.loads(cli(["logs", "clean", "--root", str(tree), "-o", "json"]).stdout)
    assert data["live_ids_source"] == "unknown"
    assert data["skipped_rules"][0]["rule"] == "orphan"
    assert "--live-id" in data["skipped_rules"][0]["reason"]
    assert (tree / "ins-gone").exists()


def test_table_summary(cli: CliRunner, tree: Path):
    result = cli(
        ["logs", "clean", "--root", str(tree), "--live-id", "ins-live", "--dry-run"], tty=True
    )
    assert "would delete: 2 files, 1 directories" in result.stdout
    assert "expired-log" in result.stdout and "orphan" in result.stdout


def test_table_rows_count_per_rule(cli: CliRunner, tree: Path):
    held = old(tree / "ins-live" / "postgresql-2.log")
    removed = old(tree / "ins-live" / "data" / "rm_data_1" / "chunk").parent
    os.utime(removed, (time.time() - 10 * 86400,) * 2)
    sizes = {
        rule: human_size(on_disk(path))
        for rule, path in (
            ("orphan", tree / "ins-gone" / "data"),
            ("expired-log", tree / "ins-live" / "postgresql-1.log"),
            ("expired-removed-data", removed / "chunk"),
        )
    }
    with held.open():  # open by a process: the expired-log rule skips it
        result = cli(["logs", "clean", "--root", str(tree), "--live-id", "ins-live"], tty=True)
    rows = {}
    for line in result.stdout.splitlines():
        cells = [cell.strip() for cell in line.strip("│┃|").split("│")]
        if cells and cells[0] in ("orphan", "expired-log", "expired-removed-data"):
            rows[cells[0]] = cells[1:]
    assert rows == {
        "orphan": ["1", sizes["orphan"], "0", "0"],
        "expired-log": ["1", sizes["expired-log"], "1", "0"],
        "expired-removed-data": ["1", sizes["expired-removed-data"], "0", "0"],
    }, result.stdout
    assert held.exists() and not (tree / "ins-live" / "postgresql-1.log").exists()


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["--root", "/etc"], 3, "system directory"),
        (["--root", "relative"], 3, "not an absolute path"),
        (["--rules", "orphans"], 2, "unknown rule 'orphans'"),
        (["--days", "-1"], 2, "--days"),
        (["--days", "1e300"], 2, "days must be a number from 0 to 100000"),
        (["--root", "/var/tmp"], 3, "system directory"),
        (["--root", "/var/lib/../log"], 3, "system directory"),
        (["--workers", "0"], 2, "--workers"),
        (["--live-ids-file", "/nonexistent/ids"], 2, "cannot read live ids file /nonexistent/ids"),
    ],
)
def test_errors(cli: CliRunner, tree: Path, args, status: int, message: str):
    full = (
        ["logs", "clean", *args]
        if "--root" in args
        else ["logs", "clean", "--root", str(tree), *args]
    )
    result = cli(full)
    assert result.status == status
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_live_ids_file_that_is_not_text_is_a_usage_error(
    cli: CliRunner, tree: Path, tmp_path: Path
):
    ids = tmp_path / "ids"
    ids.write_bytes(b"ins-live\n\xff\xfe\n")
    result = cli(["logs", "clean", "--root", str(tree), "--live-ids-file", str(ids)])
    assert result.status == 2
    assert result.stderr == f"error: live ids file {ids} is not UTF-8 text (byte 9)\n"
    assert (tree / "ins-gone").exists()


def test_a_root_through_a_symlink_and_dot_dot_is_the_directory_the_kernel_finds(
    cli: CliRunner, tmp_path: Path
):
    # current -> store/logroot/ins-1: "current/.." is store/logroot, not the folder of
    # "current" (which is what dropping "current/.." as text would give).
    store = tmp_path / "store"
    old(store / "logroot" / "ins-1" / "postgresql-1.log")
    old(store / "logroot" / "ins-1" / "data")
    old(store / "keep" / "important.dat")
    (tmp_path / "current").symlink_to(store / "logroot" / "ins-1")
    result = cli(
        ["logs", "clean", "--root", f"{tmp_path}/current/..", "--live-id", "ins-1", "-o", "json"]
    )
    assert result.status == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["root"] == str(store / "logroot")
    assert [a["path"] for a in report["actions"]] == [
        str(store / "logroot" / "ins-1" / "postgresql-1.log")
    ]
    assert (store / "keep" / "important.dat").exists()
    assert (store / "logroot" / "ins-1" / "data").exists()


def test_a_root_that_is_not_utf8_is_escaped_in_json(cli: CliRunner, tmp_path: Path):
    root = os.path.join(os.fsencode(tmp_path), b"logs-\xff")
    os.mkdir(root)
    result = cli(["logs", "clean", "--root", os.fsdecode(root), "--dry-run", "-o", "json"])
    assert result.status == 0, result.stderr
    assert json.loads(result.stdout)["root"] == f"{tmp_path}/logs-\\xff"


def test_a_failure_exits_1_after_cleaning_the_rest(cli: CliRunner, tree: Path, monkeypatch):
    real_unlink = os.unlink

    def refuse(path, *, dir_fd=None):
        if path == "postgresql-1.log":
            raise PermissionError(13, "Permission denied")
        return real_unlink(path, dir_fd=dir_fd)

    monkeypatch.setattr(os, "unlink", refuse)
    result = cli(["logs", "clean", "--root", str(tree), "--live-id", "ins-live", "-o", "json"])
    assert result.status == 1
    assert "1 item(s) could not be deleted" in result.stderr
    assert json.loads(result.stdout)["totals"]["failed"] == 1
    assert not (tree / "ins-gone").exists()


def test_a_one_shot_run_collects_less_often_and_restores_the_collector(
    cli: CliRunner, tree: Path, monkeypatch
):
    import gc

    from polarstack.jobs.logs import LogsJob

    seen = []
    real_run = LogsJob.run

    def recording(self, inputs):
        seen.append(gc.get_threshold()[0])
        return real_run(self, inputs)

    monkeypatch.setattr(LogsJob, "run", recording)
    before = gc.get_threshold()
    result = cli(["logs", "clean", "--root", str(tree), "--live-id", "ins-live", "--dry-run"])
    assert result.status == 0, result.stderr
    assert seen == [100_000]
    assert gc.get_threshold() == before


def test_the_old_workers_option_is_accepted_and_ignored_with_a_warning(cli: CliRunner, tree: Path):
    result = cli(["logs", "clean", "--root", str(tree), "--live-id", "ins-live", "--workers", "2"])
    assert result.status == 0, result.stderr
    assert "--workers is ignored: deletion runs on one thread" in result.stderr
    assert not (tree / "ins-gone").exists()
    assert "--workers" not in cli(["logs", "clean", "--help"]).stdout


@pytest.mark.parametrize("name", ["ro[/x]ot", "[bold]r"])
def test_a_root_whose_name_looks_like_markup_is_shown_as_it_is(
    cli: CliRunner, tmp_path: Path, name: str
):
    root = tmp_path / name
    old(root / "ins-live" / "postgresql-1.log")
    result = cli(["logs", "clean", "--root", str(root), "--live-id", "ins-live"], tty=True)
    assert result.status == 0, result.stderr
    # The title may fold on a narrow table: compare it unfolded.
    assert f"{root}: older than 3 days (cleaned)" in result.stdout.replace("\n", "")
    assert not (root / "ins-live" / "postgresql-1.log").exists()


def test_running_out_of_file_descriptors_is_reported_not_a_crash(tmp_path: Path):
    # A deep tree under a low fd limit: the directories the walk cannot list are reported.
    import subprocess
    import sys

    deep = tmp_path / "logs" / "ins-live"
    for level in range(28):
        deep = deep / f"d{level}"
    old(deep / "postgresql-1.log")
    done = subprocess.run(
        ["sh", "-c", f'ulimit -n 20; exec "$0" -m polarstack_cli logs clean --root '
         f'{tmp_path / "logs"} --live-id ins-live --dry-run -o json', sys.executable],
        capture_output=True, text=True, env={**os.environ, "POLARSTACK_CONFIG": os.devnull},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    errors = {a["error"] for a in json.loads(done.stdout)["actions"]}
    assert "cannot list: Too many open files" in errors
