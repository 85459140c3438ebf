"""Real container runtimes for the tests: containerd, dockerd and Podman, each in a temp dir.

Each starts with its own root, state and socket under the test session's temporary
directory (no host configuration is read or changed) and loads images from tarballs built by
:mod:`tests.imagetar`, offline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from polarstack.scanners.runtimes.base import ImageLister
from polarstack.scanners.runtimes.cri import CriLister
from polarstack.scanners.runtimes.docker import DockerLister
from polarstack.scanners.runtimes.podman import PodmanLister

CONTAINERD_CONFIG = """\
version = 2
root = "{root}/root"
state = "{root}/state"
# Only the native snapshotter: the others need kernel features or tools a test host lacks.
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.overlayfs",
]
[grpc]
  address = "{root}/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
"""


def _wait_for_socket(path: Path, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{process.args!r} did not start: {log.read_text()[-2000:]}")
        time.sleep(0.02)


@dataclass
class Runtime:
    """A running runtime: how to load an image into it and how polarstack lists it."""

    name: str
    socket: str
    load_command: list[str]
    env: dict[str, str] = field(default_factory=dict)

    def load(self, tar: Path) -> None:
        """Load an image tarball."""
        subprocess.run(
            [*self.load_command, str(tar)],
            check=True,
            capture_output=True,
            env={**os.environ, **self.env},
        )

    def lister(self) -> ImageLister:
        """polarstack's backend for this runtime."""
        if self.name == "cri":
            return CriLister(self.socket)
        if self.name == "docker":
            return DockerLister(self.socket)
        return PodmanLister()


@contextmanager
def _daemon(command: list[str], socket: Path, log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_socket(socket, process, log)
        yield
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def containerd(root: Path) -> Iterator[Runtime]:
    """containerd with the CRI plugin; images go to namespace k8s.io, where CRI looks."""
    config = root / "config.toml"
    config.write_text(CONTAINERD_CONFIG.format(root=root))
    socket = root / "containerd.sock"
    with _daemon(["containerd", "--config", str(config)], socket, root / "log.txt"):
        yield Runtime(
            "cri",
            str(socket),
            ["ctr", "-a", str(socket), "-n", "k8s.io", "images", "import",
             "--snapshotter", "native"],
        )  # fmt: skip


@contextmanager
def dockerd(root: Path) -> Iterator[Runtime]:
    """dockerd with vfs storage and no networking of its own."""
    socket = root / "docker.sock"
    command = [
        "dockerd", "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
        "--pidfile", str(root / "docker.pid"), "-H", f"unix://{socket}",
        "--storage-driver", "vfs", "--iptables=false", "--ip-masq=false", "--bridge=none",
    ]  # fmt: skip
    docker = shutil.which("docker", path="/usr/bin") or "docker"
    with _daemon(command, socket, root / "log.txt"):
        yield Runtime("docker", str(socket), [docker, "-H", f"unix://{socket}", "load", "-i"])


@contextmanager
def podman(root: Path) -> Iterator[Runtime]:
    """Podman with its store under ``root`` (through CONTAINERS_* configuration files)."""
    storage = root / "storage.conf"
    storage.write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{root}/root"\nrunroot = "{root}/run"\n'
    )
    engine = root / "containers.conf"
    engine.write_text(
        '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
        f'events_logfile_path = "{root}/events.log"\n'
    )
    env = {"CONTAINERS_STORAGE_CONF": str(storage), "CONTAINERS_CONF": str(engine)}
    yield Runtime("podman", "podman", ["podman", "load", "-i"], env)


RUNTIME_BINARIES = {
    "cri": ("containerd", "ctr"),
    "docker": ("dockerd", "docker"),
    "podman": ("podman",),
}
STARTERS = {"cri": containerd, "docker": dockerd, "podman": podman}


class Runtimes:
    """Runtimes started on first use and stopped together at the end of the session."""

    def __init__(self, root: Path, stack: ExitStack) -> None:
        self.root = root
        self.stack = stack
        self.running: dict[str, Runtime] = {}

    def missing(self, name: str) -> list[str]:
        """Binaries ``name`` needs that are not installed."""
        return [b for b in RUNTIME_BINARIES[name] if shutil.which(b) is None]

    def get(self, name: str) -> Runtime:
        """The running runtime ``name``, started now if it is not yet."""
        if name not in self.running:
            directory = self.root / name
            directory.mkdir()
            self.running[name] = self.stack.enter_context(STARTERS[name](directory))
        return self.running[name]
