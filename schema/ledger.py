"""Points types and inputs."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from domain.ledger import queries
from domain.ledger.models import Award as AwardModel
from domain.ledger.models import LedgerEntry as LedgerEntryModel
from domain.members.personal_data import is_personal_reason
from schema.common import JSON, global_id, legacy_int_id
from schema.errors import UserError, bad_input
from schema.node import Node

if TYPE_CHECKING:
    from schema.members import Member


@strawberry.enum
class LedgerKind(Enum):
    EARN = "earn"
    REDEEM = "redeem"
    EXPIRE = "expire"
    REVERSE = "reverse"
    ADJUST = "adjust"


@strawberry.type(description="One append-only ledger entry. Credits are lots with expiry and remaining.")
class LedgerEntry(Node):
    amount: int = strawberry.field(description="Points moved: positive for credits (earn, positive adjust), "
                                               "negative for debits (redeem, expire, reverse, negative adjust).")
    kind: LedgerKind = strawberry.field(description="What moved the points: earned, spent, expired, a refund's "
                                                    "reversal or an admin adjustment.")
    source_type: str | None = strawberry.field(
        description="What caused it, e.g. order, review, signup, birthday, checkout, adjustment, reward, "
                    "redemption, lot (an expiry); null for a credit recorded without a source.")
    source_id: str | None = strawberry.field(
        description="The source's ID (an order's externalId, the idempotency key of a checkout or adjustment, "
                    "the expired lot's entry ID …); null when sourceType is.")
    rule_id: int | None = strawberry.field(
        description="Legacy integer ID of the earning rule that awarded it; null when no rule did.",
        deprecation_reason=legacy_int_id("ruleGlobalId"))
    details: JSON | None = strawberry.field(
        description="Machine-readable context: the rule values used for an award, the actor of an adjustment; "
                    "null when there is none.")
    created_at: str = strawberry.field(description="When it was written, UTC ISO 8601.")
    expires_at: str | None = strawberry.field(
        description="Credits: when what remains of the lot expires, UTC ISO 8601; null for debits and when "
                    "points never expire (PATRON_POINTS_EXPIRY_DAYS = 0).")
    remaining: int | None = strawberry.field(
        description="Credits: points of this lot not yet spent or expired (spent soonest-expiring first); "
                    "null for debits.")
    model: strawberry.Private[LedgerEntryModel]

    @strawberry.field(description="Why; null when a person typed it (a checkout's or an adjustment's reason, "
                                  "personal data) and the API key lacks members:pii.")
    def reason(self, info: Info) -> str | None:
        e = self.model
        if is_personal_reason(e.source_type) and not info.context.viewer.sees_personal_data:
            return None
        return e.reason

    @strawberry.field(description="The global ID of the earning rule that awarded it.")
    def rule_global_id(self) -> strawberry.ID | None:
        return None if self.rule_id is None else global_id("EarningRule", self.rule_id)

    @classmethod
    def from_model(cls, e: LedgerEntryModel) -> LedgerEntry:
        return cls(
            id=global_id("LedgerEntry", e.id), amount=e.amount, kind=LedgerKind(e.kind), model=e,
            source_type=e.source_type, source_id=e.source_id, rule_id=e.rule_id,
            details=e.details, created_at=e.created_at.isoformat(),
            expires_at=e.expires_at.isoformat() if e.expires_at else None, remaining=e.remaining,
        )


@strawberry.type(description="Points awarded but held (the return window) until `availableAt`.")
class PendingAward:
    amount: int = strawberry.field(description="What is still pending (the award less refunds).")
    reason: str = strawberry.field(description="Why it was awarded, e.g. the earning rule's description; "
                                                "up to 500 characters.")
    source_type: str = strawberry.field(description="What earned it, e.g. order, review, signup, birthday, referral.")
    source_id: str = strawberry.field(description="The source's ID, e.g. the order's externalId.")
    available_at: str = strawberry.field(
        description="When the return window ends and the points become spendable, UTC ISO 8601.")
    created_at: str = strawberry.field(description="When it was awarded, UTC ISO 8601.")

    @classmethod
    def from_model(cls, a: AwardModel) -> PendingAward:
        return cls(
            amount=a.amount - a.reversed, reason=a.reason, source_type=a.source_type,
            source_id=a.source_id, available_at=a.release_at.isoformat(), created_at=a.created_at.isoformat(),
        )


@strawberry.type
class Points:
    balance: int = strawberry.field(description="Spendable now; always the sum of the ledger entries.")
    pending: int = strawberry.field(description="Awarded but held in the return window.")
    lifetime_earned: int = strawberry.field(
        description="Sum of every earn entry (released awards, not adjustments); spending, expiry and refunds never lower it.")
    member_id: strawberry.Private[int]

    @strawberry.field(description="Points that will expire within `days` days.")
    async def expiring_soon(self, days: int = 30) -> int:
        if days < 0 or days > 3650:
            raise bad_input("days must be between 0 and 3650")
        return await queries.expiring_soon(self.member_id, days)

    @strawberry.field(description="The held awards behind `pending`, soonest available first; "
                                  "fully refunded ones are left out.")
    async def pending_awards(self, info: Info) -> list[PendingAward]:
        return [PendingAward.from_model(a) for a in await queries.held_awards(self.member_id)]


@strawberry.input
class SpendPointsInput:
    member_external_id: str | None = strawberry.field(default=None, description="Omit with a member token.")
    amount: int = strawberry.field(description="Points to spend, above 0; refused (INSUFFICIENT_POINTS) "
                                               "beyond the spendable balance.")
    idempotency_key: str = strawberry.field(
        description="1–255 characters; a retry with the same key returns the first entry, with another amount "
                    "it is refused.")
    reason: str = strawberry.field(default="Points used at checkout",
                                   description="Shown in the member's history; 1–500 characters (personal data: "
                                               "hidden from keys without members:pii).")


@strawberry.input
class AdjustPointsInput:
    member_external_id: str = strawberry.field(description="The member whose balance to correct.")
    amount: int = strawberry.field(
        description="Positive credits, negative debits; not 0, at most 100,000,000 either way, and never "
                    "below a balance of 0 nor above 2,147,483,647.")
    reason: str = strawberry.field(description="Why, for the audit trail and the member's history; 1–500 characters.")
    idempotency_key: str = strawberry.field(
        description="1–255 characters; a retry with the same key returns the first entry instead of adjusting again.")


@strawberry.input
class ReleasePendingPointsInput:
    member_external_id: str = strawberry.field(
        description="The member whose held awards to release now, before their return window ends.")


MemberRef = Annotated["Member", strawberry.lazy("schema.members")]


@strawberry.type
class PointsPayload:
    entry: LedgerEntry | None = strawberry.field(description="The entry written (or, on a replay, the first one); "
                                                             "null when `errors` is not empty.")
    member: MemberRef | None = strawberry.field(description="The member with the new balance; null on errors.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


@strawberry.type
class ReleasePendingPointsPayload:
    released: int = strawberry.field(description="How many held awards were released.")
    member: MemberRef | None = strawberry.field(description="The member with the new balance; null on errors.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed (e.g. MEMBER_NOT_FOUND); "
                                                           "empty on success.")
