"""What vulture cannot see used: each name here is called or read by code it does not read.

vulture (configured in pyproject.toml) reads polarstack/ and cli/, the public stub and this
file. The names below are used by click, http.server, the Kubernetes client, Python itself,
or are read by iterating a class. The entries are real references, so importing this module
(tests/test_quality.py does) fails when one names code that is gone.
"""

from __future__ import annotations

import click
from kubernetes.client import Configuration
from polarstack_cli import main, params, status
from polarstack_cli.commands import systemd

import polarstack
from polarstack.cleaners.deleting import Totals
from polarstack.daemon import http
from polarstack.scanners.sockets import TcpState

_Handler = http._handler(None)  # builds the class; serves nothing

_USED = [
    # --- polarstack_cli ---
    systemd.install,  # click command: `polarstack systemd install`, added by the decorator
    systemd.uninstall,  # click command: `polarstack systemd uninstall`, likewise
    main.LazyGroup.list_commands,  # click.Group override: click lists subcommands with it
    main.LazyGroup.get_command,  # click.Group override: click resolves a subcommand with it
    main.LazyGroup.format_commands,  # click.Group override: click calls it for --help
    click.Context(click.Command("x")).default_map,  # read by click: the config file's values
    params.PortRangesType.convert,  # click.ParamType override: click parses --range with it
    params.DurationType.convert,  # click.ParamType override: click parses durations with it
    status.ExitStatus.TERMINATED,  # exit 143, documented (docs/cli.md); returned as 128 + 15
    # --- polarstack ---
    polarstack.__getattr__,  # PEP 562: Python calls it to load a public name on first use
    polarstack.__dir__,  # PEP 562: dir(polarstack) lists the public names
    _Handler.protocol_version,  # read by BaseHTTPRequestHandler: keep-alive (HTTP/1.1)
    _Handler.disable_nagle_algorithm,  # read by StreamRequestHandler: TCP_NODELAY
    _Handler.server_version,  # read by BaseHTTPRequestHandler: the Server header
    _Handler.log_message,  # BaseHTTPRequestHandler override: access log to debug level
    _Handler.do_GET,  # BaseHTTPRequestHandler dispatches GET requests here
    _Handler.do_POST,  # ... POST requests
    _Handler.do_PUT,  # ... PUT requests
    _Handler.do_DELETE,  # ... DELETE requests
    Totals.planned_bytes,  # a JSON field: to_dict() reads every field through asdict()
    Configuration().retries,  # set by kube/client.py; the client's urllib3 pool reads it
    # Every state the kernel numbers: ports.py names states by iterating TcpState.
    TcpState.ESTABLISHED,  # kernel state 1, named in port reports
    TcpState.SYN_SENT,  # 2
    TcpState.SYN_RECV,  # 3
    TcpState.FIN_WAIT1,  # 4
    TcpState.FIN_WAIT2,  # 5
    TcpState.CLOSE,  # 7
    TcpState.CLOSE_WAIT,  # 8
    TcpState.LAST_ACK,  # 9
    TcpState.CLOSING,  # 11
    TcpState.NEW_SYN_RECV,  # 12
    TcpState.BOUND_INACTIVE,  # 13
]
