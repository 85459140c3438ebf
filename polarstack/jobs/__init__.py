"""The jobs: a scanner or cleaner, what it reads from the cluster, and where it publishes.

The CLI runs a job once; the daemon runs each in a loop. Neither holds job logic of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from polarstack.model import ConfigMapDoc, Outcome


class _Scan(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


S = TypeVar("S", bound=_Scan)


@dataclass(frozen=True)
class ConfigMapRun(Generic[S]):
    """One run of a job that publishes a ConfigMap: the node, the scan, what was published."""

    node: str
    """The node the run was for: it names the ConfigMap (the scan knows no node)."""
    scan: S
    source: str
    """Where the job's input came from (the subclass says which values)."""
    published: ConfigMapDoc | None = None
    """The ConfigMap as published (or found unchanged); None when not published."""
    outcome: Outcome | None = None
    notes: tuple[str, ...] = ()
    """Why something was skipped: input that did not parse, a switch that is off."""
    publish: bool = field(default=True, repr=False)
    """Whether the platform's switch lets the result be published."""
    source_key: ClassVar[str] = "source"

    def to_dict(self) -> dict[str, Any]:
        """The node, then the scan's JSON object, the source, the notes and what was published."""
        result = {
            "node": self.node,
            **self.scan.to_dict(),
            self.source_key: self.source,
            "notes": list(self.notes),
        }
        if self.published is not None and self.outcome is not None:
            result["published"] = {
                "config_map": self.published.name,
                "outcome": self.outcome.value,
            }
        return result
