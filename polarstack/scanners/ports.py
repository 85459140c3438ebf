"""The ports job: which TCP ports are occupied on this host, within the platform's ranges.

A port is occupied when a TCP socket, IPv4 or IPv6, on any local address, in any state but
TIME_WAIT, has it as its local port in this network namespace. Ports that a pod takes through
a ``hostPort`` mapping hold no socket on the host; the caller adds them (see ``extra``).
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from polarstack import portranges, procfs
from polarstack.model import PortHolder
from polarstack.portranges import FULL_RANGE, PortRange
from polarstack.scanners.sockets import RawSocket, TcpState, read_sockets
from polarstack.timefmt import utc_now, utc_stamp

_FAMILY_NAMES: dict[int, str] = {socket.AF_INET: "ipv4", socket.AF_INET6: "ipv6"}
_STATE_NAMES = {state.value: state.name for state in TcpState}


@dataclass(frozen=True)
class PortScan:
    """What a ports scan found.

    ``sockets`` is built on first access: a host may hold 100,000 sockets, and publishing
    needs only ``used_ports``.
    """

    ranges: tuple[PortRange, ...]
    used_ports: tuple[int, ...]
    """Occupied ports within ``ranges``, sorted."""
    scanned_at: datetime
    method: str
    """How the socket table was read: ``netlink`` or ``procfs`` (``none`` without ranges)."""
    warnings: tuple[str, ...] = ()
    bind_verified: bool = False
    """Whether each port in ``used_ports`` was confirmed by a failing bind()."""
    table: tuple[RawSocket, ...] = field(default=(), repr=False, compare=False)
    """The socket-table rows behind ``used_ports`` (internal)."""
    owners: Mapping[int, tuple[int, str | None]] = field(
        default_factory=dict, repr=False, compare=False
    )
    """Socket inode to (pid, process name), when owners were looked up (internal)."""
    extra: tuple[PortHolder, ...] = field(default=(), repr=False, compare=False)
    """Holders found outside the socket table, such as pods' ``hostPort`` (internal)."""

    @cached_property
    def sockets(self) -> tuple[PortHolder, ...]:
        """Every holder of a port in ``used_ports``, sorted by port."""
        used = set(self.used_ports)
        holders = [
            PortHolder(
                port=raw.port,
                family=_FAMILY_NAMES.get(raw.family, str(raw.family)),
                address=raw.address,
                state=_STATE_NAMES.get(raw.state) or f"STATE_{raw.state}",
                pid=self.owners[raw.inode][0] if raw.inode in self.owners else None,
                process=self.owners[raw.inode][1] if raw.inode in self.owners else None,
            )
            for raw in self.table
            if raw.port in used
        ]
        holders.extend(h for h in self.extra if h.port in used)
        holders.sort(key=lambda h: (h.port, h.source, h.family, h.address, h.state))
        return tuple(holders)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object ``polarstack ports scan --output json`` prints."""
        return {
            "ranges": [r.to_list() for r in self.ranges],
            "used_ports": list(self.used_ports),
            "sockets": [holder.to_dict() for holder in self.sockets],
            "warnings": list(self.warnings),
            "scanned_at": utc_stamp(self.scanned_at),
            "method": self.method,
            "bind_verified": self.bind_verified,
        }


def scan_ports(
    ranges: Sequence[PortRange] | None = None,
    *,
    owners: bool = False,
    verify_bind: bool = False,
    extra: Iterable[PortHolder] = (),
    method: str = "auto",
    proc: str = "/proc",
    clock: Callable[[], datetime] = utc_now,
    read: Callable[..., tuple[list[RawSocket], str]] = read_sockets,
) -> PortScan:
    """Scan this network namespace for occupied TCP ports within ``ranges`` (default 1-65535).

    Args:
        ranges: inclusive ranges to report on; overlapping ranges are merged. None means
            1-65535; an empty list means none (the platform configured no ranges).
        owners: look up the pid and process name holding each socket (one pass over /proc).
        verify_bind: confirm each occupied port with a real bind(); ports that bind are
            dropped with a warning (their socket closed between the scan and the check).
        extra: holders found elsewhere (pods' ``hostPort`` mappings) to report as occupied.
        method: ``auto``, ``netlink`` or ``procfs`` (see :mod:`polarstack.scanners.sockets`).
        proc: where procfs is mounted.
        clock: returns the time to record.
        read: the socket-table reader; tests hand in a fake.

    Example:
        >>> import socket
        >>> listener = socket.create_server(("127.0.0.1", 0))
        >>> port = listener.getsockname()[1]
        >>> scan = scan_ports([PortRange(port, port)])
        >>> scan.used_ports == (port,)
        True
        >>> listener.close()
    """
    merged = portranges.merge([FULL_RANGE] if ranges is None else ranges)
    scanned_at = clock()
    if merged:
        table, used_method = read([(r.start, r.end) for r in merged], method=method)
    else:
        table, used_method = [], "none"  # no ranges: nothing to report, nothing to read
    extras = tuple(h for h in extra if portranges.contains(merged, h.port))
    socket_ports = {raw.port for raw in table}
    seen = socket_ports.union(h.port for h in extras)
    used = sorted(port for port in seen if portranges.contains(merged, port))
    warnings = ephemeral_overlap_warnings(merged, proc=proc)
    if verify_bind:
        free = [port for port in used if port in socket_ports and not bind_refused(port)]
        if free:
            warnings.append(
                f"{len(free)} port(s) seen in the socket table were free at the bind check "
                f"(their socket closed meanwhile), dropped: {_port_list(free)}"
            )
            dropped = set(free)
            used = [port for port in used if port not in dropped]
    return PortScan(
        ranges=tuple(merged),
        used_ports=tuple(used),
        scanned_at=scanned_at,
        method=used_method,
        warnings=tuple(warnings),
        bind_verified=verify_bind,
        table=tuple(table),
        owners=_owners(table, set(used), proc) if owners else {},
        extra=extras,
    )


def _owners(
    table: Sequence[RawSocket], used: set[int], proc: str
) -> dict[int, tuple[int, str | None]]:
    """Map the inode of each socket on a used port to (pid, name), one /proc pass."""
    holders = procfs.read_open_handles(proc).socket_owners
    names: dict[int, str | None] = {}
    owners = {}
    for raw in table:
        pid = holders.get(raw.inode) if raw.inode and raw.port in used else None
        if pid is not None:
            if pid not in names:
                names[pid] = procfs.process_name(pid, proc)
            owners[raw.inode] = (pid, names[pid])
    return owners


def _port_list(ports: Sequence[int], limit: int = 20) -> str:
    shown = ", ".join(map(str, ports[:limit]))
    return shown + (f" and {len(ports) - limit} more" if len(ports) > limit else "")


def bind_refused(port: int) -> bool:
    """Return whether binding ``port`` on the wildcard address fails because it is in use.

    Tries IPv4 and, where the host has it, IPv6 (v6-only, so the two checks are independent).
    """
    attempts = [(socket.AF_INET, "0.0.0.0")]
    if socket.has_ipv6:
        attempts.append((socket.AF_INET6, "::"))
    for family, address in attempts:
        try:
            probe = socket.socket(family, socket.SOCK_STREAM)
        except OSError:
            continue  # family disabled on this host
        with probe:
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind((address, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return True
                if exc.errno != errno.EADDRNOTAVAIL:
                    raise
    return False


def ephemeral_range(proc: str = "/proc") -> PortRange | None:
    """Return the kernel's ephemeral port range, or None when it cannot be read."""
    try:
        with open(f"{proc}/sys/net/ipv4/ip_local_port_range", encoding="ascii") as f:
            low, high = (int(part) for part in f.read().split())
    except (OSError, ValueError):
        return None
    return PortRange(low, high)


def ephemeral_overlap_warnings(ranges: Sequence[PortRange], *, proc: str = "/proc") -> list[str]:
    """Warn for each range that overlaps the kernel's ephemeral port range."""
    ephemeral = ephemeral_range(proc)
    if ephemeral is None:
        return []
    return [
        f"range {r} overlaps the kernel's ephemeral ports {ephemeral} "
        f"(net.ipv4.ip_local_port_range): outgoing connections can take ports there at any moment"
        for r in ranges
        if r.start <= ephemeral.end and ephemeral.start <= r.end
    ]
