"""Running a job once or forever: interval with jitter, backoff, timeouts, health.

Every job is a step (a function that does one run and raises on failure). A
:class:`JobLoop` runs the step in a worker thread, so a step that hangs past its timeout is
seen and reported (the loop does not start another run until it ends: never two runs of
one job at once). After a failure the next run comes sooner than the interval would put
it, then backs off (doubling), capped at the interval or 60 s, whichever is larger, so a job
recovers soon after its dependency does. :class:`Health` is what ``/healthz``, ``/readyz``
and the metrics read.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from polarstack.timefmt import utc_now, utc_stamp

FIRST_RETRY = 5.0
"""Seconds before the first retry after a failure (or the interval, if shorter)."""
MIN_BACKOFF_CAP = 60.0
LIVENESS_INTERVALS = 3
"""A loop is alive while it started a run within this many intervals of when it was due."""


def capped_doubling(first: float, cap: float, failures: int) -> float:
    """``first`` after one failure, doubled for each more, never above ``cap``.

    Example:
        >>> [capped_doubling(5, 30, n) for n in range(1, 6)]
        [5.0, 10.0, 20.0, 30.0, 30.0]
    """
    # The exponent stops growing long before the product would overflow.
    return float(min(first * 2 ** min(failures - 1, 30), cap))


def backoff_delay(interval: float, failures: int) -> float:
    """The wait before the next run after ``failures`` failures in a row (0: the interval).

    Example:
        >>> [backoff_delay(3, n) for n in range(6)]
        [3, 3.0, 6.0, 12.0, 24.0, 48.0]
        >>> backoff_delay(3, 10), backoff_delay(21600, 20)
        (60.0, 21600.0)
    """
    if failures <= 0:
        return interval
    return capped_doubling(min(interval, FIRST_RETRY), max(interval, MIN_BACKOFF_CAP), failures)


@dataclass
class Health:
    """The state of one job's loop, as the HTTP endpoints and metrics report it.

    Times named ``*_at`` are wall-clock (for people); the others are monotonic seconds.
    """

    job: str
    interval: float
    timeout: float
    runs: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    last_success: float | None = None
    last_success_at: datetime | None = None
    running_since: float | None = None
    next_run_at: float | None = None
    loop_running: bool = False

    def hung(self, now: float) -> bool:
        """Whether a run has gone on past the job's timeout."""
        return self.running_since is not None and now - self.running_since > self.timeout

    def alive(self, now: float) -> bool:
        """Whether the loop is ticking: running within its timeout, or not overdue to start."""
        if not self.loop_running or self.hung(now):
            return False
        if self.running_since is not None or self.next_run_at is None:
            return True
        return now <= self.next_run_at + LIVENESS_INTERVALS * self.interval

    def ready(self, now: float) -> bool:
        """Whether the last run succeeded, and recently (within 3 intervals)."""
        return (
            self.consecutive_failures == 0
            and self.last_success is not None
            and now - self.last_success <= LIVENESS_INTERVALS * self.interval
        )

    def to_dict(self, now: float) -> dict[str, Any]:
        """The JSON form for the HTTP endpoints."""
        return {
            "job": self.job,
            "alive": self.alive(now),
            "ready": self.ready(now),
            "hung": self.hung(now),
            "runs": self.runs,
            "failures": self.failures,
            "consecutive_failures": self.consecutive_failures,
            "last_error": self.last_error,
            "last_success_at": utc_stamp(self.last_success_at) if self.last_success_at else None,
            "interval_seconds": self.interval,
        }


Observer = Callable[[str, float, Any, BaseException | None], None]
"""Called after each run with (job, seconds, result, error); metrics and logs hook in here."""


@dataclass
class JobLoop:
    """One job's loop. :meth:`run_forever` in a thread; :meth:`stop` ends it."""

    name: str
    step: Callable[[], Any]
    interval: float
    timeout: float
    jitter: float = 0.1
    """Each wait is the interval times a random factor in [1 - jitter, 1 + jitter], so the
    agents of a cluster drift apart instead of hitting the API server together."""
    observer: Observer | None = None
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], datetime] = utc_now
    rng: random.Random = field(default_factory=random.Random)
    health: Health = field(init=False)
    _wake: threading.Event = field(default_factory=threading.Event, init=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False)

    def __post_init__(self) -> None:
        self.health = Health(self.name, self.interval, self.timeout)

    def trigger(self) -> None:
        """Run as soon as the current wait allows (a watch saw a change, a request came)."""
        self._wake.set()

    def stop(self) -> None:
        """End the loop after the current run."""
        self._stopping.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stopping.is_set()

    def run_once(self) -> Any:
        """Run the step here, recording health; re-raise its error."""
        health = self.health
        started = self.monotonic()
        health.running_since = started
        result: Any = None
        error: BaseException | None = None
        try:
            result = self.step()
            return result
        except Exception as exc:
            error = exc
            raise
        finally:
            self._record(started, result, error)

    def _record(self, started: float, result: Any, error: BaseException | None) -> None:
        health = self.health
        ended = self.monotonic()
        health.runs += 1
        health.running_since = None
        if error is None:
            health.consecutive_failures = 0
            health.last_error = None
            health.last_success = ended
            health.last_success_at = self.wall()
        else:
            health.failures += 1
            health.consecutive_failures += 1
            health.last_error = f"{type(error).__name__}: {error}"
        if self.observer is not None:
            self.observer(self.name, ended - started, result, error)

    def _run_guarded(self) -> None:
        """Run the step in a worker thread; report it hung when it outlives the timeout."""
        done = threading.Event()

        def work() -> None:
            try:
                self.run_once()
            except Exception:  # recorded in health; the loop goes on
                pass
            finally:
                done.set()

        worker = threading.Thread(target=work, name=f"polarstack-{self.name}", daemon=True)
        worker.start()
        if done.wait(self.timeout):
            return
        # Hung: reported by health.hung() (so /healthz fails and the kubelet restarts the
        # agent); no second run starts while this one lives.
        while not done.wait(1.0) and not self.stopping:
            pass

    def run_forever(self) -> None:
        """Run, wait (interval with jitter, or backoff after failures), repeat, until stopped."""
        health = self.health
        health.loop_running = True
        try:
            while not self.stopping:
                self._wake.clear()
                self._run_guarded()
                if self.stopping:
                    break
                delay = backoff_delay(self.interval, health.consecutive_failures)
                if health.consecutive_failures == 0 and self.jitter:
                    delay *= self.rng.uniform(1 - self.jitter, 1 + self.jitter)
                health.next_run_at = self.monotonic() + delay
                self._wake.wait(delay)
                health.next_run_at = None
        finally:
            health.loop_running = False
