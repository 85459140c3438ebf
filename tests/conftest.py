"""Fixtures shared by every test.

Tests use real parts: sockets on loopback, files in tmp_path, network namespaces. A test whose
system dependency is missing skips with the reason on a developer's machine; in CI
(``POLARSTACK_REQUIRE_ALL=1``, set by .ci/run) it fails instead, so nothing is skipped unseen.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from polarstack_cli.environment import Environment
from polarstack_cli.main import run

from polarstack.kube.client import ClusterTarget, Kube, connect
from polarstack.settings import ClusterSettings
from tests.fakekube import FakeKube
from tests.runtimes import Runtime, Runtimes

REQUIRE_ALL = os.environ.get("POLARSTACK_REQUIRE_ALL") == "1"


def require(condition: bool, reason: str) -> None:
    """Skip (or, in CI, fail) the calling test when a system dependency is missing."""
    if condition:
        return
    if REQUIRE_ALL:
        pytest.fail(f"required in CI but missing: {reason}")
    pytest.skip(reason)


@pytest.fixture
def require_root() -> None:
    require(os.geteuid() == 0, "needs root")


@dataclass
class CliResult:
    status: int
    stdout: str
    stderr: str


CliRunner = Callable[..., CliResult]


@pytest.fixture
def cli(tmp_path_factory: pytest.TempPathFactory) -> CliRunner:
    """Run the CLI in-process through an Environment on StringIO streams.

    ``tty=True`` makes stdout look like a terminal. The config file is pointed at an empty
    one so a host's /etc/polarstack/config.toml cannot leak into tests.
    """
    empty = tmp_path_factory.mktemp("config") / "config.toml"
    empty.write_text("")

    def invoke(
        args: Sequence[str], *, tty: bool = False, environ: dict[str, str] | None = None
    ) -> CliResult:
        base = {"POLARSTACK_CONFIG": str(empty)} if "--config" not in args else {}
        stdout, stderr = io.StringIO(), io.StringIO()
        env = Environment(
            stdout=stdout,
            stderr=stderr,
            environ={**base, **(environ or {})},
            stdout_isatty=tty,
            stderr_isatty=False,
            width=200,
        )
        old = dict(os.environ)
        os.environ.update(env.environ)  # click reads option env vars from os.environ
        try:
            status = run(list(args), env)
        finally:
            os.environ.clear()
            os.environ.update(old)
        return CliResult(status, stdout.getvalue(), stderr.getvalue())

    return invoke


@pytest.fixture
def fake_kube() -> Iterator[FakeKube]:
    """A fake API server on 127.0.0.1, for the official client."""
    with FakeKube() as server:
        yield server


@pytest.fixture
def kubeconfig(fake_kube: FakeKube, tmp_path: Path) -> Path:
    """A kubeconfig pointing at ``fake_kube``."""
    return fake_kube.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def kube(kubeconfig: Path) -> Kube:
    """A connection to ``fake_kube``, with short retry delays so failures stay fast."""
    settings = ClusterSettings(request_timeout=2.0, retry_delay=0.01)
    return connect(ClusterTarget(kubeconfig=str(kubeconfig)), environ={}, settings=settings)


@pytest.fixture(scope="session")
def runtimes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtimes]:
    with ExitStack() as stack:
        yield Runtimes(tmp_path_factory.mktemp("runtimes"), stack)


def start(runtimes: Runtimes, name: str) -> Runtime:
    """The runtime ``name``, started once per session; skipped (failed in CI) without it."""
    require(os.geteuid() == 0, "the container runtimes need root")
    missing = runtimes.missing(name)
    require(
        not missing,
        f"{name}: {', '.join(missing)} not installed (apt-get install containerd docker.io podman)",
    )
    return runtimes.get(name)
