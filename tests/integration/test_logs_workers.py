"""Deleting with several threads: same outcome as one, in the plan's order, and stoppable."""

from __future__ import annotations

import itertools
import os
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polarstack.cleaners import deleting
from polarstack.cleaners.deleting import clean
from polarstack.cleaners.logs import Entry, LiveIds, PlannedItem, Rule, plan_clean
from polarstack.errors import UsageError
from polarstack.procfs import OpenHandles
from tests.logtree import make, set_age


def build(root: Path) -> None:
    """Four live instances with expired and fresh logs, two orphans; each an old rm_data dir."""
    for i in range(6):
        folder = root / f"ins-{i}"
        for n in range(12):
            expired = n % 3 or i >= 4  # the orphans hold no recent log
            make(
                folder / "log" / f"postgresql-{n}.log", days=10 if expired else 0, content=b"x" * n
            )
        removed = make(folder / "data" / "rm_data_1" / "chunk", days=10, content=b"chunk").parent
        set_age(removed, 10)
        set_age(folder, 10)


def plan_of(root: Path):
    return plan_clean(
        str(root), live=LiveIds.given([f"ins-{i}" for i in range(4)]), open_handles=OpenHandles
    )


def listing(root: Path) -> set[str]:
    return {
        os.path.relpath(os.path.join(d, n), root)
        for d, dirs, files in os.walk(root)
        for n in dirs + files
    }


def cleaning_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("polarstack-clean")]


@pytest.fixture
def small_batches(monkeypatch):
    """Batches of a few items, so a small tree is shared between threads."""
    monkeypatch.setattr(deleting, "BATCH_ENTRIES", 2)


def test_two_threads_delete_what_one_does_in_the_plans_order(tmp_path: Path, small_batches):
    one, two = tmp_path / "one", tmp_path / "two"
    build(one)
    build(two)
    report_one = clean(plan_of(one), workers=1)
    plan = plan_of(two)
    report_two = clean(plan, workers=2)
    assert [o.item for o in report_two.outcomes] == list(plan.items)
    assert [(o.item.path, o.status, o.freed) for o in report_one.outcomes] == [
        (o.item.path, o.status, o.freed) for o in report_two.outcomes
    ]
    assert report_two.totals() == report_one.totals()
    # Two orphans of 4 directories each (theirs, log/, data/, rm_data_1/); 4 rm_data dirs.
    assert report_two.totals()["deleted_dirs"] == 2 * 4 + 4
    assert listing(one) == listing(two)
    assert not cleaning_threads()  # the pool is gone


def test_batches_run_at_once_on_two_threads(tmp_path: Path, small_batches, monkeypatch):
    build(tmp_path / "root")
    both_started = threading.Barrier(2, timeout=10)
    threads: set[str] = set()
    real = deleting._carry_out

    def meet_once(parents, plan, item, cutoff_ns):
        name = threading.current_thread().name
        if name not in threads:
            threads.add(name)
            both_started.wait()  # broken (and the test fails) unless a second thread comes
        return real(parents, plan, item, cutoff_ns)

    monkeypatch.setattr(deleting, "_carry_out", meet_once)
    report = clean(plan_of(tmp_path / "root"), workers=2)
    assert report.failed == 0
    assert len(threads) == 2
    assert all(name.startswith("polarstack-clean") for name in threads)


def test_one_worker_deletes_in_the_calling_thread(tmp_path: Path, small_batches, monkeypatch):
    build(tmp_path / "root")
    threads = set()
    real = deleting._carry_out

    def record(*args):
        threads.add(threading.current_thread())
        return real(*args)

    monkeypatch.setattr(deleting, "_carry_out", record)
    clean(plan_of(tmp_path / "root"), workers=1)
    assert threads == {threading.current_thread()}


def test_an_interrupted_run_starts_no_further_batch(tmp_path: Path, monkeypatch):
    root = tmp_path / "root"
    build(root)
    monkeypatch.setattr(deleting, "BATCH_ENTRIES", 1)
    plan = plan_of(root)
    batches = list(deleting._batches(plan.items, 1))
    assert len(batches) >= 5
    first = set(map(id, batches[0]))
    interrupted = threading.Event()
    real = deleting._carry_out

    def hold_back(parents, plan, item, cutoff_ns):
        # Every batch after the first waits until the caller is interrupted: then the two
        # threads are busy with the second and third, and the rest have not started.
        if id(item) not in first:
            assert interrupted.wait(timeout=10)
        return real(parents, plan, item, cutoff_ns)

    def interrupt(done: int, total: int) -> None:
        interrupted.set()
        raise KeyboardInterrupt

    monkeypatch.setattr(deleting, "_carry_out", hold_back)
    before = listing(root)
    with pytest.raises(KeyboardInterrupt):
        clean(plan, workers=2, progress=interrupt)
    assert not cleaning_threads()  # they finished their batch and left
    started = [item for batch in batches[:3] for item in batch]
    never = [item for batch in batches[3:] for item in batch]
    assert all(not (root.joinpath(*i.entry.parts)).exists() for i in started)
    assert all((root.joinpath(*i.entry.parts)).exists() for i in never)
    assert listing(root) < before


def test_workers_must_be_at_least_one(tmp_path: Path):
    with pytest.raises(UsageError, match="workers must be at least 1"):
        clean(plan_of(tmp_path), workers=0)


def _item(parent: tuple[str, ...], name: str, inventory: int) -> PlannedItem:
    entry = Entry((*parent, name), inventory > 0, 1, 1, 0, 0)
    inside = tuple(Entry((*parent, name, str(n)), False, 1, 1, 0, 0) for n in range(inventory))
    return PlannedItem(Rule.EXPIRED_LOG, entry, 0, 0.0, inside)


@given(
    st.lists(
        st.tuples(st.sampled_from([("a",), ("a", "b"), ("c",)]), st.integers(0, 9)), max_size=60
    ),
    st.integers(1, 8),
)
def test_batches_keep_every_item_in_order_and_split_at_directories(specs, size: int):
    items = [_item(parent, str(n), inside) for n, (parent, inside) in enumerate(specs)]
    batches = list(deleting._batches(items, size))
    assert [i for batch in batches for i in batch] == items
    assert all(batches)
    for batch, following in itertools.pairwise(batches):
        entries = sum(1 + len(i.inventory) for i in batch)
        assert entries >= size  # only the last batch is short
        last_but_one = sum(1 + len(i.inventory) for i in batch[:-1])
        assert last_but_one < 4 * size  # never grown past the hard bound before its last item
        if entries < 4 * size:  # cut below the hard bound: only where the directory changes
            assert batch[-1].entry.parts[:-1] != following[0].entry.parts[:-1]
