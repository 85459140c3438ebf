"""The Kubernetes publisher: ConfigMaps, node conditions and Events in the cluster.

Nothing here imports ``kubernetes`` at import time; :func:`connect` does, when called.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from polarstack.publishers.base import ConfigMapDoc, NodeEvent, Outcome
from polarstack.publishers.kube import configmaps, events, nodes
from polarstack.publishers.kube.client import ClusterTarget, Kube, cluster_configured, connect

__all__ = ["ClusterTarget", "Kube", "KubePublisher", "cluster_configured", "connect"]


class KubePublisher:
    """The :class:`~polarstack.publishers.base.Publisher` that writes to the cluster."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self._recorded: set[tuple[str, NodeEvent]] = set()

    def publish_config_map(self, doc: ConfigMapDoc) -> Outcome:
        """See :func:`polarstack.publishers.kube.configmaps.publish_config_map`."""
        return configmaps.publish_config_map(self.kube, doc)

    def read_conditions(self, node: str) -> Sequence[Mapping[str, Any]]:
        """See :func:`polarstack.publishers.kube.nodes.read_conditions`."""
        return nodes.read_conditions(self.kube, node)

    def patch_conditions(self, node: str, conditions: Sequence[Mapping[str, Any]]) -> None:
        """See :func:`polarstack.publishers.kube.nodes.patch_conditions`."""
        nodes.patch_conditions(self.kube, node, conditions)

    def record_event(self, node: str, event: NodeEvent, *, now: datetime) -> None:
        """See :func:`polarstack.publishers.kube.events.record_event`."""
        key = (node, event)
        events.record_event(self.kube, node, event, now=now, exists=key in self._recorded)
        self._recorded.add(key)
