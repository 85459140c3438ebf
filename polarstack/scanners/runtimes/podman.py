"""Podman's command line: ``podman images --format json``, one run."""

from __future__ import annotations

import shutil
from typing import Any

from polarstack.errors import RuntimeUnavailableError
from polarstack.scanners.runtimes.base import RuntimeImage, parse_listing


class PodmanLister:
    """Images of Podman's store (as the ``podman`` on PATH sees it, with its configuration)."""

    name = "podman"

    def __init__(self, endpoint: str | None = None, *, timeout: float = 30.0) -> None:
        self.command = shutil.which("podman")
        # An endpoint is a Podman service socket: the CLI then talks to it (--url).
        self.url = endpoint
        self.endpoint = endpoint or (self.command or "podman")
        self.timeout = timeout

    def _run(self, *args: str) -> Any:
        if self.command is None:
            raise RuntimeUnavailableError("podman: command not found")
        import sh

        url = ("--url", self.url) if self.url else ()
        try:
            return sh.Command(self.command)(*url, *args, _timeout=self.timeout)
        except sh.ErrorReturnCode as exc:
            message = exc.stderr.decode(errors="replace").strip().splitlines()
            raise RuntimeUnavailableError(
                f"podman {' '.join(args)}: {message[-1] if message else exc}"
            ) from None
        except sh.TimeoutException:
            raise RuntimeUnavailableError(f"podman {' '.join(args)}: timed out") from None
        except UnicodeDecodeError as exc:  # sh decodes the output it returns
            raise RuntimeUnavailableError(
                f"podman {' '.join(args)}: printed bytes that are not UTF-8 (byte {exc.start})"
            ) from exc

    def list_images(self) -> list[RuntimeImage]:
        """One ``podman images --format json``."""
        output = self._run("images", "--format", "json")
        return parse_listing(str(output) or "[]", "podman images", ("Names", "RepoTags"))
