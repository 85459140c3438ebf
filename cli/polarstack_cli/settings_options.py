"""Options that set one field of the one :class:`~polarstack.Settings` a command runs with.

click resolves each such option's value (flag > ``POLARSTACK_*`` > config file > default),
and the option's default is read from the settings class, so every default is written once,
there. A command builds its ``Settings`` once, with :func:`settings_from`, and passes it whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any, TypeVar

import click

from polarstack import Settings, format_duration, load_job, registered_jobs
from polarstack_cli.params import DURATION

F = TypeVar("F", bound=Callable[..., Any])

_CHOSEN = "polarstack.settings"
"""Key in ``click.Context.meta`` (shared by a command and its groups) of the values given."""


class _JobSettingsTypes(Mapping[str, type[Any]]):
    """The settings class of every registered job, by name, imported when first asked for.

    ``Settings`` asks only for a job beside the built-in four, whose group it does not hold.
    """

    def __getitem__(self, name: str) -> type[Any]:
        if name not in self:
            raise KeyError(name)
        kind: type[Any] = load_job(name).settings_type
        return kind

    def __contains__(self, name: object) -> bool:
        return any(job.name == name for job in registered_jobs())

    def __iter__(self) -> Iterator[str]:
        return (job.name for job in registered_jobs())

    def __len__(self) -> int:
        return len(registered_jobs())


JOB_SETTINGS = _JobSettingsTypes()

Parse = Callable[[click.Context, click.Parameter, Any], Any]


def setting_option(
    *decls: str, setting: str, parse: Parse | None = None, **kwargs: Any
) -> Callable[[F], F]:
    """A click option for the setting ``group.field`` (``logs.days``).

    Its default is the field's (shown in ``--help``; durations as ``60s``); a duration field
    takes a DURATION (and a :class:`~datetime.timedelta` field gets one). ``parse`` turns
    the option's text into the field's value (``--jobs``: a comma list into a tuple).
    """
    default = Settings.default_of(setting, JOB_SETTINGS)
    is_timedelta = isinstance(default, timedelta)
    if is_timedelta:
        default = default.total_seconds()
        kwargs.setdefault("type", DURATION)
    if kwargs.get("type") is DURATION and isinstance(default, float):
        default = format_duration(default)  # shown as people write it; DURATION reads it
    kwargs.setdefault("default", default)
    kwargs.setdefault("show_default", kwargs["default"] is not None)

    def store(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if parse is not None:
            value = parse(ctx, param, value)
        if is_timedelta and value is not None:
            value = timedelta(seconds=value)
        ctx.meta.setdefault(_CHOSEN, {})[setting] = value
        return value

    return click.option(*decls, callback=store, expose_value=False, **kwargs)


def settings_from(ctx: click.Context | None = None) -> Settings:
    """The command's settings: the defaults with every setting option's value applied."""
    ctx = ctx or click.get_current_context()
    return Settings().with_values(ctx.meta.get(_CHOSEN, {}), JOB_SETTINGS)
