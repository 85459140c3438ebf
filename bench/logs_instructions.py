"""The log cleaner's own CPU cost, in instructions: this checkout against another commit.

Run:  python bench/logs_instructions.py [--against HEAD~1] [--instances 40] [--workdir DIR]

Wall-clock figures on a shared two-core machine swing by 20% between runs; the number of
instructions a run executes in user space does not (valgrind's callgrind counts them, the
same count for the same code and tree whatever else the machine does). So code changes to
the planner and executor are compared here, and `bench/logs.py` measures the wall time.

Each stage runs in a fresh interpreter under ``valgrind --tool=callgrind`` on a freshly
generated tree (same seed as ``bench/logs.py``, ``--instances`` x 1,000 files):

* import:  importing the cleaner (subtracted from the stages below);
* plan:    ``plan_clean`` on the tree (the walk, the /proc pass, building the plan);
* clean:   ``plan_clean`` then ``clean`` (the executor: re-check and delete);
* CLI:     the whole ``polarstack logs clean -o table`` (start-up, plan, clean, report).

Kernel work (the system calls themselves) is not counted: that is what `find` pays too.
Needs valgrind (Debian package ``valgrind``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import compile_checkout
from logs import DAYS, make_tree

STAGE = """
import sys
sys.path[:0] = [{code!r}, {code!r} + "/cli"]
from polarstack.cleaners.deleting import clean
from polarstack.cleaners.logs import LiveIds, plan_clean
if {stage!r} != "import":
    plan = plan_clean({root!r}, days={days}, live=LiveIds.read_file({ids!r}))
    if {stage!r} == "clean":
        clean(plan)
"""

CLI = """
import sys
sys.path[:0] = [{code!r}, {code!r} + "/cli"]
sys.argv = ["polarstack", "logs", "clean", "--root", {root!r}, "--live-ids-file", {ids!r},
            "-o", "table"]
from polarstack_cli.main import run
run()
"""


def instructions(program: str) -> int:
    """User-space instructions one interpreter executes running ``program``."""
    # A fixed hash seed: set and dict layouts, and so the count, are the same every run.
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, "-c", program],
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"},
    )  # fmt: skip
    found = re.search(r"refs:\s+([\d,]+)", done.stderr)
    if found is None:
        raise SystemExit(f"no instruction count from valgrind:\n{done.stderr}")
    return int(found.group(1).replace(",", ""))


def measure(code: Path, work: Path, instances: int) -> dict[str, int]:
    """Instructions per stage for the checkout at ``code``."""
    counts: dict[str, int] = {}
    for stage in ("import", "plan", "clean", "CLI"):
        root = work / "tree"
        shutil.rmtree(root, ignore_errors=True)
        ids, _ = make_tree(root, instances, 1000)
        template = CLI if stage == "CLI" else STAGE
        counts[stage] = instructions(
            template.format(code=str(code), stage=stage, root=str(root), ids=str(ids), days=DAYS)
        )
    return {
        "plan": counts["plan"] - counts["import"],
        "clean (executor)": counts["clean"] - counts["plan"],
        "CLI, whole run": counts["CLI"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--against", default="HEAD~1", help="the commit to compare with")
    parser.add_argument("--instances", type=int, default=40)
    parser.add_argument(
        "--workdir",
        default=tempfile.gettempdir(),
        help="where the trees are made (a tmpfs keeps the disk out; not /dev/shm, below /dev, "
        "which the cleaner refuses)",
    )
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed: apt-get install valgrind")
    checkout = Path(__file__).resolve().parent.parent
    work = Path(tempfile.mkdtemp(prefix="polarstack-instructions-", dir=args.workdir))
    other = work / "against"
    try:
        subprocess.run(
            ["git", "-C", str(checkout), "worktree", "add", "--detach", "-q", str(other),
             args.against],
            check=True,
        )  # fmt: skip
        for code in (checkout, other):
            compile_checkout(code)
        ours = measure(checkout, work, args.instances)
        theirs = measure(other, work, args.instances)
    finally:
        subprocess.run(
            ["git", "-C", str(checkout), "worktree", "remove", "--force", str(other)],
            check=False,
        )
        shutil.rmtree(work, ignore_errors=True)
    label = f"{args.against} (baseline)"
    print(f"tree: {args.instances} x 1000 files; user-space instructions (callgrind)")
    print(f"  {'stage':<20}{'this checkout':>16}{label:>24}{'ratio':>8}")
    for stage, count in ours.items():
        base = theirs[stage]
        print(f"  {stage:<20}{count / 1e6:>15.0f}M{base / 1e6:>23.0f}M{count / base:>8.2f}")


if __name__ == "__main__":
    main()
