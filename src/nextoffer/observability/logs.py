"""Log lines for people (`text`, the default) or for a log pipeline (`json`: one object a line).

`NEXTOFFER_LOG_FORMAT=json` formats every record of nextoffer's and uvicorn's loggers as one JSON
object: `time` (RFC 3339, UTC), `level`, `logger`, `message`, the request id of the request being
served when there is one, the fields a record carries (`extra={"fields": {...}}`: the request
log's route, status, duration, problem code), and `exception` with the traceback of an error.
"""

from __future__ import annotations

import contextvars
import logging
from datetime import UTC, datetime
from typing import Any

import orjson

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "nextoffer_request_id", default=None
)
"""The id of the request being served (set by the HTTP layer while JSON logs are on)."""


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid is not None:
            out["requestId"] = rid
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        return orjson.dumps(out, default=str).decode()


def uvicorn_log_config(log_format: str, level: str = "info") -> dict[str, Any] | None:
    """uvicorn's `log_config` for the format: None keeps uvicorn's own (text); `json` formats
    uvicorn's and nextoffer's loggers alike, in every worker process."""
    if log_format != "json":
        return None
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"json": handler},
        "loggers": {
            name: {"handlers": ["json"], "level": level.upper(), "propagate": False}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "nextoffer")
        },
    }


def use_json_logs(level: int = logging.INFO) -> None:
    """Give the `nextoffer` logger a JSON handler (once): a server started by plain `uvicorn`,
    which configured only its own loggers."""
    logger = logging.getLogger("nextoffer")
    for handler in logger.handlers:
        if isinstance(handler.formatter, JsonFormatter):
            return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(min(level, logger.level or level))
    logger.propagate = False
