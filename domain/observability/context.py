"""What a log line is about: the request, job run or webhook delivery in hand.

Held in a context variable, so every log record made while handling it carries the ids
(asyncio tasks inherit a copy). `install()` makes each LogRecord take a snapshot when it is
created (`record.context`), so a record formatted later still names its request.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")
_fields: ContextVar[Mapping[str, str]] = ContextVar("patron_log_context", default={})
_installed = False


def current() -> dict[str, str]:
    return dict(_fields.get())


def request_id() -> str | None:
    return _fields.get().get("request_id")


@contextlib.contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add fields (None values skipped) to every log record made inside the block."""
    token = _fields.set({**_fields.get(), **{k: str(v) for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _fields.reset(token)


async def in_log_context(awaitable: Awaitable[T], **fields: object) -> T:
    with log_context(**fields):
        return await awaitable


def install() -> None:
    """Give every LogRecord a `context` attribute (idempotent)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.context = dict(_fields.get())
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
