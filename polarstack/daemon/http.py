"""The daemon's HTTP server: health, readiness, metrics, and the compatible ``/api/v1``."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST

from polarstack.daemon.service import Daemon, LookupFailedError
from polarstack.errors import ClusterError, ClusterUnreachableError

log = logging.getLogger("polarstack.daemon.http")

Answer = tuple[int, Any]
"""(HTTP status, the ``data`` of the envelope, or an error message for statuses >= 400)."""


class ApiServer:
    """Serves the daemon's endpoints on ``host:port`` in a thread of its own."""

    def __init__(self, daemon: Daemon, host: str, port: int) -> None:
        self.daemon = daemon
        # Its request threads are daemon threads: a hung request never holds up the exit.
        self.server = ThreadingHTTPServer((host, port), _handler(self))
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        )
        self.api: dict[tuple[str, str], Callable[[dict[str, str]], Answer]] = {
            ("GET", "TestConn"): lambda query: (200, {"message": "connected"}),
            ("GET", "GetStandByIp"): self._standby_ip,
            ("POST", "RequestCheckCoreVersion"): self._recheck_everywhere,
            ("POST", "InnerCheckCoreVersion"): self._recheck_here,
        }

    @property
    def port(self) -> int:
        """The port actually bound (port 0 picks a free one)."""
        return int(self.server.server_address[1])

    def start(self) -> None:
        """Serve in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()

    # --- /api/v1 ---------------------------------------------------------------------------

    def _standby_ip(self, query: dict[str, str]) -> Answer:
        pod, namespace = query.get("podName", "").strip(), query.get("namespace", "").strip()
        if not pod or not namespace:
            return 400, "podName and namespace are required"
        try:
            return 200, self.daemon.standby_ip(namespace, pod)
        except LookupFailedError as exc:
            return exc.status, str(exc)

    def _recheck_everywhere(self, query: dict[str, str]) -> Answer:
        self.daemon.request_recheck_everywhere()
        self.daemon.recheck_here()
        return 200, {"message": "version re-check requested on every node"}

    def _recheck_here(self, query: dict[str, str]) -> Answer:
        if not self.daemon.recheck_here():
            return 409, "the versions job does not run on this node"
        return 200, {"message": "version re-check started on this node"}

    def answer_api(self, method: str, name: str, query: dict[str, str]) -> Answer:
        """Dispatch one ``/api/v1/<name>`` request; errors become statuses, never tracebacks."""
        handler = self.api.get((method, name))
        if handler is None:
            allowed = [m for m, n in self.api if n == name]
            if allowed:
                return 405, f"{name} takes {', '.join(allowed)}"
            return 404, f"no such API: {name}"
        try:
            return handler(query)
        except ClusterUnreachableError as exc:
            return 503, str(exc)
        except ClusterError as exc:
            return 502, str(exc)
        except Exception as exc:
            log.exception("API %s failed", name)
            return 500, f"internal error: {type(exc).__name__}"


def _handler(api: ApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        server_version = "polarstack"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), format % args)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PUT(self) -> None:
            self._serve("PUT")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def _serve(self, method: str) -> None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0:
                # Where the body ends is unknown, so is where a next request would start.
                body = {"status": "bad request", "error": "bad Content-Length"}
                self._json(400, body, close=True)
                return
            if length:
                self.rfile.read(min(length, 1 << 20))
            split = urlsplit(self.path)
            path = split.path.rstrip("/") or "/"
            daemon = api.daemon
            if path in ("/healthz", "/readyz") and method == "GET":
                ok, body = daemon.liveness() if path == "/healthz" else daemon.readiness()
                self._json(200 if ok else 503, body)
            elif path == "/metrics" and method == "GET":
                self._send(200, daemon.metrics.render(), CONTENT_TYPE_LATEST)
            elif path.startswith("/api/v1/"):
                try:
                    query = {
                        k: v[-1] for k, v in parse_qs(split.query, strict_parsing=False).items()
                    }
                except ValueError:
                    query = {}
                status, data = api.answer_api(method, path.removeprefix("/api/v1/"), query)
                self._envelope(status, data)
            else:
                self._json(404, {"status": "not found", "path": path})

        def _envelope(self, status: int, data: Any) -> None:
            request_id = self.headers.get("X-Request-Id") or uuid.uuid4().hex
            ok = status < 400
            self._json(
                status,
                {
                    "code": "1" if ok else str(status),
                    "data": data if ok else None,
                    "message": "" if ok else str(data),
                    "requestId": request_id,
                },
            )

        def _json(self, status: int, body: Any, *, close: bool = False) -> None:
            data = json.dumps(body).encode()
            self._send(status, data, "application/json; charset=utf-8", close=close)

        def _send(
            self, status: int, data: bytes, content_type: str, *, close: bool = False
        ) -> None:
            self.send_response(status)
            if close:
                self.send_header("Connection", "close")  # and the server closes it after
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
