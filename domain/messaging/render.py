"""Rendering a message: Jinja2 templates in its sandbox, one per type and locale (ko, en) in
domain/messaging/templates/ (`<type>.<locale>.subject|txt|html`); HTML is autoescaped, so a
product title or a member's name cannot inject markup. Links carry signed tokens: the
one-click unsubscribe (withdraws exactly the message's consent purpose) and the review request
(submitReview(requestToken) works without a login and counts as a verified purchase)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from urllib.parse import quote, urlencode

from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from domain import crypto
from domain.catalog.models import Product
from domain.members.models import Member
from domain.messaging.policies import Policy
from domain.settings import get_settings

TEMPLATES = Path(__file__).parent / "templates"
UNSUBSCRIBE_KIND, REVIEW_KIND = "unsubscribe", "review-request"
AD_PREFIX_KO = "(광고) "


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    unsubscribe_url: str


@cache
def _env() -> SandboxedEnvironment:
    return SandboxedEnvironment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                                undefined=StrictUndefined, keep_trailing_newline=True)


def unsubscribe_url(member_id: int, purpose: str) -> str:
    token = crypto.sign(UNSUBSCRIBE_KIND, {"m": member_id, "p": purpose})
    return f"{get_settings().public_url.rstrip('/')}/unsubscribe?token={quote(token)}"


def review_token(member_id: int, order_external_id: str | None, products: list[str], now: datetime) -> str:
    expires = now + timedelta(days=get_settings().review_token_days)
    return crypto.sign(REVIEW_KIND, {"m": member_id, "o": order_external_id, "p": products,
                                     "x": int(expires.timestamp())})


def review_page() -> str:
    settings = get_settings()
    return settings.review_page_url or f"{settings.public_url.rstrip('/')}/review"


def locale_of(member: Member) -> str:
    return member.locale or get_settings().default_locale


async def render(policy: Policy, member: Member, order_external_id: str | None, products: list[str],
                 now: datetime, details: dict | None = None, channel: str = "EMAIL") -> Rendered:
    settings = get_settings()
    locale = locale_of(member)
    titles = dict(await Product.filter(external_id__in=products).values_list("external_id", "title"))
    token = review_token(member.id, order_external_id, products, now)
    unsubscribe = unsubscribe_url(member.id, policy.purpose_for(channel))
    context = {
        "name": member.name, "order": order_external_id or "", "brand": settings.brand_name,
        "contact": settings.brand_contact, "unsubscribe_url": unsubscribe, "details": details or {},
        "products": [{"external_id": p, "title": titles.get(p) or p,
                      "review_url": f"{review_page()}?{urlencode({'token': token, 'product': p})}"}
                     for p in products],
    }
    name = policy.type.lower()
    subject, text, html = (_env().get_template(f"{name}.{locale}.{part}").render(context)
                           for part in ("subject", "txt", "html"))
    subject = " ".join(subject.split())  # one header line, whatever the template holds
    if policy.marketing and locale == "ko":
        subject, text = AD_PREFIX_KO + subject, AD_PREFIX_KO + text
    return Rendered(subject, text, html, unsubscribe)


def review_request_claims(token: str, now: datetime) -> tuple[int, list[str]] | None:
    """(member id, products asked about) of a valid, unexpired review request token."""
    claims = crypto.verify(REVIEW_KIND, token)
    if claims is None or not isinstance(claims.get("m"), int) or not isinstance(claims.get("p"), list):
        return None
    if not isinstance(claims.get("x"), int) or claims["x"] < now.timestamp():
        return None
    return claims["m"], [p for p in claims["p"] if isinstance(p, str)]
