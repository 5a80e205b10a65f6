"""The one shape of an HTTP-level error: a GraphQL response with a coded error."""

from __future__ import annotations

from starlette.responses import JSONResponse

from domain.observability.metrics import GRAPHQL_ERRORS

# HTTP status → `extensions.code` when the refusal has no more specific code.
CODES = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
         413: "REQUEST_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 431: "REQUEST_HEADER_TOO_LARGE"}


def error_response(status: int, message: str, code: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    code = code or CODES.get(status, "BAD_REQUEST")
    GRAPHQL_ERRORS.labels(code).inc()
    # A message may echo the request, and a lone surrogate there cannot be UTF-8.
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    return JSONResponse({"data": None, "errors": [{"message": message, "extensions": {"code": code}}]},
                        status, headers=headers)
