"""The net job: probe the client NIC and the BMC, keep the node's conditions up to date."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from polarstack.errors import PolarstackError
from polarstack.jobs.contract import Job, JobContext
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
class NetConditions:
    """A node's net conditions: probed on each run, published through a condition manager.

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

    def seed(self) -> list[str]:
        """Read the published conditions once (the last known IPs); return what failed."""
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

    def probe(self) -> NetProbe:
        """Probe the NIC and the BMC once, and remember the IPs they gave."""
        probe = probe_network(
            self.nic, check_oob=self.check_oob, node=self.node, last=self.last,
            clock=self.clock, nic_probe=self.probe_nic, oob_probe=self.probe_oob,
        )  # fmt: skip
        self.last = LastKnown(
            client_ip=probe.nic.ipv4 or self.last.client_ip,
            oob_ip=(probe.oob.ip if probe.oob else None) or self.last.oob_ip,
        )
        return probe

    def publish(self, probe: NetProbe) -> NetProbe:
        """With a publisher, write the conditions if due and record their transitions."""
        if self.manager is None or self.publisher is None:
            return probe
        failures = list(probe.cluster_failures)
        self.manager.set(list(probe.conditions))
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
        return dataclasses.replace(probe, sync=sync, cluster_failures=tuple(failures))

    def run(self) -> NetProbe:
        """Seed (once), probe and publish."""
        failures = self.seed()
        probe = self.probe()
        return self.publish(dataclasses.replace(probe, cluster_failures=tuple(failures)))


@dataclass(frozen=True)
class NetInputs:
    """The NIC to probe, the BMC switch, and what reading the cluster failed to give."""

    nic: str
    check_oob: bool
    cluster_failures: tuple[str, ...] = ()


class NetJob(Job[NetInputs, NetProbe]):
    """The client NIC, the BMC IP and a heartbeat, as conditions on the node.

    The NIC name (``ccm-config``) and the BMC switch (``controller-config``) are read at the
    first run and again once per heartbeat period, not on every probe: a probe every 3 s
    must not cost two reads each.
    """

    name = "net"
    settings_type = NetSettings

    def __init__(
        self,
        context: JobContext,
        *,
        clock: Callable[[], datetime] = utc_now,
        nic_probe: Callable[[str], NicStatus] = probe_nic,
        oob_probe: Callable[[], OobStatus] = probe_oob,
    ) -> None:
        super().__init__(context)
        self.clock = clock
        self.nic_probe = nic_probe
        self.oob_probe = oob_probe
        self.conditions: NetConditions | None = None
        self._configured_at: datetime | None = None

    @property
    def settings(self) -> NetSettings:
        """``settings.net``."""
        return self.context.settings.net

    def gather(self) -> NetInputs:
        """Read the NIC, the switch and (once) the node's published conditions.

        The NIC and the switch come from the settings when given, else from the cluster,
        read again once per heartbeat period.
        """
        now = self.clock()
        fresh = self._configured_at is not None and (
            now - self._configured_at < self.settings.heartbeat
        )
        if self.conditions is None or not fresh:
            nic, check_oob = net_options(
                self.context.kube,
                nic=self.settings.client_nic,
                check_oob=self.settings.check_oob,
                settings=self.settings,
            )
            self._configured_at = now
            current = self.conditions
            if current is None or (current.nic, current.check_oob) != (nic, check_oob):
                self.conditions = NetConditions(
                    node=self.context.node,
                    nic=nic,
                    check_oob=check_oob,
                    publisher=self.context.publisher,
                    clock=self.clock,
                    settings=self.settings,
                    probe_nic=self.nic_probe,
                    probe_oob=self.oob_probe,
                    last=current.last if current is not None else LastKnown(),
                )
        conditions = self.conditions
        assert conditions is not None
        return NetInputs(conditions.nic, conditions.check_oob, tuple(conditions.seed()))

    def run(self, inputs: NetInputs) -> NetProbe:
        """Probe the NIC and the BMC."""
        assert self.conditions is not None, "gather() comes first"
        probe = self.conditions.probe()
        return dataclasses.replace(probe, cluster_failures=inputs.cluster_failures)

    def publish(self, result: NetProbe) -> NetProbe:
        """Write the conditions on change and on the heartbeat; record transitions."""
        assert self.conditions is not None, "gather() comes first"
        return self.conditions.publish(result)
