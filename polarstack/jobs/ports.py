"""The ports job: ranges from the cluster, the scan, hostPort mappings, the ConfigMap."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from polarstack.jobs import ConfigMapRun
from polarstack.jobs.contract import Job, JobContext, Metric
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
from polarstack.settings import PortsSettings, Settings


@dataclass(frozen=True)
class PortsRun(ConfigMapRun[PortScan]):
    """What one run of the ports job found and did.

    ``source`` (``ranges_source`` in JSON): ``argument`` (given), ``cluster`` (the
    annotations) or ``default`` (1-65535).
    """

    source_key: ClassVar[str] = "ranges_source"


@dataclass(frozen=True)
class PortsInputs:
    """What the ports job reads before it scans."""

    ranges: tuple[PortRange, ...]
    source: str
    """``argument``, ``cluster`` or ``default``."""
    host_ports: tuple[PortHolder, ...] = ()
    """The running pods' ``hostPort`` mappings on this node."""
    publish: bool = True
    """Whether to publish: ``controller-config``'s ``enablePrintPort``."""
    notes: tuple[str, ...] = ()


class PortsJob(Job[PortsInputs, PortsRun]):
    """Occupied ports in the platform's ranges, as ConfigMap cloud-provider-port-usage-<node>."""

    name = "ports"
    settings_type = PortsSettings
    metrics = (Metric("occupied_ports", "Occupied ports in the platform's ranges."),)

    def __init__(
        self,
        context: JobContext,
        *,
        ranges: Sequence[PortRange] | None = None,
        scan: Callable[..., PortScan] = scan_ports,
        **scan_options: Any,
    ) -> None:
        super().__init__(context)
        self.ranges = None if ranges is None else tuple(ranges)
        self.scan = scan
        self.scan_options = scan_options

    @property
    def settings(self) -> PortsSettings:
        """``settings.ports``."""
        return self.context.settings.ports

    def gather(self) -> PortsInputs:
        """Read the ranges, the pods' hostPort mappings and the switch.

        The ranges are the given ones, else the cluster's annotations, else 1-65535; the
        rest is read only with a cluster (the switch only to publish).
        """
        kube = self.context.kube
        notes: tuple[str, ...] = ()
        if self.ranges is not None:
            ranges, source = self.ranges, "argument"
        elif kube is not None:
            found = read_port_ranges(kube, self.settings)
            ranges, source, notes = found.ranges, "cluster", found.warnings
        else:
            ranges, source = (), "default"
        if kube is None:
            return PortsInputs(ranges, source, notes=notes)
        host_ports = tuple(read_host_ports(kube, self.context.node))
        publish = True
        if self.context.publisher is not None:
            publish = read_controller_config(kube).enable_print_port
        return PortsInputs(ranges, source, host_ports, publish, notes)

    def run(self, inputs: PortsInputs) -> PortsRun:
        """Scan the host's sockets (1-65535 when no range was given at all)."""
        ranges = None if inputs.source == "default" else list(inputs.ranges)
        result = self.scan(ranges, extra=list(inputs.host_ports), **self.scan_options)
        notes = inputs.notes
        if self.context.publisher is not None and not inputs.publish:
            switch = self.context.settings.cluster.controller_config
            notes = (*notes, f"not published: {switch} has enablePrintPort off")
        return PortsRun(
            self.context.node, result, inputs.source, notes=notes, publish=inputs.publish
        )

    def publish(self, result: PortsRun) -> PortsRun:
        """Write the ConfigMap on change, unless the switch is off."""
        publisher = self.context.publisher
        if publisher is None or not result.publish:
            return result
        doc = ports_config_map(result.scan, self.settings, node=result.node)
        return dataclasses.replace(result, published=doc, outcome=publisher.publish_config_map(doc))

    def measure(self, result: PortsRun) -> Mapping[str, float]:
        """``occupied_ports``."""
        return {"occupied_ports": len(result.scan.used_ports)}


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
    """Run the ports job once (:class:`PortsJob`).

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
    context = JobContext(node, kube, publisher, settings)
    return PortsJob(context, ranges=ranges, scan=scan, **scan_options).once()
