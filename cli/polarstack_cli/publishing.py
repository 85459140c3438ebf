"""``--publish`` and ``--publish-dir``, shared by the job commands, and what they choose."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from polarstack import ConfigMapDoc, KubePublisher, LocalPublisher, Outcome, Publisher
from polarstack.kube.client import Kube
from polarstack_cli.environment import Environment

F = TypeVar("F", bound=Callable[..., Any])


def publish_options(what: str, where: str) -> Callable[[F], F]:
    """Add ``--publish`` (help: write ``what`` to the cluster) and ``--publish-dir``."""

    def decorate(func: F) -> F:
        func = click.option(
            "--publish-dir",
            type=click.Path(file_okay=False, path_type=Path),
            help=f"Write {where} as JSON into this directory instead (no cluster needed).",
        )(func)
        return click.option("--publish", is_flag=True, help=what)(func)

    return decorate


def check_publish_options(publish: bool, publish_dir: Path | None) -> None:
    """Refuse both at once."""
    if publish and publish_dir is not None:
        raise click.UsageError("give --publish or --publish-dir, not both")


def choose_publisher(
    publish: bool, publish_dir: Path | None, kube: Kube | None
) -> Publisher | None:
    """The cluster (``--publish``, with ``kube`` connected), a directory, or nothing."""
    if publish:
        assert kube is not None, "--publish needs the cluster connected"
        return KubePublisher(kube)
    if publish_dir is not None:
        return LocalPublisher(directory=publish_dir)
    return None


def report_published(
    env: Environment,
    doc: ConfigMapDoc | None,
    outcome: Outcome | None,
    publish_dir: Path | None,
    detail: str = "",
) -> None:
    """One line on stderr: which ConfigMap went where, and whether it was written."""
    if doc is None or outcome is None:
        return
    where = publish_dir if publish_dir is not None else "the cluster"
    print(f"ConfigMap {doc.name} in {where}: {outcome.value}{detail}", file=env.stderr)
