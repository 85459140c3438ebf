"""Events on the Node object, aggregated as the kubelet does: one Event, a growing count.

The Event's name is derived from the node, reason, message and type, so the same event
from a later run, or from another process, finds the first one and counts up instead of
adding a new Event per repeat.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from polarstack.errors import ClusterError
from polarstack.kube.answers import integer, mapping, text
from polarstack.kube.client import (
    AlreadyExistsError,
    Kube,
    ObjectConflictError,
    ObjectNotFoundError,
)
from polarstack.model import NodeEvent
from polarstack.timefmt import utc_stamp

COMPONENT = "polarstack"


def event_name(node: str, event: NodeEvent) -> str:
    """The Event's name: the node's, then a digest of what the event says."""
    digest = hashlib.sha256(f"{event.type}\0{event.reason}\0{event.message}".encode())
    return f"{node}.{COMPONENT}.{digest.hexdigest()[:16]}"


def _new_event(kube: Kube, node: str, event: NodeEvent, stamp: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": event_name(node, event), "namespace": kube.namespace},
        # uid = the node's name, as the kubelet sets it, so `kubectl describe node` lists it.
        "involvedObject": {"apiVersion": "v1", "kind": "Node", "name": node, "uid": node},
        "reason": event.reason,
        "message": event.message,
        "type": event.type,
        "count": 1,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "source": {"component": COMPONENT, "host": node},
        "reportingComponent": COMPONENT,
        "reportingInstance": node,
    }


def record_event(
    kube: Kube, node: str, event: NodeEvent, *, now: datetime, exists: bool = False
) -> None:
    """Create the Event, or count one more repeat of it (``count``, ``lastTimestamp``).

    ``exists`` says the Event was recorded before (by this process): the create, bound to
    fail, is skipped. When the Event has expired meanwhile, it is created again.

    Raises:
        ClusterError: the API server failed, or the races did not stop.
    """
    namespace, name, stamp = kube.namespace, event_name(node, event), utc_stamp(now)
    try_create = not exists
    for _attempt in range(kube.settings.conflict_retries + 1):
        if try_create:
            try:
                kube.call("create", "events", namespace, body=_new_event(kube, node, event, stamp))
                return
            except AlreadyExistsError:
                pass
        try_create = True
        try:
            current = kube.call("get", "events", namespace, name)
            what = f"Event {namespace}/{name}"
            metadata = mapping(current.get("metadata"), f"the metadata of {what}")
            patch = {
                # The resourceVersion makes the patch fail if another writer counted meanwhile.
                "metadata": {
                    "resourceVersion": text(
                        metadata.get("resourceVersion"), f"the resourceVersion of {what}"
                    )
                },
                "count": integer(current.get("count") or 1, f"the count of {what}") + 1,
                "lastTimestamp": stamp,
            }
            kube.call(
                "patch", "events", namespace, name, body=patch,
                content_type="application/merge-patch+json",
            )  # fmt: skip
            return
        except (ObjectNotFoundError, ObjectConflictError):
            continue  # expired or counted by another writer meanwhile: decide again
    raise ClusterError(f"gave up recording event {namespace}/{name}: too many concurrent writers")
