"""``--loop`` and ``--interval`` for every job command, on the library's runner."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import click

from polarstack import (
    JobLoop,
)
from polarstack_cli.environment import Environment
from polarstack_cli.params import DURATION
from polarstack_cli.settings_options import setting_option
from polarstack_cli.signals import SignalStop

F = TypeVar("F", bound=Callable[..., Any])


def loop_options(job: str) -> Callable[[F], F]:
    """Add ``--loop``, and ``--interval``: the setting ``<job>.interval``."""

    def decorate(func: F) -> F:
        func = setting_option(
            "--interval",
            setting=f"{job}.interval",
            type=DURATION,
            help="Time between runs with --loop (jittered by 10%; sooner after a failure).",
        )(func)
        return click.option(
            "--loop",
            is_flag=True,
            help="Run again every --interval until SIGTERM or Ctrl-C; a failed run is "
            "reported and retried with backoff.",
        )(func)

    return decorate


def run_repeatedly(
    env: Environment,
    name: str,
    step: Callable[[], Any],
    *,
    interval: float,
    timeout: float,
    signals: SignalStop | None = None,
) -> None:
    """Run ``step`` in a loop until SIGTERM/SIGINT; each ends the loop after the current run.

    ``signals`` lets the step see the stop too (a log clean then ends between two items).
    """

    def report(job: str, seconds: float, result: Any, error: BaseException | None) -> None:
        if error is not None:
            env.error(f"{job}: {error}")

    loop = JobLoop(name, step, interval=interval, timeout=timeout, observer=report)
    worker = threading.Thread(target=loop.run_forever, name=f"polarstack-{name}", daemon=True)
    with signals or SignalStop() as stopping:
        stopping.on_signal(loop.stop)
        worker.start()
        while worker.is_alive():
            worker.join(0.2)
