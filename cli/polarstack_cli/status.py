"""Exit codes of the ``polarstack`` command, documented in docs/cli.md."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """What the process exit code means."""

    OK = 0
    PARTIAL_FAILURE = 1
    """The job ran but some items failed (or an unexpected error: a bug to report)."""
    USAGE = 2
    """A flag or argument is wrong."""
    CONFIGURATION = 3
    """The host or configuration does not allow the job (unsafe root, no runtime …)."""
    CLUSTER = 4
    """The Kubernetes API server is unreachable or refused a call."""
    INTERRUPTED = 130
    """Stopped by SIGINT (Ctrl-C), after the item in hand; what was done is reported."""
    TERMINATED = 143
    """Stopped by SIGTERM, likewise."""
