"""Rendering a message: Jinja2 templates in its sandbox, one per type and locale (ko, en) in
domain/messaging/templates/ (`<type>.<locale>.subject|txt|html`); HTML is autoescaped, so a
product title or a member's name cannot inject markup. Links carry signed tokens: the
one-click unsubscribe (withdraws exactly the message's consent purpose), the review request
(submitReview(requestToken) works without a login and counts as a verified purchase) and the
satisfaction survey (submitSurveyResponse(token)). An admin's override of a template part
(`updateMessageTemplate`, the `message_templates` table) replaces the shipped file for that
type, locale and part."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from urllib.parse import quote, urlencode

from jinja2 import FileSystemLoader, StrictUndefined, Template, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from domain import crypto
from domain.catalog.models import Product
from domain.feedback.models import Improvement
from domain.members.models import Member
from domain.messaging.models import MessageTemplate
from domain.messaging.policies import Policy
from domain.settings import get_settings

TEMPLATES = Path(__file__).parent / "templates"
UNSUBSCRIBE_KIND, REVIEW_KIND, SURVEY_KIND = "unsubscribe", "review-request", "survey"
PARTS = ("subject", "txt", "html")
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


def survey_token(member_id: int, order_external_id: str, now: datetime) -> str:
    expires = now + timedelta(days=get_settings().survey_token_days)
    return crypto.sign(SURVEY_KIND, {"m": member_id, "o": order_external_id, "x": int(expires.timestamp())})


def survey_claims(token: str, now: datetime) -> tuple[int, str] | None:
    """(member id, order externalId) of a valid, unexpired survey token."""
    claims = crypto.verify(SURVEY_KIND, token)
    if claims is None or not isinstance(claims.get("m"), int) or not isinstance(claims.get("o"), str):
        return None
    if not isinstance(claims.get("x"), int) or claims["x"] < now.timestamp():
        return None
    return claims["m"], claims["o"]


def survey_page() -> str:
    settings = get_settings()
    return settings.survey_page_url or f"{settings.public_url.rstrip('/')}/survey"


def review_page() -> str:
    settings = get_settings()
    return settings.review_page_url or f"{settings.public_url.rstrip('/')}/review"


def locale_of(member: Member) -> str:
    return member.locale or get_settings().default_locale


def _context(member: Member, order_external_id: str | None, products: list[dict[str, str]], unsubscribe: str,
             survey_url: str, improvement: Improvement | None, product_title: str,
             details: dict | None = None) -> dict[str, object]:
    """Every name a template may use, whatever its type (so an override can use any of them)."""
    settings = get_settings()
    return {
        "name": member.name, "order": order_external_id or "", "brand": settings.brand_name,
        "contact": settings.brand_contact, "unsubscribe_url": unsubscribe, "products": products,
        "details": details or {},  # the occasion's figures (points, dates, tiers) of the occasion types
        "survey_url": survey_url, "product_title": product_title,
        "improvement_title": improvement.title if improvement else "",
        "improvement_body": improvement.body if improvement else "",
    }


def sample_context() -> dict[str, object]:
    """What `updateMessageTemplate` renders an override with, to refuse one that cannot render."""
    member = Member(id=0, external_id="sample", name="Ann Lee")
    return _context(member, "o1", [{"external_id": "p1", "title": "Sample product", "review_url": "https://shop.test/review"}],
                    "https://patron.test/unsubscribe", "https://shop.test/survey",
                    Improvement(title="Wider fit", body="We widened the toe box."), "Sample product",
                    {"points": 1200, "expires": "2026-12-31", "days": 7, "from": "Silver", "to": "Gold"})


@cache
def _string_env(html: bool) -> SandboxedEnvironment:
    return SandboxedEnvironment(autoescape=html, undefined=StrictUndefined, keep_trailing_newline=True)


def compile_part(source: str, part: str) -> Template:
    """An override compiled in the sandbox, autoescaped for the HTML part (TemplateSyntaxError
    for a syntax error)."""
    return _string_env(part == "html").from_string(source)


async def render(policy: Policy, member: Member, order_external_id: str | None, products: list[str],
                 now: datetime, improvement: Improvement | None = None, details: dict | None = None,
                 channel: str = "EMAIL") -> Rendered:
    locale = locale_of(member)
    titles = dict(await Product.filter(external_id__in=products).values_list("external_id", "title"))
    unsubscribe = unsubscribe_url(member.id, policy.purpose_for(channel))
    links: list[dict[str, str]] = []
    if products:
        token = review_token(member.id, order_external_id, products, now)
        links = [{"external_id": p, "title": titles.get(p) or p,
                  "review_url": f"{review_page()}?{urlencode({'token': token, 'product': p})}"} for p in products]
    survey_url = ""
    if policy.type == "SATISFACTION_SURVEY" and order_external_id:
        survey_url = f"{survey_page()}?{urlencode({'token': survey_token(member.id, order_external_id, now)})}"
    product_title = (titles.get(products[0]) or products[0]) if products else ""
    context = _context(member, order_external_id, links, unsubscribe, survey_url, improvement, product_title,
                       details)
    override = await MessageTemplate.get_or_none(type=policy.type, locale=locale)
    name = policy.type.lower()
    parts = []
    for part, column in zip(PARTS, ("subject", "text", "html"), strict=True):
        source = getattr(override, column) if override else None
        template = compile_part(source, part) if source is not None else _env().get_template(f"{name}.{locale}.{part}")
        parts.append(template.render(context))
    subject, text, html = parts
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
