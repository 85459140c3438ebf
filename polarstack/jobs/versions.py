"""The versions job: versions from the cluster or a file, the check, the ConfigMap, the watch."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from polarstack.jobs import ConfigMapRun
from polarstack.kube.client import Kube
from polarstack.kube.readers import list_config_maps
from polarstack.kube.watches import watch_config_maps
from polarstack.model import VersionSpec
from polarstack.publishers.base import Publisher
from polarstack.publishers.contracts import versions_config_map
from polarstack.scanners.runtimes.base import ImageLister
from polarstack.scanners.versions import VersionScan, parse_version_config_maps, scan_versions
from polarstack.settings import Settings
from polarstack.timefmt import utc_now


@dataclass(frozen=True)
class VersionsRun(ConfigMapRun[VersionScan]):
    """What one run of the versions job found and did.

    ``source``: ``cluster`` (version ConfigMaps), ``file`` (--versions-file) or ``image``
    (--image).
    """


def read_cluster_versions(
    kube: Kube,
    settings: Settings = Settings(),  # noqa: B008 (frozen)
) -> tuple[list[VersionSpec], list[str]]:
    """The versions the platform defines: ConfigMaps matching the version label selector."""
    return parse_version_config_maps(list_config_maps(kube, settings.versions.selector))


def run_versions(
    *,
    node: str,
    runtime: ImageLister,
    versions: Sequence[VersionSpec] | None = None,
    source: str = "cluster",
    kube: Kube | None = None,
    publisher: Publisher | None = None,
    settings: Settings = Settings(),  # noqa: B008
    clock: Callable[[], datetime] = utc_now,
) -> VersionsRun:
    """Run the versions job once.

    Args:
        node: the Kubernetes node name (lower case): it names the ConfigMap.
        runtime: the container runtime to ask.
        versions: the versions to check; None: the cluster's (``kube`` is then required).
        source: where ``versions`` came from, for the report.
        kube: the cluster to read versions from.
        publisher: where to publish the ConfigMap; None to publish nothing.
        settings: names of the platform's objects.
        clock: returns the time to record.
    """
    notes: list[str] = []
    if versions is None:
        if kube is None:
            raise ValueError("versions or kube is needed")
        versions, warnings = read_cluster_versions(kube, settings)
        source = "cluster"
        notes.extend(warnings)
    scan = scan_versions(versions, node=node, runtime=runtime, clock=clock)
    if publisher is None:
        return VersionsRun(scan, source, notes=tuple(notes))
    doc = versions_config_map(scan, settings.versions)
    outcome = publisher.publish_config_map(doc)
    return VersionsRun(scan, source, published=doc, outcome=outcome, notes=tuple(notes))


def watch_versions(
    kube: Kube,
    *,
    on_change: Callable[[str], None],
    stop: threading.Event,
    settings: Settings = Settings(),  # noqa: B008
    timeout_seconds: int = 300,
    retry_delay: float = 5.0,
) -> None:
    """Call ``on_change(why)`` whenever a version ConfigMap is added, changed or deleted.

    See :func:`polarstack.kube.watches.watch_config_maps`; returns when ``stop`` is set.
    """
    watch_config_maps(
        kube,
        label_selector=settings.versions.selector,
        what="version ConfigMaps",
        on_change=on_change,
        stop=stop,
        timeout_seconds=timeout_seconds,
        retry_delay=retry_delay,
    )
