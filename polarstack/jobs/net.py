"""The net job: probe the client NIC and the BMC, keep the node's conditions up to date."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from polarstack.errors import PolarstackError, raise_for_cluster_failures
from polarstack.kube.client import Kube
from polarstack.kube.readers import read_controller_config, read_net_card_name
from polarstack.model import Condition
from polarstack.nodename import resolve_node_name
from polarstack.publishers.base import Publisher
from polarstack.publishers.conditions import ConditionManager, SyncResult, transition_event
from polarstack.publishers.contracts import (
    CLIENT_IP,
    NET_CONDITION_TYPES,
    OOB_IP,
    LastKnown,
    net_conditions,
)
from polarstack.scanners.network import NicStatus, OobStatus, probe_nic, probe_oob
from polarstack.settings import NetSettings
from polarstack.timefmt import utc_now, utc_stamp


@dataclass(frozen=True)
class NetProbe:
    """One probe: the NIC, the BMC, and the conditions they make."""

    node: str
    nic: NicStatus
    oob: OobStatus | None
    """None when the BMC check is off (``isCheckOObIP``)."""
    conditions: tuple[Condition, ...]
    checked_at: datetime
    sync: SyncResult | None = None
    """What publishing did, when publishing."""
    notes: tuple[str, ...] = ()
    cluster_failures: tuple[str, ...] = ()
    """What publishing was asked to do with the cluster and could not: read the published
    conditions, write them, record an Event."""

    def raise_for_cluster(self) -> None:
        """Raise when publishing failed this probe.

        Raises:
            ClusterError: naming each failure.
        """
        raise_for_cluster_failures(self.cluster_failures)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``polarstack net probe --output json`` prints."""
        result: dict[str, Any] = {
            "node": self.node,
            "nic": self.nic.name,
            "nic_operstate": self.nic.operstate,
            "conditions": [
                {"type": c.type, "status": c.status, "reason": c.reason, "message": c.message}
                for c in self.conditions
            ],
            "checked_at": utc_stamp(self.checked_at),
            "notes": [*self.notes, *self.cluster_failures],
        }
        if self.sync is not None:
            result["published"] = {
                "written": self.sync.written,
                "transitions": [t.condition.type for t in self.sync.transitions],
                "error": self.sync.error,
            }
        return result


def net_options(
    kube: Kube | None,
    *,
    nic: str | None = None,
    check_oob: bool | None = None,
    settings: NetSettings = NetSettings(),  # noqa: B008 (frozen)
) -> tuple[str, bool]:
    """The NIC and the BMC switch: as given, else from the cluster, else the defaults.

    The NIC comes from ``ccm-config`` (``NET_CARD_NAME``), the switch from
    ``controller-config`` (``isCheckOObIP``); without a cluster: ``bond1`` and on.
    """
    if nic is None:
        nic = read_net_card_name(kube, settings.nic) if kube is not None else settings.nic
    if check_oob is None:
        check_oob = read_controller_config(kube).check_oob_ip if kube is not None else True
    return nic, check_oob


def probe_network(
    nic: str = NetSettings.nic,
    *,
    check_oob: bool = True,
    node: str | None = None,
    last: LastKnown = LastKnown(),  # noqa: B008 (frozen)
    clock: Callable[[], datetime] = utc_now,
    nic_probe: Callable[[str], NicStatus] = probe_nic,
    oob_probe: Callable[[], OobStatus] = probe_oob,
) -> NetProbe:
    """Probe the client NIC (and the BMC) once; return the node conditions they make.

    Publishes nothing: :class:`NetJob` keeps a node's conditions up to date.

    Example:
        >>> probe = probe_network("lo", check_oob=False, node="n1")
        >>> [c.type for c in probe.conditions]
        ['NodeClientNetworkUnavailable', 'NodeClientIP', 'NodeRefreshFlag']
    """
    status = nic_probe(nic)
    oob = oob_probe() if check_oob else None
    conditions = net_conditions(status, oob, last)
    return NetProbe(resolve_node_name(node), status, oob, tuple(conditions), clock())


@dataclass
class NetJob:
    """Probes on each :meth:`run` and publishes through a condition manager.

    Remembers the last IPs seen (seeded from the node's conditions at start), so a NIC that
    loses its address reports the address it had, as the platform expects.
    """

    node: str
    nic: str
    check_oob: bool = True
    publisher: Publisher | None = None
    clock: Callable[[], datetime] = utc_now
    settings: NetSettings = field(default_factory=NetSettings)
    probe_nic: Callable[[str], NicStatus] = probe_nic
    probe_oob: Callable[[], OobStatus] = probe_oob
    last: LastKnown = field(default_factory=LastKnown)
    manager: ConditionManager | None = field(default=None, init=False)
    _seeded: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if self.publisher is not None:
            types = NET_CONDITION_TYPES if self.check_oob else NET_CONDITION_TYPES - {OOB_IP}
            self.manager = ConditionManager(
                self.publisher, self.node, types, clock=self.clock, settings=self.settings
            )

    def _seed(self) -> list[str]:
        """Read the published conditions once; return what failed."""
        if self._seeded or self.manager is None:
            return []
        try:
            published = self.manager.load()
        except PolarstackError as exc:
            return [f"could not read node {self.node}'s conditions: {exc}"]
        self._seeded = True
        client, oob = published.get(CLIENT_IP), published.get(OOB_IP)
        self.last = LastKnown(
            client_ip=client.message if client and client.status == "True" else self.last.client_ip,
            oob_ip=oob.message if oob and oob.status == "True" else self.last.oob_ip,
        )
        return []

    def run(self) -> NetProbe:
        """Probe once; with a publisher, write the conditions if due and record transitions."""
        failures = self._seed()
        probe = probe_network(
            self.nic, check_oob=self.check_oob, node=self.node, last=self.last,
            clock=self.clock, nic_probe=self.probe_nic, oob_probe=self.probe_oob,
        )  # fmt: skip
        nic, oob, conditions = probe.nic, probe.oob, list(probe.conditions)
        self.last = LastKnown(
            client_ip=nic.ipv4 or self.last.client_ip,
            oob_ip=(oob.ip if oob else None) or self.last.oob_ip,
        )
        sync = None
        if self.manager is not None and self.publisher is not None:
            self.manager.set(conditions)
            sync = self.manager.sync()
            if sync.error:
                failures.append(f"conditions not written: {sync.error}")
            for transition in sync.transitions:
                if transition.previous is None:
                    continue  # first publication, not a change
                try:
                    self.publisher.record_event(
                        self.node, transition_event(transition), now=self.clock()
                    )
                except PolarstackError as exc:
                    failures.append(f"could not record the event: {exc}")
        return NetProbe(
            self.node,
            nic,
            oob,
            tuple(conditions),
            self.clock(),
            sync,
            cluster_failures=tuple(failures),
        )
