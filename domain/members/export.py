"""Everything Patron holds about one member, as plain JSON-ready data."""

from __future__ import annotations

from typing import Any

from domain.events.models import Event
from domain.ledger.models import Award, LedgerEntry
from domain.members.models import Consent, ConsentChange, Member
from domain.orders.models import Order
from domain.tiers.models import TierChange


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: _iso(v) for k, v in row.items()} for row in rows]


async def export_member(member: Member) -> dict[str, Any]:
    orders = await Order.filter(member_id=member.id).order_by("id").prefetch_related("lines", "refunds")
    return {
        "member": {
            "externalId": member.external_id,
            "email": member.email,
            "name": member.name,
            "birthday": _iso(member.birthday),
            "signupChannel": member.signup_channel,
            "createdAt": _iso(member.created_at),
            "anonymizedAt": _iso(member.anonymized_at),
            "points": {
                "balance": member.points_balance,
                "pending": member.points_pending,
                "lifetimeEarned": member.lifetime_earned,
            },
        },
        "consents": _rows(await Consent.filter(member_id=member.id).values("purpose", "granted", "source", "updated_at")),
        "consentHistory": _rows(
            await ConsentChange.filter(member_id=member.id).order_by("id").values("purpose", "granted", "source", "created_at")
        ),
        "orders": [
            {
                "externalId": o.external_id,
                "currency": o.currency,
                "channel": o.channel,
                "placedAt": _iso(o.placed_at),
                "total": o.total_amount,
                "refunded": o.refunded_amount,
                "lines": [
                    {"sku": ln.sku, "productExternalId": ln.product_external_id, "category": ln.category,
                     "quantity": ln.quantity, "unitPrice": ln.unit_price, "refundedQuantity": ln.refunded_quantity}
                    for ln in o.lines
                ],
                "refunds": [{"externalId": r.external_id, "amount": r.amount, "createdAt": _iso(r.created_at)} for r in o.refunds],
            }
            for o in orders
        ],
        "ledger": _rows(
            await LedgerEntry.filter(member_id=member.id).order_by("id").values(
                "id", "amount", "kind", "reason", "source_type", "source_id", "created_at", "expires_at", "remaining"
            )
        ),
        "awards": _rows(
            await Award.filter(member_id=member.id).order_by("id").values(
                "id", "amount", "reversed", "status", "reason", "source_type", "source_id", "release_at", "created_at"
            )
        ),
        "tierHistory": _rows(
            await TierChange.filter(member_id=member.id).order_by("id").values(
                "from_tier__name", "to_tier__name", "reason", "created_at"
            )
        ),
        "events": _rows(
            await Event.filter(member_id=member.id).order_by("id").values("type", "payload", "created_at")
        ),
    }
