"""Installing polarstack's systemd units: render them for this host, write, enable.

The unit files live in the repository's ``systemd/`` directory (and in the wheel, as package
data). They name ``/usr/local/bin/polarstack``; :func:`render_units` puts the path of the
installed command in its place.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from polarstack.errors import ConfigurationError

TEMPLATE_BINARY = "/usr/local/bin/polarstack"
SYSTEMD_UNIT_DIR = Path("/etc/systemd/system")
SYSTEMD_ENV_FILE = Path("/etc/polarstack/polarstack.env")
SYSTEMD_TIMERS = ("polarstack-ports", "polarstack-versions", "polarstack-logs", "polarstack-net")


def _unit_sources() -> dict[str, str]:
    packaged = resources.files("polarstack") / "systemd_units"
    if packaged.is_dir():
        entries = {entry.name: entry.read_text() for entry in packaged.iterdir()}
    else:  # a source checkout (editable install): the repository's systemd/ directory
        source = Path(__file__).resolve().parent.parent / "systemd"
        entries = {path.name: path.read_text() for path in source.iterdir()}
    return {name: text for name, text in entries.items() if name.startswith("polarstack")}


def render_units(binary: str) -> dict[str, str]:
    """Every unit file (and the environment-file template), for ``binary``."""
    return {
        name: text.replace(TEMPLATE_BINARY, binary)
        for name, text in sorted(_unit_sources().items())
    }


@dataclass(frozen=True)
class Step:
    """One thing install or uninstall does (or, in a dry run, would do)."""

    action: str
    """``write``, ``remove`` or ``run``."""
    target: str

    def __str__(self) -> str:
        return f"{self.action} {self.target}"


Runner = Callable[[Sequence[str]], None]


def _systemctl(args: Sequence[str]) -> None:
    command = shutil.which("systemctl")
    if command is None:
        raise ConfigurationError("systemctl not found: is this a systemd host?")
    import sh

    try:
        sh.Command(command)(*args, _timeout=60)
    except sh.ErrorReturnCode as exc:
        detail = exc.stderr.decode(errors="replace").strip()
        raise ConfigurationError(f"systemctl {' '.join(args)} failed: {detail}") from None


def install_units(
    *,
    binary: str,
    unit_dir: Path = SYSTEMD_UNIT_DIR,
    env_file: Path = SYSTEMD_ENV_FILE,
    timers: Sequence[str] = SYSTEMD_TIMERS,
    dry_run: bool = False,
    run: Runner = _systemctl,
) -> list[Step]:
    """Write the units for ``binary``, reload systemd, enable and start the timers.

    The environment file is written only when missing: it holds the host's own settings.
    """
    steps = []
    units = render_units(binary)
    env_template = units.pop("polarstack.env")
    for name, text in units.items():
        steps.append(Step("write", str(unit_dir / name)))
        if not dry_run:
            unit_dir.mkdir(parents=True, exist_ok=True)
            (unit_dir / name).write_text(text)
    if not env_file.exists():
        steps.append(Step("write", str(env_file)))
        if not dry_run:
            env_file.parent.mkdir(parents=True, exist_ok=True)
            env_file.write_text(env_template)
            env_file.chmod(0o600)
    commands = [["daemon-reload"], ["enable", "--now", *(f"{t}.timer" for t in timers)]]
    for args in commands:
        steps.append(Step("run", "systemctl " + " ".join(args)))
        if not dry_run:
            run(args)
    return steps


def uninstall_units(
    *,
    unit_dir: Path = SYSTEMD_UNIT_DIR,
    dry_run: bool = False,
    run: Runner = _systemctl,
) -> list[Step]:
    """Stop and disable the timers and the daemon, remove the units, reload systemd.

    The environment file and the kubeconfig stay: they are the host's, not polarstack's.
    """
    names = [n for n in render_units(TEMPLATE_BINARY) if n != "polarstack.env"]
    installed = [n for n in names if (unit_dir / n).exists()]
    steps = []
    enabled = [n for n in installed if n.endswith(".timer") or n == "polarstack-daemon.service"]
    if enabled:
        steps.append(Step("run", "systemctl disable --now " + " ".join(enabled)))
        if not dry_run:
            run(["disable", "--now", *enabled])
    for name in installed:
        steps.append(Step("remove", str(unit_dir / name)))
        if not dry_run:
            (unit_dir / name).unlink()
    steps.append(Step("run", "systemctl daemon-reload"))
    if not dry_run:
        run(["daemon-reload"])
    return steps
