"""Every example in README.md and docs/ runs, so the docs cannot rot.

``sh`` blocks run line by line through the installed ``polarstack`` (each line must be one),
``python`` blocks run as one script per page; ``console`` blocks (commands for a real
cluster or host) and the README's first block (the install and test commands, which
``.ci/run`` itself runs) are not. The examples run in a sandbox: a home whose kubeconfig
points at the tests' fake API server, a temporary log tree, and containerd from the tests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import Runtimes, start
from tests.fakekube import FakeKube

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^ *```(\w+)\n(.*?)^ *```$", re.MULTILINE | re.DOTALL)
INSTALL_BLOCK = "pip install . && polarstack"


SOURCE_FILE = re.compile(r"^# (file|add to): (\S+)\n")
"""First line of a block that is a source file of the worked example (architecture.md)."""


def blocks(page: Path, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(page.read_text()) if lang == language]


def script_blocks(page: Path) -> list[str]:
    return [body for body in blocks(page, "python") if not SOURCE_FILE.match(body)]


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
        # The code of this checkout, as the tests around the examples import it: an editable
        # install may point at another one (a git worktree beside the main tree).
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "cli")]),
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
    "page", [p.relative_to(REPO).as_posix() for p in PAGES if script_blocks(p)]
)
def test_python_examples(page: str, sandbox: dict[str, str], tmp_path: Path) -> None:
    script = "\n\n".join(script_blocks(REPO / page))
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path, env=sandbox, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, f"{page}\n{result.stdout}\n{result.stderr}"


def test_a_fifth_job_is_one_job_module_one_command_module_and_one_registry_line(
    sandbox: dict[str, str], fake_kube: FakeKube, tmp_path: Path
) -> None:
    """docs/architecture.md's worked example, added to a copy of the source tree as written."""
    tree = tmp_path / "tree"
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "polarstack", tree / "polarstack", ignore=skip)
    shutil.copytree(REPO / "cli" / "polarstack_cli", tree / "cli" / "polarstack_cli", ignore=skip)
    before = {p.relative_to(tree) for p in tree.rglob("*") if p.is_file()}
    sources = [
        b for b in blocks(REPO / "docs" / "architecture.md", "python") if SOURCE_FILE.match(b)
    ]
    assert len(sources) == 3
    for body in sources:
        match = SOURCE_FILE.match(body)
        assert match is not None
        how, path = match.groups()
        target = tree / path
        if how == "file":
            assert not target.exists(), path
            target.write_text(body)
        else:
            with target.open("a") as existing:
                existing.write(body)
    after = {p.relative_to(tree) for p in tree.rglob("*") if p.is_file()}
    assert sorted(map(str, after - before)) == [
        "cli/polarstack_cli/commands/uptime.py",
        "polarstack/jobs/uptime.py",
    ]
    env = {**sandbox, "PYTHONPATH": f"{tree}{os.pathsep}{tree / 'cli'}"}

    def polarstack(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "polarstack_cli", *args],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    listed = polarstack("--help")
    assert "uptime    Seconds since this host booted." in listed.stdout, listed.stderr
    shown = polarstack("uptime", "show", "-o", "json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["seconds"] > 0
    assert json.loads(shown.stdout)["published"] is None
    published = polarstack("uptime", "show", "--publish", "-o", "json")
    assert published.returncode == 0, published.stderr
    assert json.loads(published.stdout)["published"] == "created"
    config_map = fake_kube.get("configmaps", "polarstack-uptime-worker-1", "kube-system")
    assert config_map is not None and float(config_map["data"]["seconds"]) > 0
    helped = polarstack("daemon", "--help")
    assert "--uptime-interval DURATION" in helped.stdout and "[default: 60s]" in helped.stdout

    daemon = subprocess.Popen(
        [sys.executable, "-m", "polarstack_cli", "daemon", "--jobs", "uptime",
         "--listen", "127.0.0.1", "--port", "0", "--uptime-interval", "1s"],
        cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert daemon.stderr is not None
        line = ""
        while "HTTP on" not in line:
            line = daemon.stderr.readline()
            assert line, "the daemon ended before serving"
        assert "jobs uptime;" in line
        port = int(line.rsplit(":", 1)[1])
        deadline = time.monotonic() + 30
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                metrics = answer.read().decode()
            if 'polarstack_job_runs_total{job="uptime"}' in metrics:
                break
            assert time.monotonic() < deadline, metrics
            time.sleep(0.2)
        (gauge,) = [x for x in metrics.splitlines() if x.startswith("polarstack_uptime_seconds ")]
        assert float(gauge.split()[1]) > 0
    finally:
        daemon.terminate()
        daemon.communicate(timeout=30)  # reaps it and closes its stderr
