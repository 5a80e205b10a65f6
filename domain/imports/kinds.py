"""What each kind of import does with a batch of records: check every row, skip what was
imported before, write the rest with bulk inserts (no per-row round trips), all inside the
batch's transaction, which the runner opens. A dry run checks the same and writes nothing.

Imports are history, not news: they write no events, send no messages, pay no signup
bonus, and pay order points only when the job asks (`awardPoints`).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from domain import clock, money
from domain.catalog.models import Product
from domain.catalog.service import note_ordered_products
from domain.errors import DomainError
from domain.imports import bulk
from domain.imports.formats import CONSENT_PREFIX, Record, row_hash
from domain.imports.media import OFF, Fetched
from domain.ledger import service as ledger
from domain.ledger.models import LedgerEntry
from domain.members.models import Consent, ConsentChange, Member
from domain.members.service import EMAIL_RE, PURPOSES, validate_profile
from domain.orders import service as orders
from domain.orders.models import Order, OrderLine
from domain.reviews.models import ModerationDecision, Review, ReviewMedia, ReviewRevision
from domain.reviews.moderation import check_text
from domain.reviews.service import clean_text, display_name
from domain.settings import get_settings

CLOCK_SKEW = timedelta(minutes=5)
# "2024-01-02 10:00:00 -0500" (Shopify's exports): the offset, joined and with its colon.
OFFSET_SPACE = re.compile(r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*([+-]\d{2}):?(\d{2})$")


class RowError(Exception):
    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class Outcome:
    succeeded: int = 0
    skipped: int = 0
    failed: int = 0
    warnings: int = 0
    problems: list[tuple[int, str | None, str, str]] = field(default_factory=list)  # row, field, message, level
    kept: set[str] = field(default_factory=set)  # external ids written (their fetched media stay)

    def fail(self, row: int, field_name: str | None, message: str) -> None:
        self.failed += 1
        self.problems.append((row, field_name, message[:500], "error"))

    def warn(self, row: int, field_name: str | None, message: str) -> None:
        self.warnings += 1
        self.problems.append((row, field_name, message[:500], "warning"))


# --- values ---------------------------------------------------------------------------------


def text(data: dict[str, Any], name: str, limit: int, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RowError(name, f"{name} is required")
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise RowError(name, f"{name} must be text")
    value = str(value).strip()
    if len(value) > limit:
        raise RowError(name, f"{name} is at most {limit} characters")
    if "\x00" in value:
        raise RowError(name, "Text must not contain NUL characters")
    return value


def whole(data: dict[str, Any], name: str, low: int, high: int) -> int:
    value = data.get(name)
    if isinstance(value, bool):
        value = None
    try:
        number = Decimal(str(value).strip().replace(",", "")) if value is not None else None
    except InvalidOperation:
        number = None
    if number is None or number != number.to_integral_value() or not low <= number <= high:
        raise RowError(name, f"{name} must be a whole number from {low} to {high}")
    return int(number)


def iso_text(value: str) -> str:
    """What fromisoformat reads: " UTC" and a spaced "-0500" offset (Shopify) normalised."""
    value = value.replace(" UTC", "+00:00")
    if " +" in value or " -" in value:
        value = OFFSET_SPACE.sub(r"\1\2:\3", value)
    return value


def moment(data: dict[str, Any], name: str, required: bool = False) -> datetime | None:
    value = text(data, name, 40, required)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(iso_text(value))
    except ValueError:
        raise RowError(name, f"{name} must be an ISO 8601 date or date-time, e.g. 2024-03-01T09:30:00Z") from None
    if parsed.tzinfo is None:  # a time without an offset is read as UTC
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    if parsed > clock.now() + CLOCK_SKEW:
        raise RowError(name, f"{name} must not be in the future")
    return parsed


def flag(value: Any, name: str) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in ("true", "1", "yes", "y", "t"):
        return True
    if word in ("false", "0", "no", "n", "f"):
        return False
    raise RowError(name, f"{name} must be true or false")


def _domain(exc: DomainError) -> RowError:
    return RowError(exc.field, exc.message)


# --- reviews --------------------------------------------------------------------------------


@dataclass
class ReviewRow:
    row: int
    external_id: str
    product_external_id: str
    rating: int
    title: str | None
    body: str
    author_name: str
    email: str | None
    created_at: datetime
    media_urls: list[str]


def parse_review(rec: Record, fmt: str) -> ReviewRow:
    data = rec.data
    external_id = text(data, "externalId", 200) or row_hash(fmt, data)
    product = text(data, "productExternalId", 255, required=True)
    rating = whole(data, "rating", 1, 5)
    title, body = data.get("title"), data.get("body")
    if title is not None and not isinstance(title, str) or body is not None and not isinstance(body, str):
        raise RowError("title" if not isinstance(title, str) else "body", "title and body must be text")
    try:
        title, body = clean_text(rating, title, body)
    except DomainError as exc:
        raise _domain(exc) from None
    for name, value in (("title", title), ("body", body)):
        if value and "\x00" in value:
            raise RowError(name, "Text must not contain NUL characters")
    author = text(data, "authorName", 100) or ""
    email = text(data, "email", 320)
    if email is not None and not EMAIL_RE.match(email):
        raise RowError("email", "Not a valid e-mail address")
    created = moment(data, "createdAt") or clock.now()
    urls = data.get("mediaUrls") or []
    if isinstance(urls, str):
        urls = [u for u in re.split(r"[\s,|]+", urls) if u]
    return ReviewRow(rec.row, external_id, product, rating, title, body, display_name(author), email,
                     created, [str(u) for u in urls])


async def write_reviews(items: list[ReviewRow], outcome: Outcome, dry_run: bool, actor: str,
                        media: dict[str, Fetched] | None = None) -> None:
    """Same moderation as a submitted review (held ones are reported as warnings), verified only
    when an imported or recorded order of the member with that e-mail proves the purchase,
    original dates kept, reply SLA off for reviews older than it; the product summaries move
    once per product per batch. `media`: what was fetched for a review's mediaUrls, by external id
    (domain/imports/media.py); the ids of the reviews written go to `outcome.kept`."""
    settings = get_settings()
    media = media or {}
    now = clock.now()
    known = {r[0] for r in await bulk.select_in(Review, ("external_id",), "external_id",
                                                   list({i.external_id for i in items}))}
    products = dict(await bulk.select_in(Product, ("external_id", "id"), "external_id",
                                         list({i.product_external_id for i in items})))
    emails = list({e for i in items if i.email for e in (i.email, i.email.lower())})
    members: dict[str, int] = {}
    for member_id, email in sorted(await bulk.select_in(Member, ("id", "email"), "email", emails,
                                                        "anonymized_at IS NULL")):
        members.setdefault(email.lower(), member_id)
    bought: set[tuple[int, str]] = set()
    taken: set[tuple[int, int]] = set()
    if members:
        lines = await OrderLine.filter(order__member_id__in=list(members.values()),
                                       product_external_id__in=list(products)).values(
            "order__member_id", "product_external_id", "quantity", "refunded_quantity")
        bought = {(ln["order__member_id"], ln["product_external_id"]) for ln in lines
                  if ln["quantity"] > ln["refunded_quantity"]}
        taken = set(await Review.filter(member_id__in=list(members.values()), product_id__in=list(products.values()))
                    .values_list("member_id", "product_id"))
    sla = timedelta(hours=settings.review_reply_sla_hours)
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    for item in items:
        if item.external_id in known or item.external_id in seen:
            outcome.skipped += 1
            continue
        product_id = products.get(item.product_external_id)
        if product_id is None:
            outcome.fail(item.row, "productExternalId", f"No product {item.product_external_id!r} (upsertProducts or an order names it)")
            continue
        seen.add(item.external_id)
        member_id = members.get(item.email.lower()) if item.email else None
        if member_id is not None and (member_id, product_id) in taken:
            member_id = None  # that member already reviewed the product: keep this one unlinked
        if member_id is not None:
            taken.add((member_id, product_id))
        finding = check_text(item.title, item.body)
        status = "pending" if finding or not settings.review_auto_publish else "published"
        if finding:
            outcome.warn(item.row, "body", f"Held for moderation: {finding.reason}")
        fetched = media.get(item.external_id) or Fetched()
        if item.media_urls and not settings.import_fetch_media:
            outcome.warn(item.row, "mediaUrls", OFF)
        for note in fetched.notes:
            outcome.warn(item.row, "mediaUrls", note)
        photos = fetched.stored
        shown = bool(photos) and status == "published" and settings.review_auto_publish
        rows.append({
            "external_id": item.external_id, "product_id": product_id, "member_id": member_id,
            "author_name": item.author_name, "rating": item.rating, "title": item.title, "body": item.body,
            "status": status, "reject_reason": finding.reason if finding else None,
            "moderation_note": finding.note if finding else None, "imported": True,
            "verified_purchase": member_id is not None and (member_id, item.product_external_id) in bought,
            "created_at": item.created_at, "received_at": now, "updated_at": now,
            "published_at": item.created_at if status == "published" else None,
            "reply_sla_applies": item.created_at > now - sla, "has_media": shown, "counted_media": shown,
            "counted_rating": item.rating if status == "published" else None,
        })
        outcome.succeeded += 1
    if dry_run or not rows:
        return
    ids = dict(await bulk.insert(Review, rows, returning=("external_id", "id")))
    outcome.kept.update(ids)
    await bulk.insert(ReviewRevision, [
        {"review_id": ids[r["external_id"]], "rating": r["rating"], "title": r["title"], "body": r["body"],
         "editor": actor, "created_at": now} for r in rows])
    await bulk.insert(ModerationDecision, [
        {"subject_type": "review", "subject_id": ids[r["external_id"]], "status": r["status"],
         "reason": r["reject_reason"], "note": r["moderation_note"] or "imported", "actor": actor, "created_at": now}
        for r in rows])
    await _media_rows(rows, ids, media, actor, now)
    await _summaries(rows)


async def _media_rows(rows: list[dict[str, Any]], ids: dict[str, int], media: dict[str, Fetched],
                      actor: str, now: datetime) -> None:
    """The fetched photos of the reviews written: published with a published review when
    reviews publish automatically (as for a submitted photo), else pending."""
    auto = get_settings().review_auto_publish
    wanted = [(r, m) for r in rows if r["external_id"] in media for m in media[r["external_id"]].stored]
    if not wanted:
        return
    created = await bulk.insert(ReviewMedia, [
        {"review_id": ids[r["external_id"]], "kind": m.kind, "content_type": m.content_type, "file_name": m.file_name,
         "thumb_name": m.thumb_name, "width": m.width, "height": m.height, "size": m.size,
         "status": "published" if auto and r["status"] == "published" else "pending", "created_at": now}
        for r, m in wanted], returning=("id", "status"))
    await bulk.insert(ModerationDecision, [
        {"subject_type": "media", "subject_id": media_id, "status": status, "reason": None, "note": "imported",
         "actor": actor, "created_at": now} for media_id, status in created])


async def _summaries(rows: list[dict[str, Any]]) -> None:
    """The product summaries: one locked read and one update per batch (the same figures
    domain/reviews/summary.py keeps one review at a time)."""
    per_product: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["status"] == "published":
            per_product[r["product_id"]].append(r)
    if not per_product:
        return
    changed = []
    for pid, count, total, histogram, with_media in await bulk.locked(
            Product, ("id", "review_count", "rating_sum", "rating_histogram", "with_media_count"), sorted(per_product)):
        added = per_product[pid]
        histogram = list(json.loads(histogram) if isinstance(histogram, (str, bytes)) else histogram)
        for r in added:
            histogram[r["rating"] - 1] += 1
        changed.append((pid, count + len(added), total + sum(r["rating"] for r in added), json.dumps(histogram),
                        with_media + sum(1 for r in added if r["counted_media"])))
    await bulk.update_by_id(Product, {"review_count": "int", "rating_sum": "int", "rating_histogram": "jsonb",
                                      "with_media_count": "int"}, changed)


# --- orders ---------------------------------------------------------------------------------


@dataclass
class OrderRow:
    row: int
    external_id: str
    member_external_id: str | None
    email: str | None  # Shopify: the member with this e-mail, if any (else a guest order)
    currency: str
    channel: str
    placed_at: datetime
    lines: list[orders.LineInput]


def _unit_price(ln: dict[str, Any], currency: str) -> int:
    """`unitPrice` in minor units, or `price` in major units (29.99 USD = 2999)."""
    if ln.get("unitPrice") not in (None, "") or ln.get("price") in (None, ""):
        return whole(ln, "unitPrice", 0, 10**12)
    try:
        amount = money.to_minor(Decimal(str(ln["price"]).strip().replace(",", "")), currency)
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount != amount.to_integral_value() or not 0 <= amount <= 10**12:
        raise RowError("price", f"price must be an amount in {currency} with at most "
                                f"{money.exponent(currency)} decimals")
    return int(amount)


def parse_order(rec: Record) -> OrderRow:
    data = rec.data
    external_id = text(data, "externalId", 255, required=True)
    member = text(data, "memberExternalId", 255)
    email = text(data, "email", 320)
    currency = (text(data, "currency", 3, required=True) or "").upper()
    channel = text(data, "channel", 32) or "import"
    placed = moment(data, "placedAt", required=True)
    if text(data, "cancelledAt", 40):
        raise RowError("cancelledAt", "A cancelled order is not imported")
    raw_lines = data.get("lines")
    if not isinstance(raw_lines, list) or not all(isinstance(x, dict) for x in raw_lines):
        raise RowError("lines", "lines must be a list of objects")
    lines = []
    for i, ln in enumerate(raw_lines):
        try:
            lines.append(orders.LineInput(
                sku=text(ln, "sku", 255, required=True) or "", quantity=whole(ln, "quantity", 1, 1_000_000),
                unit_price=_unit_price(ln, currency),
                product_external_id=text(ln, "productExternalId", 255), category=text(ln, "category", 255)))
        except RowError as exc:
            raise RowError(f"lines.{i}.{exc.field}", exc.message) from None
    try:
        orders.validate_order(external_id or "", currency, channel, lines)
    except DomainError as exc:
        raise _domain(exc) from None
    assert placed is not None
    return OrderRow(rec.row, external_id or "", member, email, currency, channel, placed, lines)


async def _order_members(items: list[OrderRow]) -> tuple[dict[str, tuple[int, Any]], dict[str, tuple[int, str]]]:
    """Members named by externalId (id, anonymized_at), and by e-mail (id, externalId; not anonymized)."""
    by_ext = {ext: (mid, anon) for mid, ext, anon in await bulk.select_in(
        Member, ("id", "external_id", "anonymized_at"), "external_id",
        list({i.member_external_id for i in items if i.member_external_id}))}
    emails = list({e for i in items if i.email and not i.member_external_id for e in (i.email, i.email.lower())})
    by_email: dict[str, tuple[int, str]] = {}
    for mid, email, ext in sorted(await bulk.select_in(Member, ("id", "email", "external_id"), "email", emails,
                                                       "anonymized_at IS NULL")):
        by_email.setdefault(email.lower(), (mid, ext))
    return by_ext, by_email


async def write_orders(items: list[OrderRow], outcome: Outcome, dry_run: bool, award_points: bool) -> None:
    """Guest orders are allowed. Without awardPoints the orders are history: written in bulk,
    no points, no events. With it each order goes through recordOrder's rules in force."""
    known = {r[0] for r in await bulk.select_in(Order, ("external_id",), "external_id",
                                                   list({i.external_id for i in items}))}
    by_ext, by_email = await _order_members(items)
    seen: set[str] = set()
    todo: list[tuple[OrderRow, int | None, str | None]] = []  # the order, its member's id and externalId
    for item in items:
        if item.external_id in known or item.external_id in seen:
            outcome.skipped += 1
            continue
        member_id, member_ext = None, item.member_external_id
        if item.member_external_id is not None:
            found = by_ext.get(item.member_external_id)
            if found is None:
                outcome.fail(item.row, "memberExternalId", f"No member {item.member_external_id!r} (import members first)")
                continue
            if found[1] is not None:
                outcome.fail(item.row, "memberExternalId", "Member is anonymized")
                continue
            member_id = found[0]
        elif item.email:
            member_id, member_ext = by_email.get(item.email.lower(), (None, None))  # none: a guest order
        seen.add(item.external_id)
        todo.append((item, member_id, member_ext))
        outcome.succeeded += 1
    if dry_run or not todo:
        return
    if award_points:
        for item, _, member_ext in todo:
            await orders.record_order(item.external_id, member_ext, item.currency, item.channel,
                                      item.placed_at, item.lines)
        return
    now = clock.now()
    await note_ordered_products([(ln.product_external_id, ln.category) for item, _, _ in todo for ln in item.lines])
    ids = dict(await bulk.insert(Order, [
        {"external_id": item.external_id, "member_id": member_id, "currency": item.currency, "channel": item.channel,
         "placed_at": item.placed_at, "total_amount": sum(ln.quantity * ln.unit_price for ln in item.lines),
         "created_at": now, "fulfilled_at": None}
        for item, member_id, _ in todo], returning=("external_id", "id")))
    await bulk.insert(OrderLine, [
        {"order_id": ids[item.external_id], "sku": ln.sku, "product_external_id": ln.product_external_id,
         "category": ln.category, "quantity": ln.quantity, "unit_price": ln.unit_price}
        for item, _, _ in todo for ln in item.lines])


# --- members --------------------------------------------------------------------------------


@dataclass
class MemberRow:
    row: int
    external_id: str
    values: dict[str, Any]
    consents: list[tuple[str, bool, datetime]]


def _consents(data: dict[str, Any]) -> list[tuple[str, bool, datetime]]:
    given: dict[str, dict[str, Any]] = defaultdict(dict)
    for key, value in data.items():
        if key.startswith(CONSENT_PREFIX):
            rest = key[len(CONSENT_PREFIX):]
            purpose, _, part = rest.partition(".")
            given[purpose.upper()]["at" if part == "at" else "granted"] = value
    nested = data.get("consents")
    if isinstance(nested, dict):
        for purpose, value in nested.items():
            given[str(purpose).upper()].update(value if isinstance(value, dict) else {"granted": value})
    elif nested is not None:
        raise RowError("consents", "consents must be an object {PURPOSE: {granted, at}}")
    out = []
    for purpose, parts in sorted(given.items()):
        name = f"{CONSENT_PREFIX}{purpose}"
        if purpose not in PURPOSES:
            raise RowError(name, f"Unknown consent purpose (one of {', '.join(PURPOSES)})")
        granted = flag(parts.get("granted"), name)
        if granted is None:
            continue
        at = moment({f"{name}.at": parts.get("at")}, f"{name}.at") or clock.now()
        out.append((purpose, granted, at))
    return out


def parse_member(rec: Record) -> MemberRow:
    data = rec.data
    external_id = text(data, "externalId", 255, required=True) or ""
    values: dict[str, Any] = {"email": text(data, "email", 320), "name": text(data, "name", 200),
                              "signup_channel": text(data, "signupChannel", 32)}
    birthday = text(data, "birthday", 10)
    if birthday is not None:
        try:
            values["birthday"] = date.fromisoformat(birthday)
        except ValueError:
            raise RowError("birthday", "birthday must be a date such as 1990-04-01") from None
    try:
        validate_profile(external_id, values)
    except DomainError as exc:
        raise _domain(exc) from None
    return MemberRow(rec.row, external_id, {k: v for k, v in values.items() if v is not None}, _consents(data))


async def write_members(items: list[MemberRow], outcome: Outcome, dry_run: bool) -> None:
    """New members with their consents (source `import`, the original times); a member
    already known by externalId is skipped unchanged. No signup bonus, no events."""
    known = {r[0] for r in await bulk.select_in(Member, ("external_id",), "external_id",
                                                   list({i.external_id for i in items}))}
    seen: set[str] = set()
    todo: list[MemberRow] = []
    for item in items:
        if item.external_id in known or item.external_id in seen:
            outcome.skipped += 1
            continue
        seen.add(item.external_id)
        todo.append(item)
        outcome.succeeded += 1
    if dry_run or not todo:
        return
    now = clock.now()
    ids = dict(await bulk.insert(Member, [{"external_id": i.external_id, "created_at": now, "updated_at": now,
                                           "email": None, "name": None, "birthday": None, "signup_channel": None,
                                           **i.values} for i in todo], returning=("external_id", "id")))
    consents = [(ids[i.external_id], c) for i in todo for c in i.consents]
    if consents:
        await bulk.insert(Consent, [{"member_id": mid, "purpose": p, "granted": g, "source": "import", "updated_at": at}
                                    for mid, (p, g, at) in consents])
        await bulk.insert(ConsentChange, [{"member_id": mid, "purpose": p, "granted": g, "source": "import",
                                           "created_at": at} for mid, (p, g, at) in consents])


# --- points balances ------------------------------------------------------------------------


@dataclass
class BalanceRow:
    row: int
    key: str  # the ledger entry's idempotency key: importing the row again changes nothing
    member_external_id: str
    points: int
    expires_at: datetime | None
    reason: str


def parse_balance(rec: Record) -> BalanceRow:
    data = rec.data
    member = text(data, "memberExternalId", 255, required=True) or ""
    points = whole(data, "points", 1, ledger.MAX_ADJUSTMENT)
    expires = text(data, "expiresAt", 40)
    expires_at = None
    if expires is not None:
        try:
            expires_at = datetime.fromisoformat(iso_text(expires))
        except ValueError:
            raise RowError("expiresAt", "expiresAt must be an ISO 8601 date or date-time, e.g. 2026-12-31") from None
        expires_at = (expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)).astimezone(UTC)
        if expires_at <= clock.now():
            raise RowError("expiresAt", "expiresAt has passed: those points have expired")
    own = text(data, "externalId", 200)
    reason = text(data, "reason", 500) or "Opening balance (import)"
    return BalanceRow(rec.row, f"import:{own}" if own else f"import:opening:{member}", member, points, expires_at, reason)


async def write_balances(items: list[BalanceRow], outcome: Outcome, dry_run: bool, actor: str) -> None:
    """One `adjust` credit lot per row with its original expiry (blank: the program's
    PATRON_POINTS_EXPIRY_DAYS from today), the member's balance moved with it; no events,
    no messages (history). A member's negative balance is repaid first, as for any credit."""
    members = {ext: (mid, anon) for mid, ext, anon in await bulk.select_in(
        Member, ("id", "external_id", "anonymized_at"), "external_id", list({i.member_external_id for i in items}))}
    known = {(mid, key) for mid, key in await bulk.select_in(
        LedgerEntry, ("member_id", "idempotency_key"), "idempotency_key", list({i.key for i in items}))}
    seen: set[tuple[int, str]] = set()
    todo: list[tuple[BalanceRow, int]] = []
    for item in items:
        found = members.get(item.member_external_id)
        if found is None:
            outcome.fail(item.row, "memberExternalId", f"No member {item.member_external_id!r} (import members first)")
            continue
        if (found[0], item.key) in known or (found[0], item.key) in seen:
            outcome.skipped += 1
            continue
        if found[1] is not None:
            outcome.fail(item.row, "memberExternalId", "Member is anonymized")
            continue
        seen.add((found[0], item.key))
        todo.append((item, found[0]))
        outcome.succeeded += 1
    if dry_run or not todo:
        return
    now = clock.now()
    days = get_settings().points_expiry_days
    default_expiry = now + timedelta(days=days) if days > 0 else None
    locked = {m.id: m for m in await Member.filter(id__in=sorted({mid for _, mid in todo})).order_by("id")
              .select_for_update()}
    balance = {mid: m.points_balance for mid, m in locked.items()}
    rows = []
    for item, mid in todo:
        debt = -balance[mid] if balance[mid] < 0 else 0
        if balance[mid] + item.points > ledger.MAX_BALANCE:
            outcome.succeeded -= 1
            outcome.fail(item.row, "points", f"The balance would pass {ledger.MAX_BALANCE}")
            continue
        balance[mid] += item.points
        rows.append({"member_id": mid, "amount": item.points, "kind": "adjust", "reason": item.reason,
                     "source_type": "import", "source_id": item.key[:255], "idempotency_key": item.key[:255],
                     "rule_id": None, "details": json.dumps({"actor": actor}),
                     "expires_at": item.expires_at or default_expiry, "remaining": max(0, item.points - debt),
                     "created_at": now})
    await bulk.insert(LedgerEntry, rows)
    for mid, value in balance.items():
        if value != locked[mid].points_balance:
            await Member.filter(id=mid).update(points_balance=value)
