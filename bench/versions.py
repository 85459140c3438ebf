"""Version availability: one listing per check vs one status call per image.

Run:  python bench/versions.py [--versions 50] [--images 5] [--held 500] [--repeat 7]

Starts containerd and dockerd in a temporary directory (as the tests do; needs root and the
Debian packages containerd and docker.io), loads one image under ``--held`` names into each,
then checks ``--versions`` versions of ``--images`` images each (nine in ten of them held):

- polarstack: one listing of the runtime's images, then matching in memory;
- per image: one status call per image reference, the previous daemon's way (it ran one
  ``crictl inspecti`` / ``docker image inspect`` per image over SSH; here only the call
  itself is timed, over one open connection, and a version stops at its first missing
  image: all of which flatters the per-image method).

Both must agree on which versions are available; the script checks that they do.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import best_of, print_table
from polarstack.model import VersionSpec
from polarstack.scanners.versions import scan_versions
from tests.imagetar import build_image_tar
from tests.runtimes import containerd, dockerd


def status_call(lister: Any, reference: str) -> bool:
    """One status call for one image, the previous daemon's way, over the lister's transport.

    The library never asks per image; this reuses what its listing uses (the CRI lister's
    channel and the CRI version it settled on, the Docker lister's requests) so that only
    the calls differ between the two methods.
    """
    if lister.name == "cri":
        if lister._api is None:
            lister.list_images()  # opens the channel and settles the CRI version
        messages, stubs = lister._api
        request = messages.ImageStatusRequest(image=messages.ImageSpec(image=reference))
        answer = stubs.ImageServiceStub(lister._channel).ImageStatus(
            request, timeout=lister.timeout
        )
        return bool(answer.image.id)
    if lister.name == "docker":
        status, _body = lister._get(f"/images/{reference}/json")
        return bool(status == 200)
    raise SystemExit(f"no status call for runtime {lister.name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=50)
    parser.add_argument("--images", type=int, default=5)
    parser.add_argument("--held", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    held = [f"registry.local:5000/polardb/img{i}:1" for i in range(args.held)]
    wanted = []
    for v in range(args.versions):
        images = []
        for i in range(args.images):
            n = v * args.images + i
            # Nine in ten are held; the rest are not, so some versions are unavailable.
            images.append(held[n % args.held] if n % 10 else f"polardb/missing{n}:1")
        wanted.append(VersionSpec(f"v{v}", tuple(images)))
    total = sum(len(v.images) for v in wanted)

    with tempfile.TemporaryDirectory(prefix="polarstack-bench-") as work:
        root = Path(work)
        tar = build_image_tar(root / "image.tar", held).path
        for name, start in (("containerd (CRI)", containerd), ("dockerd", dockerd)):
            directory = root / name.split()[0]
            directory.mkdir()
            with start(directory) as runtime:
                runtime.load(tar)
                lister = runtime.lister()

                def listing(lister: Any = lister) -> tuple[str, ...]:
                    return scan_versions(wanted, runtime=lister).existing_versions

                def per_image(lister: Any = lister) -> tuple[str, ...]:
                    return tuple(
                        v.name for v in wanted if all(status_call(lister, i) for i in v.images)
                    )

                if listing() != per_image():
                    raise SystemExit(f"{name}: the two methods disagree")
                rows = [
                    ("one listing", *best_of(listing, repeat=args.repeat)),
                    (
                        f"status call per image (<= {total})",
                        *best_of(per_image, repeat=args.repeat),
                    ),
                ]
                print_table(
                    f"{name}: {args.versions} versions x {args.images} images, "
                    f"{args.held} images held, {len(listing())} versions available",
                    rows,
                    baseline="one listing",
                )


if __name__ == "__main__":
    main()
