"""The one exception hierarchy of polarstack.

Every error the library raises on purpose derives from :class:`PolarstackError`, so callers
(the CLI, the daemon, scripts) can tell an expected failure from a bug. Each class names the
kind of failure; the CLI maps these kinds to exit codes in one place.
"""

from __future__ import annotations


class PolarstackError(Exception):
    """Base of every error polarstack raises on purpose."""


class UsageError(PolarstackError, ValueError):
    """A value given by the user does not parse or is out of range."""


class ConfigurationError(PolarstackError):
    """The host or the configuration does not allow the job to run."""


class UnsafeRootError(ConfigurationError):
    """A root directory was refused because cleaning it could destroy data outside the log tree."""


class HostAccessError(ConfigurationError):
    """The host's kernel or filesystem could not be read."""


class RuntimeUnavailableError(ConfigurationError):
    """No container runtime could be reached."""


class ClusterError(PolarstackError):
    """The Kubernetes API server was unreachable or refused a call."""


class ClusterUnreachableError(ClusterError):
    """The Kubernetes API server could not be reached."""


def raise_for_cluster_failures(failures: tuple[str, ...]) -> None:
    """Raise one :class:`ClusterError` naming every failure, when there are any.

    A job run that was asked to read from or publish to the cluster and could not is a
    failed run, even when its host work succeeded: its caller (a systemd unit, the daemon's
    readiness) must see it.

    Raises:
        ClusterError: ``failures`` is not empty.
    """
    if failures:
        raise ClusterError("; ".join(failures))


class ClusterForbiddenError(ClusterError):
    """The Kubernetes API server refused a call for lack of permission."""


class PartialFailureError(PolarstackError):
    """The job ran, but some of its items failed; the result says which."""
