"""The runner: backoff, jitter, triggers, stop, hung runs, health."""

from __future__ import annotations

import random
import threading
import time

import pytest

from polarstack.runner import Health, JobLoop, backoff_delay


def test_backoff_is_capped_at_the_interval_or_a_minute() -> None:
    assert [backoff_delay(3, n) for n in range(1, 8)] == [3, 6, 12, 24, 48, 60, 60]
    assert [backoff_delay(600, n) for n in (1, 2, 8, 9, 50)] == [5, 10, 600, 600, 600]
    assert backoff_delay(600, 0) == 600


def test_health_alive_and_ready() -> None:
    health = Health("ports", interval=10, timeout=5, loop_running=True)
    assert health.alive(0) and not health.ready(0)  # started, no run yet
    health.next_run_at = 100
    assert health.alive(129) and not health.alive(131)  # overdue by 3 intervals: stuck
    health.running_since, health.next_run_at = 200, None
    assert health.alive(204) and not health.alive(206)  # past the timeout: hung
    health.running_since, health.last_success = None, 300
    assert health.ready(329) and not health.ready(331)
    health.consecutive_failures = 1
    assert not health.ready(301)


def run_in_thread(loop: JobLoop) -> threading.Thread:
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    return thread


def test_trigger_runs_at_once_and_stop_ends_the_loop() -> None:
    runs: list[float] = []
    loop = JobLoop("x", lambda: runs.append(time.monotonic()), interval=3600, timeout=5)
    thread = run_in_thread(loop)
    deadline = time.monotonic() + 5
    while not runs:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    loop.trigger()
    while len(runs) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    loop.stop()
    thread.join(2)
    assert not thread.is_alive()
    assert loop.health.runs == 2 and not loop.health.loop_running


def test_failures_retry_sooner_and_are_recorded() -> None:
    calls = []

    def flaky() -> str:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise OSError("dependency down")
        return "ok"

    seen: list[tuple[str, object, object]] = []
    loop = JobLoop(
        "x", flaky, interval=0.05, timeout=5,
        observer=lambda job, seconds, result, error: seen.append((job, result, error)),
    )  # fmt: skip
    thread = run_in_thread(loop)
    deadline = time.monotonic() + 5
    while loop.health.runs < 3:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    loop.stop()
    thread.join(2)
    assert loop.health.failures == 2 and loop.health.consecutive_failures == 0
    assert loop.health.last_error is None and loop.health.last_success is not None
    assert [type(e).__name__ if e else r for _j, r, e in seen[:3]] == ["OSError", "OSError", "ok"]


def test_a_hung_run_is_reported_and_never_doubled() -> None:
    release = threading.Event()
    started = []

    def hang() -> None:
        started.append(1)
        release.wait(10)

    loop = JobLoop("x", hang, interval=0.01, timeout=0.1)
    thread = run_in_thread(loop)
    time.sleep(0.4)
    assert loop.health.hung(time.monotonic()) and not loop.health.alive(time.monotonic())
    assert len(started) == 1
    release.set()
    deadline = time.monotonic() + 5
    while len(started) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    loop.stop()
    thread.join(2)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_jitter_stays_within_ten_percent(seed: int) -> None:
    waits = []
    loop = JobLoop("x", lambda: None, interval=100, timeout=5, rng=random.Random(seed))
    loop._wake.wait = lambda delay: (waits.append(delay), loop.stop())[0] or True  # type: ignore[method-assign]
    loop.run_forever()
    assert 90 <= waits[0] <= 110 and waits[0] != 100
