"""GraphQL subscriptions (graphql-transport-ws on /graphql), fed by the event bus."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from domain.members.models import Member
from domain.realtime.bus import bus
from domain.webhooks.service import matches
from schema.common import JSON
from schema.errors import bad_input, forbidden, unauthenticated


@strawberry.type
class PointsBalance:
    balance: int
    pending: int
    lifetime_earned: int
    event_type: str = strawberry.field(description="The event that changed it, e.g. points.redeemed.")
    at: dt.datetime


@strawberry.type
class TierChangeNotice:
    from_tier: str | None
    to_tier: str | None
    reason: str


@strawberry.type
class PublishedReview:
    review_id: int
    product_external_id: str
    rating: int
    title: str | None
    author: str


@strawberry.type
class EventMessage:
    id: int
    type: str
    created_at: str
    data: JSON


async def _own_member(info: Info) -> Member:
    viewer = info.context.viewer
    if viewer.role == "anonymous":
        raise unauthenticated()
    if viewer.role != "member":
        raise forbidden("Only a member token can subscribe to its own member")
    member = await Member.get_or_none(external_id=viewer.member_external_id)
    if member is None:
        raise forbidden("Unknown member")
    return member


@strawberry.type
class Subscription:
    @strawberry.subscription(description="The signed-in member's points after every change (member token).")
    async def points_balance_changed(self, info: Info) -> AsyncGenerator[PointsBalance, None]:
        member = await _own_member(info)
        async with bus.subscribe() as queue:
            while True:
                msg = await queue.get()
                if msg["memberId"] == member.id and msg["type"].startswith("points."):
                    fresh = await Member.get(id=member.id)
                    yield PointsBalance(balance=fresh.points_balance, pending=fresh.points_pending,
                                        lifetime_earned=fresh.lifetime_earned, event_type=msg["type"],
                                        at=dt.datetime.fromisoformat(msg["createdAt"]))

    @strawberry.subscription(description="The signed-in member's tier changes (member token).")
    async def tier_changed(self, info: Info) -> AsyncGenerator[TierChangeNotice, None]:
        member = await _own_member(info)
        async with bus.subscribe() as queue:
            while True:
                msg = await queue.get()
                if msg["memberId"] == member.id and msg["type"] == "member.tier_changed":
                    data = msg["data"]
                    yield TierChangeNotice(from_tier=data["from"], to_tier=data["to"], reason=data["reason"])

    @strawberry.subscription(description="Reviews of one product as they are published (public).")
    async def review_published(self, product_external_id: str) -> AsyncGenerator[PublishedReview, None]:
        async with bus.subscribe() as queue:
            while True:
                msg = await queue.get()
                data = msg["data"]
                if msg["type"] == "review.published" and data.get("productExternalId") == product_external_id:
                    yield PublishedReview(review_id=data["reviewId"], product_external_id=product_external_id,
                                          rating=data["rating"], title=data.get("title"), author=data["author"])

    @strawberry.subscription(description="Every event of the given types (admin; wildcards allowed).")
    async def events(self, info: Info, types: list[str]) -> AsyncGenerator[EventMessage, None]:
        viewer = info.context.viewer
        if viewer.role != "admin":
            raise unauthenticated() if viewer.role == "anonymous" else forbidden()
        if not types or len(types) > 50:
            raise bad_input("Give 1 to 50 event types")
        async with bus.subscribe() as queue:
            while True:
                msg = await queue.get()
                if matches(types, msg["type"]):
                    yield EventMessage(id=msg["id"], type=msg["type"], created_at=msg["createdAt"], data=msg["data"])



