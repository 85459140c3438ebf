"""The Kubernetes publisher: ConfigMaps, node conditions and Events in the cluster.

It writes through :mod:`polarstack.kube`, the only code that talks to the API server;
nothing here imports ``kubernetes`` at import time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from polarstack.kube import configmaps, events, nodes
from polarstack.kube.client import Kube
from polarstack.model import ConfigMapDoc, NodeEvent, Outcome


class KubePublisher:
    """The :class:`~polarstack.publishers.base.Publisher` that writes to the cluster."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self._recorded: set[tuple[str, NodeEvent]] = set()

    def publish_config_map(self, doc: ConfigMapDoc) -> Outcome:
        """See :func:`polarstack.kube.configmaps.publish_config_map`."""
        return configmaps.publish_config_map(self.kube, doc)

    def read_conditions(self, node: str) -> Sequence[Mapping[str, Any]]:
        """See :func:`polarstack.kube.nodes.read_conditions`."""
        return nodes.read_conditions(self.kube, node)

    def patch_conditions(self, node: str, conditions: Sequence[Mapping[str, Any]]) -> None:
        """See :func:`polarstack.kube.nodes.patch_conditions`."""
        nodes.patch_conditions(self.kube, node, conditions)

    def record_event(self, node: str, event: NodeEvent, *, now: datetime) -> None:
        """See :func:`polarstack.kube.events.record_event`."""
        key = (node, event)
        events.record_event(self.kube, node, event, now=now, exists=key in self._recorded)
        self._recorded.add(key)
