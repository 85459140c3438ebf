"""The Job contract: what every job is, so that the daemon and the CLI loop over jobs.

A job is a name; its settings (with its interval and timeout); :meth:`Job.gather`, its
cluster inputs, read in one place; :meth:`Job.run`, the host work, giving a result;
:meth:`Job.publish`; :meth:`Job.check`, what makes a run a failed one; its metrics; and what
re-triggers it (:meth:`Job.watches`). The node name and the cluster belong to the
:class:`JobContext` a job is made with: scanners and cleaners never know them.

Adding a job is one module in ``polarstack/jobs/`` with a :class:`Job` subclass, one line in
:mod:`polarstack.jobs.registry`, and a command module in the CLI.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from polarstack.errors import raise_for_cluster_failures
from polarstack.kube.client import Kube
from polarstack.publishers.base import Publisher
from polarstack.settings import Settings


def _never() -> bool:
    return False


@dataclass(frozen=True)
class JobContext:
    """What a job runs with, chosen once at the edge (the CLI, the daemon)."""

    node: str
    """The Kubernetes node name, lower case: it names what is published."""
    kube: Kube | None = None
    """The cluster to read inputs from; None: none (the job's defaults or given inputs)."""
    publisher: Publisher | None = None
    """Where results go; None: nowhere (a scan printed by the CLI)."""
    settings: Settings = field(default_factory=Settings)
    stop: Callable[[], bool] = _never
    """Asked by long work between two items: True ends the run early (SIGTERM)."""


class JobSettings(Protocol):
    """The part of a job's settings the loops need."""

    @property
    def interval(self) -> float:
        """Seconds between two runs in a loop."""

    @property
    def timeout(self) -> float:
        """Seconds after which a run counts as hung."""


@dataclass(frozen=True)
class Metric:
    """A gauge or counter a job's results feed (``polarstack_<name>``)."""

    name: str
    help: str
    kind: str = "gauge"
    """``gauge`` (set to the last run's value) or ``counter`` (increased by it)."""


@dataclass(frozen=True)
class Watch:
    """ConfigMaps whose changes re-trigger a job, by selector."""

    what: str
    """For the log: ``version ConfigMaps``."""
    label_selector: str | None = None
    field_selector: str | None = None


InputsT = TypeVar("InputsT")
ResultT = TypeVar("ResultT")


class Job(ABC, Generic[InputsT, ResultT]):
    """One job; made once per process and run once per loop turn (see :meth:`once`)."""

    name: ClassVar[str]
    """Its name in ``--jobs``, metrics, health and logs."""
    settings_type: ClassVar[type[Any]]
    """Its settings class (a frozen dataclass with ``interval`` and ``timeout``): a group
    of :class:`~polarstack.settings.Settings` for a built-in job, an entry of its ``extra``
    for any other."""
    metrics: ClassVar[Sequence[Metric]] = ()
    """The metrics :meth:`measure` gives values for."""

    def __init__(self, context: JobContext) -> None:
        self.context = context

    @property
    def settings(self) -> JobSettings:
        """This job's part of the context's settings (a job may narrow the type)."""
        settings: JobSettings = self.context.settings.for_job(self.name, self.settings_type)
        return settings

    @abstractmethod
    def gather(self) -> InputsT:
        """Read the job's inputs from the cluster (or take the ones given)."""

    @abstractmethod
    def run(self, inputs: InputsT) -> ResultT:
        """Do the host work."""

    def publish(self, result: ResultT) -> ResultT:
        """Publish ``result`` through the context's publisher; return what was published."""
        return result

    def check(self, result: ResultT) -> None:
        """Raise when ``result`` is a failed run (the daemon's readiness, the CLI's status).

        By default a run fails when the cluster did not give what it was asked for.

        Raises:
            PolarstackError: the run failed.
        """
        raise_for_cluster_failures(tuple(getattr(result, "cluster_failures", ())))

    def interrupted(self, result: ResultT) -> bool:
        """Whether the context's ``stop`` cut the run short (only long jobs heed it)."""
        return False

    def measure(self, result: ResultT) -> Mapping[str, float]:
        """Values of :attr:`metrics` for one successful run."""
        return {}

    def watches(self) -> Sequence[Watch]:
        """What re-triggers the job besides its interval."""
        return ()

    def once(self) -> ResultT:
        """Gather, run and publish once."""
        return self.publish(self.run(self.gather()))

    def step(self) -> ResultT:
        """One run as a loop makes it: :meth:`once`, then :meth:`check`."""
        result = self.once()
        self.check(result)
        return result


JobType = type[Job[Any, Any]]
