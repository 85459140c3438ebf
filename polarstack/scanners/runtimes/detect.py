"""Choosing the runtime: named, or the first one found in a fixed order."""

from __future__ import annotations

import os
import shutil
import stat

from polarstack.errors import RuntimeUnavailableError, UsageError
from polarstack.scanners.runtimes.base import ImageLister
from polarstack.scanners.runtimes.cri import CONTAINERD_SOCKET, CRIO_SOCKET, CriLister
from polarstack.scanners.runtimes.docker import DOCKER_SOCKET, DockerLister
from polarstack.scanners.runtimes.podman import PodmanLister

RUNTIMES = ("auto", "cri", "docker", "podman")
AUTO_ORDER = (
    ("cri", CONTAINERD_SOCKET),
    ("cri", CRIO_SOCKET),
    ("docker", DOCKER_SOCKET),
    ("podman", "podman"),
)
"""What ``auto`` tries, in order: the kubelet's runtime first, since its images are the ones
pods start from."""


def _is_socket(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def _make(kind: str, endpoint: str | None, timeout: float) -> ImageLister:
    if kind == "cri":
        return CriLister(endpoint or CONTAINERD_SOCKET, timeout=timeout)
    if kind == "docker":
        return DockerLister(endpoint or DOCKER_SOCKET, timeout=timeout)
    return PodmanLister(endpoint, timeout=timeout)


def open_runtime(
    runtime: str = "auto", endpoint: str | None = None, *, timeout: float = 10.0
) -> ImageLister:
    """The runtime to ask.

    Args:
        runtime: ``cri``, ``docker``, ``podman``, or ``auto``: the first of
            :data:`AUTO_ORDER` present (a socket that exists; ``podman`` on PATH). With an
            endpoint, ``auto`` means Docker when the socket's name holds ``docker``, else CRI.
        endpoint: the runtime's socket (``unix://`` optional).
        timeout: seconds for one call to the runtime.

    Raises:
        UsageError: an unknown runtime name.
        RuntimeUnavailableError: ``auto`` found none, or the named socket does not exist.
    """
    if runtime not in RUNTIMES:
        raise UsageError(f"unknown runtime {runtime!r}: choose from {', '.join(RUNTIMES)}")
    path = endpoint.removeprefix("unix://") if endpoint else None
    if runtime == "auto" and path is not None:
        runtime = "docker" if "docker" in os.path.basename(path) else "cri"
    if runtime == "auto":
        for kind, where in AUTO_ORDER:
            if (kind == "podman" and shutil.which(where)) or _is_socket(where):
                return _make(kind, None if kind == "podman" else where, timeout)
        tried = ", ".join(where for _kind, where in AUTO_ORDER)
        raise RuntimeUnavailableError(f"no container runtime found (tried {tried})")
    lister = _make(runtime, path, timeout)
    if runtime != "podman" and not _is_socket(lister.endpoint):
        raise RuntimeUnavailableError(f"{runtime} runtime socket not found: {lister.endpoint}")
    return lister
