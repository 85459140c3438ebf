"""docs/cli.md names every command and option the CLI defines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
from polarstack_cli.main import cli

DOC = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()


def _commands(group: click.Group, path: str) -> Iterator[tuple[str, click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        yield f"{path} {name}", command
        if isinstance(command, click.Group):
            yield from _commands(command, f"{path} {name}")


def test_every_command_and_option_is_documented():
    missing = []
    for path, command in [("polarstack", cli), *_commands(cli, "polarstack")]:
        if not isinstance(command, click.Group) and f"`{path}`" not in DOC:
            missing.append(path)
        for param in command.params:
            for flag in getattr(param, "opts", []):
                if flag.startswith("--") and f"`{flag}" not in DOC:
                    missing.append(f"{path} {flag}")
    assert not missing, f"not in docs/cli.md: {missing}"
