"""Following ConfigMaps as they change: list, then watch from the list's resourceVersion."""

from __future__ import annotations

import threading
from collections.abc import Callable

from polarstack.errors import ClusterError
from polarstack.kube.answers import mapping
from polarstack.kube.client import Kube, ResourceExpiredError


def watch_config_maps(
    kube: Kube,
    *,
    on_change: Callable[[str], None],
    stop: threading.Event,
    label_selector: str | None = None,
    field_selector: str | None = None,
    what: str = "ConfigMaps",
    timeout_seconds: int = 300,
    retry_delay: float = 5.0,
) -> None:
    """Call ``on_change(why)`` whenever a matching ConfigMap is added, changed or deleted.

    Lists the ConfigMaps, then watches from the list's resourceVersion, so no change falls
    between the two. When a watch ends (after ``timeout_seconds``) it resumes from the last
    event; when the server says that is too old (410 Gone) it lists again and calls
    ``on_change``, since a change may have been missed. An API failure waits
    ``retry_delay`` seconds and lists again. Returns when ``stop`` is set (at the latest
    when the current watch ends).
    """
    namespace = kube.namespace
    selectors = {"labelSelector": label_selector, "fieldSelector": field_selector}
    version: str | None = None
    listed_before = False
    while not stop.is_set():
        try:
            if version is None:
                listed = kube.call("list", "configmaps", namespace, query=selectors)
                listing = mapping(listed.get("metadata"), f"the metadata of the {what} listed")
                version = str(listing.get("resourceVersion", ""))
                if listed_before:
                    on_change(f"listed the {what} again")
                listed_before = True
            for kind, obj in kube.watch(
                "configmaps", namespace, resource_version=version,
                timeout_seconds=timeout_seconds, query=selectors,
            ):  # fmt: skip
                metadata = mapping(obj.get("metadata"), f"the metadata of a {what} event")
                version = str(metadata.get("resourceVersion") or version)
                if kind in ("ADDED", "MODIFIED", "DELETED"):
                    on_change(f"ConfigMap {metadata.get('name', '?')} {kind.lower()}")
                if stop.is_set():
                    return
        except ResourceExpiredError:
            version = None
        except ClusterError:
            version = None
            stop.wait(retry_delay)
