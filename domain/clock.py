"""Injected time: everything that depends on "now" asks this module.

Tests freeze or move it (`set_now`) to exercise expiry, pending release and tier windows.
"""

from __future__ import annotations

from datetime import UTC, datetime

from domain.errors import InvalidInput

_frozen: datetime | None = None


def now() -> datetime:
    return _frozen if _frozen is not None else datetime.now(UTC)


def set_now(value: datetime | None) -> None:
    global _frozen
    _frozen = value


def as_utc(value: datetime, field: str) -> datetime:
    """A caller's time in UTC. A time without an offset is read as UTC (what the database
    stores it as anyway); one that cannot be expressed in UTC is the caller's mistake."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidInput(f"{field} is outside the supported date range", field) from None
