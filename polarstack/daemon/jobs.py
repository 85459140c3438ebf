"""The daemon's job steps: each job as a function that runs it once, or raises."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from polarstack.jobs.logs import LogsRun, run_logs
from polarstack.jobs.net import NetJob, NetProbe, net_options
from polarstack.jobs.ports import PortsRun, run_ports
from polarstack.jobs.versions import VersionsRun, run_versions
from polarstack.kube.client import Kube
from polarstack.publishers.base import Publisher
from polarstack.scanners.runtimes import ImageLister, open_runtime
from polarstack.settings import Settings
from polarstack.timefmt import utc_now


@dataclass
class JobContext:
    """What every job step needs."""

    kube: Kube
    publisher: Publisher
    node: str
    settings: Settings


def ports_step(ctx: JobContext) -> Callable[[], PortsRun]:
    """Scan the cluster's ranges and publish the ports ConfigMap on change."""

    def step() -> PortsRun:
        return run_ports(
            node=ctx.node, kube=ctx.kube, publisher=ctx.publisher, settings=ctx.settings
        )

    return step


@dataclass
class VersionsStep:
    """Check the cluster's versions.

    The runtime is opened at the first run and again after a failure, so a runtime that
    starts after the agent is found.
    """

    ctx: JobContext
    runtime: str = "auto"
    endpoint: str | None = None
    _lister: ImageLister | None = field(default=None, init=False)

    def __call__(self) -> VersionsRun:
        """Run once."""
        if self._lister is None:
            self._lister = open_runtime(self.runtime, self.endpoint)
        try:
            return run_versions(
                node=self.ctx.node,
                runtime=self._lister,
                kube=self.ctx.kube,
                publisher=self.ctx.publisher,
                settings=self.ctx.settings,
            )
        except Exception:
            self._lister = None
            raise


def logs_step(ctx: JobContext, stop: Callable[[], bool] | None = None) -> Callable[[], LogsRun]:
    """Clean the log tree with the cluster's live set; ``stop`` ends a run between items.

    When the live set cannot be read, the other rules still run, and then the run fails:
    readiness shows the job cannot do all of its work.
    """

    def step() -> LogsRun:
        run = run_logs(
            kube=ctx.kube,
            settings=ctx.settings.logs,
            node=ctx.node,
            publisher=ctx.publisher,
            stop=stop,
        )
        run.raise_for_cluster()
        return run

    return step


@dataclass
class NetStep:
    """Probe the NIC and the BMC and keep the node's conditions up to date.

    The NIC name (``ccm-config``) and the BMC switch (``controller-config``) are read at the
    first run and again once per heartbeat period, not on every probe: a probe every 3 s
    must not cost two reads each.
    """

    ctx: JobContext
    nic: str | None = None
    check_oob: bool | None = None
    clock: Callable[[], Any] = utc_now
    _job: NetJob | None = field(default=None, init=False)
    _configured_at: Any = field(default=None, init=False)

    def _configure(self) -> None:
        now = self.clock()
        fresh = self._configured_at is not None and (
            now - self._configured_at < self.ctx.settings.net.heartbeat
        )
        if self._job is not None and fresh:
            return
        nic, check_oob = net_options(
            self.ctx.kube, nic=self.nic, check_oob=self.check_oob, settings=self.ctx.settings.net
        )
        self._configured_at = now
        if self._job is not None and (self._job.nic, self._job.check_oob) == (nic, check_oob):
            return
        last = self._job.last if self._job is not None else None
        self._job = NetJob(
            node=self.ctx.node,
            nic=nic,
            check_oob=check_oob,
            publisher=self.ctx.publisher,
            clock=self.clock,
            settings=self.ctx.settings.net,
        )
        if last is not None:
            self._job.last = last

    def __call__(self) -> NetProbe:
        """Run once; a failed write of the conditions fails the run."""
        self._configure()
        assert self._job is not None
        probe = self._job.run()
        probe.raise_for_cluster()
        return probe
