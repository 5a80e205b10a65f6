"""Shared resolver helpers: domain errors to payload errors, and the member being acted on."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Any, TypeVar

from strawberry.types import Info

from domain.errors import DomainError, InvalidInput, NotFound, input_problem, is_bad_input
from schema.errors import ErrorCode, PublicError, UserError, bad_input

T = TypeVar("T")


def _camel(path: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), path)


def user_error(exc: DomainError) -> UserError:
    return UserError(field=_camel(exc.field) if exc.field else None, message=exc.message, code=ErrorCode[exc.code])


async def attempt(work: Awaitable[T]) -> tuple[T | None, list[UserError]]:
    """Run a domain call; an expected failure becomes a payload error, nothing else is caught."""
    try:
        return await work, []
    except DomainError as exc:
        return None, [user_error(exc)]
    except Exception as exc:
        if not is_bad_input(exc):
            raise
        field = str(exc).split(":", 1)[0] if ":" in str(exc) else None
        return None, [UserError(field=_camel(field) if field and " " not in field else None,
                                message=f"Invalid input: {input_problem(exc)}", code=ErrorCode["INVALID"])]


async def lookup(work: Awaitable[T]) -> T | None:
    """A query by key (no payload to carry errors): nothing with that key is null, as for
    `member` and `product`; any other refusal is a GraphQL error with the domain's code
    (BAD_USER_INPUT for invalid input), never swallowed into a null."""
    try:
        return await work
    except NotFound:
        return None
    except DomainError as exc:
        raise PublicError(exc.message, "BAD_USER_INPUT" if isinstance(exc, InvalidInput) else exc.code) from None


def target_external_id(info: Info, given: str | None) -> str:
    """The member a call is about: a member token always means its own member."""
    viewer = info.context.viewer
    if viewer.role == "member":
        return viewer.member_external_id
    if not given:
        raise bad_input("memberExternalId is required")
    return given



def fields_given(obj: Any, mapping: dict[str, str] | None = None) -> dict[str, Any]:
    """Input fields the caller set (not None), keyed by domain field name."""
    values = {}
    for name, value in vars(obj).items():
        if value is None:
            continue
        if hasattr(value, "value") and not isinstance(value, (int, str)):
            value = value.value  # enums
        values[(mapping or {}).get(name, name)] = value
    return values
