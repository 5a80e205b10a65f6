"""Every HTTP response and WebSocket handshake carries `X-Request-Id`.

An incoming id is kept when it is sane (≤ 128 characters of [A-Za-z0-9._-]): a proxy or
client can follow its own id through Patron's logs. Anything else is replaced by a new one,
never echoed (it could carry a log-injection payload). The id is in the log context for the
whole request (domain/observability/context.py). The middleware wraps Starlette's error
middleware, so a 500 carries it too, and the unhandled error is logged with it.
"""

from __future__ import annotations

import logging
import re
import uuid

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.observability.context import log_context

HEADER = "x-request-id"
SANE = re.compile(r"[A-Za-z0-9._-]{1,128}")
log = logging.getLogger("patron.http")


def request_id_for(incoming: str | None) -> str:
    return incoming if incoming is not None and SANE.fullmatch(incoming) else uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = request_id_for(Headers(scope=scope).get(HEADER))
        scope.setdefault("state", {})["request_id"] = rid
        pair = (HEADER.encode(), rid.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                headers = [h for h in message.get("headers") or [] if h[0].lower() != pair[0]]
                message = {**message, "headers": [*headers, pair]}
            await send(message)

        with log_context(request_id=rid):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                log.exception("unhandled error in %s %s", scope.get("method", "WEBSOCKET"), scope.get("path"))
                raise
