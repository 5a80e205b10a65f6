"""Read side of orders."""

from __future__ import annotations

from domain.db import newest_first
from domain.orders.models import Order


async def orders_page(member_id: int, first: int, before_id: int | None) -> list[Order]:
    """Newest first; one extra row tells whether there is a next page."""
    return await newest_first(Order.filter(member_id=member_id), first, before_id)
