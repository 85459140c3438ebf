"""Prometheus metrics of the daemon, in a registry of its own (no global state)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from polarstack.cleaners.deleting import CleanReport
from polarstack.jobs.logs import LogsRun
from polarstack.jobs.ports import PortsRun
from polarstack.jobs.versions import VersionsRun


class Metrics:
    """Per-job runs, failures and durations; what the jobs found; API writes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.runs = Counter("polarstack_job_runs", "Runs of each job.", ["job"], registry=r)
        self.failures = Counter(
            "polarstack_job_failures", "Failed runs of each job.", ["job"], registry=r
        )
        self.duration = Histogram(
            "polarstack_job_duration_seconds",
            "Duration of each job's runs.",
            ["job"],
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800),
            registry=r,
        )
        self.last_success = Gauge(
            "polarstack_job_last_success_timestamp_seconds",
            "Unix time of each job's last successful run.",
            ["job"],
            registry=r,
        )
        self.occupied_ports = Gauge(
            "polarstack_occupied_ports", "Occupied ports in the platform's ranges.", registry=r
        )
        self.available_versions = Gauge(
            "polarstack_available_versions",
            "Engine versions with all their images on this host.",
            registry=r,
        )
        self.freed_bytes = Counter(
            "polarstack_logs_freed_bytes", "Bytes freed by the logs job.", registry=r
        )
        self.api_writes = Counter(
            "polarstack_api_writes",
            "Writes to the Kubernetes API server.",
            ["resource"],
            registry=r,
        )

    def observe(self, job: str, seconds: float, result: Any, error: BaseException | None) -> None:
        """Record one run (a :data:`polarstack.runner.Observer`)."""
        self.runs.labels(job).inc()
        self.duration.labels(job).observe(seconds)
        if error is not None:
            self.failures.labels(job).inc()
            return
        self.last_success.labels(job).set_to_current_time()
        if isinstance(result, PortsRun):
            self.occupied_ports.set(len(result.scan.used_ports))
        elif isinstance(result, VersionsRun):
            self.available_versions.set(len(result.scan.existing_versions))
        elif isinstance(result, LogsRun) and not result.report.dry_run:
            self.freed_bytes.inc(_freed(result.report))

    def count_write(self, resource: str) -> None:
        """Count one write to the API server."""
        self.api_writes.labels(resource).inc()

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


def _freed(report: CleanReport) -> int:
    return int(report.totals()["freed_bytes"])
