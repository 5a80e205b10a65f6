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
    REMOVE_FROM_CART = strawberry.enum_value(
        "REMOVE_FROM_CART", description="Taken out of the cart (cart reminders); not read by recommendations.")
    PURCHASE = "PURCHASE"
    REVIEW = "REVIEW"


@strawberry.type
class RecommendedItem:
    product: Product = strawberry.field(description="The recommended product (active, visible, in stock).")
    score: float = strawberry.field(
        description="Strength within its strategy, 0 to 1 (1: that strategy's best item), 4 decimals; "
                    "0 for catalog fill-ins.")
    strategy: str = strawberry.field(description="similar_customers, item_to_item, replenishment, exploration, trending, popular or catalog")
    reason: str = strawberry.field(description="Why this item, in words a shopper understands.")


@strawberry.type
class Recommendations:
    personalized: bool = strawberry.field(description="False without PERSONALIZATION consent: only non-personal strategies ran.")
    items: list[RecommendedItem] = strawberry.field(
        description="Best first, at most `first`; at most PATRON_RECS_MAX_PER_CATEGORY per category, "
                    "replenishment excepted.")
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing could be recommended (e.g. MEMBER_NOT_FOUND); items is then empty.")


@strawberry.input
class TrackEventInput:
    member_external_id: str | None = strawberry.field(
        default=None, description="The member it happened to; this or sessionId is required (a member token: "
                                  "only its own member).")
    session_id: str | None = strawberry.field(
        default=None, description="An anonymous session (merged at login); up to 128 characters.")
    type: SignalType = strawberry.field(description="What the shopper did.")
    product_external_id: str = strawberry.field(description="The product's externalId; 1–255 characters.")
    at: dt.datetime | None = strawberry.field(
        default=None, description="When it happened; omitted: now. At most 5 minutes in the future.")


@strawberry.type
class TrackEventsPayload:
    accepted: int = strawberry.field(description="Events stored: all of the batch, or 0 when `errors` is not empty.")
    errors: list[UserError] = strawberry.field(description="Why the batch was refused, with the event's index in "
                                                           "`field`; empty on success.")


@strawberry.input
class MergeSessionInput:
    session_id: str = strawberry.field(description="The anonymous session whose signals become the member's.")
    member_external_id: str | None = strawberry.field(default=None, description="Omit with a member token.")


@strawberry.type
class MergeSessionPayload:
    merged: int = strawberry.field(description="Signals moved from the session to the member (0 when none).")
    errors: list[UserError] = strawberry.field(description="Why nothing was merged (e.g. MEMBER_NOT_FOUND); "
                                                           "empty on success.")


@strawberry.type
class TrainingResult:
    trained_at: dt.datetime = strawberry.field(description="When the new model was trained, UTC; every process "
                                                           "serves it from then on.")
    members: int = strawberry.field(description="Members whose history the model learned from.")
    items: int = strawberry.field(description="Distinct products the model knows.")
    interactions: int = strawberry.field(description="Distinct member–product pairs the model learned from.")
    seconds: float = strawberry.field(description="How long training took, in seconds (3 decimals).")
