"""Prometheus metrics of the daemon, in a registry of its own (no global state)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from polarstack.jobs.contract import Job


class Metrics:
    """Per-job runs, failures and durations; what the jobs found; API writes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._jobs: dict[str, Job[Any, Any]] = {}
        self._values: dict[str, Counter | Gauge] = {}
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
        self.api_writes = Counter(
            "polarstack_api_writes",
            "Writes to the Kubernetes API server.",
            ["resource"],
            registry=r,
        )

    def add_job(self, job: Job[Any, Any]) -> None:
        """Register the metrics ``job`` declares (only jobs that run have them)."""
        self._jobs[job.name] = job
        for metric in job.metrics:
            kind = Counter if metric.kind == "counter" else Gauge
            self._values[metric.name] = kind(
                f"polarstack_{metric.name}", metric.help, registry=self.registry
            )

    def observe(self, job: str, seconds: float, result: Any, error: BaseException | None) -> None:
        """Record one run (a :data:`polarstack.runner.Observer`)."""
        self.runs.labels(job).inc()
        self.duration.labels(job).observe(seconds)
        if error is not None:
            self.failures.labels(job).inc()
            return
        self.last_success.labels(job).set_to_current_time()
        running = self._jobs.get(job)
        if running is None:
            return
        for name, value in running.measure(result).items():
            metric = self._values[name]
            if isinstance(metric, Counter):
                metric.inc(value)
            else:
                metric.set(value)

    def count_write(self, resource: str) -> None:
        """Count one write to the API server."""
        self.api_writes.labels(resource).inc()

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
