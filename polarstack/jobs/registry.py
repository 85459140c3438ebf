"""Every job polarstack runs, by name.

The daemon, its metrics, its health and the CLI's command list loop over this. An entry
names its job's class as ``module:Class``, imported on first use, so listing the jobs
(``polarstack --help``, ``--jobs``) imports none of them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from polarstack.errors import UsageError

if TYPE_CHECKING:  # the contract imports the cluster client: not needed to list names
    from polarstack.jobs.contract import JobType


@dataclass(frozen=True)
class JobEntry:
    """One registered job."""

    name: str
    """Its name in ``--jobs``, metrics, health, logs, and its CLI command."""
    target: str | JobType
    """``module:Class`` of its :class:`~polarstack.jobs.contract.Job` (or the class itself)."""
    summary: str
    """One line for ``polarstack --help``."""

    def load(self) -> JobType:
        """The job's class, imported now if named by path."""
        if not isinstance(self.target, str):
            return self.target
        module, _colon, attribute = self.target.partition(":")
        job_type: JobType = getattr(importlib.import_module(module), attribute)
        return job_type


REGISTRY: dict[str, JobEntry] = {}
"""The jobs, in the order the daemon starts them."""


def register(name: str, target: str | JobType, summary: str) -> JobEntry:
    """Add a job to :data:`REGISTRY` (the one line a new job adds, below)."""
    if name in REGISTRY:
        raise UsageError(f"a job named {name!r} is registered already")
    entry = JobEntry(name, target, summary)
    REGISTRY[name] = entry
    return entry


def registered_jobs() -> tuple[JobEntry, ...]:
    """The registered jobs, in the daemon's order."""
    return tuple(REGISTRY.values())


def job_names() -> tuple[str, ...]:
    """The registered jobs' names, in the daemon's order."""
    return tuple(REGISTRY)


def load_job(name: str) -> JobType:
    """The class of the job called ``name``.

    Raises:
        UsageError: no job has that name.
    """
    entry = REGISTRY.get(name)
    if entry is None:
        raise UsageError(f"unknown job {name!r}: choose from {', '.join(REGISTRY)}")
    return entry.load()


register("ports", "polarstack.jobs.ports:PortsJob", "Occupied TCP ports in the platform's ranges.")
register(
    "versions",
    "polarstack.jobs.versions:VersionsJob",
    "Engine versions whose images are all on this host.",
)
register("logs", "polarstack.jobs.logs:LogsJob", "Clean the database log tree.")
register(
    "net",
    "polarstack.jobs.net:NetJob",
    "The client NIC, the BMC IP and a heartbeat, as node conditions.",
)
