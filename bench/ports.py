"""Full-range ports scan: polarstack vs ``ss -Htan`` vs one bind() per port (previous daemon).

Run as root (the bind loop binds ports below 1024):  python bench/ports.py [--sockets 20000]

Each size is measured in one run: the same sockets exist for every method. Sockets are made
on loopback: a child process holds the listener and the accepted ends, this process the
connecting ends (each side stays below the per-process fd limit).
"""

from __future__ import annotations

import argparse
import errno
import multiprocessing
import resource
import socket
import statistics
import subprocess
import sys
import time
from multiprocessing.connection import Connection

from _common import best_of, print_table

from polarstack.portranges import PortRange
from polarstack.scanners.ports import scan_ports
from polarstack.scanners.sockets import read_netlink, read_procfs


def bind_loop() -> list[int]:
    """The previous daemon's method: try to bind every port, report those refused."""
    used = []
    for port in range(1, 65536):
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            probe.bind(("", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                used.append(port)
        finally:
            probe.close()
    return used


def ss() -> bytes:
    return subprocess.run(["ss", "-Htan"], check=True, capture_output=True).stdout


def _serve(count: int, ready: Connection, stop: Connection) -> None:
    _raise_fd_limit()
    listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
    ready.send(listener.getsockname()[1])
    accepted = []
    while len(accepted) < count:
        accepted.append(listener.accept()[0])
    ready.send(len(accepted))
    stop.recv()


def _raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def open_connections(pairs: int) -> tuple[list[socket.socket], multiprocessing.Process, Connection]:
    """Open ``pairs`` loopback connections (2 sockets each)."""
    ready_child, ready_parent = multiprocessing.Pipe()
    stop_child, stop_parent = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(pairs, ready_parent, stop_child))
    server.start()
    port = ready_child.recv()
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(pairs)]
    ready_child.recv()
    return clients, server, stop_parent


def _paired_ratio() -> float:
    """One bind loop between two scans: the loop's time over the scans' median."""
    before, _ = best_of(scan_ports, repeat=3)
    start = time.perf_counter()
    bind_loop()
    loop = time.perf_counter() - start
    after, _ = best_of(scan_ports, repeat=3)
    return loop / statistics.median([before, after])


def measure(label: str, repeat: int, pairs: int) -> None:
    sockets = len(read_netlink())
    platform = [PortRange(5400, 5800), PortRange(30000, 32767)]
    rows = [
        (
            "polarstack scan_ports (netlink)",
            *best_of(scan_ports, repeat=repeat),
        ),
        (
            "  + every socket's details",
            *best_of(lambda: scan_ports().to_dict(), repeat=repeat),
        ),
        (
            "  ranges 5400-5800,30000-32767",
            *best_of(lambda: scan_ports(platform), repeat=repeat),
        ),
        (
            "polarstack scan_ports (procfs)",
            *best_of(lambda: scan_ports(method="procfs"), repeat=repeat),
        ),
        ("ss -Htan (subprocess)", *best_of(ss, repeat=repeat)),
        ("bind() per port, 1-65535", *best_of(bind_loop, repeat=3)),
    ]
    print_table(
        f"{label}: {sockets} sockets in the table (not TIME_WAIT)",
        rows,
        baseline="ss -Htan (subprocess)",
    )
    ours = rows[0][1]
    ss_median, bind_median = rows[4][1], rows[5][1]
    print(
        f"  full-range scan vs ss: {ours / ss_median:.2f}x (goal <= 2x); "
        f"vs bind loop: {bind_median / ours:.1f}x faster (goal >= 20x)"
    )
    # The table's rows ran one after the other, minutes apart on a shared machine. Paired
    # runs, each bind loop right beside a scan, let the machine's moods fall on both alike.
    ratios = sorted(_paired_ratio() for _ in range(pairs))
    print(
        f"  paired, {pairs} x (bind loop / the scans just before and after it): median "
        f"{statistics.median(ratios):.1f}x, range {ratios[0]:.1f}x-{ratios[-1]:.1f}x"
    )
    assert {s.port for s in read_netlink()} == {s.port for s in read_procfs()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sockets", type=int, default=20000, help="sockets for the large case")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--pairs", type=int, default=7, help="paired bind-loop/scan runs")
    args = parser.parse_args()
    _raise_fd_limit()
    print(f"python {sys.version.split()[0]}; {multiprocessing.cpu_count()} cores")
    measure("idle host", args.repeat, args.pairs)
    clients, server, stop = open_connections(args.sockets // 2)
    try:
        measure(f"{args.sockets} loopback sockets", args.repeat, args.pairs)
    finally:
        stop.send(True)
        for client in clients:
            client.close()
        server.join()


if __name__ == "__main__":
    main()
