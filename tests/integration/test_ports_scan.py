"""The ports scanner against real sockets on loopback."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from polarstack.portranges import PortRange
from polarstack.scanners import sockets
from polarstack.scanners.ports import bind_refused, ephemeral_overlap_warnings, scan_ports
from polarstack.scanners.sockets import TcpState, read_netlink, read_procfs, without_accepted

METHODS = ["netlink", "procfs"]


@pytest.fixture
def listeners() -> Iterator[dict[str, socket.socket]]:
    made = {
        "v4": socket.create_server(("127.0.0.1", 0)),
        "v6": socket.create_server(("::1", 0), family=socket.AF_INET6),
        "any": socket.create_server(("", 0)),
        "any6": socket.create_server(("::", 0), family=socket.AF_INET6, dualstack_ipv6=True),
    }
    yield made
    for s in made.values():
        s.close()


def port_of(s: socket.socket) -> int:
    return int(s.getsockname()[1])


def only(port: int) -> list[PortRange]:
    return [PortRange(port, port)]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind", ["v4", "v6", "any", "any6"])
def test_listeners_on_every_address_are_occupied(listeners, method: str, kind: str):
    port = port_of(listeners[kind])
    scan = scan_ports(only(port), method=method)
    assert scan.used_ports == (port,)
    (holder,) = scan.sockets
    assert holder.state == "LISTEN"
    assert holder.family == ("ipv6" if kind in ("v6", "any6") else "ipv4")
    assert scan.method == method


@pytest.mark.parametrize("method", METHODS)
def test_local_port_of_an_outgoing_connection_is_occupied(listeners, method: str):
    client = socket.create_connection(("127.0.0.1", port_of(listeners["v4"])))
    try:
        port = port_of(client)
        scan = scan_ports(only(port), method=method)
        assert scan.used_ports == (port,)
        assert scan.sockets[0].state == "ESTABLISHED"
    finally:
        client.close()


def _tcp_states(port: int) -> set[int]:
    states = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as table:
            next(table)
            for line in table:
                fields = line.split()
                if int(fields[1].split(":")[1], 16) == port:
                    states.add(int(fields[3], 16))
    return states


@pytest.mark.parametrize("method", METHODS)
def test_a_time_wait_socket_does_not_occupy_its_port(method: str):
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(("127.0.0.1", port_of(server)))
    accepted, _ = server.accept()
    port = port_of(client)
    server.close()
    client.close()  # the active closer enters TIME_WAIT once the peer closes too
    accepted.close()
    deadline = time.monotonic() + 5
    while _tcp_states(port) != {TcpState.TIME_WAIT} and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _tcp_states(port) == {TcpState.TIME_WAIT}
    assert scan_ports(only(port), method=method).used_ports == ()


def test_both_edges_of_a_range_are_reported():
    low = socket.create_server(("127.0.0.1", 0))
    high = socket.create_server(("127.0.0.1", 0))
    try:
        a, b = sorted((port_of(low), port_of(high)))
        scan = scan_ports([PortRange(a, b)])
        assert a in scan.used_ports and b in scan.used_ports
        narrow = scan_ports([PortRange(a + 1, b - 1)]) if b - a > 1 else None
        assert narrow is None or (a not in narrow.used_ports and b not in narrow.used_ports)
    finally:
        low.close()
        high.close()


def test_ports_outside_the_ranges_are_left_out(listeners):
    port = port_of(listeners["v4"])
    others = [PortRange(port - 1, port - 1), PortRange(port + 1, port + 1)]
    assert port not in scan_ports(others).used_ports


def test_netlink_and_procfs_agree(listeners):
    server = listeners["v4"]
    clients = [socket.create_connection(("127.0.0.1", port_of(server))) for _ in range(5)]
    accepted = [server.accept()[0] for _ in clients]
    try:
        assert sorted(read_netlink()) == sorted(without_accepted(read_procfs()))
    finally:
        for s in clients + accepted:
            s.close()


def test_accepted_connections_are_left_to_their_listener(listeners):
    server = listeners["v4"]
    client = socket.create_connection(("127.0.0.1", port_of(server)))
    accepted, _ = server.accept()
    try:
        scan = scan_ports(only(port_of(server)))
        assert [h.state for h in scan.sockets] == ["LISTEN"]
    finally:
        client.close()
        accepted.close()


def test_the_kernel_filter_handles_many_ranges(listeners):
    port = port_of(listeners["v4"])
    # every other port around ours: many small ranges, some containing ours
    ranges = [PortRange(p, p) for p in range(port - 400, port + 400, 2) if 0 < p <= 65535]
    if not any(port in r for r in ranges):
        ranges.append(PortRange(port, port))
    table = read_netlink([(r.start, r.end) for r in ranges])
    assert port in {raw.port for raw in table}
    assert all(any(raw.port in r for r in ranges) for raw in table)


def test_more_ranges_than_the_filter_takes_still_scan_right(listeners, monkeypatch):
    monkeypatch.setattr(sockets, "_MAX_FILTER_RANGES", 1)
    port = port_of(listeners["v4"])
    scan = scan_ports([PortRange(1, 2), PortRange(port, port)])
    assert scan.used_ports == (port,)


def test_owners_name_this_process(listeners):
    port = port_of(listeners["v4"])
    (holder,) = scan_ports(only(port), owners=True).sockets
    import os

    assert holder.pid == os.getpid()
    assert holder.process


def test_bind_check_confirms_listeners_and_connections(listeners):
    client = socket.create_connection(("127.0.0.1", port_of(listeners["v4"])))
    try:
        assert bind_refused(port_of(listeners["v4"]))
        assert bind_refused(port_of(listeners["v6"]))
        assert bind_refused(port_of(client))
    finally:
        client.close()


def test_bind_check_drops_ports_whose_socket_closed():
    server = socket.create_server(("127.0.0.1", 0))
    port = port_of(server)
    stale = [sockets.RawSocket(socket.AF_INET, TcpState.LISTEN, "127.0.0.1", port, 1)]
    server.close()
    scan = scan_ports(
        only(port), verify_bind=True, read=lambda ranges, method: (stale, "fake")
    )
    assert scan.used_ports == ()
    assert any("free at the bind check" in w for w in scan.warnings)
    assert scan.bind_verified


def test_ephemeral_overlap_warns(tmp_path):
    (tmp_path / "sys/net/ipv4").mkdir(parents=True)
    (tmp_path / "sys/net/ipv4/ip_local_port_range").write_text("32768\t60999\n")
    warnings = ephemeral_overlap_warnings(
        [PortRange(5400, 5800), PortRange(60000, 61000)], proc=str(tmp_path)
    )
    assert len(warnings) == 1 and "60000-61000" in warnings[0] and "32768-60999" in warnings[0]


def test_to_dict_keeps_the_documented_keys(listeners):
    port = port_of(listeners["v4"])
    data = scan_ports(only(port)).to_dict()
    assert {"ranges", "used_ports", "sockets", "warnings", "scanned_at"} <= set(data)
    assert data["ranges"] == [[port, port]]
    assert data["scanned_at"].endswith("Z")
    assert set(data["sockets"][0]) >= {"port", "family", "address", "state", "pid", "process"}
