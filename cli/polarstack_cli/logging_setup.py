"""Log lines of the long-running commands: rich on a terminal, JSON lines for collectors."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from polarstack_cli.environment import Environment

# Attributes every LogRecord has; anything else came in through ``extra=`` and is a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, job, message, and the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record``."""
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD and k != "job"}
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "job": getattr(record, "job", None),
            "message": record.getMessage(),
            **fields,
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def setup_logging(env: Environment, fmt: str) -> None:
    """Send polarstack's log records to stderr in ``fmt`` (``text`` or ``json``)."""
    logger = logging.getLogger("polarstack")
    for old in list(logger.handlers):
        logger.removeHandler(old)
    handler: logging.Handler
    if fmt == "json":
        handler = logging.StreamHandler(env.stderr)
        handler.setFormatter(JsonFormatter())
    elif env.stderr_isatty:
        from rich.logging import RichHandler

        handler = RichHandler(console=env.error_console, show_path=False)
    else:
        handler = logging.StreamHandler(env.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if env.verbose > 1 else logging.INFO)
    logger.propagate = False
