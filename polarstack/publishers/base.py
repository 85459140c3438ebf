"""The publisher interface: what the jobs hand over, and what a publisher must do with it.

Two implementations sit behind it: :mod:`polarstack.publishers.kube` (ConfigMaps, node
conditions and Events in the cluster) and :mod:`polarstack.publishers.local` (JSON on a
stream or in a directory), so every job runs with no cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from polarstack.model import ConfigMapDoc, NodeEvent, Outcome


class Publisher(Protocol):
    """Where the jobs' results go."""

    def publish_config_map(self, doc: ConfigMapDoc) -> Outcome:
        """Create or update the ConfigMap; write nothing when its content is unchanged."""

    def read_conditions(self, node: str) -> Sequence[Mapping[str, Any]]:
        """The node's current conditions (all of them, ours and others')."""

    def patch_conditions(self, node: str, conditions: Sequence[Mapping[str, Any]]) -> None:
        """Merge ``conditions`` into the node's, by type, leaving other types alone."""

    def record_event(self, node: str, event: NodeEvent, *, now: datetime) -> None:
        """Record ``event`` on the node, counting repeats instead of adding new ones."""
