"""A tiny container image, built offline as one tar that containerd, Docker and Podman all load.

The tar holds an OCI image layout (``oci-layout``, ``index.json``, ``blobs/``) with the names
in ``io.containerd.image.name`` annotations, for ``ctr images import``, and a docker-archive
``manifest.json`` over the same blobs, for ``docker load`` and ``podman load``.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class ImageTar:
    """The tar and what identifies the image in it."""

    path: Path
    names: tuple[str, ...]
    manifest_digest: str
    """``sha256:…`` of the OCI manifest: containerd's repo digest after an import."""


def build_image_tar(
    path: Path,
    names: list[str],
    *,
    content: str = "polarstack",
    digest_repos: list[str] | None = None,
) -> ImageTar:
    """Write one image, known under every name in ``names`` (full references), to ``path``.

    Each repository in ``digest_repos`` also names the image by its manifest digest
    (``repo@sha256:…``), as a pull by digest would; Docker's archive form cannot say that.
    """
    layer_buffer = io.BytesIO()
    with tarfile.open(fileobj=layer_buffer, mode="w") as layer_tar:
        _add(layer_tar, "hello.txt", content.encode())
    layer = layer_buffer.getvalue()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/hello.txt"]},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{_sha(layer)}"]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": f"sha256:{_sha(config)}",
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": f"sha256:{_sha(layer)}",
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    manifest_digest = f"sha256:{_sha(manifest)}"
    all_names = [*names, *(f"{repo}@{manifest_digest}" for repo in digest_repos or [])]
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": f"sha256:{_sha(manifest)}",
                "size": len(manifest),
                "annotations": {
                    "io.containerd.image.name": name,
                    "org.opencontainers.image.ref.name": name.rpartition(":")[2],
                },
            }
            for name in all_names
        ],
    }
    docker_manifest = [
        {
            "Config": f"blobs/sha256/{_sha(config)}",
            "RepoTags": list(names),
            "Layers": [f"blobs/sha256/{_sha(layer)}"],
        }
    ]
    with tarfile.open(path, "w") as tar:
        _add(tar, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        _add(tar, "index.json", json.dumps(index).encode())
        for blob in (layer, config, manifest):
            _add(tar, f"blobs/sha256/{_sha(blob)}", blob)
        _add(tar, "manifest.json", json.dumps(docker_manifest).encode())
    return ImageTar(path, tuple(all_names), manifest_digest)
