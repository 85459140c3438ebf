"""``python -m polarstack_cli``."""

from polarstack_cli.main import run

raise SystemExit(run())
