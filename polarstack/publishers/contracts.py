"""The objects the platform reads, byte for byte as DESIGN.md's "Contracts" states them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from polarstack.model import Condition, ConfigMapDoc
from polarstack.scanners.network import LinkState, NicStatus, OobStatus
from polarstack.scanners.ports import PortScan
from polarstack.scanners.versions import VersionScan
from polarstack.settings import PortsSettings, VersionsSettings
from polarstack.timefmt import utc_stamp

PORT_IN_USE = "the port already use"
"""The value of every key of the ports ConfigMap (the platform's wording, kept as is)."""


def ports_config_map(
    scan: PortScan,
    settings: PortsSettings = PortsSettings(),  # noqa: B008 (frozen)
    *,
    node: str,
) -> ConfigMapDoc:
    """ConfigMap ``cloud-provider-port-usage-<node>``: one key per occupied port.

    ``node`` is the Kubernetes node name, lower case: the platform finds the ConfigMap by
    each Node's ``metadata.name``. The platform reads only the keys (trimmed, integers
    1-65535). ``updateTimestamp`` says when the scan ran; it is written along with a change
    and never causes one.

    Example:
        >>> from datetime import datetime, UTC
        >>> from polarstack.portranges import PortRange
        >>> scan = PortScan((PortRange(5400, 5800),), (5432,),
        ...                 datetime(2024, 5, 1, tzinfo=UTC), "netlink")
        >>> doc = ports_config_map(scan, node="n1")
        >>> doc.name, dict(doc.data), dict(doc.annotations)
        ('cloud-provider-port-usage-n1', {'5432': 'the port already use'}, \
{'updateTimestamp': '2024-05-01T00:00:00Z'})
    """
    return ConfigMapDoc(
        name=f"{settings.config_map_prefix}{node}",
        data={str(port): PORT_IN_USE for port in scan.used_ports},
        annotations={"updateTimestamp": utc_stamp(scan.scanned_at)},
    )


CHECK_TIME_REFRESH = timedelta(hours=1)
"""How often ``checkTime`` is rewritten when the available versions did not change."""


def versions_config_map(
    scan: VersionScan,
    settings: VersionsSettings = VersionsSettings(),  # noqa: B008 (frozen)
    *,
    node: str,
) -> ConfigMapDoc:
    """ConfigMap ``polarstack-daemon-version-availability-<node>`` (the node name, lower case).

    ``existingVersions`` is the available versions' names joined by ``,`` (no trailing
    comma); ``checkTime`` the UTC time of the check. It is written when the set of available
    versions changed, and otherwise once an hour to refresh ``checkTime``, which the platform
    reads as "last checked".
    """
    return ConfigMapDoc(
        name=f"{settings.config_map_prefix}{node}",
        data={
            "existingVersions": ",".join(scan.existing_versions),
            "checkTime": utc_stamp(scan.checked_at),
        },
        volatile=frozenset({"checkTime"}),
        refresh_key="checkTime",
        refresh_every=CHECK_TIME_REFRESH,
    )


CLIENT_NETWORK = "NodeClientNetworkUnavailable"
CLIENT_IP = "NodeClientIP"
OOB_IP = "NodeOobIP"
REFRESH = "NodeRefreshFlag"
NET_CONDITION_TYPES = frozenset({CLIENT_NETWORK, CLIENT_IP, OOB_IP, REFRESH})
NO_IP = "0.0.0.0"


@dataclass(frozen=True)
class LastKnown:
    """The last IPs seen, for the messages of conditions that have none now."""

    client_ip: str | None = None
    oob_ip: str | None = None


def net_conditions(
    nic: NicStatus,
    oob: OobStatus | None,
    last: LastKnown = LastKnown(),
) -> list[Condition]:
    """The net job's node conditions, field by field as DESIGN.md states them.

    ``oob`` None (``isCheckOObIP`` off) leaves ``NodeOobIP`` out.

    Example:
        >>> from polarstack.scanners.network import LinkState, NicStatus
        >>> for c in net_conditions(NicStatus("bond1", LinkState.DOWN, "down", None), None,
        ...                         LastKnown(client_ip="10.0.0.5")):
        ...     print(c.type, c.status, c.reason, c.message, sep=" | ")
        NodeClientNetworkUnavailable | True | StateDown | bond1 StateDown
        NodeClientIP | False | bond1 | 10.0.0.5
        NodeRefreshFlag | True | Refresh | Refresh
    """
    up = nic.state is LinkState.UP
    conditions = [
        Condition(CLIENT_NETWORK, "False" if up else "True", nic.state.value,
                  f"{nic.name} {nic.state.value}"),
        Condition(CLIENT_IP, "True", nic.name, nic.ipv4) if nic.ipv4
        else Condition(CLIENT_IP, "False", nic.name, last.client_ip or NO_IP),
    ]  # fmt: skip
    if oob is not None:
        conditions.append(
            Condition(OOB_IP, "True", "PowerOn", oob.ip)
            if oob.ip
            else Condition(OOB_IP, "False", f"error: {oob.error}", last.oob_ip or NO_IP)
        )
    conditions.append(Condition(REFRESH, "True", "Refresh", "Refresh"))
    return conditions
