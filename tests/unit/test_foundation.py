from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest

from polarstack.durations import parse_duration
from polarstack.errors import UsageError
from polarstack.nodename import resolve_node_name
from polarstack.timefmt import utc_stamp


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("5m", 300),
        ("6h", 21600),
        ("1d", 86400),
        ("1h30m", 5400),
        ("45", 45),
        ("250ms", 0.25),
        (" 2M ", 120),
    ],
)
def test_durations(text: str, seconds: float):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "m", "-5", "5m3", "1 h"])
def test_bad_durations_are_usage_errors(text: str):
    with pytest.raises(UsageError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("explicit", "environ", "expected"),
    [
        ("Flag-Node", {"NODE_NAME": "env", "CURRENT_NODE_NAME": "cur"}, "flag-node"),
        (None, {"NODE_NAME": "Env-Node", "CURRENT_NODE_NAME": "cur"}, "env-node"),
        (None, {"NODE_NAME": " ", "CURRENT_NODE_NAME": "Cur"}, "cur"),
        (None, {}, "host-a"),
    ],
)
def test_node_name_precedence(explicit: str | None, environ: dict[str, str], expected: str):
    assert resolve_node_name(explicit, environ=environ, hostname="Host-A") == expected


def test_contract_timestamps_are_utc():
    east = timezone(timedelta(hours=8))
    assert utc_stamp(datetime(2024, 1, 1, 8, 0, 0, 5, tzinfo=east)) == "2024-01-01T00:00:00Z"
    assert utc_stamp(datetime(2024, 1, 1, 8, 0, tzinfo=UTC)) == "2024-01-01T08:00:00Z"


def test_import_polarstack_loads_no_cli_or_cluster_modules():
    code = (
        "import sys, polarstack, polarstack.scanners.ports;"
        "heavy = {'kubernetes', 'click', 'rich', 'sh', 'yaml', 'polarstack_cli'};"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
