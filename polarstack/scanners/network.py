"""The net job's probes: the client NIC's state and IPv4, and the BMC's IP.

The NIC is read from sysfs (``operstate``, ``flags``, ``carrier``) and the kernel's address
list (``getifaddrs`` through psutil), never by parsing ``ip`` output. Both follow the network
namespace of the process (``ip netns exec`` mounts that namespace's sysfs).
"""

from __future__ import annotations

import enum
import ipaddress
import re
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_IFF_UP = 0x1
_DOWN_STATES = frozenset({"down", "lowerlayerdown", "notpresent", "dormant", "testing"})
_IP_LINE = re.compile(r"^\s*IP Address\s*:\s*(\S*)\s*$", re.MULTILINE)


class LinkState(enum.StrEnum):
    """The NIC's state, as the platform names it (the reason of NodeClientNetworkUnavailable)."""

    UP = "StateUP"
    DOWN = "StateDown"
    UNKNOWN = "StateUnKnown"


@dataclass(frozen=True)
class NicStatus:
    """What the host says of the client NIC."""

    name: str
    state: LinkState
    operstate: str
    """The kernel's word (``up``, ``lowerlayerdown`` …; ``missing`` when there is no NIC)."""
    ipv4: str | None
    """The primary IPv4 address: the first in the kernel's order (primaries come before
    secondaries there); None when the NIC has none."""


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:  # carrier of an admin-down NIC reads as EINVAL
        return None


def link_state(operstate: str, *, admin_up: bool, carrier: bool) -> LinkState:
    """Map the kernel's operstate to the platform's state.

    ``unknown`` (drivers that do not report it, some bonds and tunnels) counts as UP only
    when the NIC is administratively up and has carrier. The previous daemon grepped ``ip a``
    for ``state UP``/``state DOWN`` and so called a ``LOWERLAYERDOWN`` NIC unknown.

    Example:
        >>> link_state("lowerlayerdown", admin_up=True, carrier=False)
        <LinkState.DOWN: 'StateDown'>
        >>> link_state("unknown", admin_up=True, carrier=True)
        <LinkState.UP: 'StateUP'>
    """
    if operstate == "up":
        return LinkState.UP
    if operstate in _DOWN_STATES:
        return LinkState.DOWN
    if operstate == "unknown" and admin_up and carrier:
        return LinkState.UP
    return LinkState.UNKNOWN


def primary_ipv4(name: str) -> str | None:
    """The NIC's first IPv4 address in the kernel's order, or None."""
    import psutil

    for address in psutil.net_if_addrs().get(name, []):
        if address.family == socket.AF_INET:
            return str(address.address)
    return None


def probe_nic(name: str, *, sysfs: str = "/sys/class/net") -> NicStatus:
    """Read the NIC's state and primary IPv4. A missing NIC is Unknown with no IPv4."""
    base = Path(sysfs) / name
    operstate = _read(base / "operstate")
    if operstate is None:
        return NicStatus(name, LinkState.UNKNOWN, "missing", None)
    try:
        flags = int(_read(base / "flags") or "0", 16)
    except ValueError:
        flags = 0
    carrier = _read(base / "carrier") == "1"
    state = link_state(operstate, admin_up=bool(flags & _IFF_UP), carrier=carrier)
    return NicStatus(name, state, operstate, primary_ipv4(name))


@dataclass(frozen=True)
class OobStatus:
    """What ``ipmitool lan print 1`` said of the BMC."""

    ip: str | None
    error: str | None = None
    """Why there is no IP: ipmitool missing, failed, hung, or printed no valid address."""


IpmiRunner = Callable[[float], str]
"""Runs ``ipmitool lan print 1`` with a timeout and returns its output, or raises
:class:`IpmiError` saying why it could not."""


class IpmiError(Exception):
    """ipmitool could not give an answer (the message says why)."""


def run_ipmitool(timeout: float) -> str:
    """Run ``ipmitool lan print 1`` through ``sh``, with a timeout."""
    command = shutil.which("ipmitool")
    if command is None:
        raise IpmiError("ipmitool not found")
    import sh

    try:
        return str(sh.Command(command)("lan", "print", "1", _timeout=timeout))
    except sh.TimeoutException:
        raise IpmiError(f"ipmitool timed out after {timeout:g}s") from None
    except sh.ErrorReturnCode as exc:
        lines = exc.stderr.decode(errors="replace").strip().splitlines()
        detail = f": {lines[-1]}" if lines else ""
        raise IpmiError(f"ipmitool exited {exc.exit_code}{detail}") from None


def parse_lan_print(output: str) -> OobStatus:
    r"""Find the BMC's IP in ``ipmitool lan print`` output.

    Only the ``IP Address`` line counts (not ``IP Address Source``); ``0.0.0.0`` means the BMC
    has no address.

    Example:
        >>> parse_lan_print("IP Address Source       : Static Address\n"
        ...                 "IP Address              : 10.0.0.9\n")
        OobStatus(ip='10.0.0.9', error=None)
    """
    match = _IP_LINE.search(output)
    if match is None:
        return OobStatus(None, "no IP Address line in ipmitool output")
    text = match.group(1)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return OobStatus(None, f"not an IP address in ipmitool output: {text[:40]!r}")
    if address.is_unspecified:
        return OobStatus(None, "the BMC has no IP address (0.0.0.0)")
    return OobStatus(str(address))


def probe_oob(*, timeout: float = 10.0, run: IpmiRunner = run_ipmitool) -> OobStatus:
    """Ask the BMC for its IP. Every failure is an :class:`OobStatus` with an error."""
    try:
        output = run(timeout)
    except IpmiError as exc:
        return OobStatus(None, str(exc))
    except OSError as exc:
        return OobStatus(None, f"cannot run ipmitool: {exc.strerror or exc}")
    if not output.strip():
        return OobStatus(None, "ipmitool printed nothing")
    return parse_lan_print(output)
