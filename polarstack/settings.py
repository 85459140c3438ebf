"""Defaults of every job, as grouped dataclasses (DESIGN.md, "Contracts").

Precedence, highest first: command-line flag > ``POLARSTACK_*`` environment > config file >
cluster ConfigMaps (where a job reads them) > these defaults. The CLI resolves the first three
per option with click and builds one :class:`Settings` from them (:meth:`Settings.with_values`),
its option defaults read from here (:meth:`Settings.default_of`); the jobs read the cluster.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from polarstack.errors import UsageError

T = TypeVar("T")


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
    interval: float = 60.0
    """Seconds between runs in a loop."""
    timeout: float = 300.0
    """Seconds after which a run counts as hung."""


@dataclass(frozen=True)
class VersionsSettings:
    """The versions job."""

    selector: str = "configtype=minor_version_info,dbClusterMode=WriteReadMore"
    config_map_prefix: str = "polarstack-daemon-version-availability-"
    runtime: str = "auto"
    """Container runtime to ask: ``auto``, ``cri``, ``docker`` or ``podman``."""
    runtime_endpoint: str | None = None
    """The runtime's socket (for podman, a service URL); None: the runtime's default."""
    interval: float = 600.0
    timeout: float = 300.0


@dataclass(frozen=True)
class LogsSettings:
    """The logs job."""

    root: str = "/flash/polardb_dbcluster/"
    days: float = 3.0
    """N of the rules (``ins-folder-overdue-days``)."""
    instance_label: str = "apsara.metric.ins_id"
    """Pod label whose values are the live instance ids."""
    interval: float = 6 * 3600.0
    timeout: float = 2 * 3600.0


@dataclass(frozen=True)
class NetSettings:
    """The net job."""

    nic: str = "bond1"
    """Client NIC when ``ccm-config`` names none."""
    client_nic: str | None = None
    """The client NIC to probe, given by the user; None: ``ccm-config``'s, else :attr:`nic`."""
    check_oob: bool | None = None
    """Whether to report the BMC IP, given by the user; None: ``controller-config``'s
    ``isCheckOObIP``, else on."""
    heartbeat: timedelta = timedelta(minutes=5)
    """Node conditions are re-written at least this often, even when unchanged."""
    retry_initial: timedelta = timedelta(seconds=5)
    retry_max: timedelta = timedelta(minutes=5)
    """Backoff after a failed patch of the node's status: doubled from initial up to max."""
    interval: float = 3.0
    timeout: float = 60.0


@dataclass(frozen=True)
class DaemonSettings:
    """``polarstack daemon``."""

    jobs: tuple[str, ...] | None = None
    """Jobs to run, by registered name; None: every registered job."""
    listen: str = "0.0.0.0"
    port: int = 8900
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
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Settings of jobs added beside the built-in four, by job name."""

    def for_job(self, name: str, kind: type[T]) -> T:
        """The settings of the job called ``name``.

        Its group here for a built-in job, else its entry in :attr:`extra`, else ``kind()``.
        """
        found = getattr(self, name, None) if name in _GROUPS else self.extra.get(name)
        return found if isinstance(found, kind) else kind()

    @staticmethod
    def default_of(dotted: str, kinds: Mapping[str, type[Any]] | None = None) -> Any:
        """The default of the setting ``group.field``, as written on its class.

        ``kinds``: the settings classes of jobs beside the built-in four, by job name.

        Raises:
            UsageError: a name that is not a settings field.
        """
        kind, name = _split(dotted, kinds or {})
        return getattr(kind(), name)

    def with_values(
        self, values: Mapping[str, Any], kinds: Mapping[str, type[Any]] | None = None
    ) -> Settings:
        """A copy with fields replaced, each named ``group.field`` (``logs.days``).

        This is how every front end (flags, ``POLARSTACK_*``, the config file) builds the
        one ``Settings`` it passes on: each default stays written once, on these classes.
        A group that is not built in is a job's in :attr:`extra`, of its class in ``kinds``.

        Example:
            >>> Settings().with_values({"logs.days": 7.0, "ports.interval": 30.0}).logs.days
            7.0

        Raises:
            UsageError: a name that is not a settings field.
        """
        groups: dict[str, dict[str, Any]] = {}
        kinds_of: dict[str, type[Any]] = {}
        for dotted, value in values.items():
            kind, name = _split(dotted, kinds or {})
            group = dotted.partition(".")[0]
            groups.setdefault(group, {})[name] = value
            kinds_of[group] = kind
        built_in: dict[str, Any] = {}
        extra = dict(self.extra)
        for group, changes in groups.items():
            current = self.for_job(group, kinds_of[group])
            target = built_in if group in _GROUPS else extra
            target[group] = dataclasses.replace(current, **changes)
        return dataclasses.replace(self, **built_in, extra=extra)


def _split(dotted: str, kinds: Mapping[str, type[Any]]) -> tuple[type[Any], str]:
    """The settings class of ``group.field``'s group, and the field's name."""
    group, _dot, name = dotted.partition(".")
    kind = type(getattr(_DEFAULTS, group)) if group in _GROUPS else kinds.get(group)
    if kind is None or name not in {f.name for f in dataclasses.fields(kind)}:
        raise UsageError(f"no such setting: {dotted!r}")
    return kind, name


_DEFAULTS = Settings()
_GROUPS = frozenset(f.name for f in dataclasses.fields(Settings)) - {"extra"}
