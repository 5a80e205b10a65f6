"""GET /media/<name>: review photos, thumbnails and videos, only while they may be shown.

Replaces a static file mount, which served every file on disk: rejected media, deleted
reviews and erased members' photos alike. Each request checks the database
(domain/reviews/media_access.py); a URL with a valid `?preview=` token (given to
moderators and authors) also shows media that is not public. Every answer, 404 included,
tells browsers never to sniff the type and never to run anything from it.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route, Router

from domain.reviews.media_access import preview_allowed, preview_content_type, servable_content_type

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Nothing may load or run in a document made from this response; sandbox: no script,
    # no same-origin access, even in a browser that renders it as a page.
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
    # Moderation and erasure must take effect at once: caches revalidate (ETag) each time.
    "Cache-Control": "no-cache",
}


def media_routes(root: Path) -> Router:
    async def serve(request: Request) -> Response:
        name = request.path_params["name"]
        path = root / name
        content_type = await servable_content_type(name)
        headers = SECURITY_HEADERS
        if content_type is None and preview_allowed(name, request.query_params.get("preview")):
            content_type = await preview_content_type(name)  # a moderator's or the author's look
            headers = SECURITY_HEADERS | {"Cache-Control": "private, no-store"}
        if content_type is None or not path.is_file():
            return PlainTextResponse("Not Found", 404, headers=SECURITY_HEADERS)
        return FileResponse(path, media_type=content_type, headers=headers)

    return Router(routes=[Route("/{name}", serve, methods=["GET", "HEAD"])])
