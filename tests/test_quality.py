"""The project's own checks: ruff, mypy (strict), the import-linter layer contracts, vulture."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.quality


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "polarstack", "cli"],
        [sys.executable, "-m", "mypy"],
        ["lint-imports"],
        ["vulture"],
    ],
    ids=["ruff", "ruff-format", "mypy", "import-linter", "vulture"],
)
def test_check_passes(command: list[str]):
    require(
        shutil.which(command[0]) is not None or command[0] == sys.executable,
        f"{command[0]} is not installed (pip install -e '.[dev]')",
    )
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_vulture_whitelist_names_only_code_that_exists():
    # Its entries are real references: one left behind by removed code fails to import.
    import tests.vulture_whitelist  # noqa: F401
