"""The condition manager and Events, through the official client, against the fake server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from polarstack.kube.client import Kube
from polarstack.kube.events import event_name
from polarstack.model import Condition, NodeEvent
from polarstack.publishers.conditions import ConditionManager, transition_event
from polarstack.publishers.kube import KubePublisher
from polarstack.settings import NetSettings
from tests.fakekube import FakeKube

OURS = frozenset({"NodeClientNetworkUnavailable", "NodeClientIP", "NodeRefreshFlag"})
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
KUBELET_READY = {
    "type": "Ready",
    "status": "True",
    "reason": "KubeletReady",
    "message": "kubelet is posting ready status",
    "lastHeartbeatTime": "2026-03-01T11:59:50Z",
    "lastTransitionTime": "2026-02-01T00:00:00Z",
}


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def up(ip: str = "10.0.0.5", state: str = "StateUP") -> list[Condition]:
    return [
        Condition("NodeClientNetworkUnavailable", "False" if state == "StateUP" else "True",
                  state, f"bond1 {state}"),
        Condition("NodeClientIP", "True", "bond1", ip),
        Condition("NodeRefreshFlag", "True", "Refresh", "Refresh"),
    ]  # fmt: skip


@pytest.fixture
def node(fake_kube: FakeKube) -> str:
    fake_kube.put("nodes", {"metadata": {"name": "n1"}, "status": {"conditions": [KUBELET_READY]}})
    return "n1"


def conditions(fake: FakeKube, node: str) -> dict[str, dict[str, str]]:
    stored = fake.get("nodes", node)
    assert stored is not None
    return {c["type"]: c for c in stored["status"]["conditions"]}


def manager(kube: Kube, clock: Clock, **settings: timedelta) -> ConditionManager:
    return ConditionManager(
        KubePublisher(kube), "n1", OURS, clock=clock, settings=NetSettings(**settings)
    )


def test_first_sync_writes_all_ours_and_leaves_kubelet_alone(
    fake_kube: FakeKube, kube: Kube, node: str
) -> None:
    clock = Clock()
    conditions_manager = manager(kube, clock)
    conditions_manager.set(up())
    result = conditions_manager.sync()
    assert result.written and result.error is None
    assert {t.condition.type for t in result.transitions} == OURS
    stored = conditions(fake_kube, node)
    assert stored["Ready"] == KUBELET_READY
    assert stored["NodeClientIP"] == {
        "type": "NodeClientIP",
        "status": "True",
        "reason": "bond1",
        "message": "10.0.0.5",
        "lastTransitionTime": "2026-03-01T12:00:00Z",
        "lastHeartbeatTime": "2026-03-01T12:00:00Z",
    }
    patch = fake_kube.writes("nodes")[0]
    assert patch.subresource == "status"
    assert patch.content_type == "application/strategic-merge-patch+json"
    assert {c["type"] for c in patch.body["status"]["conditions"]} == OURS


def test_heartbeat_timing_with_a_fake_clock(fake_kube: FakeKube, kube: Kube, node: str) -> None:
    clock = Clock()
    conditions_manager = manager(kube, clock)
    conditions_manager.set(up())
    conditions_manager.sync()
    for _ in range(99):  # the previous daemon wrote every 3 s: 99 writes in 5 minutes
        clock.advance(seconds=3)
        conditions_manager.set(up())
        assert not conditions_manager.sync().written
    assert len(fake_kube.writes("nodes")) == 1
    clock.now = T0 + timedelta(minutes=5)
    assert conditions_manager.sync().written
    stored = conditions(fake_kube, node)
    assert stored["NodeRefreshFlag"]["lastHeartbeatTime"] == "2026-03-01T12:05:00Z"
    assert stored["NodeRefreshFlag"]["lastTransitionTime"] == "2026-03-01T12:00:00Z"
    assert len(fake_kube.writes("nodes")) == 2


def test_a_change_writes_at_once_and_moves_only_its_transition(
    fake_kube: FakeKube, kube: Kube, node: str
) -> None:
    clock = Clock()
    conditions_manager = manager(kube, clock)
    conditions_manager.set(up())
    conditions_manager.sync()
    clock.advance(seconds=30)
    conditions_manager.set(up(state="StateDown"))
    result = conditions_manager.sync()
    assert result.written
    assert [(t.condition.type, t.previous) for t in result.transitions] == [
        ("NodeClientNetworkUnavailable", "False")
    ]
    event = transition_event(result.transitions[0])
    assert (event.type, event.reason) == ("Warning", "NodeClientNetworkUnavailable")
    assert "False -> True" in event.message
    stored = conditions(fake_kube, node)
    nic = stored["NodeClientNetworkUnavailable"]
    assert (nic["status"], nic["reason"], nic["message"]) == (
        "True",
        "StateDown",
        "bond1 StateDown",
    )
    assert nic["lastTransitionTime"] == "2026-03-01T12:00:30Z"
    # Unchanged conditions ride along with a fresh heartbeat and their old transition time.
    assert stored["NodeClientIP"]["lastTransitionTime"] == "2026-03-01T12:00:00Z"
    assert stored["NodeClientIP"]["lastHeartbeatTime"] == "2026-03-01T12:00:30Z"
    # A new message with the same status writes, but keeps the transition time.
    clock.advance(seconds=30)
    conditions_manager.set(up(ip="10.0.0.6", state="StateDown"))
    assert not conditions_manager.sync().transitions
    assert conditions(fake_kube, node)["NodeClientIP"]["lastTransitionTime"] == (
        "2026-03-01T12:00:00Z"
    )
    assert len(fake_kube.writes("nodes")) == 3


def test_restart_reads_back_and_does_not_reset(fake_kube: FakeKube, kube: Kube, node: str) -> None:
    clock = Clock()
    first = manager(kube, clock)
    first.set(up())
    first.sync()
    # A new process two minutes later sees the same state: nothing is due.
    clock.advance(minutes=2)
    second = manager(kube, clock)
    second.set(up())
    assert not second.sync().written
    assert second.published == {c.type: c for c in up()}
    assert len(fake_kube.writes("nodes")) == 1
    clock.advance(minutes=3)
    assert second.sync().written
    stored = conditions(fake_kube, node)
    assert stored["NodeClientIP"]["lastTransitionTime"] == "2026-03-01T12:00:00Z"


def test_failed_patch_backs_off_with_a_cap(fake_kube: FakeKube, kube: Kube, node: str) -> None:
    clock = Clock()
    conditions_manager = manager(
        kube, clock, retry_initial=timedelta(seconds=5), retry_max=timedelta(seconds=30)
    )
    conditions_manager.set(up())
    fake_kube.faults.outage = True
    waits = []
    for _ in range(6):
        result = conditions_manager.sync()
        assert not result.written and result.error and result.retry_at
        waits.append((result.retry_at - clock.now).total_seconds())
        before = len(fake_kube.requests)
        clock.advance(seconds=1)
        waiting = conditions_manager.sync()  # waiting: no request at all
        assert not waiting.written and waiting.error == result.error
        assert len(fake_kube.requests) == before
        clock.now = result.retry_at
    assert waits == [5, 10, 20, 30, 30, 30]
    fake_kube.faults.outage = False
    assert conditions_manager.sync().written
    assert "NodeClientIP" in conditions(fake_kube, node)


def test_only_managed_types_are_accepted(kube: Kube) -> None:
    conditions_manager = manager(kube, Clock())
    with pytest.raises(ValueError, match="Ready"):
        conditions_manager.set([Condition("Ready", "False", "x", "y")])


def test_repeated_event_is_counted_not_duplicated(fake_kube: FakeKube, kube: Kube) -> None:
    event = NodeEvent("LogsCleaned", "deleted 3 file(s)")
    KubePublisher(kube).record_event("n1", event, now=T0)
    # Another process (a later run) records the same event.
    KubePublisher(kube).record_event("n1", event, now=T0 + timedelta(hours=1))
    stored = fake_kube.get("events", event_name("n1", event), "kube-system")
    assert stored is not None
    assert stored["count"] == 2
    # The client sends times as RFC 3339 in its own spelling (+00:00 or Z): compare instants.
    assert datetime.fromisoformat(stored["firstTimestamp"]) == T0
    assert datetime.fromisoformat(stored["lastTimestamp"]) == T0 + timedelta(hours=1)
    assert stored["involvedObject"] == {
        "apiVersion": "v1",
        "kind": "Node",
        "name": "n1",
        "uid": "n1",
    }
    assert stored["source"] == {"component": "polarstack", "host": "n1"}
    other = NodeEvent("LogsCleaned", "deleted 4 file(s)")
    KubePublisher(kube).record_event("n1", other, now=T0)
    listed = [r for r in fake_kube.requests if r.resource == "events" and r.verb == "create"]
    assert len(listed) == 3  # the second create found the first Event and counted instead
    assert fake_kube.get("events", event_name("n1", other), "kube-system") is not None


def test_event_count_survives_a_concurrent_writer(fake_kube: FakeKube, kube: Kube) -> None:
    event = NodeEvent("ConditionChanged", "NodeClientIP False")
    publisher = KubePublisher(kube)
    publisher.record_event("n1", event, now=T0)
    name = event_name("n1", event)

    def other_counts() -> None:
        current = fake_kube.get("events", name, "kube-system")
        assert current is not None
        fake_kube.put("events", {**current, "count": current["count"] + 1})

    # Another writer counts just before our create (AlreadyExists) and before our patch (409).
    fake_kube.before_next_writes(other_counts, times=2)
    publisher.record_event("n1", event, now=T0)
    stored = fake_kube.get("events", name, "kube-system")
    assert stored is not None and stored["count"] == 4
