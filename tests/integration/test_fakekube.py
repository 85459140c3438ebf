"""The fake API server behaves as the real one where polarstack relies on it."""

from __future__ import annotations

import threading

import pytest

from polarstack.errors import ClusterError
from polarstack.kube.client import Kube, ObjectConflictError, ResourceExpiredError
from tests.fakekube import FakeKube
from tests.fakekube.server import parse_field_selector, parse_label_selector

NS = "kube-system"


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", {"a", "b", "c"}),
        ("configtype=minor_version_info,dbClusterMode=WriteReadMore", {"a"}),
        ("configtype==minor_version_info", {"a", "b"}),
        ("dbClusterMode!=WriteReadMore", {"b", "c"}),
        ("dbClusterMode in (WriteReadMore, Other)", {"a"}),
        ("dbClusterMode notin (WriteReadMore)", {"b", "c"}),
        ("configtype", {"a", "b"}),
        ("!configtype", {"c"}),
    ],
)
def test_label_selectors(selector: str, expected: set[str]) -> None:
    labels = {
        "a": {"configtype": "minor_version_info", "dbClusterMode": "WriteReadMore"},
        "b": {"configtype": "minor_version_info"},
        "c": {},
    }
    matches = parse_label_selector(selector)
    assert {name for name, value in labels.items() if matches(value)} == expected


def test_field_selectors() -> None:
    pod = {"spec": {"nodeName": "n1"}, "status": {"phase": "Running"}}
    assert parse_field_selector("spec.nodeName=n1,status.phase!=Failed")(pod)
    assert not parse_field_selector("spec.nodeName==n2")(pod)


def test_list_with_selector_through_the_client(fake_kube: FakeKube, kube: Kube) -> None:
    for name, ns, labels in [("a", NS, {"k": "v"}), ("b", "other", {"k": "v"}), ("c", NS, {})]:
        fake_kube.put("configmaps", {"metadata": {"name": name, "namespace": ns, "labels": labels}})
    found = kube.call("list", "configmaps", NS, query={"labelSelector": "k=v"})
    assert [item["metadata"]["name"] for item in found["items"]] == ["a"]
    everywhere = kube.call("list", "configmaps")
    assert len(everywhere["items"]) == 3


def test_stale_replace_is_a_conflict(fake_kube: FakeKube, kube: Kube) -> None:
    fake_kube.put("configmaps", {"metadata": {"name": "a", "namespace": NS}, "data": {"x": "1"}})
    read = kube.call("get", "configmaps", NS, "a")
    fake_kube.put("configmaps", {"metadata": {"name": "a", "namespace": NS}, "data": {"x": "2"}})
    read["data"] = {"x": "3"}
    with pytest.raises(ObjectConflictError, match="has been modified"):
        kube.call("update", "configmaps", NS, "a", body=read)


def test_node_status_strategic_merge_keeps_other_types(fake_kube: FakeKube, kube: Kube) -> None:
    ready = {"type": "Ready", "status": "True"}
    conditions = [ready, {"type": "X", "status": "False"}]
    spec = {"podCIDR": "10.0.0.0/24"}
    fake_kube.put(
        "nodes", {"metadata": {"name": "n1"}, "spec": spec, "status": {"conditions": conditions}}
    )
    patch = {
        "spec": {"podCIDR": "ignored"},
        "status": {"conditions": [{"type": "X", "status": "True"}]},
    }
    kube.call(
        "patch", "nodes", None, "n1", subresource="status", body=patch,
        content_type="application/strategic-merge-patch+json",
    )  # fmt: skip
    node = fake_kube.get("nodes", "n1")
    assert node is not None
    assert node["status"]["conditions"] == [ready, {"type": "X", "status": "True"}]
    assert node["spec"] == {"podCIDR": "10.0.0.0/24"}  # the status subresource changes status only
    with pytest.raises(ClusterError, match="415"):
        kube.call(
            "patch", "nodes", None, "n1", subresource="status",
            body=[{"op": "add", "path": "/status/x", "value": 1}],
            content_type="application/json-patch+json",
        )  # fmt: skip


def test_watch_streams_changes_to_the_official_watcher(fake_kube: FakeKube, kube: Kube) -> None:
    from kubernetes import client, watch

    fake_kube.put("configmaps", {"metadata": {"name": "v1", "namespace": NS, "labels": {"t": "v"}}})
    # List, then watch from the list's resourceVersion: no change can fall in between.
    listed = kube.call("list", "configmaps", NS)
    since = listed["metadata"]["resourceVersion"]
    seen: list[tuple[str, str]] = []
    watcher = watch.Watch()

    def follow() -> None:
        for event in watcher.stream(
            client.CoreV1Api(kube.api_client).list_namespaced_config_map,
            namespace=NS,
            label_selector="t=v",
            timeout_seconds=5,
            resource_version=since,
        ):
            seen.append((event["type"], event["raw_object"]["metadata"]["name"]))
            if len(seen) == 2:
                watcher.stop()

    thread = threading.Thread(target=follow)
    thread.start()
    fake_kube.put("configmaps", {"metadata": {"name": "other", "namespace": NS}})
    fake_kube.put("configmaps", {"metadata": {"name": "v2", "namespace": NS, "labels": {"t": "v"}}})
    fake_kube.delete("configmaps", "v1", NS)
    thread.join(10)
    assert not thread.is_alive()
    assert seen == [("ADDED", "v2"), ("DELETED", "v1")]


def test_request_log_counts_writes(fake_kube: FakeKube, kube: Kube) -> None:
    kube.call("list", "pods")
    kube.call("create", "configmaps", NS, body={"metadata": {"name": "a"}})
    assert [(r.verb, r.resource, r.status) for r in fake_kube.requests] == [
        ("list", "pods", 200),
        ("create", "configmaps", 201),
    ]
    assert len(fake_kube.writes()) == 1


def test_our_watch_and_410(fake_kube: FakeKube, kube: Kube) -> None:
    since = kube.call("list", "configmaps", NS)["metadata"]["resourceVersion"]
    fake_kube.put("configmaps", {"metadata": {"name": "w", "namespace": NS}})
    events = kube.watch("configmaps", NS, resource_version=since, timeout_seconds=1)
    assert [(kind, obj["metadata"]["name"]) for kind, obj in events] == [("ADDED", "w")]
    fake_kube.compact()
    with pytest.raises(ResourceExpiredError, match="too old resource version"):
        list(kube.watch("configmaps", NS, resource_version=since, timeout_seconds=1))
