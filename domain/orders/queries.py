"""Read side of orders."""

from __future__ import annotations

from domain.orders.models import Order
from domain.pagination import NEWEST_ID, Page, PageRequest, keyset_page


async def orders_page(member_id: int, request: PageRequest) -> Page[Order]:
    """Newest first. Counted: one member's orders are one indexed COUNT on a small set."""
    qs = Order.filter(member_id=member_id)
    return await keyset_page(qs, NEWEST_ID, request, count=qs.count)
