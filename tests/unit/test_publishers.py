"""Publishing rules that need no cluster: the switch, change detection, the local publisher."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polarstack.model import Condition, ConfigMapDoc, NodeEvent, Outcome
from polarstack.publishers.conditions import ConditionManager
from polarstack.publishers.local import LocalPublisher
from polarstack.switches import parse_switch

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize("value", ["0", "f", "N", "false", "No", " FALSE ", "\tno\n"])
def test_switch_off_values(value: str) -> None:
    assert parse_switch(value) is False


@given(st.text())
def test_switch_is_on_unless_clearly_off(value: str) -> None:
    off = value.strip().lower() in {"0", "f", "n", "false", "no"}
    assert parse_switch(value) is (not off)


def test_volatile_keys_never_count_as_a_change() -> None:
    doc = ConfigMapDoc(
        "v", {"existingVersions": "a,b", "checkTime": "t2"}, volatile=frozenset({"checkTime"})
    )
    assert doc.same_content({"existingVersions": "a,b", "checkTime": "t1"})
    assert not doc.same_content({"existingVersions": "a", "checkTime": "t2"})
    assert not doc.same_content({"existingVersions": "a,b", "checkTime": "t2", "x": "1"})


def test_local_directory_writes_on_change_only(tmp_path: Path) -> None:
    publisher = LocalPublisher(directory=tmp_path / "out")
    doc = ConfigMapDoc("usage-h1", {"5432": "the port already use"}, {"updateTimestamp": "t1"})
    assert publisher.publish_config_map(doc) is Outcome.CREATED
    path = tmp_path / "out" / "configmap-usage-h1.json"
    before = path.stat().st_mtime_ns
    again = ConfigMapDoc("usage-h1", doc.data, {"updateTimestamp": "t2"})
    assert publisher.publish_config_map(again) is Outcome.UNCHANGED
    assert path.stat().st_mtime_ns == before
    assert publisher.publish_config_map(ConfigMapDoc("usage-h1", {})) is Outcome.UPDATED
    assert json.loads(path.read_text())["data"] == {}
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["configmap-usage-h1.json"]


def test_local_conditions_merge_by_type_and_manager_reads_back(tmp_path: Path) -> None:
    publisher = LocalPublisher(directory=tmp_path)
    publisher.patch_conditions("h1", [{"type": "Other", "status": "True"}])
    clock = [T0]
    manager = ConditionManager(
        publisher, "h1", frozenset({"NodeRefreshFlag"}), clock=lambda: clock[0]
    )
    manager.set([Condition("NodeRefreshFlag", "True", "Refresh", "Refresh")])
    assert manager.sync().written
    types = {c["type"] for c in publisher.read_conditions("h1")}
    assert types == {"Other", "NodeRefreshFlag"}
    restarted = ConditionManager(
        publisher, "h1", frozenset({"NodeRefreshFlag"}), clock=lambda: clock[0]
    )
    restarted.set([Condition("NodeRefreshFlag", "True", "Refresh", "Refresh")])
    assert not restarted.sync().written


def test_local_stream_prints_json_lines_and_counts_events() -> None:
    stream = io.StringIO()
    publisher = LocalPublisher(stream=stream)
    publisher.publish_config_map(ConfigMapDoc("c", {"a": "1"}))
    publisher.publish_config_map(ConfigMapDoc("c", {"a": "1"}))
    event = NodeEvent("LogsCleaned", "deleted 1 file(s)")
    publisher.record_event("h1", event, now=T0)
    publisher.record_event("h1", event, now=T0)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["kind"] for line in lines] == ["ConfigMap", "Event", "Event"]
    assert [line.get("count") for line in lines[1:]] == [1, 2]


def test_local_publisher_needs_one_target(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        LocalPublisher()
    with pytest.raises(ValueError, match="exactly one"):
        LocalPublisher(directory=tmp_path, stream=io.StringIO())
