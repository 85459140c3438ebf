"""The CLI with a cluster: ``ports scan --publish`` and ``logs clean`` against the fake server."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from polarstack.publishers.contracts import PORT_IN_USE
from tests.conftest import CliRunner
from tests.fakekube import FakeKube
from tests.integration.test_cli_logs import old

NS = "kube-system"
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


@pytest.fixture
def platform(fake_kube: FakeKube, listener: int) -> FakeKube:
    """The platform's ConfigMaps: ranges around the listener's port, in two notations."""
    fake_kube.put(
        "configmaps",
        {
            "metadata": {
                "name": "polardb4mpd-controller",
                "namespace": NS,
                "annotations": {
                    "portRange": f"{listener - 5}-{listener}",
                    "reservedPorts": f"{listener + 1000}+2, 1",
                    "kubectl.kubernetes.io/last-applied-configuration": "{}",
                },
            }
        },
    )
    return fake_kube


def scan(cli: CliRunner, kubeconfig: Path, *args: str, node: str = "Worker-1"):
    return cli(
        ["ports", "scan", "--publish", "--kubeconfig", str(kubeconfig), "--node-name", node,
         "-o", "json", *args]
    )  # fmt: skip


def test_publish_writes_the_contract_then_nothing(
    cli: CliRunner, platform: FakeKube, kubeconfig: Path, listener: int
) -> None:
    first = scan(cli, kubeconfig)
    assert first.status == 0, first.stderr
    assert "created" in first.stderr
    stored = platform.get("configmaps", "cloud-provider-port-usage-worker-1", NS)
    assert stored is not None
    assert stored["data"] == {str(listener): PORT_IN_USE}
    assert set(stored["metadata"]["annotations"]) == {"updateTimestamp"}
    assert STAMP.match(stored["metadata"]["annotations"]["updateTimestamp"])
    result = json.loads(first.stdout)
    assert result["ranges_source"] == "cluster"
    assert result["ranges"] == [
        [1, 1],
        [listener - 5, listener],
        [listener + 1000, listener + 1002],
    ]
    assert result["published"] == {
        "config_map": "cloud-provider-port-usage-worker-1",
        "outcome": "created",
    }
    assert "last-applied-configuration" in first.stderr  # the skipped annotation is named
    writes = len(platform.writes())
    second = scan(cli, kubeconfig)
    assert second.status == 0, second.stderr
    assert "unchanged" in second.stderr
    assert len(platform.writes()) == writes == 1


def test_publish_updates_when_a_port_frees(
    cli: CliRunner, platform: FakeKube, kubeconfig: Path, listener: int
) -> None:
    with socket.create_server(("127.0.0.1", listener - 1)):
        assert scan(cli, kubeconfig).status == 0
    assert scan(cli, kubeconfig).status == 0
    stored = platform.get("configmaps", "cloud-provider-port-usage-worker-1", NS)
    assert stored is not None and stored["data"] == {str(listener): PORT_IN_USE}
    assert [w.verb for w in platform.writes()] == ["create", "update"]


def test_given_ranges_win_over_the_cluster(
    cli: CliRunner, platform: FakeKube, kubeconfig: Path, listener: int
) -> None:
    result = scan(cli, kubeconfig, "--range", "1-2")
    assert result.status == 0
    assert json.loads(result.stdout)["ranges_source"] == "argument"
    stored = platform.get("configmaps", "cloud-provider-port-usage-worker-1", NS)
    assert stored is not None and stored["data"] == {}


def test_no_ranges_configured_publishes_empty_data(
    cli: CliRunner, fake_kube: FakeKube, kubeconfig: Path
) -> None:
    result = scan(cli, kubeconfig)
    assert result.status == 0
    assert "polardb4mpd-controller not found" in result.stderr
    stored = fake_kube.get("configmaps", "cloud-provider-port-usage-worker-1", NS)
    assert stored is not None and stored["data"] == {}


def test_switch_off_publishes_nothing(cli: CliRunner, platform: FakeKube, kubeconfig: Path) -> None:
    platform.put(
        "configmaps",
        {
            "metadata": {"name": "controller-config", "namespace": NS},
            "data": {"enablePrintPort": "false"},
        },
    )
    result = scan(cli, kubeconfig)
    assert result.status == 0
    assert "enablePrintPort off" in result.stderr
    assert platform.writes() == []


def test_host_port_in_the_table(
    cli: CliRunner, platform: FakeKube, kubeconfig: Path, listener: int
) -> None:
    platform.put(
        "pods",
        {
            "metadata": {"name": "engine-0", "namespace": "db"},
            "spec": {
                "nodeName": "worker-1",
                "containers": [
                    {"name": "pg", "ports": [{"containerPort": 5432, "hostPort": listener - 2}]}
                ],
            },
            "status": {"phase": "Running"},
        },
    )
    result = cli(
        ["ports", "scan", "--kubeconfig", str(kubeconfig),
         "--node-name", "worker-1", "-o", "table"]
    )  # fmt: skip
    assert result.status == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if str(listener - 2) in line)
    assert "hostPort" in row and "db/engine-0" in row and "HOSTPORT" in row
    assert platform.writes() == []  # no --publish: read only


def test_forbidden_exits_4_naming_the_call(
    cli: CliRunner, platform: FakeKube, kubeconfig: Path
) -> None:
    platform.faults.forbid("create", "configmaps", NS)
    result = scan(cli, kubeconfig)
    assert result.status == 4
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "error: the API server refused to create configmaps in namespace kube-system (403"
        )
    )
    assert "Traceback" not in result.stderr


def test_outage_exits_4_then_recovers(cli: CliRunner, platform: FakeKube, kubeconfig: Path) -> None:
    platform.faults.outage = True
    result = scan(cli, kubeconfig)
    assert result.status == 4
    assert "cannot reach the Kubernetes API server" in result.stderr
    platform.faults.outage = False
    assert scan(cli, kubeconfig).status == 0


def test_missing_kubeconfig_exits_3(cli: CliRunner, tmp_path: Path) -> None:
    result = scan(cli, tmp_path / "absent")
    assert result.status == 3
    assert "no kubeconfig at" in result.stderr


def test_publish_dir_needs_no_cluster(cli: CliRunner, tmp_path: Path, listener: int) -> None:
    out = tmp_path / "out"
    args = ["ports", "scan", "-r", str(listener), "--publish-dir", str(out), "--node-name", "h1"]
    assert cli(args).status == 0
    written = json.loads((out / "configmap-cloud-provider-port-usage-h1.json").read_text())
    assert written["data"] == {str(listener): PORT_IN_USE}
    assert "unchanged" in cli(args).stderr
    both = cli([*args, "--publish"])
    assert both.status == 2


def test_logs_clean_uses_the_cluster_and_records_an_event(
    cli: CliRunner, fake_kube: FakeKube, kubeconfig: Path, tmp_path: Path
) -> None:
    root = tmp_path / "logs"
    old(root / "ins-live" / "postgresql-1.log")
    old(root / "ins-gone" / "data")
    fake_kube.put(
        "pods",
        {
            "metadata": {
                "name": "pg",
                "namespace": "db",
                "labels": {"apsara.metric.ins_id": "ins-live"},
            }
        },
    )
    result = cli(
        ["logs", "clean", "--root", str(root), "--kubeconfig", str(kubeconfig),
         "--node-name", "n1", "-o", "json"]
    )  # fmt: skip
    assert result.status == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["live_ids_source"] == "cluster"
    assert not (root / "ins-gone").exists()
    assert (root / "ins-live").exists()
    events = [w for w in fake_kube.writes("events")]
    assert len(events) == 1
    assert events[0].body["reason"] == "LogsCleaned"
    assert events[0].body["involvedObject"]["name"] == "n1"
    assert "deleted 2 file(s)" in events[0].body["message"]


def test_logs_clean_with_the_cluster_down_skips_orphan(
    cli: CliRunner, fake_kube: FakeKube, kubeconfig: Path, tmp_path: Path
) -> None:
    root = tmp_path / "logs"
    old(root / "ins-gone" / "data")
    old(root / "ins-gone" / "postgresql-1.log")
    fake_kube.faults.outage = True
    result = cli(
        ["logs", "clean", "--root", str(root), "--kubeconfig", str(kubeconfig), "-o", "json"]
    )
    # The other rules ran, and the exit status says the cluster failed.
    assert result.status == 4, result.stderr
    report = json.loads(result.stdout)
    assert report["live_ids_source"] == "unknown"
    assert "cannot list pods" in report["skipped_rules"][0]["reason"]
    assert (root / "ins-gone" / "data").exists()
    assert not (root / "ins-gone" / "postgresql-1.log").exists()
    assert "could not record the event" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["ports", "scan", "--publish", "--range", "5400-5401"],
        ["net", "probe", "--publish", "--nic", "lo", "--no-oob"],
        ["logs", "clean", "--live-id", "ins-live"],
    ],
    ids=["ports", "net", "logs"],
)
def test_a_publication_that_did_not_happen_exits_4(
    cli: CliRunner, platform: FakeKube, kubeconfig: Path, tmp_path: Path, args: list[str]
) -> None:
    # logs: with a cluster its Event is its publication.
    root = tmp_path / "logs"
    old(root / "ins-live" / "postgresql-1.log")
    extra = ["--root", str(root)] if args[0] == "logs" else []
    platform.faults.outage = True
    result = cli([*args, *extra, "--kubeconfig", str(kubeconfig), "--node-name", "n1"])
    assert result.status == 4, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "cannot reach the Kubernetes API server" in last
