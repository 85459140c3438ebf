"""The versions job: which engine versions have every one of their images on this host."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from polarstack.errors import UsageError
from polarstack.imageref import parse_image_ref, present_keys
from polarstack.model import VersionSpec
from polarstack.scanners.runtimes.base import ImageLister
from polarstack.scanners.runtimes.detect import open_runtime
from polarstack.timefmt import utc_now, utc_stamp


@dataclass(frozen=True)
class VersionStatus:
    """Whether one version is available here."""

    name: str
    available: bool
    images: tuple[str, ...]
    missing_images: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "name": self.name,
            "available": self.available,
            "images": list(self.images),
            "missing_images": list(self.missing_images),
        }


@dataclass(frozen=True)
class VersionScan:
    """What a versions check found."""

    runtime: str
    endpoint: str
    versions: tuple[VersionStatus, ...]
    checked_at: datetime
    warnings: tuple[str, ...] = ()

    @property
    def existing_versions(self) -> tuple[str, ...]:
        """Names of the available versions, in the order the versions were given."""
        return tuple(v.name for v in self.versions if v.available)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``polarstack versions scan --output json`` prints."""
        return {
            "runtime": self.runtime,
            "endpoint": self.endpoint,
            "versions": [v.to_dict() for v in self.versions],
            "existing_versions": list(self.existing_versions),
            "checked_at": utc_stamp(self.checked_at),
            "warnings": list(self.warnings),
        }


def image_keys(data: Mapping[str, str]) -> list[str]:
    """The keys of a version ConfigMap's ``data`` that hold images.

    A key holds an image when it contains ``Image`` after its first character
    (``engineImage``, ``pfsdToolImage``; not ``Image`` itself, nor ``imageTag``).

    Example:
        >>> image_keys({"name": "v", "Image": "x", "engineImage": "pg", "imageTag": "1"})
        ['engineImage']
    """
    return [key for key in data if key.find("Image", 1) != -1]


def parse_version_config_maps(
    items: Iterable[Mapping[str, Any]],
) -> tuple[list[VersionSpec], list[str]]:
    """Turn version ConfigMaps into versions, with a warning for each one skipped.

    A ConfigMap without a ``name`` or without images is skipped with a warning naming it,
    except the platform's pointer ConfigMap (it holds ``latestVersion``), skipped silently.
    A second ConfigMap with a version name already seen is skipped with a warning, and so
    is one whose ``data`` is not a map (no API server answers that: something in between).
    """
    specs: list[VersionSpec] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for item in items:
        config_map = item.get("metadata", {}).get("name", "?")
        data = item.get("data") or {}
        if not isinstance(data, dict):
            warnings.append(f"version ConfigMap {config_map} skipped: its data is not a map")
            continue
        if "latestVersion" in data:
            continue
        name = str(data.get("name", "")).strip()
        images = tuple(str(data[k]).strip() for k in image_keys(data) if str(data[k]).strip())
        if not name or not images:
            what = "no name" if not name else "no images"
            warnings.append(f"version ConfigMap {config_map} skipped: {what}")
        elif name in seen:
            warnings.append(f"version ConfigMap {config_map} skipped: version {name} repeats")
        else:
            seen.add(name)
            specs.append(VersionSpec(name, images, config_map))
    return specs, warnings


def parse_versions_file(document: Any, source: str) -> list[VersionSpec]:
    """Versions from a ``--versions-file`` document: a list of ``{name, images}``.

    Raises:
        UsageError: the document is not such a list.
    """
    if not isinstance(document, list):
        raise UsageError(f"{source}: expected a list of {{name, images}}")
    specs = []
    for index, entry in enumerate(document):
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("name"), str)
            or not isinstance(entry.get("images"), list)
            or not all(isinstance(image, str) for image in entry["images"])
        ):
            raise UsageError(f"{source}: entry {index} is not {{name: str, images: [str]}}")
        specs.append(VersionSpec(entry["name"], tuple(entry["images"]), source))
    return specs


def load_versions_file(path: str) -> list[VersionSpec]:
    """Versions from a YAML or JSON file: a list of ``{name, images}``.

    Raises:
        UsageError: the file cannot be read or is not such a list.
    """
    import yaml  # only this function needs it

    try:
        with open(path, encoding="utf-8") as f:
            document = yaml.safe_load(f)  # JSON is YAML too
    except OSError as exc:
        raise UsageError(f"cannot read versions file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"versions file {path} is neither YAML nor JSON: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"versions file {path} is not UTF-8 text (byte {exc.start})") from exc
    except ValueError as exc:  # the path holds a NUL byte
        raise UsageError(f"cannot read versions file {path!r}: {exc}") from exc
    return parse_versions_file(document, path)


def scan_versions(
    versions: Sequence[VersionSpec],
    *,
    runtime: ImageLister | str = "auto",
    endpoint: str | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> VersionScan:
    """Check every version against one listing of the runtime's images.

    Args:
        versions: the versions to check, in the order to report them.
        runtime: the runtime to ask: ``auto``, ``cri``, ``docker``, ``podman``
            (:func:`polarstack.scanners.runtimes.open_runtime`), or an opened one.
        endpoint: the runtime's socket, when ``runtime`` is a name.
        clock: returns the time to record.

    A version whose image references do not parse is unavailable, with a warning.

    Example:
        >>> from polarstack.scanners.runtimes import RuntimeImage
        >>> class Held:  # any object with name, endpoint and list_images() will do
        ...     name, endpoint = "fake", "memory"
        ...     def list_images(self):
        ...         return [RuntimeImage("sha256:1", ("docker.io/library/pg:15",), ())]
        >>> scan = scan_versions([VersionSpec("15", ("pg:15",)), VersionSpec("16", ("pg:16",))],
        ...                      runtime=Held())
        >>> scan.existing_versions
        ('15',)
    """
    if isinstance(runtime, str):
        runtime = open_runtime(runtime, endpoint)
    present: set[str] = set()
    for listed in runtime.list_images():
        present |= present_keys(list(listed.tags), list(listed.digests))
    checked_at = clock()
    statuses = []
    warnings = []
    for version in versions:
        missing = []
        for image in version.images:
            try:
                key = parse_image_ref(image).key()
            except UsageError as exc:
                warnings.append(f"version {version.name}: {exc}")
                missing.append(image)
                continue
            if key not in present:
                missing.append(image)
        statuses.append(VersionStatus(version.name, not missing, version.images, tuple(missing)))
    return VersionScan(
        runtime=runtime.name,
        endpoint=runtime.endpoint,
        versions=tuple(statuses),
        checked_at=checked_at,
        warnings=tuple(warnings),
    )
