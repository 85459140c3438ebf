"""The condition manager: node conditions written on change and on a heartbeat, no more.

The previous daemon patched the Node every 3 seconds whatever happened: thousands of writes
per node per hour. This manager remembers what it published and writes only when a
condition changed or the heartbeat period elapsed, all of polarstack's conditions in one
patch. It reads the node's conditions at start, so a restart neither resets
``lastTransitionTime`` nor writes before anything is due. It takes the clock as an argument,
so tests decide what time it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from polarstack.errors import PolarstackError, UsageError
from polarstack.model import Condition, NodeEvent
from polarstack.runner import capped_doubling
from polarstack.settings import NetSettings
from polarstack.timefmt import parse_utc_stamp, utc_now


class NodeStatus(Protocol):
    """The part of a publisher the manager needs."""

    def read_conditions(self, node: str) -> Sequence[Mapping[str, Any]]:
        """The node's current conditions."""

    def patch_conditions(self, node: str, conditions: Sequence[Mapping[str, Any]]) -> None:
        """Merge conditions into the node's by type."""


@dataclass(frozen=True)
class Transition:
    """A condition whose status changed (or that appeared), for an Event."""

    condition: Condition
    previous: str | None
    """The status before, None when the condition is new on the node."""


def transition_event(transition: Transition) -> NodeEvent:
    """The Event for a condition whose status changed; a warning when it turned bad.

    Example:
        >>> change = Transition(Condition("NodeClientNetworkUnavailable", "True", "StateDown",
        ...                               "bond1 StateDown"), "False")
        >>> transition_event(change)
        NodeEvent(reason='NodeClientNetworkUnavailable', message='NodeClientNetworkUnavailable \
False -> True: StateDown, bond1 StateDown', type='Warning')
    """
    condition = transition.condition
    # Conditions named "...Unavailable" are bad when True; the others when False.
    bad = "True" if condition.type.endswith("Unavailable") else "False"
    return NodeEvent(
        reason=condition.type,
        message=f"{condition.type} {transition.previous or 'unset'} -> {condition.status}: "
        f"{condition.reason}, {condition.message}",
        type="Warning" if condition.status == bad else "Normal",
    )


@dataclass(frozen=True)
class SyncResult:
    """What one :meth:`ConditionManager.sync` did."""

    written: bool
    transitions: tuple[Transition, ...] = ()
    error: str | None = None
    """Why the read or the patch failed; the manager retries after a backoff."""
    retry_at: datetime | None = None


@dataclass
class _Published:
    condition: Condition
    transition: datetime
    heartbeat: datetime


@dataclass
class ConditionManager:
    """Keeps polarstack's conditions on one Node up to date with the fewest writes.

    Call :meth:`set` with the conditions as they are now, then :meth:`sync` (both as often as
    the job checks); :meth:`sync` writes when something is due.
    """

    status: NodeStatus
    node: str
    types: frozenset[str]
    """The condition types this manager owns; no other type is ever written."""
    clock: Callable[[], datetime] = utc_now
    settings: NetSettings = field(default_factory=NetSettings)
    _published: dict[str, _Published] | None = field(default=None, init=False)
    _desired: dict[str, Condition] = field(default_factory=dict, init=False)
    _failures: int = field(default=0, init=False)
    _retry_at: datetime | None = field(default=None, init=False)
    _last_error: str | None = field(default=None, init=False)

    def set(self, conditions: Iterable[Condition]) -> None:
        """State the conditions as they are now.

        Raises:
            UsageError: a condition's type is not one of ``types``.
        """
        for condition in conditions:
            if condition.type not in self.types:
                raise UsageError(f"condition type {condition.type} is not managed here")
            self._desired[condition.type] = condition

    def load(self) -> dict[str, Condition]:
        """Read our conditions back from the node, once; return what it holds of them.

        :meth:`sync` does this itself; call it first to see the published state before
        deciding what to set (the net job takes the last known IPs from it).

        Raises:
            PolarstackError: the node could not be read (``sync`` will try again).
        """
        if self._published is None:
            self._published = self._read_back()
        return self.published

    def due(self, now: datetime) -> list[str]:
        """The types that need writing at ``now`` (empty before the first read)."""
        if self._published is None:
            return []
        due = []
        for kind, condition in self._desired.items():
            published = self._published.get(kind)
            if (
                published is None
                or published.condition != condition
                or now - published.heartbeat >= self.settings.heartbeat
            ):
                due.append(kind)
        return due

    def sync(self) -> SyncResult:
        """Read the node once (at start), then patch when a condition is due.

        When anything is due, the patch carries every one of our conditions: the unchanged
        ones get a fresh heartbeat and keep their ``lastTransitionTime``, and all stay on
        one heartbeat schedule, so one write serves them all.
        """
        now = self.clock()
        if self._retry_at is not None and now < self._retry_at:
            # Still waiting after a failure: say so, with the error that started the wait.
            return SyncResult(written=False, error=self._last_error, retry_at=self._retry_at)
        try:
            if self._published is None:
                self._published = self._read_back()
            if not self.due(now):
                self._succeeded()
                return SyncResult(written=False)
            written, transitions = self._write(now)
        except PolarstackError as exc:
            return self._failed(now, str(exc))
        self._published.update(written)
        self._succeeded()
        return SyncResult(written=True, transitions=tuple(transitions))

    def _read_back(self) -> dict[str, _Published]:
        published = {}
        for item in self.status.read_conditions(self.node):
            kind = str(item.get("type", ""))
            if kind not in self.types:
                continue
            transition = parse_utc_stamp(item.get("lastTransitionTime"))
            heartbeat = parse_utc_stamp(item.get("lastHeartbeatTime"))
            if transition is None or heartbeat is None:
                continue  # unreadable times: treat as never published, write it afresh
            condition = Condition(
                kind,
                str(item.get("status", "")),
                str(item.get("reason", "")),
                str(item.get("message", "")),
            )
            published[kind] = _Published(condition, transition, heartbeat)
        return published

    def _write(self, now: datetime) -> tuple[dict[str, _Published], list[Transition]]:
        assert self._published is not None
        written: dict[str, _Published] = {}
        transitions = []
        for kind in sorted(self._desired):
            condition = self._desired[kind]
            before = self._published.get(kind)
            if before is not None and before.condition.status == condition.status:
                transition = before.transition
            else:
                transition = now
                transitions.append(
                    Transition(condition, before.condition.status if before else None)
                )
            written[kind] = _Published(condition, transition, now)
        self.status.patch_conditions(
            self.node,
            [p.condition.to_api(transition=p.transition, heartbeat=now) for p in written.values()],
        )
        return written, transitions

    def _succeeded(self) -> None:
        self._failures = 0
        self._retry_at = None
        self._last_error = None

    def _failed(self, now: datetime, error: str) -> SyncResult:
        self._failures += 1
        delay = timedelta(
            seconds=capped_doubling(
                self.settings.retry_initial.total_seconds(),
                self.settings.retry_max.total_seconds(),
                self._failures,
            )
        )
        self._retry_at = now + delay
        self._last_error = error
        return SyncResult(written=False, error=error, retry_at=self._retry_at)

    @property
    def published(self) -> dict[str, Condition]:
        """What the node holds of our conditions, as far as this manager knows."""
        return {kind: p.condition for kind, p in (self._published or {}).items()}
