"""Daemon soak: memory and CPU over 10,000 job cycles, and at rest.

Run:  python bench/daemon_soak.py [--cycles 10000] [--idle 60] [--cri SOCKET]

Starts ``polarstack daemon`` as a child process against the tests' fake API server (in this
process), with the ports, logs and net jobs (and versions, with ``--cri``) on very short
intervals, and samples the child's
RSS and CPU time (psutil) as the job runs add up (from its /metrics). Then starts it again
with the default intervals and measures it at rest for ``--idle`` seconds.

Goals (issue 7): RSS growth over the cycles under 5 MB (flat); at rest under 1% of a core
and under 80 MB RSS.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakekube import FakeKube

MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def runs(port: int) -> int:
    """Total job runs so far, from the daemon's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return int(sum(float(v) for v in re.findall(r"^polarstack_job_runs_total\{[^}]*\} (\S+)$",
                                                 text, re.MULTILINE)))  # fmt: skip


def start_daemon(
    kubeconfig: Path, root: Path, port: int, fast: bool, cri: str | None
) -> subprocess.Popen[bytes]:
    jobs = "ports,versions,logs,net" if cri else "ports,logs,net"
    args = [sys.executable, "-m", "polarstack_cli", "daemon", "--kubeconfig", str(kubeconfig),
            "--jobs", jobs, "--listen", "127.0.0.1", "--port", str(port),
            "--node-name", "n1", "--root", str(root), "--nic", "lo", "--no-oob"]  # fmt: skip
    if cri:
        args += ["--runtime", "cri", "--runtime-endpoint", cri]
        if fast:
            args += ["--versions-interval", "0.05s"]
    if fast:
        args += [
            "--net-interval",
            "0.005s",
            "--ports-interval",
            "0.02s",
            "--logs-interval",
            "0.05s",
        ]
    env = {**os.environ, "POLARSTACK_CONFIG": os.devnull}
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 30
    while True:
        try:
            runs(port)
            return process
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit("the daemon did not start") from None
            time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=10_000)
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument(
        "--cri", metavar="SOCKET", help="also run the versions job against this CRI socket"
    )
    args = parser.parse_args()
    with FakeKube() as fake, tempfile.TemporaryDirectory() as work:
        fake.put("nodes", {"metadata": {"name": "n1"}, "status": {"conditions": []}})
        fake.put("configmaps", {"metadata": {"name": "polardb4mpd-controller",
                                             "namespace": "kube-system",
                                             "annotations": {"r": "1-1023"}}})  # fmt: skip
        fake.put("pods", {"metadata": {"name": "pg", "namespace": "db",
                                       "labels": {"apsara.metric.ins_id": "ins-1"}}})  # fmt: skip
        root = Path(work) / "logs"
        (root / "ins-1").mkdir(parents=True)
        kubeconfig = fake.write_kubeconfig(Path(work) / "kubeconfig")
        # The fake server keeps a log of every request: drop it as we go, or the bench
        # process, not the daemon, grows.
        port = free_port()
        process = start_daemon(kubeconfig, root, port, fast=True, cri=args.cri)
        child = psutil.Process(process.pid)
        try:
            warm = 500
            while runs(port) < warm:
                time.sleep(0.2)
            fake.requests.clear()
            first_runs, first_cpu = runs(port), child.cpu_times()
            first_rss = child.memory_info().rss
            started = time.monotonic()
            samples = []
            while (done := runs(port) - first_runs) < args.cycles:
                samples.append((done, child.memory_info().rss))
                fake.requests.clear()
                time.sleep(1)
            wall = time.monotonic() - started
            last_cpu, last_rss = child.cpu_times(), child.memory_info().rss
            done = runs(port) - first_runs
        finally:
            stop(process)
        cpu = (last_cpu.user + last_cpu.system) - (first_cpu.user + first_cpu.system)
        growth = (last_rss - first_rss) / MIB
        print(f"\nsoak: {done} job runs in {wall:.1f} s (after {warm} to warm up)")
        print(f"  RSS at start {first_rss / MIB:.1f} MiB, at end {last_rss / MIB:.1f} MiB: "
              f"growth {growth:+.2f} MiB (goal < 5 MiB)")  # fmt: skip
        print(f"  RSS max during the soak {max(r for _d, r in samples) / MIB:.1f} MiB")
        print(f"  CPU {cpu:.2f} s: {cpu / done * 1000:.2f} ms per run")

        port = free_port()
        process = start_daemon(kubeconfig, root, port, fast=False, cri=args.cri)
        child = psutil.Process(process.pid)
        try:
            time.sleep(5)  # the first runs of every job are done
            before, wall_start = child.cpu_times(), time.monotonic()
            time.sleep(args.idle)
            after, wall = child.cpu_times(), time.monotonic() - wall_start
            rss = child.memory_info().rss
        finally:
            stop(process)
        used = (after.user + after.system) - (before.user + before.system)
        print(f"\nat rest (default intervals) for {wall:.0f} s:")
        print(f"  CPU {used:.2f} s = {used / wall * 100:.2f}% of a core (goal < 1%)")
        print(f"  RSS {rss / MIB:.1f} MiB (goal < 80 MiB)")


if __name__ == "__main__":
    main()
