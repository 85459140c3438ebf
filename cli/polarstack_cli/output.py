"""Render results as a table, JSON or YAML."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Iterator
from typing import IO, Any, Protocol, TypeVar

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
    and a table needs only their counts. For JSON, a result whose ``to_dict`` takes
    ``lazy`` hands its long lists over as iterators, written as they come. ``compact``
    writes JSON on one line (``--loop``: one object per run, a stream of JSON lines).
    """
    if fmt == "table":
        table(env, result)
        return
    if fmt == "json":
        if "lazy" in inspect.signature(result.to_dict).parameters:
            data = result.to_dict(lazy=True)  # type: ignore[call-arg]
        else:
            data = result.to_dict()
        write_json(env.stdout, data, indent=None if compact else 2)
        env.stdout.write("\n")
        env.stdout.flush()
        return
    import yaml

    yaml.safe_dump(
        result.to_dict(), env.stdout, sort_keys=False, allow_unicode=True, explicit_start=compact
    )


def write_json(out: IO[str], value: Any, *, indent: int | None = 2, level: int = 0) -> None:
    """Write ``value`` as ``json.dump(..., ensure_ascii=False)`` would, iterators as arrays.

    Example:
        >>> import io
        >>> buffer = io.StringIO()
        >>> write_json(buffer, {"a": iter([1, {"b": None}]), "c": []}, indent=None)
        >>> buffer.getvalue()
        '{"a": [1, {"b": null}], "c": []}'
    """
    if isinstance(value, _SCALARS):
        out.write(_encoder(None, None)(value))
    elif isinstance(value, dict):
        if indent and value and all(isinstance(v, _SCALARS) for v in value.values()):
            # A flat object (the report's actions): json's C encoder, which does no indent,
            # with the indented layout spelt out in its separators. A string holds no raw
            # newline, so the separator only ever falls between members.
            inner = "\n" + " " * (indent * (level + 1))
            text = _encoder(None, ("," + inner, ": "))(value)
            out.write("{" + inner + text[1:-1] + "\n" + " " * (indent * level) + "}")
        elif any(isinstance(v, Iterator) for v in value.values()):
            _write_container(out, "{", "}", iter(value.items()), indent, level, keyed=True)
        else:
            _write_plain(out, value, indent, level)
    elif isinstance(value, Iterator):
        _write_container(out, "[", "]", ((None, v) for v in value), indent, level, keyed=False)
    else:
        _write_plain(out, value, indent, level)


_SCALARS = (str, int, float, bool, type(None))


@functools.lru_cache(maxsize=32)
def _encoder(indent: int | None, separators: tuple[str, str] | None) -> Callable[[Any], str]:
    """``json.dumps`` with these options, its encoder made once.

    ``dumps`` makes a new encoder on every call, and a large report writes 100,000 actions.
    """
    return json.JSONEncoder(ensure_ascii=False, indent=indent, separators=separators).encode


def _write_plain(out: IO[str], value: Any, indent: int | None, level: int) -> None:
    """Nothing lazy inside: json's own encoder, shifted to this depth."""
    text = _encoder(indent, None)(value)
    if indent and level:
        text = text.replace("\n", "\n" + " " * (indent * level))
    out.write(text)


def _write_container(
    out: IO[str],
    opening: str,
    closing: str,
    items: Iterator[tuple[Any, Any]],
    indent: int | None,
    level: int,
    *,
    keyed: bool,
) -> None:
    # json.dump's layout: "[]" when empty; one item per line with indent; ", " without.
    pad = "" if indent is None else "\n" + " " * (indent * (level + 1))
    separator = ", " if indent is None else ","
    count = 0
    for key, item in items:
        out.write((opening if count == 0 else separator) + pad)
        if keyed:
            out.write(_encoder(None, None)(key) + ": ")
        write_json(out, item, indent=indent, level=level + 1)
        count += 1
    if count == 0:
        out.write(opening + closing)
    else:
        out.write(("" if indent is None else "\n" + " " * (indent * level)) + closing)
