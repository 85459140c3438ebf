"""Render results as a table, JSON or YAML."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from polarstack_cli.environment import Environment

FORMATS = ("table", "json", "yaml")


def default_format(env: Environment) -> str:
    """Tables for people at a terminal, JSON for pipes and scripts."""
    return "table" if env.stdout_isatty else "json"


class Result(Protocol):
    """A library result: it knows its JSON form."""

    def to_dict(self) -> dict[str, Any]: ...  # noqa: D102


R = TypeVar("R", bound=Result)


def emit(
    env: Environment,
    fmt: str,
    result: R,
    table: Callable[[Environment, R], None],
    *,
    compact: bool = False,
) -> None:
    """Write ``result`` to stdout in ``fmt``; ``table`` renders the human form.

    The JSON form is built only for json and yaml: a log clean may hold 100,000 actions,
    and a table needs only their counts. ``compact`` writes JSON on one line (``--loop``:
    one object per run, a stream of JSON lines).
    """
    if fmt == "table":
        table(env, result)
        return
    data = result.to_dict()
    if fmt == "json":
        json.dump(data, env.stdout, indent=None if compact else 2, ensure_ascii=False)
        env.stdout.write("\n")
        env.stdout.flush()
    else:
        import yaml

        yaml.safe_dump(
            data, env.stdout, sort_keys=False, allow_unicode=True, explicit_start=compact
        )
