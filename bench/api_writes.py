"""API writes per node per hour: polarstack's loops vs the previous daemon's schedule.

Run:  python bench/api_writes.py [--hours 1] [--flips 10] [--nodes 5000]

Runs the net loop (a probe every 3 s) and the ports loop (a scan every 60 s) of one node for
a simulated hour against the tests' fake API server, through the real Kubernetes client. The
clock is simulated (no waiting); the NIC and the socket table are simulated too, so the
steady state is exact: nothing changes but the time. A second run flips the NIC 10 times in
the hour and checks each flip reached the API on the probe right after it.

The previous daemon patched the node's conditions twice every 3 s whatever happened
(2 x 1,200 = 2,400 writes per hour); its ports ConfigMap was written on change only, so at
steady state it adds nothing there.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from polarstack.jobs.net import NetConditions
from polarstack.jobs.ports import run_ports
from polarstack.kube.client import ClusterTarget, connect
from polarstack.portranges import PortRange
from polarstack.publishers.kube import KubePublisher
from polarstack.scanners.network import LinkState, NicStatus
from polarstack.scanners.ports import scan_ports
from polarstack.scanners.sockets import RawSocket
from tests.fakekube import FakeKube

NET_INTERVAL = 3
PORTS_INTERVAL = 60
PREVIOUS_DAEMON_PER_HOUR = 2 * 3600 // NET_INTERVAL
T0 = datetime(2026, 11, 27, tzinfo=UTC)


def simulate(hours: float, flips: int) -> tuple[dict[str, int], list[float]]:
    """Run both loops; return writes by resource and each flip's delay to the API (s)."""
    with FakeKube() as fake, tempfile.TemporaryDirectory() as work:
        fake.put("nodes", {"metadata": {"name": "n1"}, "status": {"conditions": []}})
        kube = connect(
            ClusterTarget(str(fake.write_kubeconfig(Path(work) / "kubeconfig"))), environ={}
        )
        publisher = KubePublisher(kube)
        now = [T0]
        clock = lambda: now[0]  # noqa: E731
        duration = int(hours * 3600)
        flip_at = [duration * (i + 1) // (flips + 1) for i in range(flips)]
        nic_up = [True]

        def nic(name: str) -> NicStatus:
            state = LinkState.UP if nic_up[0] else LinkState.DOWN
            return NicStatus(name, state, "up" if nic_up[0] else "lowerlayerdown", "10.0.0.5")

        sockets = [RawSocket(2, 10, "0.0.0.0", port, 0) for port in (5432, 5433)]
        net = NetConditions(node="n1", nic="bond1", check_oob=False, publisher=publisher,
                     clock=clock, probe_nic=nic)  # fmt: skip
        delays = []
        pending: float | None = None
        for second in range(duration):
            now[0] = T0 + timedelta(seconds=second)
            if second in flip_at:
                nic_up[0] = not nic_up[0]
                pending = second
            if second % NET_INTERVAL == 0:
                probe = net.run()
                if pending is not None and probe.sync is not None and probe.sync.written:
                    delays.append(second - pending)
                    pending = None
            if second % PORTS_INTERVAL == 0:
                run_ports(
                    node="n1",
                    ranges=[PortRange(5400, 5800)],
                    publisher=publisher,
                    scan=lambda ranges, **kw: scan_ports(
                        ranges, read=lambda r, method: (sockets, "netlink"), clock=clock, **kw
                    ),
                )
        writes: dict[str, int] = {}
        for request in fake.writes():
            writes[request.resource] = writes.get(request.resource, 0) + 1
        return writes, delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--flips", type=int, default=10)
    parser.add_argument("--nodes", type=int, default=5000)
    args = parser.parse_args()
    seconds = args.hours * 3600
    previous = PREVIOUS_DAEMON_PER_HOUR * args.hours
    for title, flips in (("steady state", 0), (f"{args.flips} NIC flips", args.flips)):
        writes, delays = simulate(args.hours, flips)
        total = sum(writes.values())
        detail = ", ".join(f"{k} {v}" for k, v in sorted(writes.items()))
        print(f"\n{title}, {args.hours:g} h, one node ({detail})")
        at_scale = f"writes/s at {args.nodes} nodes"
        print(f"  {'schedule':<28}{'writes':>10}{at_scale:>28}{'x polarstack':>16}")
        for name, count in (("polarstack", total), ("previous daemon", previous)):
            rate = count * args.nodes / seconds
            print(f"  {name:<28}{count:>10.0f}{rate:>28.2f}{count / total:>16.1f}")
        if flips:
            late = [d for d in delays if d > NET_INTERVAL]
            print(
                f"  flips seen by the API: {len(delays)} of {flips}, delay max {max(delays)} s "
                f"(interval {NET_INTERVAL} s)" + (f"; LATE: {late}" if late else "")
            )


if __name__ == "__main__":
    main()
