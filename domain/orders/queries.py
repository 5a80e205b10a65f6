"""Read side of orders."""

from __future__ import annotations

from domain.orders.models import Order


async def orders_page(member_id: int, first: int, before_id: int | None) -> list[Order]:
    """Newest first; one extra row tells whether there is a next page."""
    qs = Order.filter(member_id=member_id)
    if before_id is not None:
        qs = qs.filter(id__lt=before_id)
    return await qs.order_by("-id").limit(first + 1)
