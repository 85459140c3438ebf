"""Real NICs for the tests: network namespaces and veth pairs made with iproute2."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

_serial = itertools.count()


def ip(*args: str, netns: str | None = None) -> None:
    """Run ``ip`` (inside ``netns`` when given); fail loudly."""
    prefix = ["ip", "netns", "exec", netns] if netns else []
    subprocess.run([*prefix, "ip", *args], check=True, capture_output=True)


def can_make_namespaces() -> str | None:
    """None when this host can make network namespaces, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 is not installed (apt-get install iproute2)"
    probe = f"ps-probe-{os.getpid()}"
    result = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if result.returncode != 0:
        return f"ip netns add failed: {result.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


@dataclass
class VethPair:
    """A NIC (``name``) and its peer; the NIC lives in ``netns`` or in the host namespace."""

    name: str
    peer: str
    netns: str
    """The namespace holding the peer, and the NIC too unless ``host_side``."""
    host_side: bool

    def _where(self, nic: str) -> str | None:
        return None if (self.host_side and nic == self.name) else self.netns

    def set(self, nic: str, state: str) -> None:
        """``ip link set NIC up|down``."""
        ip("link", "set", nic, state, netns=self._where(nic))

    def address(self, cidr: str) -> None:
        """Add an address to the NIC."""
        family = "-6" if ":" in cidr else "-4"
        ip(family, "addr", "add", cidr, "dev", self.name, netns=self._where(self.name))

    def rename(self, new: str) -> None:
        """Rename the NIC (it must be down)."""
        ip("link", "set", self.name, "name", new, netns=self._where(self.name))
        self.name = new


@contextmanager
def veth(name: str | None = None, *, host_side: bool = False) -> Iterator[VethPair]:
    """A veth pair: the NIC ``name`` and its peer, in a fresh network namespace.

    With ``host_side`` the NIC is in this process's namespace (so in-process probes and the
    fake API server on 127.0.0.1 both see it) and only the peer is in the namespace.
    """
    n = next(_serial)
    netns = f"ps-test-{os.getpid()}-{n}"
    nic = name or f"psnic{os.getpid() % 10000}x{n}"
    peer = f"pspeer{os.getpid() % 10000}x{n}"
    pair = VethPair(nic, peer, netns, host_side)
    ip("netns", "add", netns)
    try:
        ip("link", "set", "lo", "up", netns=netns)
        ip("link", "add", nic, "type", "veth", "peer", "name", peer)
        ip("link", "set", peer, "netns", netns)
        if not host_side:
            ip("link", "set", nic, "netns", netns)
        yield pair
    finally:
        if host_side:  # deleting one end deletes the pair
            subprocess.run(["ip", "link", "del", pair.name], capture_output=True)
        ip("netns", "del", netns)
