"""The Job contract: the registry, each job's settings, metrics and checks."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from polarstack.daemon.metrics import Metrics
from polarstack.errors import ClusterError
from polarstack.jobs.contract import Job, JobContext, Metric
from polarstack.jobs.registry import REGISTRY
from polarstack.settings import JOBS, Settings


def test_the_registry_holds_every_job_in_the_daemons_order():
    assert tuple(REGISTRY) == JOBS
    for name, job_type in REGISTRY.items():
        job = job_type(JobContext("n1"))
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
