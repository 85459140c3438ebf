"""Start-up cost: ``import polarstack`` and ``polarstack --help``, against a bare interpreter.

Run:  python bench/startup.py [--repeat 21]

Goals: ``import polarstack`` under 60 ms (measured as the time it adds to an interpreter's
start), ``polarstack --help`` under 150 ms of wall time.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from _common import best_of, compile_checkout, polarstack_script, print_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()
    polarstack = polarstack_script()
    compile_checkout(Path(__file__).resolve().parent.parent)

    def python(code: str) -> None:
        subprocess.run([sys.executable, "-c", code], check=True)

    rows = [
        ("python -c pass", *best_of(lambda: python("pass"), repeat=args.repeat)),
        (
            "python -c 'import polarstack'",
            *best_of(lambda: python("import polarstack"), repeat=args.repeat),
        ),
        (
            "polarstack --help",
            *best_of(
                lambda: subprocess.run([polarstack, "--help"], check=True, capture_output=True),
                repeat=args.repeat,
            ),
        ),
    ]
    print_table("start-up, wall time per process", rows, baseline="python -c pass")
    bare, imported, helped = (row[1] for row in rows)
    print(
        f"  import polarstack adds {(imported - bare) * 1000:.1f} ms (goal < 60 ms); "
        f"polarstack --help takes {helped * 1000:.1f} ms (goal < 150 ms)"
    )


if __name__ == "__main__":
    main()
