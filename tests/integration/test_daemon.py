"""``polarstack daemon`` against the fake API server: loops, health, HTTP, signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from polarstack.daemon.http import ApiServer
from polarstack.daemon.service import RECHECK_ANNOTATION, Daemon
from polarstack.errors import ClusterError
from polarstack.kube.client import Kube
from polarstack.settings import (
    DaemonSettings,
    LogsSettings,
    NetSettings,
    PortsSettings,
    Settings,
    VersionsSettings,
)
from tests.conftest import CliRunner, start
from tests.fakekube import FakeKube
from tests.imagetar import build_image_tar
from tests.runtimes import Runtime, Runtimes

NS = "kube-system"
# Fast loops: (interval, timeout) of each job.
FAST = {"ports": (0.3, 5.0), "versions": (0.5, 5.0), "logs": (0.5, 5.0), "net": (0.2, 5.0)}
STAMP = "2026-01-01T00:00:00Z"
READY = {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ok",
         "lastHeartbeatTime": STAMP, "lastTransitionTime": STAMP}  # fmt: skip


def wait_for(check: Callable[[], Any], timeout: float = 10, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def wait_status(url: str, status: int, timeout: float = 10) -> Any:
    """Poll ``url`` until it answers ``status``; return the body."""
    answer = wait_for(lambda: (lambda a: a if a[0] == status else None)(get(url)), timeout,
                      f"{url} to answer {status}")  # fmt: skip
    return answer[1]


def get(url: str, method: str = "GET") -> tuple[int, Any]:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            body = answer.read()
            status = answer.status
            kind = answer.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        body, status, kind = exc.read(), exc.code, exc.headers.get("Content-Type", "")
    return status, json.loads(body) if "json" in kind else body.decode()


RBAC = list(yaml.safe_load_all((Path(__file__).parents[2] / "k8s" / "rbac.yaml").read_text()))


@pytest.fixture
def platform(fake_kube: FakeKube, tmp_path: Path) -> FakeKube:
    """The platform's objects: a node, port ranges, a live instance, the log tree.

    The server allows only what k8s/rbac.yaml grants, so every daemon test also checks that
    the DaemonSet's role is wide enough.

    The ranges leave out the ephemeral ports, where the tests' own HTTP connections come and
    go: a steady state must stay steady.
    """
    fake_kube.put("nodes", {"metadata": {"name": "n1"}, "status": {"conditions": [READY]}})
    ranges = {"name": "polardb4mpd-controller", "namespace": NS, "annotations": {"r": "1-1023"}}
    fake_kube.put("configmaps", {"metadata": ranges})
    fake_kube.put("pods", {"metadata": {"name": "pg", "namespace": "db",
                                        "labels": {"apsara.metric.ins_id": "ins-live"}},
                           "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}})  # fmt: skip
    (tmp_path / "logs" / "ins-live").mkdir(parents=True)
    fake_kube.enforce_rbac(RBAC)
    return fake_kube


@pytest.fixture
def cri(runtimes: Runtimes, tmp_path: Path, platform: FakeKube) -> Runtime:
    runtime = start(runtimes, "cri")
    names = ["docker.io/library/daemon-engine:1"]
    runtime.load(build_image_tar(tmp_path / "engine.tar", names, content="daemon").path)
    labels = {"configtype": "minor_version_info", "dbClusterMode": "WriteReadMore"}
    platform.put("configmaps", {
        "metadata": {"name": "v1", "namespace": NS, "labels": labels},
        "data": {"name": "1.0", "engineImage": "daemon-engine:1"},
    })  # fmt: skip
    return runtime


def make_daemon(kube: Kube, tmp_path: Path, jobs: tuple[str, ...], endpoint: str | None = None,
                schedule: dict[str, tuple[float, float]] = FAST) -> Daemon:  # fmt: skip
    def loop(name: str) -> dict[str, float]:
        interval, timeout = schedule[name]
        return {"interval": interval, "timeout": timeout}

    settings = Settings(
        ports=PortsSettings(**loop("ports")),
        versions=VersionsSettings(runtime="cri" if endpoint else "auto",
                                  runtime_endpoint=endpoint, **loop("versions")),
        logs=LogsSettings(root=str(tmp_path / "logs"), **loop("logs")),
        net=NetSettings(client_nic="lo", check_oob=False, **loop("net")),
        daemon=DaemonSettings(jobs=jobs),
    )  # fmt: skip
    return Daemon(kube=kube, node="n1", settings=settings, watch_timeout=1)


@pytest.fixture
def running(kube: Kube, tmp_path: Path, platform: FakeKube) -> Iterator[tuple[Daemon, str]]:
    """Ports, logs and net (versions needs a runtime: see the test that starts one)."""
    agent = make_daemon(kube, tmp_path, ("ports", "logs", "net"))
    server = ApiServer(agent, "127.0.0.1", 0)
    server.start()
    agent.start()
    try:
        yield agent, f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()
        assert agent.stop(grace=4)


def test_every_object_is_published_and_ready(
    running: tuple[Daemon, str], platform: FakeKube, cri: Runtime, kube: Kube, tmp_path: Path
) -> None:
    _agent, url = running
    versions = make_daemon(kube, tmp_path, ("versions",), endpoint=cri.socket)
    versions.start()
    try:

        def config_map(name: str) -> Any:
            return wait_for(lambda: platform.get("configmaps", name, NS), what=name)

        config_map("cloud-provider-port-usage-n1")
        stored = config_map("polarstack-daemon-version-availability-n1")
        assert stored["data"]["existingVersions"] == "1.0"

        def types() -> set[str]:
            return {c["type"] for c in platform.get("nodes", "n1")["status"]["conditions"]}

        wait_for(lambda: len(types()) == 4, what="conditions")
        assert types() == {
            "Ready",
            "NodeClientNetworkUnavailable",
            "NodeClientIP",
            "NodeRefreshFlag",
        }
        assert wait_status(f"{url}/readyz", 200) == {"status": "ready"}
        assert get(f"{url}/healthz") == (200, {"status": "ok"})
        assert versions.readiness()[0] or wait_for(lambda: versions.readiness()[0])
    finally:
        assert versions.stop(grace=4)


def test_readiness_follows_an_outage_liveness_does_not(
    running: tuple[Daemon, str], platform: FakeKube
) -> None:
    _agent, url = running
    wait_for(lambda: get(f"{url}/readyz")[0] == 200, what="ready")
    platform.faults.outage = True
    body = wait_status(f"{url}/readyz", 503)
    failing = {f["job"]: f["last_error"] for f in body["failing_jobs"]}
    assert "ports" in failing and "cannot reach the Kubernetes API server" in failing["ports"]
    for _ in range(10):
        assert get(f"{url}/healthz") == (200, {"status": "ok"})
        time.sleep(0.1)
    platform.faults.outage = False
    # Backoff is capped at 60 s; the first retries come within seconds.
    wait_for(lambda: get(f"{url}/readyz")[0] == 200, timeout=30, what="ready again")


def test_steady_state_writes_nothing_but_the_heartbeat(
    running: tuple[Daemon, str], platform: FakeKube
) -> None:
    agent, url = running
    wait_for(lambda: get(f"{url}/readyz")[0] == 200, what="ready")
    runs = {n: h.runs for n, h in agent.health().items()}
    before = len(platform.writes())
    time.sleep(2)
    assert len(platform.writes()) == before  # heartbeat is 5 min: nothing is due
    assert all(h.runs > runs[n] for n, h in agent.health().items())  # yet every job ran


def test_a_raising_job_does_not_stop_the_others(
    kube: Kube, tmp_path: Path, platform: FakeKube
) -> None:
    agent = make_daemon(kube, tmp_path, ("ports", "net"))

    def broken() -> None:
        raise RuntimeError("scanner exploded")

    agent.loops["ports"].step = broken
    agent.start()
    try:
        wait_for(lambda: agent.loops["ports"].health.failures >= 2, what="ports failures")
        net_runs = agent.loops["net"].health.runs
        wait_for(lambda: agent.loops["net"].health.runs > net_runs + 3, what="net runs")
        ready, body = agent.readiness()
        assert not ready
        assert body["failing_jobs"][0]["last_error"] == "RuntimeError: scanner exploded"
        assert agent.liveness()[0]  # failing is not hung
    finally:
        assert agent.stop(grace=4)


def test_a_hung_job_fails_liveness_and_the_others_go_on(
    kube: Kube, tmp_path: Path, platform: FakeKube
) -> None:
    agent = make_daemon(kube, tmp_path, ("ports", "net"),
                        schedule={**FAST, "ports": (0.3, 0.3)})  # fmt: skip
    release = threading.Event()
    agent.loops["ports"].step = lambda: release.wait(30)
    server = ApiServer(agent, "127.0.0.1", 0)
    server.start()
    agent.start()
    url = f"http://127.0.0.1:{server.port}"
    try:
        body = wait_status(f"{url}/healthz", 503)
        assert body["hung_jobs"] == ["ports"]
        runs = agent.loops["net"].health.runs
        wait_for(lambda: agent.loops["net"].health.runs > runs + 2, what="net goes on")
        assert agent.loops["ports"].health.runs == 0  # never a second run while one hangs
        release.set()
        wait_for(lambda: get(f"{url}/healthz")[0] == 200, what="healthy again")
    finally:
        release.set()
        server.stop()
        assert agent.stop(grace=4)


def test_compatible_api(running: tuple[Daemon, str], platform: FakeKube) -> None:
    _agent, url = running
    status, body = get(f"{url}/api/v1/TestConn")
    assert status == 200
    assert body["code"] == "1" and body["data"] == {"message": "connected"}
    assert body["message"] == "" and len(body["requestId"]) == 32

    def standby(pod: str, namespace: str = "db") -> tuple[int, Any]:
        return get(f"{url}/api/v1/GetStandByIp?podName={pod}&namespace={namespace}")

    def node_with(condition: dict[str, str] | None) -> None:
        conditions = [READY] + ([{"type": "StandbyIP", **condition}] if condition else [])
        platform.put("nodes", {"metadata": {"name": "n2"}, "status": {"conditions": conditions}})

    platform.put(
        "pods", {"metadata": {"name": "ro", "namespace": "db"}, "spec": {"nodeName": "n2"}}
    )
    node_with({"status": "True", "message": "10.1.2.3"})
    assert standby("ro")[1]["data"] == "10.1.2.3"
    cases = [
        (lambda: None, "gone", 404, "pod db/gone not found"),
        (lambda: node_with(None), "ro", 404, "has no StandbyIP condition"),
        (lambda: node_with({"status": "False", "message": "10.1.2.3"}), "ro", 422, "is False"),
        (lambda: node_with({"status": "True", "message": "none"}), "ro", 422, "not an IP"),
    ]
    for arrange, pod, code, message in cases:
        arrange()
        status, body = standby(pod)
        assert (status, body["code"], body["data"]) == (code, str(code), None)
        assert message in body["message"]
    for bad in ("podName=ro", "namespace=db", "podName=&namespace=", "%%%=x"):
        status, body = get(f"{url}/api/v1/GetStandByIp?{bad}")
        assert status == 400 and "required" in body["message"]
    assert get(f"{url}/api/v1/Nope")[0] == 404
    status, body = get(f"{url}/api/v1/TestConn", method="POST")
    assert status == 405 and body["code"] == "405"
    status, body = get(f"{url}/api/v1/InnerCheckCoreVersion", method="POST")
    assert status == 409  # no versions job in this daemon
    status, body = get(f"{url}/api/v1/RequestCheckCoreVersion", method="POST")
    assert status == 200
    recheck = platform.get("configmaps", "polarstack-version-recheck", NS)
    assert recheck is not None and RECHECK_ANNOTATION in recheck["metadata"]["annotations"]
    first = recheck["metadata"]["annotations"][RECHECK_ANNOTATION]
    get(f"{url}/api/v1/RequestCheckCoreVersion", method="POST")
    again = platform.get("configmaps", "polarstack-version-recheck", NS)
    assert again is not None and again["metadata"]["annotations"][RECHECK_ANNOTATION] != first
    assert get(f"{url}/nothing")[0] == 404
    metrics = get(f"{url}/metrics")[1]
    assert 'polarstack_job_runs_total{job="ports"}' in metrics
    assert 'polarstack_api_writes_total{resource="configmaps"}' in metrics
    assert "polarstack_occupied_ports" in metrics


def test_request_recheck_reaches_every_daemon(
    kube: Kube, tmp_path: Path, cri: Runtime, platform: FakeKube
) -> None:
    slow = {**FAST, "versions": (3600.0, 5.0)}  # only the watch can explain a second run
    agents = [make_daemon(kube, tmp_path, ("versions",), endpoint=cri.socket, schedule=slow)
              for _ in range(2)]  # fmt: skip
    for agent in agents:
        agent.start()
    try:
        for agent in agents:
            wait_for(lambda a=agent: a.loops["versions"].health.runs >= 1, what="first check")
        time.sleep(0.3)  # the watches are listening
        agents[0].request_recheck_everywhere()
        for agent in agents:
            wait_for(lambda a=agent: a.loops["versions"].health.runs >= 2, what="re-check")
    finally:
        for agent in agents:
            assert agent.stop(grace=4)


def test_sigterm_exits_0_quickly_with_old_flags(
    platform: FakeKube, kubeconfig: Path, tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "polarstack_cli", "daemon", "--kubeconfig", str(kubeconfig),
         "--jobs", "ports,net,logs", "--listen", "127.0.0.1", f"--port={port}",
         "--current-node-name=N1", f"--dbcluster-log-dir={tmp_path / 'logs'}",
         "--ins-folder-overdue-days=3", "--v=2", "--logtostderr", "--events-enable-upload=false",
         "--nic", "lo", "--no-oob", "--net-interval", "0.2s", "--log-format", "json"],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "POLARSTACK_CONFIG": os.devnull},
    )  # fmt: skip
    try:
        wait_for(lambda: _ready(port), timeout=20, what="daemon ready")
    finally:
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert time.monotonic() - stopped_at < 5
    assert "warning: --v is ignored" in err and "warning: --logtostderr is ignored" in err
    assert "warning: --events-enable-upload is ignored" in err
    assert platform.get("configmaps", "cloud-provider-port-usage-n1", NS) is not None


def _ready(port: int) -> bool:
    try:
        return get(f"http://127.0.0.1:{port}/readyz")[0] == 200
    except OSError:
        return False


def test_the_role_is_no_wider_than_the_code(
    running: tuple[Daemon, str], platform: FakeKube, kube: Kube
) -> None:
    """What the daemon never does is refused: the rules are the policy, not decoration."""
    _agent, url = running
    wait_status(f"{url}/readyz", 200)
    refused = [r for r in platform.requests if r.status == 403]
    assert refused == []  # everything the daemon did was allowed
    for call in (
        lambda: kube.call("delete", "configmaps", NS, "cloud-provider-port-usage-n1"),
        lambda: kube.call("list", "secrets", NS),
        lambda: kube.call("patch", "nodes", None, "n1", body={"metadata": {"labels": {"a": "b"}}}),
        lambda: kube.call("get", "pods", "db", "pg"),
        lambda: kube.call("create", "configmaps", "default", body={"metadata": {"name": "x"}}),
    ):
        with pytest.raises(ClusterError, match=r"\(403 Forbidden\)"):
            call()


def test_no_runtime_makes_versions_unready_and_the_rest_goes_on(
    kube: Kube, tmp_path: Path, platform: FakeKube
) -> None:
    agent = make_daemon(kube, tmp_path, ("versions", "ports", "net"),
                        endpoint=str(tmp_path / "no-such.sock"))  # fmt: skip
    agent.start()
    try:
        wait_for(lambda: agent.loops["versions"].health.failures >= 1, what="versions fails")
        wait_for(lambda: agent.loops["ports"].health.last_success is not None, what="ports runs")
        wait_for(lambda: agent.loops["net"].health.last_success is not None, what="net runs")
        ready, body = agent.readiness()
        assert not ready
        failing = {f["job"]: f["last_error"] for f in body["failing_jobs"]}
        assert list(failing) == ["versions"]
        assert "runtime socket not found" in failing["versions"]
        assert agent.liveness()[0]
    finally:
        assert agent.stop(grace=4)


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """The Settings the daemon command makes its Daemon with; the Daemon then stops it."""
    from polarstack.daemon import service

    made: list[Settings] = []

    def record(**kwargs: Any) -> Daemon:
        made.append(kwargs["settings"])
        raise ClusterError("stopped by the test")

    monkeypatch.setattr(service, "Daemon", record)
    return made


@pytest.mark.parametrize("args", [[], ["--logs-workers", "1"]])
def test_log_flags_reach_the_logs_job(
    cli: CliRunner, kubeconfig: Path, tmp_path: Path, seen: list[Settings], args: list[str]
) -> None:
    result = cli(
        ["daemon", "--kubeconfig", str(kubeconfig), f"--dbcluster-log-dir={tmp_path}",
         "--ins-folder-overdue-days=7", *args]
    )  # fmt: skip
    assert "stopped by the test" in result.stderr
    (settings,) = seen
    assert settings.logs == LogsSettings(root=str(tmp_path), days=7.0)
    # The flag of the two-thread cleaner is accepted, and ignored with a warning.
    warned = "--logs-workers is ignored: log files are deleted on one thread" in result.stderr
    assert warned == bool(args)


def test_one_settings_from_config_file_environment_and_flags(
    cli: CliRunner, kubeconfig: Path, tmp_path: Path, seen: list[Settings]
) -> None:
    """Flag > POLARSTACK_* > config file > the default written on the settings class."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[daemon]\ndays = 9\nheartbeat = "2m"\nnic = "eth9"\njobs = "net,ports"\n'
        'ports_interval = "30s"\n'
    )
    result = cli(
        ["--config", str(config), "daemon", "--kubeconfig", str(kubeconfig), "--nic", "eth1"],
        environ={"POLARSTACK_DAEMON_HEARTBEAT": "90s", "POLARSTACK_DAEMON_NET_INTERVAL": "7s"},
    )
    assert "stopped by the test" in result.stderr
    (settings,) = seen
    assert settings.logs.days == 9.0  # config file
    assert settings.ports.interval == 30.0  # config file
    assert settings.daemon.jobs == ("net", "ports")  # config file, parsed
    assert settings.net.heartbeat == timedelta(seconds=90)  # environment beats the file
    assert settings.net.interval == 7.0  # environment
    assert settings.net.client_nic == "eth1"  # flag beats the file
    defaults = Settings()
    assert settings.logs.root == defaults.logs.root  # nothing given: the class's default
    assert settings.versions == defaults.versions
    assert settings.cluster == defaults.cluster


def test_every_setting_option_shows_the_settings_default(cli: CliRunner) -> None:
    text = " ".join(cli(["daemon", "--help"]).stdout.split())  # help wraps lines
    defaults = Settings()
    for shown in (
        f"[default: {defaults.logs.root}]",
        f"[default: {defaults.logs.days}; x>=0]",
        "--ports-interval DURATION [default: 60s]",
        "--logs-interval DURATION [default: 6h]",
        f"[default: {defaults.daemon.listen}]",
    ):
        assert shown in text, shown
