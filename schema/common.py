"""Shared value types."""

from __future__ import annotations

import strawberry
from strawberry.relay import to_base64
from strawberry.scalars import JSON

__all__ = ["JSON", "Money", "global_id"]


@strawberry.type(description="Money in integer minor units (e.g. cents; KRW has none) and an ISO 4217 currency.")
class Money:
    amount: int
    currency: str


def global_id(type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(to_base64(type_name, pk))
