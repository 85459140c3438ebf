"""SIGINT and SIGTERM as requests to stop at the next safe point, not as a kill.

A command that deletes or publishes must not die between two system calls: the work in hand
is finished, nothing new starts, and what was done is reported. The exit status then says
which signal stopped it (128 + its number, as a shell would).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StoppedBySignal(Exception):  # noqa: N818 (it is how the command ended, not a fault)
    """The command stopped early because it was sent ``signum``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def interrupted_message(signum: int) -> str:
    """The one line a stop by signal prints, wherever it lands."""
    return f"interrupted by {signal.Signals(signum).name}"


class SignalStop:
    """SIGINT and SIGTERM, while entered, set a flag instead of interrupting the program.

    :meth:`is_set` is what long work asks between two items; callbacks run on the signal.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._event = threading.Event()
        self._callbacks: list[Callable[[], None]] = []
        self._previous: dict[int, Any] = {}

    def is_set(self) -> bool:
        """Whether a stop signal arrived."""
        return self._event.is_set()

    def on_signal(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (in the main thread) when a stop signal arrives."""
        self._callbacks.append(callback)

    def raise_if_stopped(self) -> None:
        """Raise when a stop signal arrived.

        Raises:
            StoppedBySignal: with the first signal's number.
        """
        if self.signum is not None:
            raise StoppedBySignal(self.signum)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
        self._event.set()
        for callback in self._callbacks:
            callback()

    def __enter__(self) -> SignalStop:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
