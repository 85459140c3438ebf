"""polarstack: the PolarDB Stack node agent, as a library.

The public API is what this module exports (``__all__``); every submodule is internal and
may change. One function per job, each returning a frozen result whose ``to_dict()`` is the
JSON the command line prints:

==================  ======================================  ==================
job                 scan / plan (reads only)                 run (and publish)
==================  ======================================  ==================
ports               :func:`scan_ports`                       :func:`run_ports`
versions            :func:`scan_versions`                    :func:`run_versions`
logs                :func:`plan_clean`, then :func:`clean`   :func:`run_logs`
net                 :func:`probe_network`                    :class:`NetJob`
==================  ======================================  ==================

Publishing goes through a :class:`Publisher`: :class:`KubePublisher` (after
:func:`connect`) or :class:`LocalPublisher`. Nothing here imports the Kubernetes client,
click or rich; :func:`connect` imports the client when called.

Example:
    >>> import polarstack
    >>> scan = polarstack.scan_ports(polarstack.parse_ranges("5400-5800"), node="worker-1")
    >>> sorted(scan.to_dict())[:3]
    ['bind_verified', 'method', 'node']
"""

from typing import TYPE_CHECKING, Any

# Every public name, and the module that defines it. They are imported on first use
# (PEP 562), so ``import polarstack`` costs almost nothing and a script pays only for the
# jobs it uses. Type checkers see the imports below.
_EXPORTS: dict[str, str] = {
    "ALL_RULES": "polarstack.model",
    "AUTO_ORDER": "polarstack.scanners.runtimes",
    "ApiServer": "polarstack.daemon.http",
    "CleanPlan": "polarstack.cleaners.logs",
    "CleanReport": "polarstack.cleaners.deleting",
    "ClusterError": "polarstack.errors",
    "ClusterForbiddenError": "polarstack.errors",
    "ClusterSettings": "polarstack.settings",
    "ClusterTarget": "polarstack.kube.client",
    "ClusterUnreachableError": "polarstack.errors",
    "Condition": "polarstack.model",
    "ConditionManager": "polarstack.publishers.conditions",
    "ConfigMapDoc": "polarstack.model",
    "ConfigurationError": "polarstack.errors",
    "ControllerConfig": "polarstack.kube.readers",
    "Daemon": "polarstack.daemon.service",
    "DaemonSettings": "polarstack.settings",
    "Health": "polarstack.runner",
    "HostAccessError": "polarstack.errors",
    "ImageLister": "polarstack.scanners.runtimes",
    "ImageRef": "polarstack.imageref",
    "JOBS": "polarstack.settings",
    "JobLoop": "polarstack.runner",
    "Kube": "polarstack.kube.client",
    "KubePublisher": "polarstack.publishers.kube",
    "LinkState": "polarstack.scanners.network",
    "LiveIds": "polarstack.model",
    "LocalPublisher": "polarstack.publishers.local",
    "Job": "polarstack.jobs.contract",
    "JobContext": "polarstack.jobs.contract",
    "LogsJob": "polarstack.jobs.logs",
    "PortsJob": "polarstack.jobs.ports",
    "VersionsJob": "polarstack.jobs.versions",
    "LogsRun": "polarstack.jobs.logs",
    "LogsSettings": "polarstack.settings",
    "NetConditions": "polarstack.jobs.net",
    "NetJob": "polarstack.jobs.net",
    "net_options": "polarstack.jobs.net",
    "load_versions_file": "polarstack.scanners.versions",
    "NetProbe": "polarstack.jobs.net",
    "NetSettings": "polarstack.settings",
    "NicStatus": "polarstack.scanners.network",
    "NodeEvent": "polarstack.model",
    "NodeName": "polarstack.nodename",
    "OobStatus": "polarstack.scanners.network",
    "Outcome": "polarstack.model",
    "PartialFailureError": "polarstack.errors",
    "PolarstackError": "polarstack.errors",
    "PortHolder": "polarstack.model",
    "PortRange": "polarstack.portranges",
    "PortScan": "polarstack.scanners.ports",
    "PortsRun": "polarstack.jobs.ports",
    "PortsSettings": "polarstack.settings",
    "Publisher": "polarstack.publishers.base",
    "RUNTIMES": "polarstack.scanners.runtimes.detect",
    "Rule": "polarstack.model",
    "RuleCounts": "polarstack.cleaners.deleting",
    "RuntimeImage": "polarstack.scanners.runtimes",
    "RuntimeUnavailableError": "polarstack.errors",
    "Settings": "polarstack.settings",
    "UnsafeRootError": "polarstack.errors",
    "UsageError": "polarstack.errors",
    "VersionScan": "polarstack.scanners.versions",
    "VersionSpec": "polarstack.model",
    "VersionStatus": "polarstack.scanners.versions",
    "VersionsRun": "polarstack.jobs.versions",
    "VersionsSettings": "polarstack.settings",
    "__version__": "polarstack._version",
    "clean": "polarstack.cleaners.deleting",
    "cluster_configured": "polarstack.kube.client",
    "connect": "polarstack.kube.client",
    "human_size": "polarstack.units",
    "install_units": "polarstack.systemd",
    "open_runtime": "polarstack.scanners.runtimes",
    "parse_annotation": "polarstack.portranges",
    "parse_duration": "polarstack.durations",
    "parse_image_ref": "polarstack.imageref",
    "parse_ranges": "polarstack.portranges",
    "parse_rules": "polarstack.cleaners.logs",
    "parse_version_config_maps": "polarstack.scanners.versions",
    "parse_versions_file": "polarstack.scanners.versions",
    "plan_clean": "polarstack.cleaners.logs",
    "probe_network": "polarstack.jobs.net",
    "read_controller_config": "polarstack.kube.readers",
    "read_host_ports": "polarstack.kube.readers",
    "read_live_ids": "polarstack.kube.readers",
    "read_net_card_name": "polarstack.kube.readers",
    "read_port_ranges": "polarstack.kube.readers",
    "resolve_node_name": "polarstack.nodename",
    "run_logs": "polarstack.jobs.logs",
    "run_ports": "polarstack.jobs.ports",
    "run_versions": "polarstack.jobs.versions",
    "scan_ports": "polarstack.scanners.ports",
    "scan_versions": "polarstack.scanners.versions",
    "uninstall_units": "polarstack.systemd",
    "SYSTEMD_UNIT_DIR": "polarstack.systemd",
    "SYSTEMD_ENV_FILE": "polarstack.systemd",
    "SYSTEMD_TIMERS": "polarstack.systemd",
}

if TYPE_CHECKING:
    from polarstack._version import __version__
    from polarstack.cleaners.deleting import CleanReport, RuleCounts, clean
    from polarstack.cleaners.logs import CleanPlan, parse_rules, plan_clean
    from polarstack.daemon.http import ApiServer
    from polarstack.daemon.service import Daemon
    from polarstack.durations import parse_duration
    from polarstack.errors import (
        ClusterError,
        ClusterForbiddenError,
        ClusterUnreachableError,
        ConfigurationError,
        HostAccessError,
        PartialFailureError,
        PolarstackError,
        RuntimeUnavailableError,
        UnsafeRootError,
        UsageError,
    )
    from polarstack.imageref import ImageRef, parse_image_ref
    from polarstack.jobs.contract import Job, JobContext
    from polarstack.jobs.logs import LogsJob, LogsRun, run_logs
    from polarstack.jobs.net import NetConditions, NetJob, NetProbe, net_options, probe_network
    from polarstack.jobs.ports import PortsJob, PortsRun, run_ports
    from polarstack.jobs.versions import VersionsJob, VersionsRun, run_versions
    from polarstack.kube.client import (
        ClusterTarget,
        Kube,
        cluster_configured,
        connect,
    )
    from polarstack.kube.readers import (
        ControllerConfig,
        read_controller_config,
        read_host_ports,
        read_live_ids,
        read_net_card_name,
        read_port_ranges,
    )
    from polarstack.model import (
        ALL_RULES,
        Condition,
        ConfigMapDoc,
        LiveIds,
        NodeEvent,
        Outcome,
        PortHolder,
        Rule,
        VersionSpec,
    )
    from polarstack.nodename import NodeName, resolve_node_name
    from polarstack.portranges import PortRange, parse_annotation, parse_ranges
    from polarstack.publishers.base import Publisher
    from polarstack.publishers.conditions import ConditionManager
    from polarstack.publishers.kube import KubePublisher
    from polarstack.publishers.local import LocalPublisher
    from polarstack.runner import Health, JobLoop
    from polarstack.scanners.network import LinkState, NicStatus, OobStatus
    from polarstack.scanners.ports import PortScan, scan_ports
    from polarstack.scanners.runtimes import AUTO_ORDER, ImageLister, RuntimeImage, open_runtime
    from polarstack.scanners.runtimes.detect import RUNTIMES
    from polarstack.scanners.versions import (
        VersionScan,
        VersionStatus,
        load_versions_file,
        parse_version_config_maps,
        parse_versions_file,
        scan_versions,
    )
    from polarstack.settings import (
        JOBS,
        ClusterSettings,
        DaemonSettings,
        LogsSettings,
        NetSettings,
        PortsSettings,
        Settings,
        VersionsSettings,
    )
    from polarstack.systemd import (
        SYSTEMD_ENV_FILE,
        SYSTEMD_TIMERS,
        SYSTEMD_UNIT_DIR,
        install_units,
        uninstall_units,
    )
    from polarstack.units import human_size


if not TYPE_CHECKING:  # a type checker must see the imports above, not a catch-all

    def __getattr__(name: str) -> Any:
        module = _EXPORTS.get(name)
        if module is None:
            raise AttributeError(f"module 'polarstack' has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # the next access is a plain lookup
        return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "ALL_RULES",
    "AUTO_ORDER",
    "JOBS",
    "RUNTIMES",
    "SYSTEMD_ENV_FILE",
    "SYSTEMD_TIMERS",
    "SYSTEMD_UNIT_DIR",
    "ApiServer",
    "CleanPlan",
    "CleanReport",
    "ClusterError",
    "ClusterForbiddenError",
    "ClusterSettings",
    "ClusterTarget",
    "ClusterUnreachableError",
    "Condition",
    "ConditionManager",
    "ConfigMapDoc",
    "ConfigurationError",
    "ControllerConfig",
    "Daemon",
    "DaemonSettings",
    "Health",
    "HostAccessError",
    "ImageLister",
    "ImageRef",
    "Job",
    "JobContext",
    "JobLoop",
    "Kube",
    "KubePublisher",
    "LinkState",
    "LiveIds",
    "LocalPublisher",
    "LogsJob",
    "LogsRun",
    "LogsSettings",
    "NetConditions",
    "NetJob",
    "NetProbe",
    "NetSettings",
    "NicStatus",
    "NodeEvent",
    "NodeName",
    "OobStatus",
    "Outcome",
    "PartialFailureError",
    "PolarstackError",
    "PortHolder",
    "PortRange",
    "PortScan",
    "PortsJob",
    "PortsRun",
    "PortsSettings",
    "Publisher",
    "Rule",
    "RuleCounts",
    "RuntimeImage",
    "RuntimeUnavailableError",
    "Settings",
    "UnsafeRootError",
    "UsageError",
    "VersionScan",
    "VersionSpec",
    "VersionStatus",
    "VersionsJob",
    "VersionsRun",
    "VersionsSettings",
    "__version__",
    "clean",
    "cluster_configured",
    "connect",
    "human_size",
    "install_units",
    "load_versions_file",
    "net_options",
    "open_runtime",
    "parse_annotation",
    "parse_duration",
    "parse_image_ref",
    "parse_ranges",
    "parse_rules",
    "parse_version_config_maps",
    "parse_versions_file",
    "plan_clean",
    "probe_network",
    "read_controller_config",
    "read_host_ports",
    "read_live_ids",
    "read_net_card_name",
    "read_port_ranges",
    "resolve_node_name",
    "run_logs",
    "run_ports",
    "run_versions",
    "scan_ports",
    "scan_versions",
    "uninstall_units",
]
