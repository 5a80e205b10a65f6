"""Typed domain errors. Resolvers turn them into payload `errors` (code, field, message)."""

from __future__ import annotations

import decimal

from tortoise.exceptions import OperationalError, ValidationError


class DomainError(Exception):
    code = "INVALID"

    def __init__(self, message: str, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code


class NotFound(DomainError):
    code = "NOT_FOUND"


class MemberNotFound(NotFound):
    code = "MEMBER_NOT_FOUND"

    def __init__(self, external_id: str, field: str = "memberExternalId") -> None:
        super().__init__(f"No member with externalId {external_id!r}", field)


class InvalidInput(DomainError):
    code = "INVALID"


class InsufficientPoints(DomainError):
    code = "INSUFFICIENT_POINTS"


class Conflict(DomainError):
    code = "CONFLICT"


# Every code a mutation payload can carry; schema/errors.py builds its enum from this.
ERROR_CODES = (
    "INVALID",
    "NOT_FOUND",
    "MEMBER_NOT_FOUND",
    "ORDER_NOT_FOUND",
    "TIER_NOT_FOUND",
    "RULE_NOT_FOUND",
    "API_KEY_NOT_FOUND",
    "INSUFFICIENT_POINTS",
    "CONFLICT",
    "ALREADY_REFUNDED",
    "MEMBER_ANONYMIZED",
    "PRODUCT_NOT_FOUND",
    "REVIEW_NOT_FOUND",
    "QUESTION_NOT_FOUND",
    "ALREADY_REVIEWED",
    "NOT_ALLOWED",
    "INVALID_STATE",
    "MEDIA_LIMIT",
    "UNSUPPORTED_MEDIA",
    "MEDIA_TOO_LARGE",
    "MEDIA_CORRUPT",
    "MEDIA_POLYGLOT",
    "MEDIA_TOO_LONG",
    "MEDIA_BUDGET_EXCEEDED",
    "PROFANITY",
    "PERSONAL_DATA",
    "LINK",
    "URL_NOT_ALLOWED",
    "WEBHOOK_NOT_FOUND",
    "REWARD_NOT_FOUND",
    "REWARD_UNAVAILABLE",
    "OUT_OF_STOCK",
    "TIER_REQUIRED",
    "LIMIT_REACHED",
    "CODE_NOT_FOUND",
    "CODE_NOT_USABLE",
    "PLAN_NOT_FOUND",
    "SUBSCRIPTION_NOT_FOUND",
    "INVALID_TRANSITION",
    "OFFER_ALREADY_USED",
    "ORDER_MEMBER_MISMATCH",
    "UNKNOWN_SCOPE",
    "SCOPE_MISSING",
    "SEGMENT_NOT_FOUND",
    "SEGMENT_NAME_TAKEN",
    "SEGMENT_IN_USE",
    "NOT_IN_AUDIENCE",
)


def is_bad_input(exc: BaseException | None) -> bool:
    """Failures that mean the input was unacceptable to the database, not a server fault."""
    if isinstance(exc, (ValidationError, OverflowError, decimal.InvalidOperation)):
        return True
    text = str(exc).lower()
    return isinstance(exc, OperationalError) and any(
        marker in text for marker in ("out of range", "invalid byte sequence", "0x00", "value too long", "overflow",
                                  "unsupported unicode escape sequence"))  # NUL inside a JSON value (PostgreSQL)


def input_problem(exc: BaseException | None) -> str:
    if isinstance(exc, ValidationError):
        return str(exc)[:200]
    return "a value is too long or out of range"
