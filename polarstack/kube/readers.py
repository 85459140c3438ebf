"""What the jobs read from the cluster: the platform's ConfigMaps, and pods.

Every reader takes the connection (:class:`~polarstack.kube.client.Kube`) and
returns plain values or the library's result types, so the jobs never see API objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from polarstack import portranges
from polarstack.errors import ClusterError
from polarstack.kube.answers import integer, mapping, objects, strings, text
from polarstack.kube.client import Kube, Object, ObjectNotFoundError
from polarstack.model import LiveIds, PortHolder
from polarstack.portranges import PortRange
from polarstack.settings import LogsSettings, PortsSettings
from polarstack.switches import parse_switch

# Pods in these phases have stopped: their hostPort mappings are gone.
_FINISHED_PHASES = frozenset({"Succeeded", "Failed"})


def read_config_map(kube: Kube, name: str) -> Object | None:
    """The ConfigMap ``name`` in the platform's namespace, or None when there is none."""
    try:
        return kube.call("get", "configmaps", kube.namespace, name)
    except ObjectNotFoundError:
        return None


def _data(config_map: Object | None, name: str) -> dict[str, str]:
    return dict(strings((config_map or {}).get("data"), f"the data of ConfigMap {name}"))


@dataclass(frozen=True)
class ControllerConfig:
    """The switches of ConfigMap ``controller-config``."""

    enable_print_port: bool = True
    """Whether the ports job publishes (``enablePrintPort``)."""
    check_oob_ip: bool = True
    """Whether the net job reports the BMC IP (``isCheckOObIP``)."""


def read_controller_config(kube: Kube) -> ControllerConfig:
    """Read the switches; a missing ConfigMap or key means on.

    Raises:
        ClusterError: the read failed, or the ConfigMap's data is not a map of strings.
    """
    name = kube.settings.controller_config
    data = _data(read_config_map(kube, name), name)
    return ControllerConfig(
        enable_print_port=parse_switch(data.get("enablePrintPort")),
        check_oob_ip=parse_switch(data.get("isCheckOObIP")),
    )


def read_net_card_name(kube: Kube, default: str) -> str:
    """The client NIC named by ``ccm-config`` (``NET_CARD_NAME``), else ``default``.

    Raises:
        ClusterError: the read failed, or the ConfigMap's data is not a map of strings.
    """
    config_map = kube.settings.ccm_config
    name = _data(read_config_map(kube, config_map), config_map).get("NET_CARD_NAME", "")
    return name.strip() or default


@dataclass(frozen=True)
class ClusterRanges:
    """Port ranges read from the platform's annotations."""

    ranges: tuple[PortRange, ...]
    warnings: tuple[str, ...]


def read_port_ranges(kube: Kube, settings: PortsSettings = PortsSettings()) -> ClusterRanges:  # noqa: B008
    """The port ranges in the annotations of ConfigMap ``polardb4mpd-controller``.

    Every annotation value that parses (leniently, see
    :func:`~polarstack.portranges.parse_annotation`) contributes; others are skipped with a
    warning. A missing ConfigMap gives no ranges, with a warning.

    Raises:
        ClusterError: the read failed, or the annotations are not a map.
    """
    name = settings.ranges_config_map
    config_map = read_config_map(kube, name)
    if config_map is None:
        return ClusterRanges((), (f"ConfigMap {kube.namespace}/{name} not found: no port ranges",))
    found: list[PortRange] = []
    warnings = []
    metadata = mapping(config_map.get("metadata"), f"the metadata of ConfigMap {name}")
    annotations = mapping(metadata.get("annotations"), f"the annotations of ConfigMap {name}")
    for key, raw in sorted(annotations.items()):
        value = str(raw)
        parsed = portranges.parse_annotation(value)
        if parsed is None:
            shown = value if len(value) <= 40 else value[:37] + "..."
            warnings.append(f"annotation {key} of {name} is not port ranges, skipped: {shown!r}")
        else:
            found.extend(parsed)
    if not found:
        warnings.append(f"ConfigMap {kube.namespace}/{name} holds no port ranges")
    return ClusterRanges(tuple(portranges.merge(found)), tuple(warnings))


PAGE_SIZE = 500
"""Objects asked for per list call; the rest follow page by page (``continue``)."""

MAX_PAGES = 2000
"""Pages of one listing before it is given up (a million objects): a server that keeps
answering with a continue token must not keep the job listing for ever."""


def list_all(
    kube: Kube, resource: str, namespace: str | None, query: dict[str, str | None]
) -> list[Object]:
    """Every object of a list, page by page until the server says there are no more.

    A page that is not a list of objects with metadata fails the whole listing: a partial
    answer must never pass for a whole one (the log cleaner would take the instances it
    misses for deleted ones).

    Raises:
        ClusterError: a call failed, or an answer is not the list expected.
    """
    found: list[Object] = []
    token: str | None = None
    seen: set[str] = set()
    for _page in range(MAX_PAGES):
        page = kube.call(
            "list", resource, namespace, query={**query, "limit": str(PAGE_SIZE), "continue": token}
        )
        items = page.get("items")
        metadata = page.get("metadata")
        if not isinstance(items, list) or not isinstance(metadata, dict):
            raise ClusterError(f"the answer to list {resource} is not a list of {resource}")
        if metadata.get("remainingItemCount") and not metadata.get("continue"):
            raise ClusterError(f"the answer to list {resource} says more follow, but not how")
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("metadata"), dict):
                raise ClusterError(
                    f"the answer to list {resource} holds an object without metadata"
                )
        found.extend(items)
        token = metadata.get("continue") or None
        if token is None:
            return found
        if not isinstance(token, str):
            raise ClusterError(
                f"the answer to list {resource} has a continue token that is no text"
            )
        if token in seen:
            raise ClusterError(f"the answers to list {resource} repeat a continue token")
        seen.add(token)
    raise ClusterError(f"list {resource}: still more after {MAX_PAGES} pages; given up")


def list_config_maps(kube: Kube, label_selector: str) -> list[Object]:
    """ConfigMaps in the platform's namespace that match ``label_selector``.

    The versions job reads its version ConfigMaps this way (``VersionsSettings.selector``).
    """
    return list_all(kube, "configmaps", kube.namespace, {"labelSelector": label_selector})


def list_pods(
    kube: Kube, *, label_selector: str | None = None, field_selector: str | None = None
) -> list[Object]:
    """Pods in all namespaces that match the selectors."""
    query = {"labelSelector": label_selector, "fieldSelector": field_selector}
    return list_all(kube, "pods", None, query)


def read_live_ids(kube: Kube, settings: LogsSettings = LogsSettings()) -> LiveIds:  # noqa: B008
    """The live instance ids: values of the instance label on pods in all namespaces.

    Raises:
        ClusterError: the pods could not all be listed; the live set is then unknown, never
            smaller than it is.
    """
    label = settings.instance_label
    pods = list_pods(kube, label_selector=label)
    ids = set()
    for pod in pods:
        # The selector asks for pods that carry the label: one without it, or with a value
        # that is no name, is an answer that cannot be trusted, not a pod to leave out.
        labels = pod["metadata"].get("labels")
        value = labels.get(label) if isinstance(labels, dict) else None
        if not isinstance(value, str):
            name = pod["metadata"].get("name")
            raise ClusterError(
                f"the answer to list pods holds pod {name!r} without a {label} label"
            )
        if value:
            ids.add(value)
    return LiveIds(frozenset(ids), "cluster")


def _host_ports(pod: Object) -> Iterator[PortHolder]:
    meta = pod["metadata"]  # list_all saw it is a map
    owner = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
    spec = mapping(pod.get("spec"), f"the spec of pod {owner}")
    containers = [
        *objects(spec.get("initContainers"), f"the init containers of pod {owner}"),
        *objects(spec.get("containers"), f"the containers of pod {owner}"),
    ]
    for container in containers:
        for port in objects(container.get("ports"), f"the ports of a container of pod {owner}"):
            host_port = port.get("hostPort")
            if not host_port or (port.get("protocol") or "TCP") != "TCP":
                continue
            number = integer(host_port, f"a hostPort of pod {owner}")
            if not portranges.MIN_PORT <= number <= portranges.MAX_PORT:
                raise ClusterError(f"a hostPort of pod {owner} is no port: {number}")
            address = text(port.get("hostIP") or "0.0.0.0", f"a hostIP of pod {owner}")
            yield PortHolder(
                port=number,
                family="ipv6" if ":" in address else "ipv4",
                address=address,
                state="HOSTPORT",
                source="hostPort",
                pod=owner,
            )


def read_host_ports(kube: Kube, node: str) -> list[PortHolder]:
    """TCP ``hostPort`` mappings of the running pods on ``node``.

    Such a port is taken through the CNI's port mapping (iptables DNAT) without any socket on
    the host: an engine that binds it would get no traffic.

    Raises:
        ClusterError: the pods could not all be listed, or a pod's spec is malformed.
    """
    pods = list_pods(kube, field_selector=f"spec.nodeName={node}")
    return [holder for pod in pods if not _finished(pod) for holder in _host_ports(pod)]


def _finished(pod: dict[str, Any]) -> bool:
    # A phase that is not a string is no finished phase: its ports count as taken, the safe
    # side for an allocator (and a list there must not fail the set lookup).
    phase = mapping(pod.get("status"), "a pod's status").get("phase")
    return isinstance(phase, str) and phase in _FINISHED_PHASES
