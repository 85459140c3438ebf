"""The net job on real NICs (network namespaces, veth pairs) and a stub ipmitool."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from polarstack.jobs.net import NetConditions
from polarstack.kube.client import Kube
from polarstack.publishers.kube import KubePublisher
from polarstack.scanners.network import OobStatus, probe_oob
from tests.conftest import CliRunner, require
from tests.fakekube import FakeKube
from tests.netns import VethPair, can_make_namespaces, veth

pytestmark = pytest.mark.netns


@pytest.fixture(scope="module")
def namespaces() -> None:
    reason = can_make_namespaces()
    require(reason is None, reason or "")


@pytest.fixture
def bond1(namespaces: None) -> Iterator[VethPair]:
    """NIC bond1 and its peer, both up, in a fresh namespace."""
    with veth("bond1") as pair:
        pair.set(pair.peer, "up")
        pair.set(pair.name, "up")
        yield pair


def probe_in(pair: VethPair, *args: str) -> dict[str, object]:
    """Run ``polarstack net probe`` inside the pair's namespace; return its JSON."""
    result = subprocess.run(
        ["ip", "netns", "exec", pair.netns, sys.executable, "-m", "polarstack_cli",
         "net", "probe", "--no-oob", "--node-name", "n1", "-o", "json", *args],
        capture_output=True, text=True, env={**os.environ, "POLARSTACK_CONFIG": os.devnull},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def conditions(data: dict[str, object]) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in data["conditions"]}  # type: ignore[attr-defined,index]


def wait_operstate(pair: VethPair, want: str) -> None:
    # The kernel sets operstate asynchronously after a link change (linkwatch).
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        out = subprocess.run(
            ["ip", "netns", "exec", pair.netns, "cat", f"/sys/class/net/{pair.name}/operstate"],
            capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        if out == want:
            return
        time.sleep(0.02)
    raise AssertionError(f"{pair.name} never became {want}")


def test_up_with_ipv4(bond1: VethPair) -> None:
    bond1.address("10.9.0.2/24")
    wait_operstate(bond1, "up")
    data = probe_in(bond1)
    assert data["nic"] == "bond1" and data["nic_operstate"] == "up"
    assert conditions(data) == {
        "NodeClientNetworkUnavailable": ("False", "StateUP", "bond1 StateUP"),
        "NodeClientIP": ("True", "bond1", "10.9.0.2"),
        "NodeRefreshFlag": ("True", "Refresh", "Refresh"),
    }


def test_peer_down_is_lowerlayerdown_is_down(bond1: VethPair) -> None:
    bond1.set(bond1.peer, "down")
    wait_operstate(bond1, "lowerlayerdown")
    data = probe_in(bond1)
    assert data["nic_operstate"] == "lowerlayerdown"
    assert conditions(data)["NodeClientNetworkUnavailable"] == (
        "True",
        "StateDown",
        "bond1 StateDown",
    )


def test_admin_down(bond1: VethPair) -> None:
    bond1.address("10.9.0.2/24")
    bond1.set(bond1.name, "down")
    wait_operstate(bond1, "down")
    data = probe_in(bond1)
    assert conditions(data)["NodeClientNetworkUnavailable"] == (
        "True",
        "StateDown",
        "bond1 StateDown",
    )
    assert conditions(data)["NodeClientIP"] == ("True", "bond1", "10.9.0.2")  # still assigned


def test_no_ipv4_and_ipv6_only(bond1: VethPair) -> None:
    assert conditions(probe_in(bond1))["NodeClientIP"] == ("False", "bond1", "0.0.0.0")
    bond1.address("2001:db8::2/64")
    assert conditions(probe_in(bond1))["NodeClientIP"] == ("False", "bond1", "0.0.0.0")


def test_two_ipv4s_take_the_kernel_primary(bond1: VethPair) -> None:
    bond1.address("10.9.0.7/24")
    bond1.address("10.9.0.2/24")  # secondary in the same subnet, though lower
    bond1.address("10.8.0.1/24")
    assert conditions(probe_in(bond1))["NodeClientIP"] == ("True", "bond1", "10.9.0.7")


def test_missing_and_renamed_nic(bond1: VethPair) -> None:
    missing = conditions(probe_in(bond1, "--nic", "eth9"))
    assert missing["NodeClientNetworkUnavailable"] == ("True", "StateUnKnown", "eth9 StateUnKnown")
    assert missing["NodeClientIP"] == ("False", "eth9", "0.0.0.0")
    bond1.set("bond1", "down")
    bond1.rename("bond2")
    bond1.set("bond2", "up")
    wait_operstate(bond1, "up")
    assert conditions(probe_in(bond1))["NodeClientNetworkUnavailable"][1] == "StateUnKnown"
    assert conditions(probe_in(bond1, "--nic", "bond2"))["NodeClientNetworkUnavailable"] == (
        "False",
        "StateUP",
        "bond2 StateUP",
    )


# --- ipmitool -------------------------------------------------------------------------------

LAN_PRINT = """\
Set in Progress         : Set Complete
Auth Type Support       : NONE MD2 MD5 PASSWORD
IP Address Source       : Static Address
IP Address              : 192.168.50.21
Subnet Mask             : 255.255.255.0
MAC Address             : 3c:ec:ef:12:34:56
SNMP Community String   : public
Default Gateway IP      : 192.168.50.1
802.1q VLAN ID          : Disabled
Cipher Suite Priv Max   : XaaaXXaaaXXaaXX
"""


@pytest.fixture
def ipmitool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Put a stub ``ipmitool`` first on PATH; the returned function sets what it does."""
    stub = tmp_path / "bin" / "ipmitool"
    stub.parent.mkdir()
    monkeypatch.setenv("PATH", f"{stub.parent}{os.pathsep}{os.environ['PATH']}")

    def behave(script: str) -> None:
        stub.write_text(f"#!/bin/sh\n{script}\n")
        stub.chmod(0o755)

    return behave


def test_ipmitool_real_output(ipmitool) -> None:
    (Path(os.environ["PATH"].split(os.pathsep)[0]) / "lan.txt").write_text(LAN_PRINT)
    ipmitool('[ "$*" = "lan print 1" ] || exit 9\ncat "$(dirname "$0")/lan.txt"')
    assert probe_oob() == OobStatus("192.168.50.21")


@pytest.mark.parametrize(
    ("script", "error"),
    [
        ("exit 0", "ipmitool printed nothing"),
        ("echo 'Could not open device' >&2; exit 1", "ipmitool exited 1: Could not open device"),
        ("echo 'garbage here'", "no IP Address line in ipmitool output"),
        ("echo 'IP Address : 999.1.1.1'", "not an IP address in ipmitool output: '999.1.1.1'"),
        ("echo 'IP Address : 0.0.0.0'", "the BMC has no IP address (0.0.0.0)"),
        ("exec sleep 30", "ipmitool timed out after 0.3s"),
    ],
)
def test_ipmitool_failures_are_conditions(ipmitool, script: str, error: str) -> None:
    ipmitool(script)
    started = time.monotonic()
    assert probe_oob(timeout=0.3) == OobStatus(None, error)
    assert time.monotonic() - started < 5


def test_ipmitool_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert probe_oob() == OobStatus(None, "ipmitool not found")


def test_oob_condition_keeps_the_last_known_ip(ipmitool, bond1: VethPair) -> None:
    ipmitool("echo 'IP Address : 192.168.50.21'")
    job = NetConditions(node="n1", nic="bond1", probe_nic=lambda name: _fake_nic(name))
    first = next(c for c in job.run().conditions if c.type == "NodeOobIP")
    assert (first.status, first.reason, first.message) == ("True", "PowerOn", "192.168.50.21")
    ipmitool("exit 1")
    second = next(c for c in job.run().conditions if c.type == "NodeOobIP")
    assert (second.status, second.reason, second.message) == (
        "False", "error: ipmitool exited 1", "192.168.50.21",
    )  # fmt: skip


def _fake_nic(name: str):
    from polarstack.scanners.network import LinkState, NicStatus

    return NicStatus(name, LinkState.UP, "up", "10.0.0.1")


# --- publishing -----------------------------------------------------------------------------

KUBELET_READY = {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ok",
                 "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                 "lastTransitionTime": "2026-01-01T00:00:00Z"}  # fmt: skip


@pytest.fixture
def host_nic(namespaces: None) -> Iterator[VethPair]:
    """A NIC in this process's namespace (the fake API server is on its 127.0.0.1)."""
    with veth(host_side=True) as pair:
        pair.set(pair.peer, "up")
        pair.set(pair.name, "up")
        pair.address("10.77.0.2/24")
        yield pair


@pytest.fixture
def node(fake_kube: FakeKube) -> str:
    fake_kube.put("nodes", {"metadata": {"name": "n1"}, "status": {"conditions": [KUBELET_READY]}})
    return "n1"


def node_conditions(fake: FakeKube) -> dict[str, dict[str, str]]:
    stored = fake.get("nodes", "n1")
    assert stored is not None
    return {c["type"]: c for c in stored["status"]["conditions"]}


def wait_host_operstate(pair: VethPair, *want: str) -> None:
    deadline = time.monotonic() + 5
    path = Path(f"/sys/class/net/{pair.name}/operstate")
    while path.read_text().strip() not in want:
        assert time.monotonic() < deadline, f"{pair.name} never became {want}"
        time.sleep(0.02)


def test_publish_field_by_field_from_cluster_settings(
    cli: CliRunner, fake_kube: FakeKube, kubeconfig: Path, node: str, host_nic: VethPair
) -> None:
    for name, data in (
        ("ccm-config", {"NET_CARD_NAME": host_nic.name}),
        ("controller-config", {"isCheckOObIP": "false"}),
    ):
        fake_kube.put(
            "configmaps", {"metadata": {"name": name, "namespace": "kube-system"}, "data": data}
        )
    wait_host_operstate(host_nic, "up")
    result = cli(
        ["net", "probe", "--publish", "--kubeconfig", str(kubeconfig), "--node-name", "n1"]
    )
    assert result.status == 0, result.stderr
    stored = node_conditions(fake_kube)
    assert stored["Ready"] == KUBELET_READY
    assert set(stored) == {
        "Ready",
        "NodeClientNetworkUnavailable",
        "NodeClientIP",
        "NodeRefreshFlag",
    }
    nic = stored["NodeClientNetworkUnavailable"]
    assert (nic["status"], nic["reason"], nic["message"]) == (
        "False", "StateUP", f"{host_nic.name} StateUP",
    )  # fmt: skip
    ip = stored["NodeClientIP"]
    assert (ip["status"], ip["reason"], ip["message"]) == ("True", host_nic.name, "10.77.0.2")
    assert ip["lastTransitionTime"] == ip["lastHeartbeatTime"]
    again = cli(["net", "probe", "--publish", "--kubeconfig", str(kubeconfig), "--node-name", "n1"])
    assert again.status == 0
    assert len(fake_kube.writes("nodes")) == 1  # nothing changed: no second patch


def test_nic_flip_reaches_the_node_on_the_next_probe(
    fake_kube: FakeKube, kube: Kube, node: str, host_nic: VethPair
) -> None:
    now = [datetime(2026, 3, 1, tzinfo=UTC)]
    job = NetConditions(node="n1", nic=host_nic.name, check_oob=False,
                        publisher=KubePublisher(kube), clock=lambda: now[0])  # fmt: skip
    wait_host_operstate(host_nic, "up")
    assert job.run().sync.written  # type: ignore[union-attr]
    now[0] += timedelta(seconds=3)
    assert not job.run().sync.written  # type: ignore[union-attr]
    host_nic.set(host_nic.peer, "down")
    # Across namespaces a veth whose peer is down reads "down" (no carrier), not
    # "lowerlayerdown" as within one namespace: both are StateDown.
    wait_host_operstate(host_nic, "down", "lowerlayerdown")
    now[0] += timedelta(seconds=3)
    flipped = job.run()
    assert flipped.sync is not None and flipped.sync.written
    stored = node_conditions(fake_kube)["NodeClientNetworkUnavailable"]
    assert (stored["status"], stored["reason"]) == ("True", "StateDown")
    assert stored["lastTransitionTime"] == "2026-03-01T00:00:06Z"
    events = fake_kube.writes("events")
    assert [e.body["reason"] for e in events] == ["NodeClientNetworkUnavailable"]
    assert events[0].body["type"] == "Warning"


def test_loop_writes_within_an_interval_and_stops_on_sigterm(
    fake_kube: FakeKube, kubeconfig: Path, node: str, host_nic: VethPair
) -> None:
    wait_host_operstate(host_nic, "up")
    loop = subprocess.Popen(
        [sys.executable, "-m", "polarstack_cli", "net", "probe", "--publish", "--loop",
         "--interval", "0.2s", "--kubeconfig", str(kubeconfig), "--node-name", "n1",
         "--nic", host_nic.name, "--no-oob"],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "POLARSTACK_CONFIG": os.devnull},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while "NodeClientIP" not in node_conditions(fake_kube):
            assert time.monotonic() < deadline and loop.poll() is None
            time.sleep(0.05)
        host_nic.set(host_nic.peer, "down")
        flipped_at = time.monotonic()
        while node_conditions(fake_kube)["NodeClientNetworkUnavailable"]["status"] != "True":
            assert time.monotonic() - flipped_at < 5
            time.sleep(0.02)
        # Within one interval, plus the kernel's own delay before it reports the change.
        assert time.monotonic() - flipped_at < 0.2 + 1.5
    finally:
        loop.send_signal(signal.SIGTERM)
        _out, err = loop.communicate(timeout=10)
    assert loop.returncode == 0, err
    assert len(fake_kube.writes("nodes")) == 2
