"""Every job polarstack runs, by name: the daemon, its metrics and its health loop over this."""

from __future__ import annotations

from polarstack.jobs.contract import JobType
from polarstack.jobs.logs import LogsJob
from polarstack.jobs.net import NetJob
from polarstack.jobs.ports import PortsJob
from polarstack.jobs.versions import VersionsJob

REGISTRY: dict[str, JobType] = {job.name: job for job in (PortsJob, VersionsJob, LogsJob, NetJob)}
"""The jobs, in the order the daemon starts them (that of ``settings.JOBS``)."""
