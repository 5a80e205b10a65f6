"""Runs a console page's GraphQL document in-process, as the signed-in staff member."""

from __future__ import annotations

from typing import Any

from domain.auth.service import Viewer
from schema.context import Context


class Refused(Exception):
    """The schema refused the call (FORBIDDEN, UNAUTHENTICATED, BAD_USER_INPUT ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


async def run(schema: Any, viewer: Viewer, document: str, variables: dict[str, Any] | None = None,
              request: Any = None) -> dict[str, Any]:
    """The answer's data; any GraphQL error raises Refused with its code (the first one)."""
    result = await schema.execute(document, variable_values=variables or {},
                                  context_value=Context(viewer=viewer, request=request))
    if result.errors:
        error = result.errors[0]
        code = (error.extensions or {}).get("code", "INTERNAL_SERVER_ERROR")
        raise Refused(code, error.message)
    return result.data or {}
