"""The daemon: every chosen job in its own loop, the watches, and the HTTP server."""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from polarstack.daemon.metrics import Metrics
from polarstack.errors import PolarstackError, UsageError
from polarstack.jobs.contract import Job, JobContext, Watch
from polarstack.jobs.registry import job_names, load_job
from polarstack.kube.client import Kube, ObjectNotFoundError
from polarstack.kube.watches import watch_config_maps
from polarstack.publishers.kube import KubePublisher
from polarstack.runner import Health, JobLoop
from polarstack.settings import Settings
from polarstack.timefmt import utc_now, utc_stamp

log = logging.getLogger("polarstack.daemon")

RECHECK_ANNOTATION = "polarstack.io/version-recheck-requested-at"
STANDBY_CONDITION = "StandbyIP"


class LookupFailedError(PolarstackError):
    """A compatible-API lookup found nothing usable; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Daemon:
    """Runs the chosen jobs, each isolated in its own loop, until :meth:`stop`."""

    kube: Kube
    node: str
    settings: Settings = field(default_factory=Settings)
    """Everything the jobs run with; ``settings.daemon.jobs`` chooses them."""
    watch_timeout: int = 300
    monotonic: Callable[[], float] = time.monotonic
    metrics: Metrics = field(default_factory=Metrics)
    loops: dict[str, JobLoop] = field(default_factory=dict, init=False)
    running: dict[str, Job[Any, Any]] = field(default_factory=dict, init=False)
    """The jobs, made once each from the registry, by name."""
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _threads: list[threading.Thread] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        chosen = self.settings.daemon.jobs
        unknown = sorted(set(chosen or ()) - set(job_names()))
        if unknown or chosen == ():
            raise UsageError(
                f"unknown job(s) {', '.join(unknown) or '(none chosen)'}: choose from "
                f"{', '.join(job_names())}"
            )
        self.kube.on_write = self.metrics.count_write
        context = JobContext(
            self.node, self.kube, KubePublisher(self.kube), self.settings, self._stop.is_set
        )
        for name in job_names():
            if chosen is not None and name not in chosen:
                continue
            job = load_job(name)(context)
            self.running[name] = job
            self.metrics.add_job(job)
            self.loops[name] = JobLoop(
                name,
                job.step,
                interval=job.settings.interval,
                timeout=job.settings.timeout,
                observer=self._observe,
                monotonic=self.monotonic,
            )

    def _observe(self, job: str, seconds: float, result: Any, error: BaseException | None) -> None:
        self.metrics.observe(job, seconds, result, error)
        if error is not None:
            log.warning("run failed: %s", error, extra={"job": job, "seconds": round(seconds, 3)})
        else:
            log.debug("run done", extra={"job": job, "seconds": round(seconds, 3)})

    # --- lifecycle ---------------------------------------------------------------------------

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"polarstack-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def start(self) -> None:
        """Start every loop, and the version watches when the versions job runs."""
        for name, loop in self.loops.items():
            self._spawn(f"{name}-loop", loop.run_forever)
        for name, job in self.running.items():
            for watch in job.watches():
                self._spawn(f"watch-{watch.what}", self._watcher(self.loops[name], watch))
        log.info("started jobs %s on node %s", ", ".join(self.loops), self.node)

    def _watcher(self, loop: JobLoop, watch: Watch) -> Callable[[], None]:
        def on_change(why: str) -> None:
            log.info("re-running: %s", why, extra={"job": loop.name})
            loop.trigger()

        def follow() -> None:
            watch_config_maps(
                self.kube,
                on_change=on_change,
                stop=self._stop,
                what=watch.what,
                label_selector=watch.label_selector,
                field_selector=watch.field_selector,
                timeout_seconds=self.watch_timeout,
            )

        return follow

    def stop(self, grace: float = 4.0) -> bool:
        """Ask every loop to finish its current run; wait up to ``grace`` seconds.

        Returns whether everything ended in time (threads that did not are daemon threads:
        they end with the process).
        """
        self._stop.set()
        for loop in self.loops.values():
            loop.stop()
        deadline = time.monotonic() + grace
        for thread in self._threads:
            if thread.name.endswith("-loop"):
                thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads if t.name.endswith("-loop"))

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop.is_set()

    # --- health ------------------------------------------------------------------------------

    def health(self) -> dict[str, Health]:
        """Each job's health record."""
        return {name: loop.health for name, loop in self.loops.items()}

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        """Alive while every loop ticks; the API server's state does not enter into it."""
        now = self.monotonic()
        hung = [n for n, h in self.health().items() if not h.alive(now)]
        body: dict[str, Any] = {"status": "ok"} if not hung else {"status": "unhealthy"}
        if hung:
            body["hung_jobs"] = hung
            body["jobs"] = {n: self.loops[n].health.to_dict(now) for n in hung}
        return not hung, body

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Ready when every job's last run succeeded recently."""
        now = self.monotonic()
        failing = {n: h for n, h in self.health().items() if not h.ready(now)}
        if not failing:
            return True, {"status": "ready"}
        return False, {
            "status": "not ready",
            "failing_jobs": [
                {
                    "job": name,
                    "last_error": h.last_error
                    or (
                        "no successful run yet"
                        if h.last_success is None
                        else "last success too old"
                    ),
                    "consecutive_failures": h.consecutive_failures,
                }
                for name, h in failing.items()
            ],
        }

    # --- the compatible API ------------------------------------------------------------------

    def recheck_here(self) -> bool:
        """Re-check versions on this node now; False when the versions job does not run here."""
        loop = self.loops.get("versions")
        if loop is None:
            return False
        loop.trigger()
        return True

    def request_recheck_everywhere(self) -> None:
        """Bump the re-check annotation that every daemon watches (and create the ConfigMap)."""
        namespace, name = self.kube.namespace, self.settings.daemon.recheck_config_map
        stamp = utc_stamp(utc_now())
        # Sub-second requests must still change the object: add the monotonic nanoseconds.
        value = f"{stamp} {time.monotonic_ns()}"
        patch = {"metadata": {"annotations": {RECHECK_ANNOTATION: value}}}
        try:
            self.kube.call(
                "patch", "configmaps", namespace, name, body=patch,
                content_type="application/merge-patch+json",
            )  # fmt: skip
        except ObjectNotFoundError:
            body = {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": name, "namespace": namespace,
                                 "annotations": {RECHECK_ANNOTATION: value}}}  # fmt: skip
            self.kube.call("create", "configmaps", namespace, body=body)

    def standby_ip(self, namespace: str, pod_name: str) -> str:
        """The ``StandbyIP`` condition message of the node the pod runs on.

        Raises:
            LookupFailedError: no such pod or node (404); the condition missing, False, or
                not an IP (422).
            ClusterError: the API server failed.
        """
        # A list by name, not a get: the agent's role lists pods, and needs no more.
        pods = (
            self.kube.call(
                "list", "pods", namespace, query={"fieldSelector": f"metadata.name={pod_name}"}
            ).get("items")
            or []
        )
        if not pods:
            raise LookupFailedError(f"pod {namespace}/{pod_name} not found", 404)
        pod = pods[0]
        node = (pod.get("spec") or {}).get("nodeName")
        if not node:
            raise LookupFailedError(f"pod {namespace}/{pod_name} is not on a node yet", 422)
        try:
            answer = self.kube.call("get", "nodes", None, node)
        except ObjectNotFoundError:
            raise LookupFailedError(f"node {node} not found", 404) from None
        conditions = (answer.get("status") or {}).get("conditions") or []
        found = next((c for c in conditions if c.get("type") == STANDBY_CONDITION), None)
        if found is None:
            raise LookupFailedError(f"node {node} has no {STANDBY_CONDITION} condition", 404)
        if found.get("status") != "True":
            raise LookupFailedError(
                f"node {node}: {STANDBY_CONDITION} is {found.get('status')}", 422
            )
        message = str(found.get("message", "")).strip()
        try:
            ipaddress.ip_address(message)
        except ValueError:
            raise LookupFailedError(
                f"node {node}: {STANDBY_CONDITION} is not an IP: {message[:40]!r}", 422
            ) from None
        return message
