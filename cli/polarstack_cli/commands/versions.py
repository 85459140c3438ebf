"""``polarstack versions``: which engine versions have all their images on this host."""

from __future__ import annotations

from pathlib import Path

import click

from polarstack import (
    AUTO_ORDER,
    RUNTIMES,
    VersionsJob,
    VersionSpec,
    VersionsRun,
    load_versions_file,
    open_runtime,
)
from polarstack_cli.environment import Environment
from polarstack_cli.jobrun import job_context, run_job
from polarstack_cli.looping import loop_options
from polarstack_cli.options import GlobalOptions, global_options, pass_options
from polarstack_cli.publishing import (
    check_publish_options,
    publish_options,
    report_published,
)
from polarstack_cli.settings_options import setting_option


@click.group()
@global_options
def versions() -> None:
    """Engine versions whose images are all on this host."""


def _table(env: Environment, run: VersionsRun) -> None:
    from rich.table import Table

    scan = run.scan
    table = Table(
        title=f"{len(scan.existing_versions)} of {len(scan.versions)} version(s) available on "
        f"{run.node} ({scan.runtime}: {scan.endpoint})",
        title_justify="left",
    )
    for column in ("version", "available", "images", "missing images"):
        table.add_column(column)
    for version in scan.versions:
        table.add_row(
            version.name,
            "yes" if version.available else "[red]no[/red]",
            str(len(version.images)),
            "\n".join(version.missing_images),
        )
    env.console.print(table)


_AUTO_HELP = ", ".join(where for _kind, where in AUTO_ORDER)


@versions.command()
@setting_option(
    "--runtime",
    setting="versions.runtime",
    type=click.Choice(RUNTIMES),
    help=f"Container runtime to ask; auto takes the first found of: {_AUTO_HELP}.",
)
@setting_option(
    "--runtime-endpoint",
    setting="versions.runtime_endpoint",
    metavar="SOCKET",
    help="The runtime's socket (for podman: a Podman service URL).",
)
@click.option(
    "--versions-file",
    type=click.Path(dir_okay=False),
    help="YAML or JSON list of {name, images} to check instead of the cluster's versions.",
)
@click.option(
    "--image",
    "image",
    multiple=True,
    metavar="REF",
    help="An image reference to check on its own (repeatable).",
)
@publish_options(
    "Write ConfigMap polarstack-daemon-version-availability-<node> in the cluster (when the "
    "available versions changed, or hourly to refresh checkTime).",
    "that ConfigMap",
)
@loop_options("versions")
@global_options
@pass_options
def scan(
    options: GlobalOptions,
    versions_file: str | None,
    image: tuple[str, ...],
    publish: bool,
    publish_dir: Path | None,
    loop: bool,
) -> None:
    """Find which engine versions have every one of their images on this host.

    The versions are the cluster's (ConfigMaps labelled configtype=minor_version_info,
    dbClusterMode=WriteReadMore, in kube-system), or --versions-file / --image. A version
    is available when each of its images is in the container runtime; references compare
    after normalisation (docker.io, library/, latest, digests).

    \b
    Examples:
      polarstack versions scan --image postgres:15 --image registry.local:5000/pfsd:2
      polarstack versions scan --versions-file versions.yaml --runtime docker
      polarstack versions scan --publish --kubeconfig ~/.kube/config
    """
    check_publish_options(publish, publish_dir)
    given: list[VersionSpec] | None = None
    if versions_file is not None or image:
        if publish:
            raise click.UsageError(
                "--publish publishes the cluster's versions: drop --versions-file and --image"
            )
        given = load_versions_file(versions_file) if versions_file is not None else []
        given += [VersionSpec(ref, (ref,), "--image") for ref in image]
    context = job_context(
        options, publish=publish, publish_dir=publish_dir, cluster_wanted=given is None
    )
    if given is None and context.kube is None:
        raise click.UsageError(
            "no versions to check: give --versions-file or --image, or a cluster "
            "(--kubeconfig, --context, or run in a pod)"
        )
    # Opened here, so a runtime that is not there fails the command at once (exit 3).
    lister = open_runtime(
        context.settings.versions.runtime, context.settings.versions.runtime_endpoint
    )
    job = VersionsJob(
        context,
        runtime=lister,
        versions=given,
        source="file" if versions_file is not None else "image",
    )

    def report(env: Environment, run: VersionsRun) -> None:
        for warning in (*run.notes, *run.scan.warnings):
            env.warn(warning)
        report_published(env, run.published, run.outcome, publish_dir)

    run_job(options, job, table=_table, loop=loop, report=report)
