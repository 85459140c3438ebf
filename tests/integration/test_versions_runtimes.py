"""Version availability on real containerd (CRI), Docker and Podman, fed offline tarballs."""

from __future__ import annotations

import itertools
import json
import socket
import threading
from pathlib import Path

import pytest

from polarstack.errors import RuntimeUnavailableError
from polarstack.jobs.contract import JobContext
from polarstack.jobs.versions import VersionsJob, run_versions
from polarstack.kube.client import Kube
from polarstack.kube.watches import watch_config_maps
from polarstack.model import VersionSpec
from polarstack.publishers.kube import KubePublisher
from polarstack.scanners.runtimes import open_runtime
from polarstack.scanners.versions import scan_versions
from tests.conftest import CliRunner, start
from tests.fakekube import FakeKube
from tests.imagetar import build_image_tar
from tests.runtimes import STARTERS, Runtime, Runtimes

_unique = itertools.count()


@pytest.fixture(params=sorted(STARTERS))
def started(request: pytest.FixtureRequest, runtimes: Runtimes) -> Runtime:
    return start(runtimes, request.param)


@pytest.fixture
def runtime(started: Runtime, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    for key, value in started.env.items():
        monkeypatch.setenv(key, value)  # Podman's store is chosen by these
    return started


def load_image(runtime: Runtime, tmp_path: Path) -> tuple[str, str]:
    """Load one image under a Hub name and a private-registry name; return both repos."""
    n = next(_unique)
    hub, private = f"engine{n}", f"registry.local:5000/polardb/pfsd{n}"
    names = [f"docker.io/library/{hub}:1", f"{private}:2"]
    runtime.load(build_image_tar(tmp_path / "image.tar", names, content=f"image {n}").path)
    return hub, private


@pytest.fixture
def image(runtime: Runtime, tmp_path: Path) -> tuple[str, str]:
    return load_image(runtime, tmp_path)


def test_all_present_and_one_missing(runtime: Runtime, image: tuple[str, str]) -> None:
    hub, private = image
    versions = [
        VersionSpec("ok", (f"{hub}:1", f"{private}:2")),
        VersionSpec("partial", (f"{hub}:1", f"{private}:3")),
        VersionSpec("absent", (f"{hub}-missing:1",)),
    ]
    scan = scan_versions(versions, runtime=runtime.lister())
    assert scan.existing_versions == ("ok",)
    assert scan.versions[1].missing_images == (f"{private}:3",)
    assert scan.runtime == runtime.name


def test_short_and_long_names_match(runtime: Runtime, image: tuple[str, str]) -> None:
    hub, _private = image
    spellings = [f"{hub}:1", f"library/{hub}:1", f"docker.io/{hub}:1",
                 f"docker.io/library/{hub}:1", f"index.docker.io/library/{hub}:1"]  # fmt: skip
    versions = [VersionSpec(s, (s,)) for s in spellings]
    scan = scan_versions(versions, runtime=runtime.lister())
    assert scan.existing_versions == tuple(spellings)


def test_digest_references(runtime: Runtime, tmp_path: Path) -> None:
    n = next(_unique)
    repo = f"docker.io/library/digest{n}"
    built = build_image_tar(tmp_path / "d.tar", [f"{repo}:1"], digest_repos=[repo])
    runtime.load(built.path)
    listing = runtime.lister().list_images()
    known = {d for image in listing for d in image.digests if d.startswith(repo)}
    wrong = f"{repo}@sha256:{'0' * 64}"
    versions = [VersionSpec(d, (d,)) for d in sorted(known)] + [VersionSpec("wrong", (wrong,))]
    scan = scan_versions(versions, runtime=runtime.lister())
    assert scan.existing_versions == tuple(sorted(known))
    if runtime.name == "cri":
        # containerd keeps the digest it imported: the OCI manifest's.
        assert known == {f"{repo}@{built.manifest_digest}"}
    elif runtime.name == "podman":
        assert known  # Podman records the digest of the manifest it stored
    else:
        assert known == set()  # docker load records no repo digest: only a pull does


def test_cli_json(cli: CliRunner, runtime: Runtime, image: tuple[str, str]) -> None:
    hub, private = image
    args = ["versions", "scan", "--runtime", runtime.name, "--image", f"{hub}:1",
            "--image", f"{private}:9", "-o", "json", "--node-name", "N1"]  # fmt: skip
    if runtime.name != "podman":
        args += ["--runtime-endpoint", runtime.socket]
    result = cli(args)
    assert result.status == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"node", "runtime", "versions", "existing_versions", "checked_at"} <= set(data)
    assert data["node"] == "n1" and data["runtime"] == runtime.name
    assert data["existing_versions"] == [f"{hub}:1"]
    assert data["versions"][1] == {
        "name": f"{private}:9",
        "available": False,
        "images": [f"{private}:9"],
        "missing_images": [f"{private}:9"],
    }


@pytest.mark.parametrize("kind", ["cri", "docker"])
def test_missing_socket_is_exit_3(cli: CliRunner, tmp_path: Path, kind: str) -> None:
    absent = tmp_path / f"{kind}.sock"
    result = cli(["versions", "scan", "--runtime", kind, "--runtime-endpoint", str(absent),
                  "--image", "pg:1"])  # fmt: skip
    assert result.status == 3
    assert result.stderr.startswith(f"error: {kind} runtime socket not found: {absent}")


@pytest.mark.parametrize("kind", ["cri", "docker"])
def test_dead_socket_is_unavailable(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "dead.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))  # a socket file nobody accepts on: a crashed runtime
    lister = open_runtime(kind, str(path), timeout=2)
    with pytest.raises(RuntimeUnavailableError, match=str(path)):
        lister.list_images()


NS = "kube-system"
SELECTOR_LABELS = {"configtype": "minor_version_info", "dbClusterMode": "WriteReadMore"}


def version_cm(fake: FakeKube, name: str, data: dict[str, str]) -> None:
    fake.put("configmaps", {"metadata": {"name": name, "namespace": NS, "labels": SELECTOR_LABELS},
                            "data": data})  # fmt: skip


@pytest.fixture
def cri(runtimes: Runtimes) -> Runtime:
    """containerd: publishing and watching do not depend on the runtime, so one is enough."""
    return start(runtimes, "cri")


def test_publish_against_the_fake_server(
    cli: CliRunner, cri: Runtime, tmp_path: Path, fake_kube: FakeKube, kubeconfig: Path
) -> None:
    hub, private = load_image(cri, tmp_path)
    version_cm(fake_kube, "v-a", {"name": "1.0", "engineImage": f"{hub}:1",
                                  "pfsdImage": f"{private}:2"})  # fmt: skip
    version_cm(fake_kube, "v-b", {"name": "2.0", "engineImage": f"{hub}:2"})
    version_cm(fake_kube, "v-c", {"name": "0.9", "engineImage": f"docker.io/library/{hub}:1"})
    version_cm(fake_kube, "v-latest", {"latestVersion": "2.0"})
    version_cm(fake_kube, "v-broken", {"name": "3.0"})
    args = ["versions", "scan", "--publish", "--kubeconfig", str(kubeconfig), "--runtime",
            "cri", "--runtime-endpoint", cri.socket, "--node-name", "worker-1",
            "-o", "json"]  # fmt: skip
    first = cli(args)
    assert first.status == 0, first.stderr
    assert "v-broken skipped: no images" in first.stderr
    assert "v-latest" not in first.stderr
    stored = fake_kube.get("configmaps", "polarstack-daemon-version-availability-worker-1", NS)
    assert stored is not None
    assert stored["data"]["existingVersions"] == "1.0,0.9"
    assert set(stored["data"]) == {"existingVersions", "checkTime"}
    assert json.loads(first.stdout)["source"] == "cluster"
    second = cli(args)
    assert second.status == 0 and "unchanged" in second.stderr
    assert len(fake_kube.writes("configmaps")) == 1


def test_watch_triggers_a_recheck(
    cri: Runtime, tmp_path: Path, fake_kube: FakeKube, kube: Kube
) -> None:
    hub, _private = load_image(cri, tmp_path)
    version_cm(fake_kube, "v-a", {"name": "1.0", "engineImage": f"{hub}:1"})
    lister = cri.lister()
    publisher = KubePublisher(kube)
    name = "polarstack-daemon-version-availability-n1"

    def recheck(why: str) -> None:
        reasons.append(why)
        run_versions(node="n1", runtime=lister, kube=kube, publisher=publisher)
        checked.set()

    reasons: list[str] = []
    checked, stop = threading.Event(), threading.Event()
    recheck("start")
    checked.clear()
    # What the daemon follows for the versions job: its first watch, the version ConfigMaps.
    watch = VersionsJob(JobContext("n1", kube)).watches()[0]
    watcher = threading.Thread(
        target=watch_config_maps,
        args=(kube,),
        kwargs={"on_change": recheck, "stop": stop, "timeout_seconds": 1, "retry_delay": 0.1,
                "what": watch.what, "label_selector": watch.label_selector},
    )  # fmt: skip
    watcher.start()
    try:
        while not any(r.verb == "watch" for r in fake_kube.requests):
            threading.Event().wait(0.01)
        version_cm(fake_kube, "v-b", {"name": "1.1", "engineImage": f"docker.io/{hub}:1"})
        assert checked.wait(10)
        stored = fake_kube.get("configmaps", name, NS)
        assert stored is not None and stored["data"]["existingVersions"] == "1.0,1.1"
        assert reasons[-1] == "ConfigMap v-b added"
        # History compacted while the watch is down: the watcher lists again and re-checks.
        checked.clear()
        fake_kube.compact()
        assert checked.wait(10)
        assert reasons[-1] == "listed the version ConfigMaps again"
    finally:
        stop.set()
        watcher.join(10)
    assert not watcher.is_alive()
