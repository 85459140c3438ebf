"""The interface every runtime backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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
