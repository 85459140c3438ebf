"""Reading and patching the conditions of a Node (``nodes/status``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from polarstack.kube.answers import mapping, objects
from polarstack.kube.client import Kube

STRATEGIC_MERGE = "application/strategic-merge-patch+json"


def read_conditions(kube: Kube, node: str) -> list[dict[str, Any]]:
    """Every condition on ``node``, as the API server has them.

    Raises:
        ClusterError: the read failed, or the conditions are not a list of objects.
    """
    answer = kube.call("get", "nodes", None, node)
    status = mapping(answer.get("status"), f"the status of node {node}")
    return list(objects(status.get("conditions"), f"the conditions of node {node}"))


def patch_conditions(kube: Kube, node: str, conditions: Sequence[Mapping[str, Any]]) -> None:
    """Merge ``conditions`` into the node's by ``type``: one strategic merge patch.

    Conditions of other types (the kubelet's ``Ready`` and the rest) are not in the patch, and
    a strategic merge keyed on ``type`` leaves them as they are.
    """
    kube.call(
        "patch", "nodes", None, node, subresource="status",
        body={"status": {"conditions": [dict(c) for c in conditions]}},
        content_type=STRATEGIC_MERGE,
    )  # fmt: skip
