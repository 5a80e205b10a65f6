"""Injected time: everything that depends on "now" asks this module.

Tests freeze or move it (`set_now`) to exercise expiry, pending release and tier windows.
"""

from __future__ import annotations

from datetime import UTC, datetime

_frozen: datetime | None = None


def now() -> datetime:
    return _frozen if _frozen is not None else datetime.now(UTC)


def set_now(value: datetime | None) -> None:
    global _frozen
    _frozen = value
