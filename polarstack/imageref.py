"""Image references, normalised so that every runtime's spelling of one image compares equal.

Docker lists Hub images as ``postgres:15``, containerd as ``docker.io/library/postgres:15``;
a version ConfigMap may say either. After :func:`parse_image_ref` both are
``docker.io/library/postgres:15``. Rules, as the container tools apply them:

- the first path part is a registry when it holds a ``.`` or a ``:``, or is ``localhost``;
  otherwise the registry is ``docker.io`` (``index.docker.io`` is the same registry);
- on ``docker.io`` a one-part name gets ``library/`` in front;
- with neither tag nor digest, the tag is ``latest``; a digest (``@sha256:…``) names the
  content exactly and, when both are given, decides the match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from polarstack.errors import UsageError

DEFAULT_REGISTRY = "docker.io"
_REGISTRY_ALIASES = {"index.docker.io": DEFAULT_REGISTRY, "registry-1.docker.io": DEFAULT_REGISTRY}
_PATH_PART = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$")
_REGISTRY = re.compile(r"^[a-zA-Z0-9.-]+(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$")


@dataclass(frozen=True, order=True)
class ImageRef:
    """A normalised image reference."""

    registry: str
    repository: str
    """Path below the registry, ``library/`` included for Docker Hub's official images."""
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """``registry/repository``."""
        return f"{self.registry}/{self.repository}"

    def key(self) -> str:
        """What identifies the image: ``name@digest`` when there is a digest, else ``name:tag``."""
        return f"{self.name}@{self.digest}" if self.digest else f"{self.name}:{self.tag}"

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.name}{tag}{digest}"


def _split_registry(remainder: str) -> tuple[str, str]:
    first, sep, rest = remainder.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return _REGISTRY_ALIASES.get(first.lower(), first.lower()), rest
    return DEFAULT_REGISTRY, remainder


def parse_image_ref(text: str) -> ImageRef:
    """Parse and normalise ``text``.

    Raises:
        UsageError: ``text`` is not an image reference.

    Example:
        >>> str(parse_image_ref("postgres"))
        'docker.io/library/postgres:latest'
        >>> str(parse_image_ref("localhost:5000/polardb/engine:1.2"))
        'localhost:5000/polardb/engine:1.2'
        >>> parse_image_ref("docker.io/library/pg:15") == parse_image_ref("pg:15")
        True
    """
    reference = text.strip()
    remainder, _, digest = reference.partition("@")
    registry, path = _split_registry(remainder)
    tag: str | None = None
    last_slash = path.rfind("/")
    colon = path.rfind(":")
    if colon > last_slash:
        path, tag = path[:colon], path[colon + 1 :]
    problem = None
    if not path or not all(_PATH_PART.match(part) for part in path.split("/")):
        problem = "a bad repository name (lower-case letters, digits and . _ - only)"
    elif not _REGISTRY.match(registry):
        problem = "a bad registry"
    elif tag is not None and not _TAG.match(tag):
        problem = "a bad tag"
    elif digest and not _DIGEST.match(digest):
        problem = "a bad digest (expected algorithm:hex)"
    elif "@" in reference and not digest:
        problem = "an empty digest"
    if problem:
        raise UsageError(f"not an image reference, {problem}: {text!r}")
    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = f"library/{path}"
    if tag is None and not digest:
        tag = "latest"
    return ImageRef(registry, path, tag, digest.lower() if digest else None)


def present_keys(tags: list[str], digests: list[str]) -> set[str]:
    """The keys under which a runtime's image can be found, from its tags and repo digests.

    Entries that do not parse (``<none>:<none>``, a bare digest) are ignored: they name no
    reference a version could ask for.

    Example:
        >>> sorted(present_keys(["pg:15"], ["pg@sha256:" + "a" * 64]))[0]
        'docker.io/library/pg:15'
    """
    keys = set()
    for text in (*tags, *digests):
        try:
            ref = parse_image_ref(text)
        except UsageError:
            continue
        keys.add(ref.key())
        if ref.digest and ref.tag:
            keys.add(f"{ref.name}:{ref.tag}")
    return keys
