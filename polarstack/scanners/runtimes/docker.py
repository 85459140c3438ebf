"""Docker's Engine API over its unix socket: ``GET /images/json``, one request."""

from __future__ import annotations

import http.client
import socket

from polarstack.errors import RuntimeUnavailableError
from polarstack.scanners.runtimes.base import RuntimeImage, parse_listing

DOCKER_SOCKET = "/var/run/docker.sock"


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over a unix socket: the Engine API's transport."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.unix_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class DockerLister:
    """Images of a Docker Engine."""

    name = "docker"

    def __init__(self, endpoint: str = DOCKER_SOCKET, *, timeout: float = 10.0) -> None:
        self.endpoint = endpoint.removeprefix("unix://")
        self.timeout = timeout

    def _get(self, path: str) -> tuple[int, bytes]:
        connection = _UnixConnection(self.endpoint, self.timeout)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        except OSError as exc:
            raise RuntimeUnavailableError(f"Docker at {self.endpoint}: {exc}") from None
        finally:
            connection.close()

    def list_images(self) -> list[RuntimeImage]:
        """One ``GET /images/json``."""
        status, body = self._get("/images/json")
        if status != 200:
            raise RuntimeUnavailableError(f"Docker at {self.endpoint} answered {status}: {body!r}")
        return parse_listing(body, f"Docker at {self.endpoint}", ("RepoTags",))
