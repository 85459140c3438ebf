"""The publisher interface: what the jobs hand over, and what a publisher must do with it.

Two implementations sit behind it: :mod:`polarstack.publishers.kube` (ConfigMaps, node
conditions and Events in the cluster) and :mod:`polarstack.publishers.local` (JSON on a
stream or in a directory), so every job runs with no cluster.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from polarstack.timefmt import parse_utc_stamp, utc_stamp


class Outcome(enum.StrEnum):
    """What publishing a ConfigMap did."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    """Nothing written: the published content was already the same."""


@dataclass(frozen=True)
class ConfigMapDoc:
    """A ConfigMap a job publishes, as its ``data`` and ``annotations``."""

    name: str
    data: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=dict)
    volatile: frozenset[str] = frozenset()
    """Data keys left out of the "did it change" comparison (times of the check): the
    ConfigMap is written when any other key changed, never for these alone. Annotations are
    never compared."""
    refresh_key: str | None = None
    """A data key holding a contract timestamp that readers take as "last checked" ..."""
    refresh_every: timedelta | None = None
    """... and is rewritten, with nothing else changed, once it is this much older than ours."""

    def same_content(self, data: Mapping[str, str] | None) -> bool:
        """Whether ``data`` (as published) already says what this document says."""
        data = data or {}
        return {k: v for k, v in data.items() if k not in self.volatile} == {
            k: v for k, v in self.data.items() if k not in self.volatile
        }

    def needs_write(self, data: Mapping[str, str] | None) -> bool:
        """Whether the published ``data`` must be replaced by this document's.

        Example:
            >>> doc = ConfigMapDoc("v", {"versions": "a", "checkTime": "2026-01-01T01:00:00Z"},
            ...                    volatile=frozenset({"checkTime"}), refresh_key="checkTime",
            ...                    refresh_every=timedelta(hours=1))
            >>> doc.needs_write({"versions": "a", "checkTime": "2026-01-01T00:30:00Z"})
            False
            >>> doc.needs_write({"versions": "a", "checkTime": "2026-01-01T00:00:00Z"})
            True
        """
        if not self.same_content(data):
            return True
        if self.refresh_key is None or self.refresh_every is None:
            return False
        ours = parse_utc_stamp(self.data.get(self.refresh_key))
        theirs = parse_utc_stamp((data or {}).get(self.refresh_key))
        return ours is None or theirs is None or ours - theirs >= self.refresh_every


@dataclass(frozen=True)
class Condition:
    """A node condition as a job states it; the condition manager adds the times."""

    type: str
    status: str
    """``True``, ``False`` or ``Unknown``."""
    reason: str
    message: str

    def same(self, published: Mapping[str, Any]) -> bool:
        """Whether ``published`` (a condition dict from the Node) says the same."""
        return (
            published.get("status") == self.status
            and published.get("reason") == self.reason
            and published.get("message") == self.message
        )

    def to_api(self, *, transition: datetime, heartbeat: datetime) -> dict[str, str]:
        """The condition as the Node's ``status.conditions`` holds it."""
        return {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "lastTransitionTime": utc_stamp(transition),
            "lastHeartbeatTime": utc_stamp(heartbeat),
        }


@dataclass(frozen=True)
class NodeEvent:
    """Something notable a job did on this node, for people reading ``kubectl describe node``."""

    reason: str
    """CamelCase, as Kubernetes reasons are (``LogsCleaned``, ``ConditionChanged``)."""
    message: str
    type: str = "Normal"
    """``Normal`` or ``Warning``."""


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
