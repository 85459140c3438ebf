"""``polarstack ports scan`` and the global options, driven through the Environment."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import yaml

from tests.conftest import CliRunner


@pytest.fixture
def port() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    yield int(server.getsockname()[1])
    server.close()


def test_json_output(cli: CliRunner, port: int):
    result = cli(["ports", "scan", "--range", str(port), "-o", "json", "--node-name", "Worker-1"])
    assert result.status == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["node"] == "worker-1"
    assert data["ranges"] == [[port, port]]
    assert data["used_ports"] == [port]
    assert data["sockets"][0]["state"] == "LISTEN"
    assert set(data) >= {"node", "ranges", "used_ports", "sockets", "warnings", "scanned_at"}


@pytest.mark.parametrize(
    "args",
    [
        ["--output", "json", "ports", "scan"],
        ["ports", "scan", "--output", "json"],
        ["ports", "--output", "json", "scan"],
        ["-o", "yaml", "ports", "scan", "-o", "json"],  # nearest the command wins
    ],
)
def test_global_options_before_or_after_the_subcommand(cli: CliRunner, port: int, args):
    result = cli([*args, "--range", str(port)])
    assert result.status == 0, result.stderr
    assert json.loads(result.stdout)["used_ports"] == [port]


@pytest.mark.parametrize(
    ("environ", "node"),
    [
        ({"POLARSTACK_NODE_NAME": "From-Env"}, "from-env"),
        ({"NODE_NAME": "downward"}, "downward"),
        ({"CURRENT_NODE_NAME": "old-spec"}, "old-spec"),
    ],
)
def test_node_name_from_the_environment(cli: CliRunner, port: int, environ, node):
    result = cli(
        ["ports", "scan", "-r", str(port)], environ={"POLARSTACK_OUTPUT": "json", **environ}
    )
    assert json.loads(result.stdout)["node"] == node


def test_options_from_environment_variables(cli: CliRunner, port: int):
    result = cli(
        ["ports", "scan"],
        environ={
            "POLARSTACK_OUTPUT": "yaml",
            "POLARSTACK_PORTS_SCAN_RANGE": f"1-2 {port}",
        },
    )
    assert result.status == 0, result.stderr
    data = yaml.safe_load(result.stdout)
    assert data["ranges"] == [[1, 2], [port, port]]
    assert data["used_ports"] == [port]


def test_config_file_gives_defaults_and_flags_win(cli: CliRunner, port: int, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[ports.scan]\nrange = ["{port}"]\nowners = true\n')
    result = cli(["--config", str(config), "ports", "scan", "-o", "json"])
    data = json.loads(result.stdout)
    assert data["ranges"] == [[port, port]]
    assert data["sockets"][0]["pid"] is not None
    flagged = cli(["--config", str(config), "ports", "scan", "-o", "json", "-r", "1-2"])
    assert json.loads(flagged.stdout)["ranges"] == [[1, 2]]


@pytest.mark.parametrize(
    ("spec", "named"),
    [("5400-x", "'5400-x'"), ("70000", "'70000'"), ("5800-5400", "'5800-5400'"), ("1,,2", "''")],
)
def test_bad_range_is_a_usage_error_naming_the_bad_part(cli: CliRunner, spec: str, named: str):
    result = cli(["ports", "scan", "--range", spec])
    assert result.status == 2
    assert named in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_unknown_option_is_a_usage_error(cli: CliRunner):
    assert cli(["ports", "scan", "--bogus"]).status == 2


def test_missing_config_file_given_explicitly(cli: CliRunner, tmp_path):
    result = cli(["--config", str(tmp_path / "nope.toml"), "version"])
    assert result.status == 2 and "no such file" in result.stderr


def test_table_on_a_terminal(cli: CliRunner, port: int):
    result = cli(["ports", "scan", "-r", str(port), "--owners"], tty=True)
    assert result.status == 0
    assert "1 occupied port(s)" in result.stdout
    assert str(port) in result.stdout and "LISTEN" in result.stdout


def test_json_when_piped(cli: CliRunner, port: int):
    assert json.loads(cli(["ports", "scan", "-r", str(port)]).stdout)["used_ports"] == [port]


def test_warnings_go_to_stderr(cli: CliRunner):
    result = cli(["ports", "scan", "-r", "32768-60999", "-o", "json"])
    assert "ephemeral" in result.stderr
    assert json.loads(result.stdout)["warnings"]


def test_host_errors_exit_3_in_one_line(cli: CliRunner, monkeypatch):
    from polarstack.errors import HostAccessError
    from polarstack.scanners import ports

    def refuse(*args, **kwargs):
        raise HostAccessError("cannot read the socket table /proc/net/tcp: missing")

    monkeypatch.setattr(ports, "read_sockets", refuse)
    monkeypatch.setattr(
        ports.scan_ports, "__kwdefaults__", {**ports.scan_ports.__kwdefaults__, "read": refuse}
    )
    result = cli(["ports", "scan"])
    assert result.status == 3
    assert result.stderr.strip() == "error: cannot read the socket table /proc/net/tcp: missing"
    verbose = cli(["-v", "ports", "scan"])
    assert "Traceback" in verbose.stderr


def test_version(cli: CliRunner):
    import polarstack

    assert json.loads(cli(["version"]).stdout)["version"] == polarstack.__version__
    assert cli(["--version"]).stdout.strip().endswith(polarstack.__version__)


def test_help_lists_commands(cli: CliRunner):
    result = cli(["--help"])
    assert result.status == 0 and "ports" in result.stdout and "version" in result.stdout
    assert "A+K" in cli(["ports", "scan", "--help"]).stdout


def test_a_flag_before_the_subcommand_beats_the_environment(cli: CliRunner, port: int):
    result = cli(
        ["-o", "json", "ports", "scan", "-r", str(port)], environ={"POLARSTACK_OUTPUT": "yaml"}
    )
    assert json.loads(result.stdout)["used_ports"] == [port]


def test_loop_prints_a_json_line_per_run_and_stops_on_sigterm():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        process = subprocess.Popen(
            [sys.executable, "-m", "polarstack_cli", "ports", "scan", "--loop", "--interval",
             "0.1s", "-r", str(port), "-o", "json", "--node-name", "n1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "POLARSTACK_CONFIG": os.devnull},
        )  # fmt: skip
        lines = [process.stdout.readline() for _ in range(3)]
        stopped = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _rest, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert time.monotonic() - stopped < 5
    assert [json.loads(line)["used_ports"] for line in lines] == [[port]] * 3
