"""Helpers shared by the benchmarks: repeated timing and a side-by-side table."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def polarstack_script() -> str:
    """The ``polarstack`` console script installed beside this interpreter.

    Preferred over the first one on PATH, which may be a version manager's shim (pyenv's
    is a bash script that costs about 0.1 s a run before polarstack even starts).
    """
    beside = Path(sys.executable).with_name("polarstack")
    if beside.is_file():
        return str(beside)
    found = shutil.which("polarstack")
    if found is None:
        sys.exit("polarstack is not installed: pip install -e .")
    return found


def compile_checkout(checkout: Path) -> None:
    """Write the bytecode of polarstack's packages in ``checkout``, as a wheel install has it.

    An editable checkout run with PYTHONDONTWRITEBYTECODE set (as on the machines these
    figures come from) would otherwise compile every changed module again on each run.
    """
    for package in ("polarstack", "cli/polarstack_cli"):
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(checkout / package)], check=True
        )


def best_of(func: Callable[[], object], *, repeat: int) -> tuple[float, float]:
    """Run ``func`` ``repeat`` times; return (median, minimum) seconds.

    The machine is shared: the median is the figure, the minimum shows the noise floor.
    """
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def print_table(title: str, rows: list[tuple[str, float, float]], *, baseline: str) -> None:
    """Print median/min per row and the ratio of each row's median to the baseline's."""
    base = next(median for name, median, _ in rows if name == baseline)
    print(f"\n{title}")
    print(f"  {'method':<34}{'median':>12}{'min':>12}{'x ' + baseline:>22}")
    for name, median, minimum in rows:
        ratio = median / base
        print(f"  {name:<34}{median * 1000:>10.2f}ms{minimum * 1000:>10.2f}ms{ratio:>22.3f}")
