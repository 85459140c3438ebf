"""Shape checks on the API server's answers: a malformed one is a ClusterError, never a crash.

The client guarantees a JSON object and no more; whatever sits between it and the server (a
proxy, a broken server, an old one) may send any JSON. Readers take each field they use
through these functions, so a wrong type fails the read as a :class:`ClusterError` naming
the field, as a refused call does, instead of a TypeError somewhere in a job.
"""

from __future__ import annotations

from typing import Any

from polarstack.errors import ClusterError


def shown(value: object) -> str:
    """``value`` for a message, cut short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def mapping(value: object, what: str) -> dict[str, Any]:
    """``value`` as a JSON object; None (absent) is an empty one.

    Raises:
        ClusterError: ``value`` is something else.
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ClusterError(f"{what} is not a map: {shown(value)}")
    return value


def strings(value: object, what: str) -> dict[str, str]:
    """``value`` as a map of strings (a ConfigMap's data, annotations, labels).

    Raises:
        ClusterError: ``value`` is not a map, or holds something other than a string.
    """
    found = mapping(value, what)
    for key, item in found.items():
        if not isinstance(item, str):
            raise ClusterError(f"{what} holds {key!r} that is not a string: {shown(item)}")
    return found


def objects(value: object, what: str) -> list[dict[str, Any]]:
    """``value`` as a list of JSON objects; None (absent) is an empty one.

    Raises:
        ClusterError: ``value`` is not a list, or holds something other than an object.
    """
    if value is None:
        return []
    if not isinstance(value, list):
        raise ClusterError(f"{what} is not a list: {shown(value)}")
    for item in value:
        if not isinstance(item, dict):
            raise ClusterError(f"{what} holds something that is not a map: {shown(item)}")
    return value


def integer(value: object, what: str) -> int:
    """``value`` as a JSON integer (``True`` is none).

    Raises:
        ClusterError: ``value`` is something else.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise ClusterError(f"{what} is not an integer: {shown(value)}")
    return value


def text(value: object, what: str) -> str:
    """``value`` as a JSON string.

    Raises:
        ClusterError: ``value`` is something else.
    """
    if not isinstance(value, str):
        raise ClusterError(f"{what} is not a string: {shown(value)}")
    return value
