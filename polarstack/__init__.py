"""polarstack: the PolarDB Stack node agent, as a library.

The public API is what this module exports; everything else is internal and may change.

Example:
    >>> import polarstack
    >>> scan = polarstack.scan_ports(polarstack.parse_ranges("5400-5800"), node="worker-1")
    >>> sorted(scan.to_dict())[:3]
    ['bind_verified', 'method', 'node']
"""

from polarstack._version import __version__
from polarstack.durations import parse_duration
from polarstack.errors import (
    ClusterError,
    ClusterForbiddenError,
    ClusterUnreachableError,
    ConfigurationError,
    HostAccessError,
    PartialFailureError,
    PolarstackError,
    RuntimeUnavailableError,
    UnsafeRootError,
    UsageError,
)
from polarstack.nodename import NodeName, resolve_node_name
from polarstack.portranges import PortRange, parse_annotation, parse_ranges
from polarstack.scanners.ports import PortHolder, PortScan, scan_ports

__all__ = [
    "ClusterError",
    "ClusterForbiddenError",
    "ClusterUnreachableError",
    "ConfigurationError",
    "HostAccessError",
    "NodeName",
    "PartialFailureError",
    "PolarstackError",
    "PortHolder",
    "PortRange",
    "PortScan",
    "RuntimeUnavailableError",
    "UnsafeRootError",
    "UsageError",
    "__version__",
    "parse_annotation",
    "parse_duration",
    "parse_ranges",
    "resolve_node_name",
    "scan_ports",
]
