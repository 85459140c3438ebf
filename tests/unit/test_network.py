"""NIC state rules on a sysfs tree in tmp_path (the real NICs are in test_net.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from polarstack.scanners.network import LinkState, probe_nic


@pytest.mark.parametrize(
    ("operstate", "flags", "carrier", "state"),
    [
        ("up", "0x1003", "1", LinkState.UP),
        ("down", "0x1002", None, LinkState.DOWN),
        ("lowerlayerdown", "0x1003", "0", LinkState.DOWN),
        ("notpresent", "0x1003", "0", LinkState.DOWN),
        ("dormant", "0x1003", "1", LinkState.DOWN),
        ("testing", "0x1003", "1", LinkState.DOWN),
        ("unknown", "0x1003", "1", LinkState.UP),  # admin up with carrier (lo, some tunnels)
        ("unknown", "0x1003", "0", LinkState.UNKNOWN),
        ("unknown", "0x1002", None, LinkState.UNKNOWN),  # admin down: carrier unreadable
        ("weird", "0x1003", "1", LinkState.UNKNOWN),
    ],
)
def test_operstate_mapping(
    tmp_path: Path, operstate: str, flags: str, carrier: str | None, state: LinkState
) -> None:
    nic = tmp_path / "psx0"
    nic.mkdir()
    (nic / "operstate").write_text(f"{operstate}\n")
    (nic / "flags").write_text(f"{flags}\n")
    if carrier is not None:
        (nic / "carrier").write_text(f"{carrier}\n")
    status = probe_nic("psx0", sysfs=str(tmp_path))
    assert (status.state, status.operstate) == (state, operstate)


def test_missing_nic_is_unknown(tmp_path: Path) -> None:
    status = probe_nic("bond1", sysfs=str(tmp_path))
    assert (status.state, status.operstate, status.ipv4) == (LinkState.UNKNOWN, "missing", None)
