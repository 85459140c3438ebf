"""Every example in README.md and docs/ runs, so the docs cannot rot.

``sh`` blocks run line by line through the installed ``polarstack`` (each line must be one),
``python`` blocks run as one script per page; ``console`` blocks (commands for a real
cluster or host) and the README's first block (the install and test commands, which
``.ci/run`` itself runs) are not. The examples run in a sandbox: a home whose kubeconfig
points at the tests' fake API server, a temporary log tree, and containerd from the tests.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Runtimes, start
from tests.fakekube import FakeKube

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^ *```(\w+)\n(.*?)^ *```$", re.MULTILINE | re.DOTALL)
INSTALL_BLOCK = "pip install . && polarstack"


def blocks(page: Path, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(page.read_text()) if lang == language]


def sh_lines() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for body in blocks(page, "sh"):
            if INSTALL_BLOCK in body:
                continue
            for line in body.splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    found.append((page.relative_to(REPO).as_posix(), line.strip()))
    return found


@pytest.fixture
def sandbox(fake_kube: FakeKube, tmp_path: Path, runtimes: Runtimes) -> dict[str, str]:
    """The environment the examples run in."""
    cri = start(runtimes, "cri")
    fake_kube.put("nodes", {"metadata": {"name": "worker-1"}, "status": {"conditions": []}})
    fake_kube.put("configmaps", {"metadata": {"name": "polardb4mpd-controller",
                                              "namespace": "kube-system",
                                              "annotations": {"ports": "5400-5800"}}})  # fmt: skip
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    kubeconfig = fake_kube.write_kubeconfig(home / ".kube" / "config")
    logs = tmp_path / "logs"
    old = logs / "ins-1" / "log" / "postgresql-1.log"
    old.parent.mkdir(parents=True)
    old.write_text("x")
    stamp = time.time() - 10 * 86400
    os.utime(old, (stamp, stamp))
    (logs / "ins-gone").mkdir()
    bin_dir = Path(sys.executable).parent
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(home),
        "KUBECONFIG": str(kubeconfig),
        "NODE_NAME": "worker-1",
        "POLARSTACK_CONFIG": os.devnull,
        # The examples name the real log tree's default and the host's runtime: here both
        # are the sandbox's.
        "POLARSTACK_LOGS_CLEAN_ROOT": str(logs),
        "POLARSTACK_VERSIONS_SCAN_RUNTIME": "cri",
        "POLARSTACK_VERSIONS_SCAN_RUNTIME_ENDPOINT": cri.socket,
        "LANG": "C.UTF-8",
    }


def test_there_are_examples() -> None:
    assert len(sh_lines()) >= 3
    assert blocks(REPO / "docs" / "library.md", "python")


@pytest.mark.parametrize(("page", "line"), sh_lines())
def test_sh_example(page: str, line: str, sandbox: dict[str, str], tmp_path: Path) -> None:
    assert line.startswith("polarstack "), f"{page}: not a polarstack command: {line}"
    assert shutil.which("bash")
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", line],
        cwd=tmp_path, env=sandbox, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, f"{page}: {line}\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize(
    "page", [p.relative_to(REPO).as_posix() for p in PAGES if blocks(p, "python")]
)
def test_python_examples(page: str, sandbox: dict[str, str], tmp_path: Path) -> None:
    script = "\n\n".join(blocks(REPO / page, "python"))
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path, env=sandbox, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, f"{page}\n{result.stdout}\n{result.stderr}"
