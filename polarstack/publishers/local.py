"""The local publisher: what would go to the cluster, as JSON, with no cluster at all.

With a directory, each object is a file there (ConfigMaps as ``configmap-<name>.json``, a
node's conditions as ``node-<node>.json``, its events as ``events-<node>.json``), written
atomically and only on change, so a host without Kubernetes (systemd timers) keeps the same
files the platform would read from the API server. With a stream, each write is one JSON
line on it. Either way it follows the same rules as the Kubernetes publisher: no write when
nothing changed, conditions merged by type, repeated events counted.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from polarstack.errors import ConfigurationError, UsageError
from polarstack.model import ConfigMapDoc, NodeEvent, Outcome
from polarstack.settings import ClusterSettings
from polarstack.timefmt import utc_stamp


class LocalPublisher:
    """A :class:`~polarstack.publishers.base.Publisher` that writes JSON files or lines."""

    def __init__(
        self,
        *,
        directory: Path | None = None,
        stream: TextIO | None = None,
        namespace: str = ClusterSettings.namespace,
    ) -> None:
        """Publish to ``directory`` or ``stream``.

        Raises:
            UsageError: neither or both were given.
        """
        if (directory is None) == (stream is None):
            raise UsageError("give exactly one of directory and stream")
        self.directory = directory
        self.stream = stream
        self.namespace = namespace
        self._memory: dict[str, Any] = {}

    def _load(self, key: str) -> Any:
        if self.directory is None:
            return self._memory.get(key)
        try:
            return json.loads((self.directory / f"{key}.json").read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot read {self.directory / key}.json: {exc}") from exc

    def _malformed(self, key: str, what: str) -> ConfigurationError:
        # Only a file edited by hand (or by another program) can be: this one writes them whole.
        where = f"{self.directory}/{key}.json"
        return ConfigurationError(f"{where} is not what polarstack wrote: {what}")

    def _load_map(self, key: str) -> dict[str, Any] | None:
        found = self._load(key)
        if found is not None and not isinstance(found, dict):
            raise self._malformed(key, "not a JSON object")
        return found

    def _save(self, key: str, obj: Any, *, line: Any = None) -> None:
        """Keep ``obj`` under ``key``; on a stream, print ``line`` (default ``obj``)."""
        if self.stream is not None:
            self._memory[key] = obj
            self.stream.write(json.dumps(obj if line is None else line, sort_keys=True) + "\n")
            self.stream.flush()
            return
        assert self.directory is not None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # Readers never see half a file: write aside, then rename over.
            fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{key}.")
            with os.fdopen(fd, "w") as f:
                json.dump(obj, f, indent=2, sort_keys=True)
                f.write("\n")
            os.replace(temporary, self.directory / f"{key}.json")
        except OSError as exc:
            raise ConfigurationError(f"cannot write {self.directory}/{key}.json: {exc}") from exc

    def publish_config_map(self, doc: ConfigMapDoc) -> Outcome:
        """Write the ConfigMap when missing or changed."""
        key = f"configmap-{doc.name}"
        current = self._load_map(key)
        data = None if current is None else current.get("data")
        if data is not None and not isinstance(data, dict):
            raise self._malformed(key, "its data is not a map")
        if current is not None and not doc.needs_write(data):
            return Outcome.UNCHANGED
        self._save(
            key,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": doc.name,
                    "namespace": self.namespace,
                    "annotations": dict(doc.annotations),
                },
                "data": dict(doc.data),
            },
        )
        return Outcome.CREATED if current is None else Outcome.UPDATED

    def read_conditions(self, node: str) -> Sequence[Mapping[str, Any]]:
        """The conditions written so far for ``node``.

        Raises:
            ConfigurationError: the file cannot be read, or holds no list of conditions.
        """
        key = f"node-{node}"
        status = (self._load_map(key) or {}).get("status") or {}
        conditions = status.get("conditions") if isinstance(status, dict) else None
        if not isinstance(conditions, list | None) or not all(
            isinstance(c, dict) and isinstance(c.get("type"), str) for c in conditions or []
        ):
            raise self._malformed(key, "its status holds no list of conditions with a type")
        return list(conditions or [])

    def patch_conditions(self, node: str, conditions: Sequence[Mapping[str, Any]]) -> None:
        """Merge ``conditions`` by type into those written so far."""
        merged = {c["type"]: dict(c) for c in self.read_conditions(node)}
        merged.update({c["type"]: dict(c) for c in conditions})
        self._save(
            f"node-{node}",
            {
                "kind": "Node",
                "metadata": {"name": node},
                "status": {"conditions": list(merged.values())},
            },
        )

    def record_event(self, node: str, event: NodeEvent, *, now: datetime) -> None:
        """Add the event, or count one more repeat of it."""
        key = f"events-{node}"
        events = self._load_map(key) or {}
        ident = f"{event.type}/{event.reason}/{event.message}"
        if ident in events and not (
            isinstance(events[ident], dict) and isinstance(events[ident].get("count"), int)
        ):
            raise self._malformed(key, f"event {ident!r} has no count")
        stamp = utc_stamp(now)
        entry = events.get(ident) or {
            "reason": event.reason,
            "message": event.message,
            "type": event.type,
            "count": 0,
            "firstTimestamp": stamp,
        }
        entry["count"] += 1
        entry["lastTimestamp"] = stamp
        events[ident] = entry
        self._save(key, events, line={"kind": "Event", "node": node, **entry})
