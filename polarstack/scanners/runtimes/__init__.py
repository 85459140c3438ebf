"""Container runtimes that can list their images: CRI (containerd, CRI-O), Docker, Podman.

Each backend answers one question, "which image references are present", with one listing
per check; the versions scanner matches every version's images against that listing.
"""

from polarstack.scanners.runtimes.base import ImageLister, RuntimeImage
from polarstack.scanners.runtimes.detect import AUTO_ORDER, open_runtime

__all__ = ["AUTO_ORDER", "ImageLister", "RuntimeImage", "open_runtime"]
