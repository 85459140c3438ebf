"""The versions job: versions from the cluster or a file, the check, the ConfigMap, the watch."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from polarstack.errors import UsageError
from polarstack.jobs import ConfigMapRun
from polarstack.jobs.contract import Job, JobContext, Metric, Watch
from polarstack.kube.client import Kube
from polarstack.kube.readers import list_config_maps
from polarstack.model import VersionSpec
from polarstack.publishers.base import Publisher
from polarstack.publishers.contracts import versions_config_map
from polarstack.scanners.runtimes.base import ImageLister
from polarstack.scanners.runtimes.detect import open_runtime
from polarstack.scanners.versions import VersionScan, parse_version_config_maps, scan_versions
from polarstack.settings import Settings, VersionsSettings
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


@dataclass(frozen=True)
class VersionsInputs:
    """The versions to check, and where they came from."""

    versions: tuple[VersionSpec, ...]
    source: str
    notes: tuple[str, ...] = ()


class VersionsJob(Job[VersionsInputs, VersionsRun]):
    """Engine versions with all their images here, as ConfigMap ``polarstack-daemon-version-…``.

    The runtime is opened at the first run and again after a failed one, so a runtime that
    starts after the agent is found.
    """

    name = "versions"
    settings_type = VersionsSettings
    metrics = (Metric("available_versions", "Engine versions with all their images on this host."),)

    def __init__(
        self,
        context: JobContext,
        *,
        runtime: ImageLister | None = None,
        versions: Sequence[VersionSpec] | None = None,
        source: str = "cluster",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(context)
        self._given_runtime = runtime
        self._lister = runtime
        self.versions = None if versions is None else tuple(versions)
        self.source = source
        self.clock = clock

    @property
    def settings(self) -> VersionsSettings:
        """``settings.versions``."""
        return self.context.settings.versions

    def gather(self) -> VersionsInputs:
        """The versions given, else the cluster's version ConfigMaps.

        Raises:
            UsageError: neither versions nor a cluster were given.
        """
        if self.versions is not None:
            return VersionsInputs(self.versions, self.source)
        if self.context.kube is None:
            raise UsageError("the versions job needs versions or a cluster to read them from")
        versions, warnings = read_cluster_versions(self.context.kube, self.context.settings)
        return VersionsInputs(tuple(versions), "cluster", tuple(warnings))

    def run(self, inputs: VersionsInputs) -> VersionsRun:
        """Ask the runtime which images it holds."""
        if self._lister is None:
            self._lister = open_runtime(self.settings.runtime, self.settings.runtime_endpoint)
        try:
            scan = scan_versions(inputs.versions, runtime=self._lister, clock=self.clock)
        except Exception:
            self._lister = self._given_runtime
            raise
        return VersionsRun(self.context.node, scan, inputs.source, notes=inputs.notes)

    def publish(self, result: VersionsRun) -> VersionsRun:
        """Write the ConfigMap when the available versions changed, or to refresh it."""
        publisher = self.context.publisher
        if publisher is None:
            return result
        doc = versions_config_map(result.scan, self.settings, node=result.node)
        return dataclasses.replace(result, published=doc, outcome=publisher.publish_config_map(doc))

    def measure(self, result: VersionsRun) -> Mapping[str, float]:
        """``available_versions``."""
        return {"available_versions": len(result.scan.existing_versions)}

    def watches(self) -> Sequence[Watch]:
        """The version ConfigMaps, and the re-check ConfigMap every agent follows."""
        recheck = self.context.settings.daemon.recheck_config_map
        return (
            Watch("version ConfigMaps", label_selector=self.settings.selector),
            Watch("re-check requests", field_selector=f"metadata.name={recheck}"),
        )


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
    """Run the versions job once (:class:`VersionsJob`).

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
    job = VersionsJob(
        JobContext(node, kube, publisher, settings),
        runtime=runtime,
        versions=versions,
        source=source,
        clock=clock,
    )
    return job.once()
