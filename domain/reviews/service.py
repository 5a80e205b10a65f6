"""Reviews: submit, edit, delete, moderate, report, reply, vote, follow-up, rewards.

State: pending → published | rejected (→ published again after a re-check), and deleted.
Every change of state runs `_settle`, which keeps the product summary, the review
rewards and the events in step inside the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError

from domain import changes, clock
from domain.catalog.models import Product
from domain.catalog.service import get_product
from domain.db import write_transaction
from domain.errors import DomainError, InvalidInput, NotFound
from domain.events.service import record_event
from domain.ledger import service as ledger
from domain.ledger.service import lock_member
from domain.members.models import Member
from domain.members.service import get_member
from domain.messaging.render import review_request_claims
from domain.orders.models import OrderLine
from domain.reviews import media as media_files
from domain.reviews import summary
from domain.reviews.media import StoredMedia
from domain.reviews.models import (
    FollowUpQuestion,
    ModerationDecision,
    Review,
    ReviewMedia,
    ReviewReport,
    ReviewRevision,
    ReviewVote,
)
from domain.reviews.moderation import REASONS, check_text
from domain.rules import service as rules
from domain.rules.models import EarningRule
from domain.settings import get_settings
from domain.tiers.models import Tier

DEFAULT_FOLLOW_UP = "What would you tell a friend who is thinking of buying this?"
REPORT_REASONS = ("SPAM", "OFFENSIVE", "PERSONAL_DATA", "OFF_TOPIC", "FAKE", "OTHER")


def display_name(name: str | None) -> str:
    """First name and initial ("Ann L."); never the e-mail."""
    if not name or not name.strip():
        return "Anonymous"
    parts = name.split()
    if len(parts) > 1:
        return f"{parts[0]} {parts[-1][0]}."
    word = parts[0]
    return word if word.isascii() else word[0] + "*" * max(1, len(word) - 1)


def clean_text(rating: Any, title: str | None, body: str | None) -> tuple[str | None, str]:
    """Checked (title, body). A rating without words is a normal review (rating-only): a blank
    title becomes None and a blank body "", and both still count in the summary."""
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise InvalidInput("rating must be a whole number from 1 to 5", "rating")
    if title is not None and len(title) > 200:
        raise InvalidInput("title is at most 200 characters", "title")
    limit = get_settings().review_max_body_chars
    if body is not None and len(body) > limit:
        raise InvalidInput(f"body is at most {limit} characters", "body")
    title = title if title and title.strip() else None
    body = body if body and body.strip() else ""
    return title, body


def is_rating_only(review: Review) -> bool:
    return not review.body and not review.title


def is_negative(rating: int) -> bool:
    return rating <= get_settings().review_negative_max_rating


def _validate_attributes(attributes: dict[str, str] | None) -> dict[str, str]:
    attributes = attributes or {}
    if len(attributes) > 20:
        raise InvalidInput("At most 20 attributes", "attributes")
    for key, value in attributes.items():
        if not key or len(key) > 50 or len(str(value)) > 100:
            raise InvalidInput("Attribute keys are 1-50 and values up to 100 characters", "attributes")
    return {k: str(v) for k, v in attributes.items()}


async def has_purchased(member_id: int, product_external_id: str) -> bool:
    lines = await OrderLine.filter(
        order__member_id=member_id, product_external_id=product_external_id
    ).values("quantity", "refunded_quantity")
    return any(line["quantity"] > line["refunded_quantity"] for line in lines)


async def follow_up_for(product: Product) -> str:
    categories = list(product.categories or [])
    if categories:
        row = await FollowUpQuestion.filter(category__in=categories).first()
        if row:
            return row.question
    default = await FollowUpQuestion.get_or_none(category=None)
    return default.question if default else DEFAULT_FOLLOW_UP


async def log_decision(subject: str, subject_id: int, status: str, reason: str | None, note: str | None, actor: str) -> None:
    await ModerationDecision.create(
        subject_type=subject, subject_id=subject_id, status=status, reason=reason, note=note,
        actor=actor, created_at=clock.now(),
    )


def review_payload(review: Review, product: Product) -> dict[str, Any]:
    """The common part of every review.* event (the product is required: consumers key on it)."""
    return {
        "reviewId": review.id,
        "productExternalId": product.external_id,
        "rating": review.rating,
        "title": review.title,
        "status": review.status,
        "verifiedPurchase": review.verified_purchase,
        "author": review.author_name,
    }


def _touch_product(product_id: int) -> None:
    """The transaction changes this product's public page (and the store-wide rating mean);
    points it awards to the author are not public."""
    changes.touch(changes.product_tag(product_id), changes.REVIEWS)


async def record_review_event(type_: str, review: Review, extra: dict[str, Any] | None = None) -> None:
    """Write a review.* event with the common payload; call inside the change's transaction."""
    product = await Product.get(id=review.product_id)
    await record_event(type_, review_payload(review, product) | (extra or {}), review.member_id)


async def _settle(review: Review, before: str, actor: str) -> None:
    """After a state change: summary, rewards and events follow the new state."""
    await summary.recount(review)
    if review.status == "published" and before != "published":
        review.published_at = review.published_at or clock.now()
        await review.save(update_fields=["published_at"])
        await _award(review)
        await record_review_event("review.published", review)
    elif before == "published" and review.status != "published":
        if review.status == "rejected":
            await _reverse_rewards(review)
        await record_review_event(f"review.{'rejected' if review.status == 'rejected' else 'unpublished'}",
                                  review, {"reason": review.reject_reason, "actor": actor})
    elif review.status == "rejected" and before != "rejected":
        await record_review_event("review.rejected", review, {"reason": review.reject_reason})


async def _award(review: Review) -> None:
    """Review rewards, once per review: published, photo and video bonuses."""
    if review.member_id is None:
        return
    member = await lock_member(review.member_id)
    tier = await Tier.get_or_none(id=member.tier_id) if member.tier_id else None
    kinds = set(await ReviewMedia.filter(review_id=review.id, status="published").values_list("kind", flat=True))
    source = ("review", str(review.id))
    total = await rules.award_fixed(member, "REVIEW_PUBLISHED", source, "Review published", tier)
    if "photo" in kinds:
        total += await rules.award_fixed(member, "PHOTO_REVIEW", source, "Photo review", tier)
    if "video" in kinds:
        total += await rules.award_fixed(member, "VIDEO_REVIEW", source, "Video review", tier)
    if total > 0 and not review.incentivized:
        review.incentivized = True
        await review.save(update_fields=["incentivized"])


async def _reverse_rewards(review: Review) -> None:
    if review.member_id is None:
        return
    member = await lock_member(review.member_id)
    await ledger.reverse_awards(member, ("review", str(review.id)), 1, 1, ("review_rejected", str(review.id)))


MEDIA_BONUS_RULES = {"photo": "PHOTO_REVIEW", "video": "VIDEO_REVIEW"}


async def _reverse_media_bonus(review: Review, media: ReviewMedia) -> None:
    """A media item left the public page: when no published item of its kind remains,
    the photo (or video) bonus is taken back through the same ledger reversal as a
    rejected review (pending points cancelled, released points debited)."""
    if review.member_id is None:
        return
    if await ReviewMedia.exists(review_id=review.id, kind=media.kind, status="published"):
        return
    rule_ids = list(await EarningRule.filter(type=MEDIA_BONUS_RULES[media.kind]).values_list("id", flat=True))
    if not rule_ids:
        return
    member = await lock_member(review.member_id)
    await ledger.reverse_awards(member, ("review", str(review.id)), 1, 1, ("media_rejected", str(media.id)),
                                rule_ids=rule_ids)


async def _auto_status(*texts: str | None) -> tuple[str, str | None, str | None]:
    finding = check_text(*texts)
    if finding:
        return "pending", finding.reason, finding.note
    return ("published" if get_settings().review_auto_publish else "pending"), None, None


async def _media_rows(review: Review, stored: list[StoredMedia]) -> None:
    settings = get_settings()
    existing = await ReviewMedia.filter(review_id=review.id).exclude(status="rejected").values_list("kind", flat=True)
    photos = list(existing).count("photo") + sum(1 for s in stored if s.kind == "photo")
    videos = list(existing).count("video") + sum(1 for s in stored if s.kind == "video")
    if photos > settings.photos_per_review:
        raise DomainError(f"At most {settings.photos_per_review} photos per review", "media", code="MEDIA_LIMIT")
    if videos > settings.videos_per_review:
        raise DomainError(f"At most {settings.videos_per_review} video per review", "media", code="MEDIA_LIMIT")
    status = "published" if settings.review_auto_publish else "pending"
    now = clock.now()
    for item in stored:
        media = await ReviewMedia.create(
            review_id=review.id, kind=item.kind, content_type=item.content_type, file_name=item.file_name,
            thumb_name=item.thumb_name, width=item.width, height=item.height, size=item.size,
            status=status, created_at=now,
        )
        await log_decision("media", media.id, status, None, "automatic", "auto")
    await _refresh_has_media(review)


async def _refresh_has_media(review: Review) -> None:
    review.has_media = await ReviewMedia.exists(review_id=review.id, status="published")
    await review.save(update_fields=["has_media"])


async def submit_review(
    member_external_id: str,
    product_external_id: str,
    rating: Any,
    title: str | None,
    body: str | None,
    attributes: dict[str, str] | None,
    media: list[StoredMedia],
    actor: str,
    requested: bool = False,
) -> Review:
    """`requested`: submitted through a review request's signed link (request_token_member),
    which Patron sent for an order of this product, so the purchase is verified."""
    title, body = clean_text(rating, title, body)
    attrs = _validate_attributes(attributes)
    product = await get_product(product_external_id)
    member_row = await get_member(member_external_id)
    async with write_transaction():
        _touch_product(product.id)
        member = await lock_member(member_row.id)
        if member.anonymized_at:
            raise DomainError("Member is anonymized", "memberExternalId", code="MEMBER_ANONYMIZED")
        if await Review.exists(product_id=product.id, member_id=member.id):
            raise DomainError("This member already reviewed this product; edit that review instead",
                              "productExternalId", code="ALREADY_REVIEWED")
        status, reason, note = await _auto_status(title, body)
        thin = len(body.strip()) < get_settings().review_thin_body_chars
        now = clock.now()
        review = await Review.create(
            product_id=product.id, member_id=member.id, author_name=display_name(member.name),
            rating=rating, title=title, body=body, attributes=attrs, status="pending",
            reject_reason=reason, moderation_note=note,
            verified_purchase=requested or await has_purchased(member.id, product.external_id),
            follow_up_question=await follow_up_for(product) if thin else None,
            created_at=now, received_at=now, updated_at=now,
        )
        await ReviewRevision.create(review_id=review.id, rating=rating, title=title, body=body, editor=actor, created_at=now)
        await log_decision("review", review.id, status, reason, note or "automatic", "auto")
        await record_review_event("review.created", review)
        if media:
            await _media_rows(review, media)
        review.status = status
        await review.save(update_fields=["status"])
        await _settle(review, "pending", "auto")
        return review


async def request_token_member(token: str, product_external_id: str) -> str:
    """The externalId of the member a review request token was sent to, when it is valid,
    unexpired and names this product."""
    found = review_request_claims(token, clock.now())
    member = await Member.get_or_none(id=found[0]) if found else None
    if found is None or member is None:
        raise DomainError("This review link is invalid or has expired", "requestToken", code="INVALID")
    if product_external_id not in found[1]:
        raise DomainError("This review link is for other products", "productExternalId", code="NOT_ALLOWED")
    return member.external_id


async def _own_review(review_id: int, member_external_id: str | None) -> Review:
    review = await Review.get_or_none(id=review_id)
    if review is None or review.status == "deleted":
        raise NotFound("No such review", "reviewId", code="REVIEW_NOT_FOUND")
    if member_external_id is not None:
        member = await Member.get_or_none(id=review.member_id) if review.member_id else None
        if member is None or member.external_id != member_external_id:
            raise DomainError("Only the author may change this review", "reviewId", code="NOT_ALLOWED")
    return review


async def edit_review(
    review_id: int, member_external_id: str, rating: Any | None, title: str | None, body: str | None,
    attributes: dict[str, str] | None, actor: str,
) -> Review:
    """The author edits: a new revision is kept, and the review is moderated again."""
    if rating is None and title is None and body is None and attributes is None:
        # A no-op edit would only read the review back: refused, so it cannot serve as a reader.
        raise InvalidInput("Nothing to change: give a rating, title, body or attributes", "input")
    review = await _own_review(review_id, member_external_id)
    new_rating = review.rating if rating is None else rating
    new_title = review.title if title is None else title
    new_body = review.body if body is None else body
    new_title, new_body = clean_text(new_rating, new_title, new_body)
    attrs = _validate_attributes(attributes) if attributes is not None else review.attributes
    async with write_transaction():
        _touch_product(review.product_id)
        await lock_member(review.member_id)
        review = await Review.get(id=review.id)
        before = review.status
        status, reason, note = await _auto_status(new_title, new_body)
        now = clock.now()
        review.rating, review.title, review.body, review.attributes = new_rating, new_title, new_body, attrs
        review.status, review.reject_reason, review.moderation_note, review.updated_at = status, reason, note, now
        await review.save()
        await ReviewRevision.create(review_id=review.id, rating=new_rating, title=new_title, body=new_body,
                                    editor=actor, created_at=now)
        await log_decision("review", review.id, status, reason, note or "automatic after edit", "auto")
        await _settle(review, before, actor)
        return review


async def delete_review(review_id: int, member_external_id: str | None, actor: str) -> Review:
    """A deleted review stays as a record, but its photos and videos leave the disk (after
    the commit: a rolled-back deletion must not lose them). Deletion is final."""
    review = await _own_review(review_id, member_external_id)
    review = await _delete_review_rows(review, actor)
    rows = await ReviewMedia.filter(review_id=review.id).values_list("file_name", "thumb_name")
    media_files.delete_files([name for pair in rows for name in pair if name])
    return review


async def _delete_review_rows(review: Review, actor: str) -> Review:
    async with write_transaction():
        _touch_product(review.product_id)
        if review.member_id:
            await lock_member(review.member_id)
        review = await Review.get(id=review.id)
        before = review.status
        review.status = "deleted"
        review.updated_at = clock.now()
        await review.save(update_fields=["status", "updated_at"])
        await summary.recount(review)
        if before == "published":
            await _reverse_rewards(review)
        await log_decision("review", review.id, "deleted", None, None, actor)
        await record_review_event("review.deleted", review, {"actor": actor})
        return review


async def add_media(review_id: int, member_external_id: str | None, stored: list[StoredMedia], actor: str) -> Review:
    review = await _own_review(review_id, member_external_id)
    if not stored:
        raise InvalidInput("Send at least one file", "media")  # nothing to add: not a reader either
    async with write_transaction():
        _touch_product(review.product_id)
        if review.member_id:
            await lock_member(review.member_id)
        review = await Review.get(id=review.id)
        await _media_rows(review, stored)
        await summary.recount(review)
        if review.status == "published":
            await _award(review)
        return review


async def moderate_review(review_id: int, publish: bool, reason: str | None, note: str | None, actor: str) -> Review:
    if not publish and reason not in REASONS:
        raise InvalidInput(f"A reason is required to reject: one of {', '.join(REASONS)}", "reason")
    review = await _own_review(review_id, None)
    async with write_transaction():
        _touch_product(review.product_id)
        if review.member_id:
            await lock_member(review.member_id)
        review = await Review.get(id=review.id)
        before = review.status
        review.status = "published" if publish else "rejected"
        review.reject_reason = None if publish else reason
        review.moderation_note = note
        review.open_reports = 0 if publish else review.open_reports
        await review.save(update_fields=["status", "reject_reason", "moderation_note", "open_reports"])
        await log_decision("review", review.id, review.status, review.reject_reason, note, actor)
        await _settle(review, before, actor)
        return review


async def moderate_media(media_id: int, publish: bool, reason: str | None, actor: str) -> Review:
    if not publish and reason not in REASONS:
        raise InvalidInput(f"A reason is required to reject: one of {', '.join(REASONS)}", "reason")
    media = await ReviewMedia.get_or_none(id=media_id)
    if media is None:
        raise NotFound("No such media", "mediaId", code="NOT_FOUND")
    async with write_transaction():
        review = await Review.get(id=media.review_id)
        _touch_product(review.product_id)
        if review.member_id:
            await lock_member(review.member_id)
        media.status = "published" if publish else "rejected"
        media.reject_reason = None if publish else reason
        await media.save(update_fields=["status", "reject_reason"])
        await log_decision("media", media.id, media.status, media.reject_reason, None, actor)
        await _refresh_has_media(review)
        await summary.recount(review)
        if publish and review.status == "published":
            await _award(review)
        elif not publish:
            await _reverse_media_bonus(review, media)
        return review


async def report_review(review_id: int, reporter_external_id: str, reason: str, comment: str | None) -> Review:
    """A shopper flags a published review for a moderator. The review stays published: a report
    is a request for a person's decision, never a verdict (anyone can report anything). Only a
    brand that opts in (PATRON_REVIEW_REPORT_HIDE_THRESHOLD) has reports from that many distinct
    members hide a review until a moderator decides, and never a negative one."""
    if reason not in REPORT_REASONS:
        raise InvalidInput(f"reason must be one of {', '.join(REPORT_REASONS)}", "reason")
    if comment and len(comment) > 500:
        raise InvalidInput("comment is at most 500 characters", "comment")
    reporter_member = await get_member(reporter_external_id)
    if reporter_member.anonymized_at:
        raise DomainError("Member is anonymized", "memberExternalId", code="MEMBER_ANONYMIZED")
    review = await _own_review(review_id, None)
    if review.status != "published":  # shoppers only see published reviews
        raise NotFound("No such review", "reviewId", code="REVIEW_NOT_FOUND")
    if review.member_id == reporter_member.id:
        raise DomainError("Authors cannot report their own review", "reviewId", code="NOT_ALLOWED")
    reporter = f"member:{reporter_member.external_id}"
    async with write_transaction():
        _touch_product(review.product_id)
        if review.member_id:
            await lock_member(review.member_id)
        review = await Review.select_for_update().get(id=review.id)
        if await ReviewReport.exists(review_id=review.id, reporter=reporter):
            return review  # one report per member: a repeat changes nothing and counts once
        await ReviewReport.create(review_id=review.id, reporter=reporter, reason=reason, comment=comment,
                                  created_at=clock.now())
        # Distinct members reporting since the last moderator decision (reports are unique per member).
        review.open_reports += 1
        await review.save(update_fields=["open_reports"])
        if review.status == "published" and _reports_hide(review):
            review.status = "pending"
            await review.save(update_fields=["status"])
            await log_decision("review", review.id, "pending", None,
                               f"hidden after reports from {review.open_reports} members", "reports")
            await _settle(review, "published", "reports")
        return review


def _reports_hide(review: Review) -> bool:
    threshold = get_settings().review_report_hide_threshold
    return threshold > 0 and review.open_reports >= threshold and not is_negative(review.rating)


async def reply(review_id: int, body: str, actor: str) -> Review:
    if not body or not body.strip() or len(body) > 5000:
        raise InvalidInput("A reply is 1 to 5000 characters", "body")
    review = await _own_review(review_id, None)
    async with write_transaction():
        _touch_product(review.product_id)
        review = await Review.get(id=review.id)
        first = review.reply_body is None
        review.reply_body, review.reply_by, review.replied_at = body, actor, clock.now()
        await review.save(update_fields=["reply_body", "reply_by", "replied_at"])
        await record_review_event("review.replied", review, {"reply": body, "edited": not first})
        return review


async def vote(review_id: int, member_external_id: str, helpful: bool) -> Review:
    review = await _own_review(review_id, None)
    member = await get_member(member_external_id)
    if review.member_id == member.id:
        raise DomainError("Authors cannot vote on their own review", "reviewId", code="NOT_ALLOWED")
    if review.status != "published":
        raise DomainError("Only published reviews take votes", "reviewId", code="INVALID_STATE")
    async with write_transaction():
        _touch_product(review.product_id)
        await lock_member(member.id)
        review = await Review.select_for_update().get(id=review.id)
        existing = await ReviewVote.get_or_none(review_id=review.id, member_id=member.id)
        if existing and existing.helpful == helpful:
            return review
        if existing:
            existing.helpful = helpful
            await existing.save(update_fields=["helpful"])
            delta = 1 if helpful else -1
            review.helpful_count += delta
            review.not_helpful_count -= delta
        else:
            await ReviewVote.create(review_id=review.id, member_id=member.id, helpful=helpful, created_at=clock.now())
            if helpful:
                review.helpful_count += 1
            else:
                review.not_helpful_count += 1
        await review.save(update_fields=["helpful_count", "not_helpful_count"])
        return review


async def answer_follow_up(review_id: int, member_external_id: str, answer: str) -> Review:
    review = await _own_review(review_id, member_external_id)
    if not review.follow_up_question:
        raise DomainError("This review has no follow-up question", "reviewId", code="INVALID_STATE")
    if not answer or not answer.strip() or len(answer) > get_settings().review_max_body_chars:
        raise InvalidInput("The answer must not be empty or too long", "answer")
    finding = check_text(answer)
    if finding:
        raise DomainError(finding.note, "answer", code=finding.reason)
    async with write_transaction():
        _touch_product(review.product_id)
        review.follow_up_answer = answer
        review.updated_at = clock.now()
        await review.save(update_fields=["follow_up_answer", "updated_at"])
        return review


async def set_follow_up_question(category: str | None, question: str) -> FollowUpQuestion:
    if not question.strip() or len(question) > 300:
        raise InvalidInput("question must be 1 to 300 characters", "question")
    async with write_transaction():
        row = await FollowUpQuestion.get_or_none(category=category)
        if row is None:
            return await FollowUpQuestion.create(category=category, question=question)
        row.question = question
        await row.save(update_fields=["question"])
        return row


@dataclass(frozen=True)
class ImportResult:
    review: Review
    created: bool  # False: this externalId was imported before and nothing changed


def _import_date(created_at: datetime | None, now: datetime) -> datetime:
    if created_at is None:
        return now
    if created_at.tzinfo is None:  # a date without an offset is read as UTC
        created_at = created_at.replace(tzinfo=UTC)
    created_at = created_at.astimezone(UTC)
    if created_at > now:
        raise InvalidInput("createdAt must not be in the future", "createdAt")
    return created_at


async def import_review(external_id: str, product_external_id: str, rating: Any, title: str | None,
                        body: str | None, author_name: str, created_at: datetime | None, actor: str) -> ImportResult:
    """A review from another platform, keyed by its id there (importing it again changes nothing).

    It takes the same automatic moderation as a submitted review, is never a verified purchase,
    keeps its original date (sorting, JSON-LD) and writes no events (history, not news). The
    reply SLA counts from when Patron received it; one already older than the SLA then never
    raises review.reply_overdue.
    """
    if not external_id or not external_id.strip() or len(external_id) > 200:
        raise InvalidInput("externalId must be 1 to 200 characters", "externalId")
    title, body = clean_text(rating, title, body)
    if not author_name.strip() or len(author_name) > 100:
        raise InvalidInput("authorName must be 1 to 100 characters", "authorName")
    existing = await Review.get_or_none(external_id=external_id)
    if existing is not None:
        return ImportResult(existing, False)
    product = await get_product(product_external_id)
    now = clock.now()
    written = _import_date(created_at, now)
    status, reason, note = await _auto_status(title, body)
    sla = timedelta(hours=get_settings().review_reply_sla_hours)
    try:
        async with write_transaction():
            _touch_product(product.id)
            review = await Review.create(
                external_id=external_id, product_id=product.id, member_id=None,
                author_name=display_name(author_name), rating=rating, title=title, body=body, attributes={},
                status=status, reject_reason=reason, moderation_note=note, imported=True, verified_purchase=False,
                created_at=written, received_at=now, updated_at=now,
                published_at=written if status == "published" else None,
                reply_sla_applies=written > now - sla,
            )
            await ReviewRevision.create(review_id=review.id, rating=rating, title=title, body=body, editor=actor,
                                        created_at=now)
            await log_decision("review", review.id, status, reason, note or "imported", actor)
            await summary.recount(review)
            return ImportResult(review, True)
    except IntegrityError:
        # The same externalId imported concurrently: the other call won, this one is a replay.
        existing = await Review.get_or_none(external_id=external_id)
        if existing is None:
            raise
        return ImportResult(existing, False)
