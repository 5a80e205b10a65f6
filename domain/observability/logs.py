"""Log formats: `PATRON_LOG_FORMAT=text` (default, for people) or `json` (one object a line)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from domain.observability import context

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class JsonFormatter(logging.Formatter):
    """{"time", "level", "logger", "message", request_id / job / delivery_id …, "exception"}."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in (getattr(record, "context", None) or {}).items():
            line.setdefault(key, value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The classic line, plus `[request_id=… job=…]` when there is a context."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "context", None)
        if not fields:
            return text
        suffix = " ".join(f"{k}={v}" for k, v in fields.items())
        head, newline, rest = text.partition("\n")  # after the message, before a traceback
        return f"{head} [{suffix}]{newline}{rest}"


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure(log_format: str, level: int = logging.INFO) -> None:
    """One handler on the root logger; uvicorn's loggers propagate to it (log_config=None)."""
    context.install()
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not one log line per webhook delivery
