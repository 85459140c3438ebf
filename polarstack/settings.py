"""Defaults of every job, as grouped dataclasses (DESIGN.md, "Contracts").

Precedence, highest first: command-line flag > ``POLARSTACK_*`` environment > config file >
cluster ConfigMaps (where a job reads them) > these defaults. The CLI applies the first three;
the jobs read the cluster; these classes hold the last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta


@dataclass(frozen=True)
class ClusterSettings:
    """Where the platform's objects live and how polarstack talks to the API server."""

    namespace: str = "kube-system"
    controller_config: str = "controller-config"
    """ConfigMap with ``enablePrintPort`` and ``isCheckOObIP``."""
    ccm_config: str = "ccm-config"
    """ConfigMap with ``NET_CARD_NAME``."""
    request_timeout: float = 15.0
    """Seconds for one API call (connect and read)."""
    conflict_retries: int = 5
    """Re-reads after a 409 Conflict before a write gives up."""
    server_error_retries: int = 2
    """Retries of a call the API server answered with 429 or 5xx."""
    retry_delay: float = 0.2
    """Seconds before the first such retry; doubled for each next one."""


@dataclass(frozen=True)
class PortsSettings:
    """The ports job."""

    ranges_config_map: str = "polardb4mpd-controller"
    """ConfigMap whose annotations hold the platform's port ranges."""
    config_map_prefix: str = "cloud-provider-port-usage-"


@dataclass(frozen=True)
class VersionsSettings:
    """The versions job."""

    selector: str = "configtype=minor_version_info,dbClusterMode=WriteReadMore"
    config_map_prefix: str = "polarstack-daemon-version-availability-"


@dataclass(frozen=True)
class LogsSettings:
    """The logs job."""

    root: str = "/flash/polardb_dbcluster/"
    days: float = 3.0
    """N of the rules (``ins-folder-overdue-days``)."""
    instance_label: str = "apsara.metric.ins_id"
    """Pod label whose values are the live instance ids."""


@dataclass(frozen=True)
class NetSettings:
    """The net job."""

    nic: str = "bond1"
    """Client NIC when ``ccm-config`` names none."""
    heartbeat: timedelta = timedelta(minutes=5)
    """Node conditions are re-written at least this often, even when unchanged."""
    retry_initial: timedelta = timedelta(seconds=5)
    retry_max: timedelta = timedelta(minutes=5)
    """Backoff after a failed patch of the node's status: doubled from initial up to max."""


@dataclass(frozen=True)
class JobSchedule:
    """Seconds between runs of each job in a loop, and before one run counts as hung."""

    ports: float = 60.0
    versions: float = 600.0
    logs: float = 6 * 3600.0
    net: float = 3.0
    ports_timeout: float = 300.0
    versions_timeout: float = 300.0
    logs_timeout: float = 2 * 3600.0
    net_timeout: float = 60.0

    def interval(self, job: str) -> float:
        """The interval of ``job``."""
        return float(getattr(self, job))

    def timeout(self, job: str) -> float:
        """The timeout of one run of ``job``."""
        return float(getattr(self, f"{job}_timeout"))


JOBS = ("ports", "versions", "logs", "net")


@dataclass(frozen=True)
class DaemonSettings:
    """``polarstack daemon``."""

    jobs: tuple[str, ...] = JOBS
    listen: str = "0.0.0.0"
    port: int = 8900
    schedule: JobSchedule = field(default_factory=JobSchedule)
    recheck_config_map: str = "polarstack-version-recheck"
    """ConfigMap whose annotation every daemon watches: bumping it re-checks versions on
    every node (``POST /api/v1/RequestCheckCoreVersion``), with no pod-to-pod HTTP."""


@dataclass(frozen=True)
class Settings:
    """Every group of defaults."""

    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    ports: PortsSettings = field(default_factory=PortsSettings)
    versions: VersionsSettings = field(default_factory=VersionsSettings)
    logs: LogsSettings = field(default_factory=LogsSettings)
    net: NetSettings = field(default_factory=NetSettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
