"""The interface every runtime backend implements."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from polarstack.errors import RuntimeUnavailableError


@dataclass(frozen=True)
class RuntimeImage:
    """One image as a runtime lists it."""

    id: str
    tags: tuple[str, ...]
    """References by tag, as the runtime spells them (``pg:15``, ``docker.io/library/pg:15``)."""
    digests: tuple[str, ...]
    """References by digest (``name@sha256:…``)."""


class ImageLister(Protocol):
    """A runtime that can list the images it holds."""

    name: str
    """``cri``, ``docker`` or ``podman``."""
    endpoint: str
    """The socket or command used."""

    def list_images(self) -> list[RuntimeImage]:
        """Every image present, in one call to the runtime.

        Raises:
            RuntimeUnavailableError: the runtime cannot be reached.
        """


def parse_listing(answer: str | bytes, where: str, tag_keys: tuple[str, ...]) -> list[RuntimeImage]:
    """The images of a JSON listing (Docker's Engine API, ``podman images --format json``).

    Each image is an object with ``Id``, its tags under the first of ``tag_keys`` that it
    has, and ``RepoDigests``.

    Raises:
        RuntimeUnavailableError: ``answer`` is no such listing (``where`` names who answered).
    """
    try:
        listed = json.loads(answer)
    except ValueError as exc:
        raise RuntimeUnavailableError(f"{where} answered no JSON: {answer[:60]!r}") from exc
    if not isinstance(listed, list) or not all(isinstance(image, dict) for image in listed):
        raise RuntimeUnavailableError(f"{where} answered no list of images: {answer[:60]!r}")
    images = []
    for image in listed:
        tags = next((image[key] for key in tag_keys if image.get(key)), None)
        images.append(
            RuntimeImage(
                str(image.get("Id", "")),
                _references(tags, where),
                _references(image.get("RepoDigests"), where),
            )
        )
    return images


def _references(value: Any, where: str) -> tuple[str, ...]:
    if not value:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RuntimeUnavailableError(f"{where} listed image references that are no strings")
    return tuple(value)
