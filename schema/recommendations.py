"""Recommendation and signal types and inputs."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry

from schema.catalog import Product
from schema.errors import UserError


@strawberry.enum
class RecommendationContext(Enum):
    HOME = "HOME"
    PRODUCT = "PRODUCT"
    CART = "CART"
    EMAIL = "EMAIL"


@strawberry.enum
class SignalType(Enum):
    VIEW = "VIEW"
    ADD_TO_CART = "ADD_TO_CART"
    PURCHASE = "PURCHASE"
    REVIEW = "REVIEW"


@strawberry.type
class RecommendedItem:
    product: Product
    score: float
    strategy: str = strawberry.field(description="similar_customers, item_to_item, replenishment, exploration, trending, popular or catalog")
    reason: str = strawberry.field(description="Why this item, in words a shopper understands.")


@strawberry.type
class Recommendations:
    personalized: bool = strawberry.field(description="False without PERSONALIZATION consent: only non-personal strategies ran.")
    items: list[RecommendedItem]
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing could be recommended (e.g. MEMBER_NOT_FOUND); items is then empty.")


@strawberry.input
class TrackEventInput:
    member_external_id: str | None = None
    session_id: str | None = strawberry.field(default=None, description="An anonymous session (merged at login).")
    type: SignalType
    product_external_id: str
    at: dt.datetime | None = None


@strawberry.type
class TrackEventsPayload:
    accepted: int
    errors: list[UserError]


@strawberry.input
class MergeSessionInput:
    session_id: str
    member_external_id: str | None = strawberry.field(default=None, description="Omit with a member token.")


@strawberry.type
class MergeSessionPayload:
    merged: int
    errors: list[UserError]


@strawberry.type
class TrainingResult:
    trained_at: dt.datetime
    members: int
    items: int
    interactions: int
    seconds: float
