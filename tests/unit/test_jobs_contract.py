"""The Job contract: the registry, each job's settings, metrics and checks."""

from __future__ import annotations

import dataclasses
import inspect
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from polarstack.daemon.metrics import Metrics
from polarstack.errors import ClusterError, UsageError
from polarstack.jobs.contract import Job, JobContext, Metric
from polarstack.jobs.logs import LogsJob
from polarstack.jobs.net import NetJob
from polarstack.jobs.ports import PortsJob
from polarstack.jobs.registry import REGISTRY, job_names, load_job, register
from polarstack.jobs.versions import VersionsJob
from polarstack.model import LiveIds, VersionSpec
from polarstack.portranges import PortRange
from polarstack.publishers.local import LocalPublisher
from polarstack.scanners.network import LinkState, NicStatus, OobStatus
from polarstack.scanners.ports import PortScan, scan_ports
from polarstack.scanners.runtimes import RuntimeImage
from polarstack.scanners.versions import VersionScan, scan_versions
from polarstack.settings import LogsSettings, Settings
from tests.logtree import make


def test_the_registry_holds_every_job_in_the_daemons_order():
    assert job_names() == ("ports", "versions", "logs", "net")
    for name in job_names():
        job = load_job(name)(JobContext("n1"))
        assert job.name == name
        assert job.settings == getattr(Settings(), name)
        assert job.settings.interval > 0 and job.settings.timeout > 0


@dataclass(frozen=True)
class Counted:
    count: int
    cluster_failures: tuple[str, ...] = ()


class CountingJob(Job[int, Counted]):
    """A job of the tests' own: what a fifth job has to write."""

    name = "counting"
    metrics = (Metric("counted", "What the counting job counted."),)

    @property
    def settings(self):
        return self.context.settings.ports

    def gather(self) -> int:
        return 41

    def run(self, inputs: int) -> Counted:
        return Counted(inputs + 1)

    def measure(self, result: Counted) -> dict[str, float]:
        return {"counted": result.count}


def test_a_job_runs_gather_run_publish_and_check():
    job = CountingJob(JobContext("n1"))
    assert job.step() == Counted(42)
    with pytest.raises(ClusterError, match="no answer; no event"):
        job.check(Counted(1, ("no answer", "no event")))


def test_a_jobs_metrics_exist_only_when_it_runs():
    metrics = Metrics()
    assert b"polarstack_counted" not in metrics.render()
    job = CountingJob(JobContext("n1"))
    metrics.add_job(job)
    metrics.observe("counting", 0.1, job.step(), None)
    assert b"polarstack_counted 42.0" in metrics.render()
    assert b"polarstack_occupied_ports" not in metrics.render()


def test_naming_the_jobs_imports_none_of_them():
    import subprocess
    import sys

    code = (
        "import sys, polarstack.jobs.registry as r; r.job_names(); "
        "print(sorted(m for m in sys.modules if m.startswith('polarstack.jobs.') "
        "or m.startswith('polarstack.scanners') or m.startswith('polarstack.cleaners') "
        "or m.startswith('polarstack.kube')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['polarstack.jobs.registry']"


def test_a_job_is_registered_once_and_found_by_name():
    entry = register("counting", CountingJob, "Counts to 42.")
    try:
        assert load_job("counting") is CountingJob
        assert job_names()[-1] == "counting"
        with pytest.raises(UsageError, match="registered already"):
            register("counting", CountingJob, "again")
    finally:
        del REGISTRY[entry.name]
    with pytest.raises(UsageError, match="unknown job 'counting': choose from ports, "):
        load_job("counting")


@dataclass(frozen=True)
class UptimeSettings:
    interval: float = 30.0
    timeout: float = 5.0


def test_a_new_jobs_settings_come_from_extra_else_its_defaults():
    assert Settings().for_job("uptime", UptimeSettings) == UptimeSettings()
    given = Settings(extra={"uptime": UptimeSettings(interval=1.0)})
    assert given.for_job("uptime", UptimeSettings).interval == 1.0
    assert given.for_job("ports", type(Settings().ports)) is given.ports


def test_settings_are_replaced_by_dotted_name_and_unknown_names_are_refused():
    settings = Settings().with_values({"logs.days": 7.0, "net.client_nic": "eth0"})
    assert (settings.logs.days, settings.net.client_nic, settings.logs.root) == (
        7.0,
        "eth0",
        Settings().logs.root,
    )
    for bad in ("logs.nope", "nope.days", "logs", "extra.x"):
        with pytest.raises(UsageError, match="no such setting"):
            Settings().with_values({bad: 1})


@pytest.mark.parametrize(
    ("scanner", "result"), [(scan_ports, PortScan), (scan_versions, VersionScan)]
)
def test_scanners_know_no_node(scanner, result):
    assert "node" not in inspect.signature(scanner).parameters
    assert "node" not in {f.name for f in dataclasses.fields(result)}


class OneImage:
    name, endpoint = "fake", "memory"

    def list_images(self) -> list[RuntimeImage]:
        return [RuntimeImage("sha256:1", ("docker.io/library/pg:15",), ())]


def no_sockets(ranges, method):
    return [], "fake"


@pytest.mark.parametrize(
    ("make", "config_map", "keys"),
    [
        (
            lambda context: PortsJob(context, ranges=[PortRange(1, 2)], read=no_sockets),
            "cloud-provider-port-usage-n7",
            ["node", "ranges", "used_ports", "sockets", "warnings", "scanned_at", "method",
             "bind_verified", "ranges_source", "notes", "published"],
        ),
        (
            lambda context: VersionsJob(
                context, runtime=OneImage(), versions=[VersionSpec("15", ("pg:15",))]
            ),
            "polarstack-daemon-version-availability-n7",
            ["node", "runtime", "endpoint", "versions", "existing_versions", "checked_at",
             "warnings", "source", "notes", "published"],
        ),
    ],
)  # fmt: skip
def test_the_run_carries_the_contexts_node_and_prints_it_first(make, config_map, keys):
    publisher = LocalPublisher(stream=io.StringIO())
    run = make(JobContext("n7", publisher=publisher)).once()
    assert run.node == "n7"
    assert run.published.name == config_map
    data = run.to_dict()
    assert list(data) == keys
    assert data["node"] == "n7"


STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ODD_MOMENT = datetime(2026, 5, 1, 8, 0, 7, 123456, tzinfo=UTC)
"""With microseconds, which no timestamp in a job's JSON may show."""


def clock() -> datetime:
    return ODD_MOMENT


def times_in(value: Any) -> list[str]:
    """Every string in a JSON value that starts like a date and time."""
    if isinstance(value, dict):
        return [t for item in value.values() for t in times_in(item)]
    if isinstance(value, list):
        return [t for item in value for t in times_in(item)]
    if isinstance(value, str) and re.match(r"\d{4}-\d\d-\d\dT", value):
        return [value]
    return []


def every_job(tmp_path) -> dict[str, Job[Any, Any]]:
    make(tmp_path / "ins-1" / "log" / "postgresql-1.log", days=10)
    settings = Settings(logs=LogsSettings(root=str(tmp_path)))
    context = JobContext("n1", settings=settings)
    return {
        "ports": PortsJob(context, ranges=[PortRange(1, 2)], read=no_sockets, clock=clock),
        "versions": VersionsJob(
            context, runtime=OneImage(), versions=[VersionSpec("15", ("pg:15",))], clock=clock
        ),
        "logs": LogsJob(context, live=LiveIds.given(["ins-1"]), dry_run=True, clock=clock),
        "net": NetJob(
            context,
            clock=clock,
            nic_probe=lambda name: NicStatus(name, LinkState.UP, "up", "10.0.0.5"),
            oob_probe=lambda: OobStatus("10.1.0.5"),
        ),
    }


@pytest.mark.parametrize("name", job_names())
def test_every_jobs_json_has_its_times_in_the_contracts_format(tmp_path, name):
    times = times_in(every_job(tmp_path)[name].once().to_dict())
    assert times, "no time in its JSON"
    assert all(STAMP.match(t) for t in times), times
