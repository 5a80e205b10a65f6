"""Scalar overrides: what the built-in scalars do not get right for Patron."""

from __future__ import annotations

import datetime as dt

import dateutil.parser
from strawberry.schema.types.base_scalars import wrap_parser
from strawberry.types.scalar import ScalarDefinition


def _parse_datetime(value: str) -> dt.datetime:
    """ISO-8601; a time without an offset is read as UTC (as the README says), so no domain code
    ever compares a naive time with an aware one (that raised TypeError: "Unexpected error.")."""
    parsed = dateutil.parser.isoparse(value)
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed


UtcDateTime = ScalarDefinition(
    name="DateTime",
    description="Date with time (ISO-8601); without an offset it is read as UTC",
    specified_by_url=None,
    serialize=lambda value: value.isoformat(),
    parse_value=wrap_parser(_parse_datetime, "DateTime"),
    parse_literal=None,
    origin=dt.datetime,
)

SCALAR_OVERRIDES = {dt.datetime: UtcDateTime}
