"""Which node this host is, for object names and the Node the agent reports on."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import NewType

NodeName = NewType("NodeName", str)

# Downward API sets NODE_NAME in the DaemonSet; CURRENT_NODE_NAME is what the previous
# daemon's spec set, kept so an old spec keeps working.
_ENV_KEYS = ("NODE_NAME", "CURRENT_NODE_NAME")


def resolve_node_name(
    explicit: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    hostname: str | None = None,
) -> NodeName:
    """Return the node name: ``explicit`` > ``NODE_NAME`` > ``CURRENT_NODE_NAME`` > hostname.

    Lower-cased, because Kubernetes object names are, and the platform looks objects up by
    the Node's ``metadata.name``. ``environ`` defaults to this process's environment.

    Example:
        >>> resolve_node_name(None, environ={"NODE_NAME": "Worker-1"})
        'worker-1'
    """
    environ = os.environ if environ is None else environ
    for candidate in (explicit, *(environ.get(key) for key in _ENV_KEYS)):
        if candidate and candidate.strip():
            return NodeName(candidate.strip().lower())
    return NodeName((hostname if hostname is not None else socket.gethostname()).strip().lower())
