"""The cluster a command talks to, from the global options."""

from __future__ import annotations

from polarstack import (
    ClusterTarget,
    connect,
)
from polarstack.kube.client import Kube, cluster_configured
from polarstack_cli.options import GlobalOptions


def target(options: GlobalOptions) -> ClusterTarget:
    """The kubeconfig and context the user chose (none: in-cluster or the defaults)."""
    return ClusterTarget(kubeconfig=options.kubeconfig, context=options.context)


def wanted(options: GlobalOptions) -> bool:
    """Whether to consult a cluster unasked: only when one was named or we run in a pod.

    A command run by hand on a host with a stray ~/.kube/config stays local unless told.
    """
    return cluster_configured(target(options), options.env.environ)


def connect_cluster(options: GlobalOptions) -> Kube:
    """Connect to the chosen cluster (in-cluster, --kubeconfig, $KUBECONFIG, ~/.kube/config)."""
    return connect(target(options), environ=options.env.environ)
