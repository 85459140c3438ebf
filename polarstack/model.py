"""The value types that the jobs, the cluster code and the publishers share.

They hold no logic of the jobs: a type lives here when more than one layer needs it, so
that nothing imports a scanner, a cleaner or a publisher for a type.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from polarstack.errors import UsageError
from polarstack.timefmt import parse_utc_stamp, utc_stamp

# --- logs ------------------------------------------------------------------------------------


class Rule(enum.StrEnum):
    """The cleaning rules, by the names the CLI and reports use."""

    ORPHAN = "orphan"
    EXPIRED_LOG = "expired-log"
    EXPIRED_REMOVED_DATA = "expired-removed-data"


ALL_RULES = tuple(Rule)


@dataclass(frozen=True)
class LiveIds:
    """The instance ids that are live, and where that knowledge came from."""

    ids: frozenset[str] | None
    """None when unknown."""
    source: str
    """``cluster``, ``argument`` or ``unknown``."""
    reason: str = ""
    """Why the ids are unknown, when they are."""

    @classmethod
    def given(cls, ids: Iterable[str]) -> LiveIds:
        """Live ids handed in by the user (``--live-id``, ``--live-ids-file``)."""
        return cls(frozenset(i.strip() for i in ids if i.strip()), "argument")

    @classmethod
    def read_file(cls, path: str, extra: Iterable[str] = ()) -> LiveIds:
        """Live ids from a file (one per line, or comma-separated), plus ``extra``.

        Raises:
            UsageError: the file cannot be read.
        """
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read live ids file {path}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise UsageError(f"live ids file {path} is not UTF-8 text (byte {exc.start})") from None
        except ValueError as exc:  # the path holds a NUL byte
            raise UsageError(f"cannot read live ids file {path!r}: {exc}") from exc
        return cls.given([*extra, *text.replace(",", "\n").split()])

    @classmethod
    def unknown(cls, reason: str) -> LiveIds:
        """No live set: the orphan rule is skipped with ``reason``."""
        return cls(None, "unknown", reason)


# --- ports and versions ----------------------------------------------------------------------


@dataclass(frozen=True)
class PortHolder:
    """Something that occupies a port: a socket on the host, or a pod's ``hostPort``."""

    port: int
    family: str
    """``ipv4`` or ``ipv6``."""
    address: str
    state: str
    """TCP state name (``LISTEN``, ``ESTABLISHED`` …), or ``HOSTPORT`` for a pod's mapping."""
    pid: int | None = None
    process: str | None = None
    source: str = "socket"
    """``socket``, or ``hostPort`` for a port a pod declares."""
    pod: str | None = None
    """``namespace/name`` of the pod, for ``hostPort`` holders."""

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form of the CLI's ``sockets`` list."""
        return {
            "port": self.port,
            "family": self.family,
            "address": self.address,
            "state": self.state,
            "pid": self.pid,
            "process": self.process,
            "source": self.source,
            "pod": self.pod,
        }


@dataclass(frozen=True)
class VersionSpec:
    """An engine version and the images it needs."""

    name: str
    images: tuple[str, ...]
    source: str = ""
    """Where it was defined (a ConfigMap's name, a file), for messages."""


# --- what publishers publish -----------------------------------------------------------------


class Outcome(enum.StrEnum):
    """What publishing a ConfigMap did."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    """Nothing written: the published content was already the same."""


@dataclass(frozen=True)
class ConfigMapDoc:
    """A ConfigMap a job publishes, as its ``data`` and ``annotations``."""

    name: str
    data: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=dict)
    volatile: frozenset[str] = frozenset()
    """Data keys left out of the "did it change" comparison (times of the check): the
    ConfigMap is written when any other key changed, never for these alone. Annotations are
    never compared."""
    refresh_key: str | None = None
    """A data key holding a contract timestamp that readers take as "last checked" ..."""
    refresh_every: timedelta | None = None
    """... and is rewritten, with nothing else changed, once it is this much older than ours."""

    def same_content(self, data: Mapping[str, str] | None) -> bool:
        """Whether ``data`` (as published) already says what this document says."""
        data = data or {}
        return {k: v for k, v in data.items() if k not in self.volatile} == {
            k: v for k, v in self.data.items() if k not in self.volatile
        }

    def needs_write(self, data: Mapping[str, str] | None) -> bool:
        """Whether the published ``data`` must be replaced by this document's.

        Example:
            >>> doc = ConfigMapDoc("v", {"versions": "a", "checkTime": "2026-01-01T01:00:00Z"},
            ...                    volatile=frozenset({"checkTime"}), refresh_key="checkTime",
            ...                    refresh_every=timedelta(hours=1))
            >>> doc.needs_write({"versions": "a", "checkTime": "2026-01-01T00:30:00Z"})
            False
            >>> doc.needs_write({"versions": "a", "checkTime": "2026-01-01T00:00:00Z"})
            True
        """
        if not self.same_content(data):
            return True
        if self.refresh_key is None or self.refresh_every is None:
            return False
        ours = parse_utc_stamp(self.data.get(self.refresh_key))
        theirs = parse_utc_stamp((data or {}).get(self.refresh_key))
        return ours is None or theirs is None or ours - theirs >= self.refresh_every


@dataclass(frozen=True)
class Condition:
    """A node condition as a job states it; the condition manager adds the times."""

    type: str
    status: str
    """``True``, ``False`` or ``Unknown``."""
    reason: str
    message: str

    def to_api(self, *, transition: datetime, heartbeat: datetime) -> dict[str, str]:
        """The condition as the Node's ``status.conditions`` holds it."""
        return {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "lastTransitionTime": utc_stamp(transition),
            "lastHeartbeatTime": utc_stamp(heartbeat),
        }


@dataclass(frozen=True)
class NodeEvent:
    """Something notable a job did on this node, for people reading ``kubectl describe node``."""

    reason: str
    """CamelCase, as Kubernetes reasons are (``LogsCleaned``, ``ConditionChanged``)."""
    message: str
    type: str = "Normal"
    """``Normal`` or ``Warning``."""
