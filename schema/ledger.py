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
    amount: int
    kind: LedgerKind
    source_type: str | None
    source_id: str | None
    rule_id: int | None = strawberry.field(deprecation_reason=legacy_int_id("ruleGlobalId"))
    details: JSON | None
    created_at: str
    expires_at: str | None
    remaining: int | None
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
    reason: str
    source_type: str
    source_id: str
    available_at: str
    created_at: str

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
    lifetime_earned: int
    member_id: strawberry.Private[int]

    @strawberry.field(description="Points that will expire within `days` days.")
    async def expiring_soon(self, days: int = 30) -> int:
        if days < 0 or days > 3650:
            raise bad_input("days must be between 0 and 3650")
        return await queries.expiring_soon(self.member_id, days)

    @strawberry.field
    async def pending_awards(self, info: Info) -> list[PendingAward]:
        return [PendingAward.from_model(a) for a in await queries.held_awards(self.member_id)]


@strawberry.input
class SpendPointsInput:
    member_external_id: str | None = strawberry.field(default=None, description="Omit with a member token.")
    amount: int
    idempotency_key: str
    reason: str = "Points used at checkout"


@strawberry.input
class AdjustPointsInput:
    member_external_id: str
    amount: int = strawberry.field(description="Positive credits, negative debits.")
    reason: str
    idempotency_key: str


@strawberry.input
class ReleasePendingPointsInput:
    member_external_id: str


MemberRef = Annotated["Member", strawberry.lazy("schema.members")]


@strawberry.type
class PointsPayload:
    entry: LedgerEntry | None
    member: MemberRef | None
    errors: list[UserError]


@strawberry.type
class ReleasePendingPointsPayload:
    released: int = strawberry.field(description="How many held awards were released.")
    member: MemberRef | None
    errors: list[UserError]
