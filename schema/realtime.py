"""GraphQL subscriptions (graphql-transport-ws on /graphql), fed by the event bus."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import TypeVar

import strawberry
from strawberry.types import Info

from domain.auth.service import credential_problem
from domain.events.types import matches
from domain.imports.models import ImportJob as ImportJobModel
from domain.imports.service import TERMINAL
from domain.members.models import Member
from domain.realtime.bus import bus
from schema.common import JSON, global_id, legacy_int_id, parse_id
from schema.imports import ImportProgress
from schema.errors import bad_input, forbidden, unauthenticated

log = logging.getLogger("patron.realtime")
T = TypeVar("T")
CREDENTIAL_GONE = 4403  # the close code of a refused connection_init, reused when a credential lapses


async def while_authorized(info: Info, events: AsyncGenerator[T, None]) -> AsyncGenerator[T, None]:
    """Deliver `events` only while the subscriber's credential still holds: it is checked again
    before every event (a revoked API key or an expired member token ends the stream, the event
    is not sent). A WebSocket is closed with 4403; an HTTP stream just ends."""
    context = info.context
    async with aclosing(events):
        async for event in events:
            problem = await credential_problem(context.authorization, context.viewer)
            if problem is None:
                yield event
                continue
            log.info("closing a subscription of %s: %s", context.viewer.actor, problem)
            socket = context.request
            if getattr(socket, "scope", {}).get("type") == "websocket":
                await socket.close(code=CREDENTIAL_GONE, reason=problem[:120])
                # Wait for the transport to notice the close and cancel this operation;
                # returning now would make it send "complete" on a closed socket.
                await asyncio.Event().wait()
            return


@strawberry.type
class PointsBalance:
    balance: int = strawberry.field(description="Points the member can redeem now.")
    pending: int = strawberry.field(description="Points earned but held (the return window) until a job releases them; not yet redeemable.")
    lifetime_earned: int = strawberry.field(description="All points ever earned (redemptions do not lower it).")
    event_type: str = strawberry.field(description="The event that changed it, e.g. points.redeemed.")
    at: dt.datetime = strawberry.field(description="When the change happened (UTC, ISO 8601).")


@strawberry.type
class TierChangeNotice:
    from_tier: str | None = strawberry.field(description="The tier left; null when the member had none.")
    to_tier: str | None = strawberry.field(description="The tier reached; null when the member has none now.")
    reason: str = strawberry.field(description="Why the tier changed (the member.tier_changed event's reason).")


@strawberry.type
class PublishedReview:
    review_id: int = strawberry.field(description="The review's integer primary key (legacy; use reviewGlobalId).",
                                      deprecation_reason=legacy_int_id("reviewGlobalId"))
    product_external_id: str = strawberry.field(description="The commerce platform's id of the product reviewed.")
    rating: int = strawberry.field(description="Stars, from 1 to 5.")
    title: str | None = strawberry.field(description="The review's title; null when it has none.")
    author: str = strawberry.field(description="The author's first name and initial; never the e-mail.")

    @strawberry.field(description="The global ID of the review published.")
    def review_global_id(self) -> strawberry.ID:
        return global_id("Review", self.review_id)


@strawberry.type
class EventMessage:
    # The event's global ID, the same as `Event.id`: node(id:) refetches it as an Event.
    id: strawberry.ID = strawberry.field(description="The event's global ID (as Event.id; node(id:) refetches it).")
    event_id: int = strawberry.field(description="The event's integer primary key (legacy; use id).",
                                     deprecation_reason="Use id (a global ID). Integer ids are removed in the next "
                                                        "minor release.")
    type: str = strawberry.field(description="The event type, e.g. points.earned or review.published.")
    created_at: str = strawberry.field(description="When the event was written (UTC, ISO 8601).")
    data: JSON = strawberry.field(description="The event's data (a JSON object; its fields depend on the type).")


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
        async with aclosing(while_authorized(info, _points_balances(member))) as stream:
            async for item in stream:
                yield item

    @strawberry.subscription(description="The signed-in member's tier changes (member token).")
    async def tier_changed(self, info: Info) -> AsyncGenerator[TierChangeNotice, None]:
        member = await _own_member(info)
        async with aclosing(while_authorized(info, _tier_changes(member))) as stream:
            async for item in stream:
                yield item

    @strawberry.subscription(description="Reviews of one product as they are published (public).")
    async def review_published(self, info: Info,
                               product_external_id: str) -> AsyncGenerator[PublishedReview, None]:
        async with aclosing(while_authorized(info, _published_reviews(product_external_id))) as stream:
            async for item in stream:
                yield item

    @strawberry.subscription(description="An import job's progress (admin): at once, then at least once a second "
                                         "while it runs, then its final state; the stream ends with the job.")
    async def import_progress(self, info: Info, id: strawberry.ID) -> AsyncGenerator[ImportProgress, None]:
        viewer = info.context.viewer
        if viewer.role != "admin":
            raise unauthenticated() if viewer.role == "anonymous" else forbidden()
        job_id = parse_id(id, "ImportJob")
        async with aclosing(while_authorized(info, _import_progress(job_id))) as stream:
            async for item in stream:
                yield item

    @strawberry.subscription(description="Every event of the given types (admin; wildcards allowed).")
    async def events(self, info: Info, types: list[str]) -> AsyncGenerator[EventMessage, None]:
        viewer = info.context.viewer
        if viewer.role != "admin":
            raise unauthenticated() if viewer.role == "anonymous" else forbidden()
        if not types or len(types) > 50:
            raise bad_input("Give 1 to 50 event types")
        async with aclosing(while_authorized(info, _events(types))) as stream:
            async for item in stream:
                yield item


async def _points_balances(member: Member) -> AsyncGenerator[PointsBalance, None]:
    async with bus.subscribe() as queue:
        while True:
            msg = await queue.get()
            if msg["memberId"] == member.id and msg["type"].startswith("points."):
                fresh = await Member.get(id=member.id)
                yield PointsBalance(balance=fresh.points_balance, pending=fresh.points_pending,
                                    lifetime_earned=fresh.lifetime_earned, event_type=msg["type"],
                                    at=dt.datetime.fromisoformat(msg["createdAt"]))


async def _tier_changes(member: Member) -> AsyncGenerator[TierChangeNotice, None]:
    async with bus.subscribe() as queue:
        while True:
            msg = await queue.get()
            if msg["memberId"] == member.id and msg["type"] == "member.tier_changed":
                data = msg["data"]
                yield TierChangeNotice(from_tier=data["from"], to_tier=data["to"], reason=data["reason"])


async def _published_reviews(product_external_id: str) -> AsyncGenerator[PublishedReview, None]:
    async with bus.subscribe() as queue:
        while True:
            msg = await queue.get()
            data = msg["data"]
            if msg["type"] == "review.published" and data.get("productExternalId") == product_external_id:
                yield PublishedReview(review_id=data["reviewId"], product_external_id=product_external_id,
                                      rating=data["rating"], title=data.get("title"), author=data["author"])


async def _events(types: list[str]) -> AsyncGenerator[EventMessage, None]:
    async with bus.subscribe() as queue:
        while True:
            msg = await queue.get()
            if matches(types, msg["type"]):
                yield EventMessage(id=global_id("Event", msg["id"]), event_id=msg["id"], type=msg["type"],
                                   created_at=msg["createdAt"], data=msg["data"])


PROGRESS_INTERVAL = 0.5  # seconds between looks at a running import job
PROGRESS_EVERY = 1.0  # a running job's progress is sent at least this often, changed or not


async def _import_progress(job_id: int) -> AsyncGenerator[ImportProgress, None]:
    """Read from the job row (any worker process may be running it): sent when it changes (at
    most every half second) and at least once a second; ends once the job has ended."""
    loop = asyncio.get_running_loop()
    last_state, last_sent = None, 0.0
    while True:
        job = await ImportJobModel.get_or_none(id=job_id)
        if job is None:
            return
        state = (job.status, job.processed, job.total, job.succeeded, job.skipped, job.failed)
        if state != last_state or loop.time() - last_sent >= PROGRESS_EVERY:
            yield ImportProgress.from_model(job)
            last_state, last_sent = state, loop.time()
        if job.status in TERMINAL:
            return
        await asyncio.sleep(PROGRESS_INTERVAL)
