"""`Cache-Control` on GET answers, so a CDN may keep the public ones.

Public: the caller sent no credentials, and the answer is what the response cache itself
would keep (schema/response_cache.py: a query, HTTP 200, no errors; mutations never run over
GET). Everything else, and every answer to a caller with credentials, is `private, no-store`
(a CDN must never hand one caller's answer to another). `Vary: Authorization` keeps a cache
from answering a caller with credentials from a public entry.
"""

from __future__ import annotations

import orjson
from starlette.types import Message, Send

PRIVATE = b"private, no-store"


def publicly_cacheable(status: int, body: bytes) -> bool:
    if status != 200:
        return False
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(parsed, dict) and "errors" not in parsed and parsed.get("data") is not None


def with_cache_control(send: Send, public: bool, max_age: int) -> Send:
    """Holds back the response start until the (single) body message shows what was answered."""
    start: Message | None = None

    async def send_with_header(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if start is not None and message["type"] == "http.response.body":
            body = message.get("body", b"")
            cacheable = public and max_age > 0 and not message.get("more_body") and publicly_cacheable(start["status"], body)
            value = f"public, max-age={max_age}".encode() if cacheable else PRIVATE
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"cache-control", b"vary")]
            headers += [(b"cache-control", value), (b"vary", b"Authorization")]
            pending, start = {**start, "headers": headers}, None
            await send(pending)
        await send(message)

    return send_with_header
