"""The ports job: ranges from the cluster, the scan, hostPort mappings, the ConfigMap."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from polarstack.jobs import ConfigMapRun
from polarstack.kube.client import Kube
from polarstack.kube.readers import (
    read_controller_config,
    read_host_ports,
    read_port_ranges,
)
from polarstack.model import PortHolder
from polarstack.portranges import PortRange
from polarstack.publishers.base import Publisher
from polarstack.publishers.contracts import ports_config_map
from polarstack.scanners.ports import PortScan, scan_ports
from polarstack.settings import Settings


@dataclass(frozen=True)
class PortsRun(ConfigMapRun[PortScan]):
    """What one run of the ports job found and did.

    ``source`` (``ranges_source`` in JSON): ``argument`` (given), ``cluster`` (the
    annotations) or ``default`` (1-65535).
    """

    source_key: ClassVar[str] = "ranges_source"

    @property
    def ranges_source(self) -> str:
        """Where the ranges came from."""
        return self.source


def run_ports(
    *,
    node: str,
    ranges: Sequence[PortRange] | None = None,
    kube: Kube | None = None,
    publisher: Publisher | None = None,
    settings: Settings = Settings(),  # noqa: B008 (frozen)
    scan: Callable[..., PortScan] = scan_ports,
    **scan_options: Any,
) -> PortsRun:
    """Run the ports job once.

    Args:
        node: the Kubernetes node name (lower case): it names the ConfigMap.
        ranges: ranges to report on; None: the cluster's (from the annotations of
            ``polardb4mpd-controller``) when ``kube`` is given, else 1-65535.
        kube: the cluster to read ranges, the switch and pods' hostPort mappings from.
        publisher: where to publish the ConfigMap; None to publish nothing.
        settings: names of the platform's objects.
        scan: the scanner; tests hand in a fake.
        scan_options: passed to the scanner (owners, verify_bind, method …).
    """
    notes: list[str] = []
    source = "argument" if ranges is not None else "default"
    if ranges is None and kube is not None:
        found = read_port_ranges(kube, settings.ports)
        ranges, source = list(found.ranges), "cluster"
        notes.extend(found.warnings)
    extra: list[PortHolder] = read_host_ports(kube, node) if kube is not None else []
    result = scan(ranges, node=node, extra=extra, **scan_options)
    if publisher is None:
        return PortsRun(result, source, notes=tuple(notes))
    if kube is not None and not read_controller_config(kube).enable_print_port:
        notes.append(f"not published: {settings.cluster.controller_config} has enablePrintPort off")
        return PortsRun(result, source, notes=tuple(notes))
    doc = ports_config_map(result, settings.ports)
    outcome = publisher.publish_config_map(doc)
    return PortsRun(result, source, published=doc, outcome=outcome, notes=tuple(notes))
