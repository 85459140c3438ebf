"""The one timestamp format of the platform's contracts."""

from __future__ import annotations

from datetime import UTC, datetime

CONTRACT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_stamp(moment: datetime) -> str:
    """Format ``moment`` as the contracts want it: UTC, second precision, ``Z`` suffix.

    A naive datetime is taken to be UTC already.

    Example:
        >>> from datetime import datetime, UTC
        >>> utc_stamp(datetime(2024, 5, 1, 12, 0, 7, 999, tzinfo=UTC))
        '2024-05-01T12:00:07Z'
    """
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(CONTRACT_FORMAT)


def utc_now() -> datetime:
    """Return the current time, timezone-aware UTC (the default clock of every job)."""
    return datetime.now(UTC)


def parse_utc_stamp(text: object) -> datetime | None:
    """Read a contract timestamp back; None when ``text`` is not one.

    Example:
        >>> parse_utc_stamp("2024-05-01T12:00:07Z").isoformat()
        '2024-05-01T12:00:07+00:00'
    """
    try:
        return datetime.strptime(str(text), CONTRACT_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None
