"""Shared value types."""

from __future__ import annotations

import re
from enum import Enum

import strawberry
from strawberry.relay import from_base64, to_base64
from strawberry.scalars import JSON

from domain.observability.metrics import LEGACY_INT_IDS
from schema.errors import bad_input

__all__ = ["BIGINT_MAX", "INT32_MAX", "JSON", "ConsentPurpose", "Money", "decode_global_id", "global_id",
           "legacy_int_id", "parse_id"]

_LEGACY_INT = re.compile(r"[0-9]{1,18}")
_MAX_ID_LENGTH = 200
# Most tables key on a 32-bit integer: a larger key names no row, and PostgreSQL refuses to
# compare an int4 column with it (a server error), so it is refused as input instead.
INT32_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1


@strawberry.type(description="Money in integer minor units (e.g. cents; KRW has none) and an ISO 4217 currency.")
class Money:
    amount: int = strawberry.field(description="The amount in integer minor units (e.g. 1999 is 19.99 EUR).")
    currency: str = strawberry.field(description="ISO 4217 currency code, e.g. EUR; empty when unknown.")


def legacy_int_id(replacement: str = "id") -> str:
    """Deprecation reason of an output field that exposes a raw integer id."""
    return f"Use {replacement} (a global ID). Integer ids are removed in the next minor release."


# Shared by members (consents) and messaging (each message type's purpose).
@strawberry.enum
class ConsentPurpose(Enum):
    PERSONALIZATION = "PERSONALIZATION"
    MARKETING_EMAIL = "MARKETING_EMAIL"
    MARKETING_SMS = "MARKETING_SMS"
    REVIEW_REQUESTS = "REVIEW_REQUESTS"
    SERVICE_NOTICES = "SERVICE_NOTICES"
    NIGHT_MESSAGES = "NIGHT_MESSAGES"


def global_id(type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(to_base64(type_name, pk))


def decode_global_id(value: str) -> tuple[str, int] | None:
    """(type name, primary key) of a global ID this API issued, else None (never raises)."""
    if not isinstance(value, str) or len(value) > _MAX_ID_LENGTH:
        return None
    try:
        type_name, raw_pk = from_base64(value)
    except Exception:  # strawberry raises several types for garbage; all mean "not ours"
        return None
    if not type_name.isidentifier() or not _LEGACY_INT.fullmatch(raw_pk):
        return None
    return type_name, int(raw_pk)


def parse_id(value: str | int, type_name: str, field: str = "id", *, max_pk: int = INT32_MAX) -> int:
    """The primary key named by `value`: a global ID of `type_name`, or (deprecated for
    one release, see CHANGELOG.md) the legacy integer id. Anything else is BAD_USER_INPUT.
    `max_pk` is the largest key the table can hold (BIGINT_MAX for 64-bit keys)."""
    raw = str(value)
    if _LEGACY_INT.fullmatch(raw):
        pk = int(raw)
        if pk > max_pk:
            raise bad_input(f"{field} is not an ID this API issued")
        LEGACY_INT_IDS.labels(type=type_name).inc()
        return pk
    decoded = decode_global_id(raw)
    if decoded is None or (decoded[0] == type_name and decoded[1] > max_pk):
        raise bad_input(f"{field} is not an ID this API issued")
    if decoded[0] != type_name:
        raise bad_input(f"{field} must be the ID of a {type_name}, not of a {decoded[0]}")
    return decoded[1]
