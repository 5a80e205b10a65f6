"""Error shapes: payload `UserError`s for expected failures, `PublicError` for GraphQL errors."""

from __future__ import annotations

from enum import Enum

import strawberry

from domain.errors import ERROR_CODES

ErrorCode = strawberry.enum(Enum("ErrorCode", {code: code for code in ERROR_CODES}), description="What went wrong, for clients to branch on.")


@strawberry.type(description="An expected failure (a business outcome, with a code): a mutation changed nothing.")
class UserError:
    field: str | None = strawberry.field(description="Input path the error is about, e.g. lines.0.quantity.")
    message: str = strawberry.field(description="A human-readable explanation in English, safe to show.")
    code: ErrorCode = strawberry.field(description="What went wrong, for clients to branch on.")  # type: ignore[valid-type]


class PublicError(Exception):
    """An error whose message and code are safe to show (not masked)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.extensions = {"code": code}


def forbidden(message: str = "You are not allowed to do this") -> PublicError:
    return PublicError(message, "FORBIDDEN")


def unauthenticated(message: str = "Sign in to do this") -> PublicError:
    return PublicError(message, "UNAUTHENTICATED")


def bad_input(message: str) -> PublicError:
    return PublicError(message, "BAD_USER_INPUT")
