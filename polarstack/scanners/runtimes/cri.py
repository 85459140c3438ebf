"""The Kubernetes Container Runtime Interface over its unix socket: containerd and CRI-O.

The generated CRI stubs come from the PyPI package ``container-runtime-interface-api``; the
calls are made here with gRPC directly, so that each has a timeout (the package's own helpers
have none). CRI v1 first, v1alpha2 for runtimes too old for v1.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from polarstack.errors import RuntimeUnavailableError
from polarstack.scanners.runtimes.base import RuntimeImage

CONTAINERD_SOCKET = "/run/containerd/containerd.sock"
CRIO_SOCKET = "/var/run/crio/crio.sock"


class CriLister:
    """Images of a CRI runtime (those the kubelet sees)."""

    name = "cri"

    def __init__(self, endpoint: str, *, timeout: float = 10.0) -> None:
        self.endpoint = endpoint.removeprefix("unix://")
        self.timeout = timeout

    _channel: Any = None
    _api: tuple[Any, Any] | None = None

    def close(self) -> None:
        """Close the connection to the runtime (it is opened again on the next call)."""
        if self._channel is not None:
            self._channel.close()
            self._channel, self._api = None, None

    @staticmethod
    def _apis() -> Iterator[tuple[Any, Any]]:
        """CRI v1, then v1alpha2; the older stubs are imported only if v1 is refused."""
        from cri_api.v1 import api_pb2, api_pb2_grpc

        yield api_pb2, api_pb2_grpc
        from cri_api.v1alpha2 import api_pb2 as alpha_pb2
        from cri_api.v1alpha2 import api_pb2_grpc as alpha_pb2_grpc

        yield alpha_pb2, alpha_pb2_grpc

    def _call(self, method: str) -> Any:
        # Imported here: gRPC and the stubs cost 0.1 s, paid only where CRI is asked.
        import grpc

        if self._channel is None:
            # One channel for the lister's life: checks repeat, and gRPC reconnects by itself.
            self._channel = grpc.insecure_channel(f"unix://{self.endpoint}")
        for messages, stubs in [self._api] if self._api else self._apis():
            stub = stubs.ImageServiceStub(self._channel)
            request = getattr(messages, f"{method}Request")()
            try:
                answer = getattr(stub, method)(request, timeout=self.timeout)
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                    continue  # an older runtime: try v1alpha2
                raise RuntimeUnavailableError(
                    f"CRI runtime at {self.endpoint}: {exc.code().name}: {exc.details()}"
                ) from None
            self._api = (messages, stubs)
            return answer
        raise RuntimeUnavailableError(f"CRI runtime at {self.endpoint} speaks no known CRI version")

    def list_images(self) -> list[RuntimeImage]:
        """One ListImages call."""
        answer = self._call("ListImages")
        return [
            RuntimeImage(image.id, tuple(image.repo_tags), tuple(image.repo_digests))
            for image in answer.images
        ]
