"""Member, consent and data-transparency types."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

from domain import clock
from domain.auth.scopes import INSIGHTS, SUPPORT
from domain.insights import members as member_insights
from domain.feedback import improvements
from domain.ledger import queries as ledger_queries
from domain.members import service as members_service
from domain.members.models import Member as MemberModel
from domain.messaging import service as messaging
from domain.orders import queries as order_queries
from domain.recommendations.service import preferred_contact_hour
from domain.reviews.models import Review as ReviewModel
from domain.rewards.models import Redemption as RedemptionModel
from domain.subscriptions.models import Subscription as SubscriptionModel
from domain.tiers import service as tiers
from schema.common import ConsentPurpose, global_id
from schema.errors import UserError, bad_input
from schema.feedback import Contribution, Improvement
from schema.insights import MemberInsight
from schema.ledger import LedgerEntry, Points
from schema.node import Node
from schema.messaging import Message
from schema.orders import Order
from schema.pagination import Connection, paginate
from schema.reviews import Question, Review
from schema.rewards import MemberRewards, Redemption
from schema.subscriptions import MemberSubscription
from schema.tiers import NextTier, Tier, TierChange


@strawberry.type
class Consent:
    purpose: ConsentPurpose = strawberry.field(description="What the consent is for.")
    granted: bool = strawberry.field(
        description="Whether the member currently consents; false when never asked.")
    source: str | None = strawberry.field(
        description="Who recorded the last change (the caller's actor); null when never recorded.")
    updated_at: str | None = strawberry.field(
        description="When it last changed, UTC ISO 8601; null when never recorded.")


@strawberry.type
class ConsentHistoryEntry:
    purpose: ConsentPurpose = strawberry.field(description="The consent purpose that changed.")
    granted: bool = strawberry.field(description="True: granted at that moment; false: withdrawn.")
    source: str = strawberry.field(description="Who recorded it (the caller's actor, `import` or `anonymization`).")
    at: str = strawberry.field(description="When, UTC ISO 8601.")


def _sees_personal_data(info: Info) -> bool:
    return info.context.viewer.sees_personal_data


# A federation entity (composition/api.py), keyed like `member(externalId:)` and with its
# permission: a supergraph's Customer reaches points and tier through it.
@strawberry.federation.type(keys=["externalId"])
class Member(Node):
    external_id: str = strawberry.field(
        description="The storefront's customer ID, 1 to 255 characters, unique; the federation "
                    "key.")
    signup_channel: str | None = strawberry.field(
        description="Where the member signed up, e.g. web (at most 32 characters); null when not "
                    "given.")
    created_at: str = strawberry.field(
        description="When Patron first saw the member, UTC ISO 8601.")
    anonymized: bool = strawberry.field(
        description="True once the member's personal data was erased (anonymizeMember).")
    points: Points = strawberry.field(description="Available, pending and lifetime points.")
    model: strawberry.Private[MemberModel]

    @classmethod
    def from_model(cls, m: MemberModel) -> Member:
        return cls(
            id=global_id("Member", m.id), external_id=m.external_id,
            signup_channel=m.signup_channel, created_at=m.created_at.isoformat(),
            anonymized=m.anonymized_at is not None,
            points=Points(balance=m.points_balance, pending=m.points_pending,
                          lifetime_earned=m.lifetime_earned, member_id=m.id),
            model=m,
        )

    # Personal fields (domain/members/personal_data.py): null without the members:pii scope
    # for storefront and partner keys (null rather than an error, which would null the whole
    # payload of a mutation that succeeded); admins and the member themself always see them.
    # `personalDataWithheld` tells a withheld null from an empty field.
    @strawberry.field(description="Null unless the caller may read personal data (members:pii).")
    def email(self, info: Info) -> str | None:
        return self.model.email if _sees_personal_data(info) else None

    @strawberry.field(description="Null unless the caller may read personal data (members:pii).")
    def name(self, info: Info) -> str | None:
        return self.model.name if _sees_personal_data(info) else None

    @strawberry.field(description="Null unless the caller may read personal data (members:pii).")
    def birthday(self, info: Info) -> dt.date | None:
        return self.model.birthday if _sees_personal_data(info) else None

    @strawberry.field(description="True when personal fields (email, name, birthday, reviews) are withheld "
                                  "because the API key lacks the members:pii scope.")
    def personal_data_withheld(self, info: Info) -> bool:
        return not _sees_personal_data(info)

    @strawberry.field(description="RFM, churn risk and CLV from the nightly member_insights job; null before "
                                  "the member's first order in PATRON_INSIGHTS_CURRENCY, and for callers other "
                                  "than admins, the member themself and keys or staff roles with insights:read or "
                                  "members:support (a support desk sees the churn risk of the member it helps).")
    async def insights(self, info: Info) -> MemberInsight | None:
        viewer = info.context.viewer
        allowed = (viewer.role == "admin" or (viewer.role == "member" and viewer.member_external_id == self.external_id)
                   or (viewer.role in ("storefront", "partner", "staff")
                       and (viewer.holds(INSIGHTS) or viewer.holds(SUPPORT))))
        if not allowed:
            return None
        row = await member_insights.member_insight(self.model.id)
        return MemberInsight.from_model(row) if row else None

    @strawberry.field(description="IANA time zone for quiet hours (null: PATRON_DEFAULT_TIMEZONE).")
    def timezone(self) -> str | None:
        return self.model.timezone

    @strawberry.field(description="Language of the messages Patron sends (ko, en; null: PATRON_DEFAULT_LOCALE).")
    def locale(self) -> str | None:
        return self.model.locale

    @strawberry.field(description="Messages planned for this member, newest first, with what happened and why.")
    async def messages(self, first: int | None = None, after: str | None = None,
                       last: int | None = None, before: str | None = None) -> Connection[Message]:
        return await paginate("Member.messages", first, after, last, before,
                              lambda req: messaging.messages_page(req, member_id=self.model.id),
                              lambda m: Message.from_model(m, self))

    @strawberry.field(description="What this member's reviews and questions changed (recordImprovement), newest first.")
    async def contributions(self) -> list[Contribution]:
        return [Contribution(review=Review.from_model(link.review, public=False) if link.review else None,
                             question=Question.from_model(link.question) if link.question else None,
                             improvement=Improvement.from_model(link.improvement, link.improvement.product.external_id))
                for link in await improvements.contributions(self.model.id)]

    @strawberry.field(description="Every purpose, granted or not (default: not granted).")
    async def consents(self, info: Info) -> list[Consent]:
        rows = {c.purpose: c for c in await info.context.loaders.consents.load(self.model.id)}
        result = []
        for purpose in ConsentPurpose:
            row = rows.get(purpose.value)
            result.append(Consent(
                purpose=purpose, granted=bool(row and row.granted), source=row.source if row else None,
                updated_at=row.updated_at.isoformat() if row else None,
            ))
        return result

    @strawberry.field(description="Every consent grant and withdrawal, newest first; `first` 1 to 200 (default 50).")
    async def consent_history(self, first: int = 50) -> list[ConsentHistoryEntry]:
        if not 1 <= first <= members_service.CONSENT_HISTORY_MAX:
            raise bad_input(f"first must be between 1 and {members_service.CONSENT_HISTORY_MAX}")
        return [ConsentHistoryEntry(purpose=ConsentPurpose(c.purpose), granted=c.granted, source=c.source,
                                    at=c.created_at.isoformat())
                for c in await members_service.consent_history(self.model.id, first)]

    @strawberry.field(description="The member's current VIP tier; null when in none.")
    async def tier(self, info: Info) -> Tier | None:
        if self.model.tier_id is None:
            return None
        tier = await info.context.loaders.tier.load(self.model.tier_id)
        return Tier.from_model(tier) if tier else None

    @strawberry.field(description="The next tier up and what is still missing to reach it; null at "
                                  "the top tier.")
    async def next_tier(self) -> NextTier | None:
        all_tiers = await tiers.all_tiers()
        current = next((t for t in all_tiers if t.id == self.model.tier_id), None)
        target = tiers.next_tier(current, all_tiers)
        if target is None:
            return None
        stats = await tiers.member_stats(self.model.id, target.window, target.currency, clock.now())

        def missing(threshold: int | None, have: int) -> int | None:
            return None if threshold is None else max(0, threshold - have)

        return NextTier(
            name=target.name, rank=target.rank, currency=target.currency,
            remaining_spend=missing(target.min_spend, stats.spend),
            remaining_points=missing(target.min_points, stats.points),
            remaining_orders=missing(target.min_orders, stats.orders),
        )

    @strawberry.field(description="Every tier change of this member, newest first.")
    async def tier_history(self) -> list[TierChange]:
        return [TierChange.from_model(c) for c in await tiers.tier_history(self.model.id)]

    @strawberry.field(description="Orders, newest first.")
    async def orders(self, first: int | None = None, after: str | None = None,
                     last: int | None = None, before: str | None = None) -> Connection[Order]:
        return await paginate("Member.orders", first, after, last, before,
                              lambda req: order_queries.orders_page(self.model.id, req), Order.from_model)

    @strawberry.field(description="This member's reviews in every state, with moderation reasons. "
                                  "Text the member wrote: empty without members:pii.")
    async def reviews(self, info: Info) -> list[Review]:
        if not _sees_personal_data(info):
            return []
        rows = await ReviewModel.filter(member_id=self.model.id).exclude(status="deleted").order_by("-id")
        return [Review.from_model(r, public=False) for r in rows]

    @strawberry.field(description="UTC hour the member is most active (own activity; needs PERSONALIZATION consent).")
    async def preferred_contact_hour(self) -> int | None:
        return await preferred_contact_hour(self.model)

    @strawberry.field(description="This member's subscriptions and memberships, newest first.")
    async def subscriptions(self) -> list[MemberSubscription]:
        rows = await SubscriptionModel.filter(member_id=self.model.id).order_by("-id").prefetch_related("plan")
        return [MemberSubscription.from_model(s) for s in rows]

    @strawberry.field(description="Reward codes this member redeemed or was granted, newest first, in every status.")
    async def redemptions(self) -> list[Redemption]:
        rows = await RedemptionModel.filter(member_id=self.model.id).order_by("-id").prefetch_related("reward", "member")
        return [Redemption.from_model(r) for r in rows]

    @strawberry.field(description="The member's rewards: `available` lists the codes usable now (granted offers "
                                  "included) with their expiry.")
    def rewards(self) -> MemberRewards:
        return MemberRewards(member_id=self.model.id)

    @strawberry.field(description="Ledger entries, newest first.")
    async def ledger(self, first: int | None = None, after: str | None = None,
                     last: int | None = None, before: str | None = None) -> Connection[LedgerEntry]:
        return await paginate("Member.ledger", first, after, last, before,
                              lambda req: ledger_queries.ledger_page(self.model.id, req), LedgerEntry.from_model)


@strawberry.input
class UpsertMemberInput:
    external_id: str = strawberry.field(
        description="The storefront's customer ID, 1 to 255 characters; creates the member when "
                    "new.")
    email: str | None = strawberry.field(
        default=None, description="A valid e-mail address, at most 320 characters; omit to keep "
                                  "the current one.")
    name: str | None = strawberry.field(
        default=None, description="Display name, at most 200 characters; omit to keep the current "
                                  "one.")
    birthday: dt.date | None = strawberry.field(
        default=None, description="A past date from 1900-01-01 (birthday rewards); omit to keep "
                                  "the current one.")
    signup_channel: str | None = strawberry.field(
        default=None, description="Where the member signed up, at most 32 characters; omit to keep "
                                  "the current one.")
    referred_by: str | None = strawberry.field(default=None, description="The referrer's externalId (new members only).")
    timezone: str | None = strawberry.field(default=None, description="IANA name, e.g. Asia/Seoul (quiet hours).")
    locale: str | None = strawberry.field(default=None, description="ko or en: the language of messages.")


@strawberry.input
class ConsentInput:
    purpose: ConsentPurpose = strawberry.field(
        description="The purpose to change; each at most once per call.")
    granted: bool = strawberry.field(description="True to grant, false to withdraw.")


@strawberry.input
class UpdateConsentsInput:
    member_external_id: str | None = strawberry.field(default=None, description="Omit with a member token.")
    consents: list[ConsentInput] = strawberry.field(
        description="The purposes to change; purposes not listed keep their state.")


@strawberry.input
class AnonymizeMemberInput:
    member_external_id: str | None = strawberry.field(default=None, description="Omit with a member token.")


@strawberry.type
class MemberPayload:
    member: Member | None = strawberry.field(
        description="The member after the change; null when errors is not empty.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


@strawberry.type
class UpsertMemberPayload:
    member: Member | None = strawberry.field(
        description="The created or updated member; null when errors is not empty.")
    created: bool = strawberry.field(
        description="True when this call created the member, false when it updated one.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


@strawberry.type
class FeatureDataUse:
    feature: str = strawberry.field(description="The feature, in words, e.g. VIP tiers.")
    reads: list[str] = strawberry.field(
        description="The data this feature reads, in words; only items the running code really "
                    "reads are listed.")
    consent_purpose: ConsentPurpose | None = strawberry.field(
        description="The consent this feature needs; null when it needs none (always active).")
    active: bool = strawberry.field(description="Whether this feature currently uses your data.")
    why: str = strawberry.field(description="Why the feature reads this data, in plain words.")


@strawberry.type
class DataUsage:
    member_external_id: str = strawberry.field(description="The member this statement is about.")
    features: list[FeatureDataUse] = strawberry.field(
        description="Every feature that reads member data, and whether it is active for this "
                    "member.")
    consents: list[Consent] = strawberry.field(
        description="The member's state for every consent purpose.")
