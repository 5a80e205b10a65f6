"""Request body limits, enforced on the bytes actually received.

A Content-Length is only a claim, and a chunked body has none: so the limit is checked
against the running total while the body streams in, and the request is refused (413)
the moment it is passed, without reading the rest.
"""

from __future__ import annotations

from starlette.types import Message, Receive

from domain.settings import get_settings


class BodyTooLarge(Exception):
    """The body passed its limit (deliberately not a ValueError: parsers must not swallow it)."""


def is_multipart(content_type: str) -> bool:
    return content_type.lower().lstrip().startswith("multipart/form-data")


def body_limit(content_type: str, admin: bool = False) -> int:
    """PATRON_MAX_BODY_BYTES; a multipart upload may add one video and one photo, and an
    admin's (startImport) an import file of up to PATRON_IMPORT_MAX_MB instead."""
    s = get_settings()
    if is_multipart(content_type):
        media = s.video_max_bytes + s.photo_max_bytes
        imports = s.import_max_mb * 1024 * 1024 if admin else 0
        return s.max_body_bytes + max(media, imports)
    return s.max_body_bytes


def limited(receive: Receive, limit: int) -> Receive:
    """`receive` that raises BodyTooLarge once more than `limit` body bytes came in."""
    total = 0

    async def receive_limited() -> Message:
        nonlocal total
        message = await receive()
        if message["type"] == "http.request":
            total += len(message.get("body", b""))
            if total > limit:
                raise BodyTooLarge(limit)
        return message

    return receive_limited


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body, or BodyTooLarge as soon as it passes `limit`."""
    receive = limited(receive, limit)
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """Give the next reader the body already read, then the real channel."""
    sent = False

    async def receive_replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_replayed
