"""The ConfigMap publisher and the readers, through the official client, against the fake."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from polarstack.errors import (
    ClusterError,
    ClusterForbiddenError,
    ClusterUnreachableError,
    ConfigurationError,
)
from polarstack.jobs.ports import run_ports
from polarstack.kube.client import ClusterTarget, Kube, connect
from polarstack.kube.readers import (
    list_config_maps,
    read_controller_config,
    read_host_ports,
    read_live_ids,
    read_net_card_name,
    read_port_ranges,
)
from polarstack.model import ConfigMapDoc, Outcome
from polarstack.portranges import PortRange
from polarstack.publishers.kube import KubePublisher
from polarstack.settings import ClusterSettings, VersionsSettings
from tests.fakekube import FakeKube

NS = "kube-system"


def doc(data: dict[str, str], stamp: str = "2026-01-01T00:00:00Z") -> ConfigMapDoc:
    return ConfigMapDoc("usage-n1", data, {"updateTimestamp": stamp})


def test_creates_a_missing_config_map(fake_kube: FakeKube, kube: Kube) -> None:
    assert KubePublisher(kube).publish_config_map(doc({"5432": "x"})) is Outcome.CREATED
    stored = fake_kube.get("configmaps", "usage-n1", NS)
    assert stored is not None
    assert stored["data"] == {"5432": "x"}
    assert stored["metadata"]["annotations"] == {"updateTimestamp": "2026-01-01T00:00:00Z"}
    assert [w.verb for w in fake_kube.writes()] == ["create"]


def test_no_write_when_only_the_timestamp_differs(fake_kube: FakeKube, kube: Kube) -> None:
    publisher = KubePublisher(kube)
    publisher.publish_config_map(doc({"5432": "x"}))
    for minute in range(1, 4):
        later = doc({"5432": "x"}, f"2026-01-01T00:0{minute}:00Z")
        assert publisher.publish_config_map(later) is Outcome.UNCHANGED
    assert len(fake_kube.writes()) == 1


def test_update_replaces_data_and_keeps_what_others_added(fake_kube: FakeKube, kube: Kube) -> None:
    fake_kube.put(
        "configmaps",
        {
            "metadata": {
                "name": "usage-n1",
                "namespace": NS,
                "labels": {"team": "dba"},
                "annotations": {"note": "kept", "updateTimestamp": "old"},
            },
            "data": {"5432": "x", "5433": "x"},
        },
    )
    outcome = KubePublisher(kube).publish_config_map(doc({"6000": "x"}))
    assert outcome is Outcome.UPDATED
    stored = fake_kube.get("configmaps", "usage-n1", NS)
    assert stored is not None
    assert stored["data"] == {"6000": "x"}
    assert stored["metadata"]["labels"] == {"team": "dba"}
    assert stored["metadata"]["annotations"] == {
        "note": "kept",
        "updateTimestamp": "2026-01-01T00:00:00Z",
    }
    assert [w.verb for w in fake_kube.writes()] == ["update"]


def test_conflict_rereads_and_retries(fake_kube: FakeKube, kube: Kube) -> None:
    base = {"metadata": {"name": "usage-n1", "namespace": NS}, "data": {"1": "x"}}
    fake_kube.put("configmaps", base)

    def other_writer() -> None:
        fake_kube.put(
            "configmaps", {**base, "metadata": {**base["metadata"], "labels": {"a": "b"}}}
        )

    fake_kube.before_next_writes(other_writer, times=2)
    assert KubePublisher(kube).publish_config_map(doc({"2": "x"})) is Outcome.UPDATED
    statuses = [w.status for w in fake_kube.writes()]
    assert statuses == [409, 409, 200]
    stored = fake_kube.get("configmaps", "usage-n1", NS)
    assert stored is not None
    assert stored["data"] == {"2": "x"}
    assert stored["metadata"]["labels"] == {"a": "b"}  # the other writer's change survived


def test_endless_conflicts_give_up_after_the_bound(fake_kube: FakeKube, kubeconfig: Path) -> None:
    settings = ClusterSettings(conflict_retries=3, retry_delay=0.01)
    kube = connect(ClusterTarget(str(kubeconfig)), environ={}, settings=settings)
    fake_kube.put("configmaps", {"metadata": {"name": "usage-n1", "namespace": NS}, "data": {}})
    fake_kube.before_next_writes(
        lambda: fake_kube.put(
            "configmaps", {"metadata": {"name": "usage-n1", "namespace": NS}, "data": {"o": "1"}}
        ),
        times=100,
    )
    with pytest.raises(ClusterError, match="changed under us 4 times"):
        KubePublisher(kube).publish_config_map(doc({"2": "x"}))
    assert len(fake_kube.writes("configmaps")) == 4


def test_create_race_rereads_and_compares(fake_kube: FakeKube, kube: Kube) -> None:
    # Another agent creates the same content between our read and our create.
    fake_kube.before_next_writes(
        lambda: fake_kube.put(
            "configmaps",
            {"metadata": {"name": "usage-n1", "namespace": NS}, "data": {"5432": "x"}},
        )
    )
    assert KubePublisher(kube).publish_config_map(doc({"5432": "x"})) is Outcome.UNCHANGED
    assert [(w.verb, w.status) for w in fake_kube.writes()] == [("create", 409)]


def test_server_errors_are_retried_then_reported(fake_kube: FakeKube, kube: Kube) -> None:
    fake_kube.faults.fail_next = [503, 500]
    assert KubePublisher(kube).publish_config_map(doc({"1": "x"})) is Outcome.CREATED
    fake_kube.faults.error_rate = 1.0
    with pytest.raises(ClusterError, match=r"failed to get configmaps in namespace kube-system"):
        KubePublisher(kube).publish_config_map(doc({"2": "x"}))


def test_a_fraction_of_errors_does_not_lose_a_change(fake_kube: FakeKube, kube: Kube) -> None:
    fake_kube.faults.error_rate = 0.3
    publisher = KubePublisher(kube)
    for port in range(20):
        try:
            publisher.publish_config_map(doc({str(port): "x"}))
        except ClusterError:
            continue
    fake_kube.faults.error_rate = 0.0
    publisher.publish_config_map(doc({"last": "x"}))
    stored = fake_kube.get("configmaps", "usage-n1", NS)
    assert stored is not None and stored["data"] == {"last": "x"}


def test_outage_then_recovery(fake_kube: FakeKube, kube: Kube) -> None:
    publisher = KubePublisher(kube)
    fake_kube.faults.outage = True
    with pytest.raises(ClusterUnreachableError, match="cannot reach the Kubernetes API server"):
        publisher.publish_config_map(doc({"1": "x"}))
    fake_kube.faults.outage = False
    assert publisher.publish_config_map(doc({"1": "x"})) is Outcome.CREATED


def test_slow_server_times_out(fake_kube: FakeKube, kubeconfig: Path) -> None:
    settings = ClusterSettings(request_timeout=0.2, server_error_retries=0)
    kube = connect(ClusterTarget(str(kubeconfig)), environ={}, settings=settings)
    fake_kube.faults.latency = 1.0
    with pytest.raises(ClusterUnreachableError, match="timed out"):
        read_controller_config(kube)


def test_forbidden_names_verb_resource_and_namespace(fake_kube: FakeKube, kube: Kube) -> None:
    fake_kube.faults.forbid("create", "configmaps", NS)
    with pytest.raises(ClusterForbiddenError) as caught:
        KubePublisher(kube).publish_config_map(doc({"1": "x"}))
    message = str(caught.value)
    assert "refused to create configmaps in namespace kube-system (403" in message
    assert 'cannot create resource "configmaps"' in message


def test_wrong_token_is_forbidden(fake_kube: FakeKube, tmp_path: Path) -> None:
    config = fake_kube.write_kubeconfig(tmp_path / "bad", token="wrong")
    kube = connect(ClusterTarget(str(config)), environ={})
    with pytest.raises(ClusterForbiddenError, match="401"):
        read_controller_config(kube)


def test_missing_kubeconfig_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no kubeconfig at"):
        connect(ClusterTarget(str(tmp_path / "absent")), environ={})


def test_kubeconfig_env_and_context(fake_kube: FakeKube, tmp_path: Path) -> None:
    config = fake_kube.write_kubeconfig(tmp_path / "k", context="edge")
    kube = connect(environ={"KUBECONFIG": str(config)})
    assert read_net_card_name(kube, "bond1") == "bond1"
    with pytest.raises(ConfigurationError, match="kubeconfig"):
        connect(ClusterTarget(str(config), context="absent"), environ={})


def put_cm(fake: FakeKube, name: str, data: dict[str, str] | None = None, **meta: object) -> None:
    fake.put(
        "configmaps", {"metadata": {"name": name, "namespace": NS, **meta}, "data": data or {}}
    )


def test_ranges_from_annotations_are_lenient_and_inclusive(fake_kube: FakeKube, kube: Kube) -> None:
    put_cm(
        fake_kube,
        "polardb4mpd-controller",
        annotations={
            "single": "5432",
            "span": " 6000 - 5990 ",
            "plus": "7000+10",
            "reserved": "8000, 8100-8105 ,-3+4",
            "flag": "true",
            "json": '{"a": 1}',
        },
    )
    found = read_port_ranges(kube)
    assert found.ranges == (
        PortRange(1, 4),
        PortRange(5432, 5432),
        PortRange(5990, 6000),
        PortRange(7000, 7010),
        PortRange(8000, 8000),
        PortRange(8100, 8105),
    )
    assert len(found.warnings) == 2
    assert any("annotation flag" in w and "'true'" in w for w in found.warnings)


def test_no_ranges_config_map_gives_no_ranges(kube: Kube) -> None:
    found = read_port_ranges(kube)
    assert found.ranges == ()
    assert "not found" in found.warnings[0]


@pytest.mark.parametrize(
    ("value", "published"),
    [
        (None, True),
        ("", True),
        (" yes ", True),
        ("T", True),
        ("maybe", True),
        ("0", False),
        (" False", False),
        ("n", False),
        ("NO", False),
    ],
)
def test_enable_print_port_switch(
    fake_kube: FakeKube, kube: Kube, value: str | None, published: bool
) -> None:
    if value is not None:
        put_cm(fake_kube, "controller-config", {"enablePrintPort": value})
    run = run_ports(node="n1", ranges=[PortRange(1, 2)], kube=kube, publisher=KubePublisher(kube))
    assert (run.outcome is Outcome.CREATED) is published
    assert (
        fake_kube.get("configmaps", "cloud-provider-port-usage-n1", NS) is not None
    ) is published
    if not published:
        assert any("enablePrintPort off" in note for note in run.notes)


def test_oob_switch_and_nic_name(fake_kube: FakeKube, kube: Kube) -> None:
    assert read_controller_config(kube).check_oob_ip is True
    put_cm(fake_kube, "controller-config", {"isCheckOObIP": "false"})
    put_cm(fake_kube, "ccm-config", {"NET_CARD_NAME": " eth9 "})
    assert read_controller_config(kube).check_oob_ip is False
    assert read_net_card_name(kube, "bond1") == "eth9"


def pod(
    name: str,
    node: str,
    ports: list[dict[str, object]],
    phase: str = "Running",
    labels: dict[str, str] | None = None,
) -> dict[str, object]:
    return {
        "metadata": {"name": name, "namespace": "db", "labels": labels or {}},
        "spec": {"nodeName": node, "containers": [{"name": "c", "ports": ports}]},
        "status": {"phase": phase},
    }


def test_host_ports_of_running_pods_on_this_node(fake_kube: FakeKube, kube: Kube) -> None:
    fake_kube.put("pods", pod("a", "n1", [{"containerPort": 5432, "hostPort": 15432}]))
    fake_kube.put(
        "pods", pod("b", "n1", [{"containerPort": 53, "hostPort": 53, "protocol": "UDP"}])
    )
    fake_kube.put("pods", pod("c", "n2", [{"containerPort": 1, "hostPort": 16000}]))
    fake_kube.put("pods", pod("d", "n1", [{"containerPort": 1, "hostPort": 17000}], "Succeeded"))
    fake_kube.put(
        "pods", pod("e", "n1", [{"containerPort": 1, "hostPort": 18000, "hostIP": "::1"}])
    )
    holders = read_host_ports(kube, "n1")
    assert sorted((h.port, h.family, h.address, h.pod) for h in holders) == [
        (15432, "ipv4", "0.0.0.0", "db/a"),
        (18000, "ipv6", "::1", "db/e"),
    ]
    listed = [r for r in fake_kube.requests if r.resource == "pods"]
    assert listed[-1].query["fieldSelector"] == "spec.nodeName=n1"


def test_host_ports_are_published_with_socket_ports(fake_kube: FakeKube, kube: Kube) -> None:
    fake_kube.put("pods", pod("a", "n1", [{"containerPort": 5432, "hostPort": 15432}]))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        run = run_ports(
            node="n1",
            ranges=[PortRange(port, port), PortRange(15432, 15432)],
            kube=kube,
            publisher=KubePublisher(kube),
        )
    assert run.scan.used_ports == tuple(sorted((port, 15432)))
    assert {h.source for h in run.scan.sockets} == {"socket", "hostPort"}
    stored = fake_kube.get("configmaps", "cloud-provider-port-usage-n1", NS)
    assert stored is not None
    assert sorted(stored["data"]) == sorted([str(port), "15432"])


def test_live_ids_from_pod_labels(fake_kube: FakeKube, kube: Kube) -> None:
    label = "apsara.metric.ins_id"
    fake_kube.put("pods", pod("a", "n1", [], labels={label: "ins-1"}))
    fake_kube.put("pods", pod("b", "n2", [], labels={label: "ins-2"}))
    fake_kube.put("pods", pod("c", "n2", [], labels={"other": "x"}))
    live = read_live_ids(kube)
    assert (live.ids, live.source) == (frozenset({"ins-1", "ins-2"}), "cluster")
    fake_kube.faults.forbid("list", "pods")
    with pytest.raises(ClusterForbiddenError, match="list pods"):
        read_live_ids(kube)


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        yield probe.getsockname()[1]


def test_nothing_listening_is_unreachable(closed_port: int, tmp_path: Path) -> None:
    with FakeKube() as fake:
        config = fake.write_kubeconfig(tmp_path / "k")
    text = config.read_text().replace(fake.url, f"http://127.0.0.1:{closed_port}")
    config.write_text(text)
    kube = connect(ClusterTarget(str(config)), environ={})
    with pytest.raises(ClusterUnreachableError, match="refused"):
        read_controller_config(kube)


def test_version_config_maps_by_label_selector(fake_kube: FakeKube, kube: Kube) -> None:
    both = {"configtype": "minor_version_info", "dbClusterMode": "WriteReadMore"}
    put_cm(fake_kube, "v1", {"name": "1.0"}, labels=both)
    put_cm(fake_kube, "v2", {"name": "2.0"}, labels={"configtype": "minor_version_info"})
    fake_kube.put(
        "configmaps", {"metadata": {"name": "v3", "namespace": "default", "labels": both}}
    )
    found = list_config_maps(kube, VersionsSettings().selector)
    assert [item["metadata"]["name"] for item in found] == ["v1"]
