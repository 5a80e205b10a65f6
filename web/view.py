"""Strawberry's HTTP view with Patron's request decoding and JSON errors.

Strawberry answers a malformed request with a plain-text 4xx, and lets some inputs
escape as exceptions (HTTP 500). This mixin decodes with web/request_data.py and turns
every HTTP-level refusal into the same JSON error shape as the rest of the API.
"""

from __future__ import annotations

import json
from typing import Any

from cross_web import HTTPException
from starlette.exceptions import HTTPException as StarletteHTTPException
from strawberry.types.unset import UNSET

from web.errors import error_response
from web.request_data import BadRequest, decode_json, replace_placeholders


class StrictHttpView:
    """Mix in before strawberry.asgi.GraphQL."""

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            return await super().run(request, context, root_value)  # type: ignore[misc]
        except HTTPException as exc:
            if request.scope["type"] != "http":
                raise
            return error_response(exc.status_code, exc.reason)
        except BadRequest as exc:
            if request.scope["type"] != "http":
                raise
            return error_response(400, str(exc))

    def decode_json(self, data: str | bytes) -> object:
        """Used by the WebSocket handlers, which close with 4400 on a JSONDecodeError
        (a too-deep message used to escape as RecursionError)."""
        try:
            return decode_json(data)
        except BadRequest as exc:
            raise json.JSONDecodeError(str(exc), data if isinstance(data, str) else "", 0) from None

    def parse_json(self, data: str | bytes) -> Any:
        """A request body (or GET `variables`/`extensions`): an object, or a list (which
        strawberry refuses as a batch); a bare 1, "x" or null used to raise a 500."""
        value = decode_json(data)
        if not isinstance(value, (dict, list)):
            raise BadRequest("The GraphQL request must be a JSON object")
        return value

    async def parse_multipart(self, request: Any) -> dict[str, Any]:
        try:
            form_data = await request.get_form_data()
        except (ValueError, StarletteHTTPException) as exc:  # Starlette's: a bad boundary
            raise BadRequest(f"Unable to parse the multipart body: {getattr(exc, 'detail', exc)}") from None
        operations = form_data.form.get("operations")
        files_map = form_data.form.get("map")
        if not isinstance(operations, (bytes, str)) or not isinstance(files_map, (bytes, str)):
            raise BadRequest("A multipart request needs the `operations` and `map` fields (GraphQL multipart spec)")
        return replace_placeholders(decode_json(operations), decode_json(files_map), form_data.files)
