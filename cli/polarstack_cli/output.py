"""Render results as a table, JSON or YAML."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from polarstack_cli.environment import Environment

FORMATS = ("table", "json", "yaml")


def default_format(env: Environment) -> str:
    """Tables for people at a terminal, JSON for pipes and scripts."""
    return "table" if env.stdout_isatty else "json"


def emit(
    env: Environment,
    fmt: str,
    data: dict[str, Any],
    table: Callable[[Environment, dict[str, Any]], None],
) -> None:
    """Write ``data`` to stdout in ``fmt``; ``table`` renders the human form."""
    if fmt == "json":
        json.dump(data, env.stdout, indent=2, ensure_ascii=False)
        env.stdout.write("\n")
    elif fmt == "yaml":
        import yaml

        yaml.safe_dump(data, env.stdout, sort_keys=False, allow_unicode=True)
    else:
        table(env, data)
