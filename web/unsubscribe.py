"""GET/POST /unsubscribe?token=…: the one-click unsubscribe of every message (RFC 8058).

GET shows a confirmation page (mail scanners and link previews fetch links, so a GET must
never withdraw anything); POST — the page's button, or a mail client's one-click
`List-Unsubscribe=One-Click` — withdraws exactly the consent purpose the signed token names,
recorded with source `unsubscribe` (domain/messaging/service.py)."""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from domain.messaging.service import unsubscribe, unsubscribe_claims

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",  # the token must not leak to another site
}
LABELS = {
    "REVIEW_REQUESTS": "review requests", "MARKETING_EMAIL": "marketing e-mail", "MARKETING_SMS": "marketing SMS",
    "SERVICE_NOTICES": "service notices",
}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
                        f"<meta name=\"viewport\" content=\"width=device-width\"></head><body>"
                        f"<h1>{escape(title)}</h1>{body}</body></html>", status, headers=HEADERS)


def _invalid() -> HTMLResponse:
    return _page("This link is not valid", "<p>Copy the whole link from the message, or change your preferences "
                                           "in your account.</p>", 400)


async def unsubscribe_endpoint(request: Request) -> Response:
    token = request.query_params.get("token", "")
    if request.method == "GET":
        claims = unsubscribe_claims(token)
        if claims is None:
            return _invalid()
        what = LABELS.get(claims["p"], claims["p"])
        return _page(f"Stop {what}?", f"<form method=\"post\" action=\"?token={escape(token)}\">"
                                      f"<button type=\"submit\">Unsubscribe from {escape(what)}</button></form>")
    if request.method != "POST":
        return Response(status_code=405, headers={"Allow": "GET, POST"})
    purpose = await unsubscribe(token)
    if purpose is None:
        return _invalid()
    return _page("You are unsubscribed", f"<p>You will get no more {escape(LABELS.get(purpose, purpose))}.</p>")
