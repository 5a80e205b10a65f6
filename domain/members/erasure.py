"""Erasure: remove one member's identifiers from every table, payload copy and file.

`erase` runs inside the caller's write transaction with the member row locked. It
replaces the old externalId with a new random one wherever the id is a reference
(sources, idempotency keys, actors, reasons), so idempotent replays keep working under the
new id; it removes e-mail, name, birthday and the display name derived from the name
wherever they were copied (event payloads, free text the member wrote, webhook delivery
excerpts); and it returns the review media files to delete once the transaction commits.

`COLUMNS` says, for every text/JSON column of every table that can hold something about a
member, what erasure does to it; `NO_IDENTIFIERS` lists the others with the reason they
cannot hold an identifier. tests/test_hostile_erasure.py derives the member tables from the
models and fails when a column is in neither (so a new column needs a decision).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tortoise.models import Model
from tortoise.queryset import QuerySet

from domain.events.models import Event
from domain.ledger.models import Award, LedgerEntry
from domain.feedback.models import SurveyResponse
from domain.members.models import Consent, ConsentChange, Member
from domain.members.personal_data import CALLER_TEXT_SOURCES
from domain.messaging.models import Message
from domain.recommendations.models import Signal
from domain.reviews import summary
from domain.reviews.models import (
    Answer,
    ModerationDecision,
    Question,
    Review,
    ReviewMedia,
    ReviewReport,
    ReviewRevision,
)
from domain.rewards.models import Redemption
from domain.rules.models import Activity
from domain.subscriptions.models import Subscription, SubscriptionChange
from domain.tiers.models import TierChange
from domain.webhooks.models import WebhookDelivery

REMOVED = "[removed]"
# What a delivery of an erased member's event keeps instead of its request excerpt. The
# webhook worker keeps it too when the erasure happened while the delivery was in flight.
ERASED_EXCERPT = '{"erased":"the member\'s data was erased; this excerpt is not kept"}'
# Sources whose id is the member's, or a key the caller chose (which may embed it); the
# reasons of caller-chosen sources (checkout, adjustments) are text a person wrote.
KEYED_BY_MEMBER = frozenset({"signup", "birthday", "referral", "checkout", "adjustment", None})
CALLER_TEXT = CALLER_TEXT_SOURCES
ANONYMOUS = "Anonymous"
# Keys of event payloads that copy a key the member's call chose.
CALLER_KEYS = frozenset({"idempotencyKey"})
# Keys of event payloads that carry text a person wrote (reviews, replies, comments, the
# reasons of checkouts and adjustments).
FREE_TEXT_KEYS = frozenset({"title", "body", "reply", "comment", "note", "answer", "reason"})

# What erasure does to each column: "ref" = the old externalId becomes the new one and any
# copied e-mail/name is removed; "text" = free text: identifiers and name words are
# removed, the rest of the text stays; "json" = the same, value by value; "null" = the
# value is dropped; "author" = the display name becomes "Anonymous"; "personal" = only
# copied e-mail/name are removed (the column also holds order ids that must not change).
COLUMNS: dict[str, dict[str, str]] = {
    "members": {"external_id": "replaced by a new random id", "email": "null", "name": "null",
                "signup_channel": "null", "timezone": "null", "locale": "null"},
    "consents": {"source": "ref"},
    "consent_changes": {"source": "ref"},
    # Points rows: "ref" where the source is keyed by the member (signup, birthday, referral)
    # or by the caller (checkout and adjustment keys, whose reasons are "text"); otherwise
    # (orders, reviews, rewards ...) only copied e-mail/name go.
    "ledger_entries": {"reason": "ref", "source_id": "ref", "idempotency_key": "ref", "details": "json"},
    "awards": {"reason": "ref", "source_id": "ref", "idempotency_key": "ref", "details": "json"},
    "tier_changes": {"reason": "personal"},
    "signals": {"session_id": "null"},
    "reviews": {"author_name": "author", "title": "text", "body": "text", "follow_up_answer": "text",
                "reply_body": "text", "moderation_note": "text", "attributes": "json"},
    "review_revisions": {"title": "text", "body": "text", "editor": "ref"},
    "review_media": {"file_name": "row and file deleted", "thumb_name": "row and file deleted"},
    "review_reports": {"reporter": "ref", "comment": "text"},
    "moderation_decisions": {"actor": "ref", "note": "text"},
    "questions": {"author_name": "author", "body": "text"},
    "answers": {"author_name": "author", "body": "text"},
    "redemptions": {"idempotency_key": "ref"},
    "activities": {"url": "null"},
    "subscriptions": {"cancel_comment": "text"},
    "subscription_changes": {"actor": "ref", "details": "json"},
    "events": {"payload": "json"},
    "webhook_deliveries": {"request_excerpt": "replaced by ERASED_EXCERPT", "response_excerpt": "null",
                           "last_error": "ref"},
    # An SMTP server's (or the webhook provider's) refusal may quote the recipient's address.
    "messages": {"last_error": "personal"},
    # The member's own words about an order: identifiers and name words removed, like reviews.
    "survey_responses": {"comment": "text"},
}

# Text columns of member tables that hold no identifier, and why.
NO_IDENTIFIERS: dict[str, dict[str, str]] = {
    "consents": {"purpose": "a fixed consent purpose"},
    "consent_changes": {"purpose": "a fixed consent purpose"},
    # Order ids are the storefront's ids of orders, not of the member; rewriting one that
    # happened to equal the member id would break its refunds.
    "orders": {"external_id": "the storefront's order id", "currency": "ISO currency code",
               "channel": "the storefront's sales channel name"},
    "order_lines": {"sku": "catalog SKU", "product_external_id": "catalog product id", "category": "catalog category"},
    "refunds": {"external_id": "the storefront's refund id", "lines": "SKUs, quantities and amounts only"},
    "ledger_entries": {"kind": "fixed entry kind", "source_type": "fixed source kind"},
    "awards": {"status": "fixed status", "source_type": "fixed source kind"},
    "signals": {"product_external_id": "catalog product id", "type": "fixed signal type"},
    "reviews": {"status": "fixed status", "reject_reason": "fixed reason code",
                "follow_up_question": "the store's question", "reply_by": "the staff key that replied",
                "external_id": "the id an imported review had on its platform (imports have no member)"},
    "review_revisions": {},
    "review_media": {"kind": "photo or video", "content_type": "MIME type", "status": "fixed status",
                     "reject_reason": "fixed reason code"},
    "review_reports": {"reason": "fixed reason code"},
    "moderation_decisions": {"subject_type": "fixed subject kind", "status": "fixed status",
                             "reason": "fixed reason code"},
    "questions": {"status": "fixed status", "reject_reason": "fixed reason code"},
    "answers": {"author_kind": "merchant or verified_buyer", "status": "fixed status",
                "reject_reason": "fixed reason code"},
    "redemptions": {"code": "random code Patron generated", "status": "fixed status",
                    "order_external_id": "the storefront's order id"},
    "activities": {"external_id": "the storefront's id of the share or survey (keeps replays idempotent)",
                   "type": "fixed activity type", "custom_type": "the brand's activity name",
                   "status": "fixed status", "decided_by": "the staff key that decided"},
    "subscriptions": {"status": "fixed status", "sku": "catalog SKU", "interval_unit": "DAY/WEEK/MONTH",
                      "cancel_reason": "fixed reason code"},
    "subscription_changes": {"action": "fixed action", "from_status": "fixed status", "to_status": "fixed status"},
    "tier_changes": {},
    "events": {"type": "fixed event type"},
    "webhook_deliveries": {"status": "fixed status", "lease_owner": "the worker holding the lease (host:pid)"},
    "members": {},
    "messages": {"type": "fixed message type", "channel": "fixed channel", "status": "fixed status",
                 "reason": "Patron's own words (rule, where it was handed over)",
                 "consent_purpose": "fixed consent purpose", "order_external_id": "the storefront's order id",
                 "products": "catalog product ids",
                 "dedupe_key": "type, member/order/event/improvement row ids, dates and channel (no external id)",
                 "provider_message_id": "the webhook provider's id of the message",
                 "details": "points, dates, tier names and order/cart times of the occasion"},
    "survey_responses": {"order_external_id": "the storefront's order id", "via": "link or member"},
    "improvement_links": {},
    "member_insights": {"currency": "ISO currency code", "rfm_segment": "fixed segment name",
                        "explanation": "Patron's own words with figures from the orders, no identifier"},
    "segment_members": {},
    # A grantReward call: the brand's campaign, found by its `actor` column (the admin key).
    "reward_grants": {"idempotency_key": "the admin's campaign key", "reason": "the brand's campaign words",
                      "actor": "the admin key that granted"},
}


def new_external_id() -> str:
    """Random, so nobody can recompute it from the old id (a hash of it could be)."""
    return f"anonymized-{secrets.token_hex(8)}"


@dataclass
class Identifiers:
    """The member's identifiers and how to take them out of a value."""

    old_id: str
    new_id: str
    values: list[str]  # e-mail, name, display names: removed wherever they appear
    birthday: str | None  # removed where it is a whole value or inside free text
    words: list[str] = field(default_factory=list)  # name words: removed from free text

    def __post_init__(self) -> None:
        # In text that is not only the member's, the old id wherever no letter or digit touches it
        # ("member:m1", "rule:2:signup:m1", "cart_m1_7", "chk-m1-1", "Referral: m1"), never inside
        # another word ("m1" must not touch "m10").
        self._id = re.compile(r"(?<![^\W_])" + re.escape(self.old_id) + r"(?![^\W_])", re.IGNORECASE)
        # In keys the member's own calls chose (idempotency keys, caller sources): every occurrence,
        # the whole key is theirs.
        self._anywhere = re.compile(re.escape(self.old_id), re.IGNORECASE)
        found = sorted({v for v in self.values if v}, key=len, reverse=True)
        self._values = re.compile("|".join(re.escape(v) for v in found), re.IGNORECASE) if found else None
        self._exact = {v.casefold() for v in found} | ({self.birthday.casefold()} if self.birthday else set())
        loose = [re.escape(w) for w in sorted(set(self.words), key=len, reverse=True)]
        if self.birthday:
            loose.insert(0, re.escape(self.birthday))
        self._words = re.compile(r"\b(?:" + "|".join(loose) + r")\b", re.IGNORECASE) if loose else None

    def personal(self, value: Any) -> Any:
        if isinstance(value, str) and self._values:
            return self._values.sub(REMOVED, value)
        return value

    def ref(self, value: Any) -> Any:
        value = self.personal(value)
        return self._id.sub(self.new_id, value) if isinstance(value, str) else value

    def own_key(self, value: Any) -> Any:
        """A key or source the member's own call chose: every occurrence of the old id goes."""
        value = self.personal(value)
        return self._anywhere.sub(self.new_id, value) if isinstance(value, str) else value

    def text(self, value: Any) -> Any:
        value = self.ref(value)
        if isinstance(value, str) and self._words:
            value = self._words.sub(REMOVED, value)
        return value

    def json(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            if key == "source" and value.get("type") in KEYED_BY_MEMBER:  # an event's copy of a caller key
                return {k: self.own_key(v) if k == "id" else self.json(v, k) for k, v in value.items()}
            return {k: self.own_key(v) if k in CALLER_KEYS else self.json(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v, key) for v in value]
        if isinstance(value, str):
            if value.casefold() in self._exact:
                return ANONYMOUS if key == "author" else None
            return self.text(value) if key in FREE_TEXT_KEYS else self.ref(value)
        return value


def _caller_key(ref: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Keys a caller chose ("redeem:<key>") may embed the member id; rule keys of orders,
    reviews and activities name those objects and stay as they are."""
    return lambda key: key if key is None or key.startswith("rule:") else ref(key)


def _name_words(name: str | None) -> list[str]:
    return [w for w in re.findall(r"\w+", name or "") if len(w) >= 2]


async def identifiers_of(member: Member, new_id: str) -> Identifiers:
    # The display names actually published ("Priyanka V.") are read from the rows.
    shown: set[str] = set()
    for model in (Review, Question, Answer):
        shown.update(await model.filter(member_id=member.id).distinct().values_list("author_name", flat=True))
    shown.discard(ANONYMOUS)
    values = [v for v in (member.email, member.name, *shown) if v]
    return Identifiers(
        old_id=member.external_id, new_id=new_id, values=values,
        birthday=member.birthday.isoformat() if member.birthday else None,
        words=_name_words(member.name) + [w for s in shown for w in _name_words(s)],
    )


async def _rewrite(rows: Iterable[Model], columns: dict[str, Callable[[Any], Any]]) -> set[int]:
    """Apply each column's rewrite; save only rows that changed. Returns their ids."""
    changed_ids = set()
    for row in rows:
        changed = []
        for name, rewrite in columns.items():
            before = getattr(row, name)
            after = rewrite(before)
            limit = getattr(row._meta.fields_map[name], "max_length", None)
            if isinstance(after, str) and limit and len(after) > limit:
                after = after[:limit]  # "[removed]" or the new id may be longer than what it replaced
            if after != before:
                setattr(row, name, after)
                changed.append(name)
        if changed:
            await row.save(update_fields=changed)
            changed_ids.add(row.pk)
    return changed_ids


def _ids(qs: QuerySet) -> Any:
    return qs.values_list("id", flat=True)


async def erase(member: Member, new_id: str) -> list[str]:
    """Scrub everything about the member (call under its lock, in the write transaction).

    Returns the media file names to delete after commit (deleting earlier would lose the
    files if the transaction rolled back)."""
    ids = await identifiers_of(member, new_id)
    ref, text, json = ids.ref, ids.text, ids.json
    anonymous: Callable[[Any], Any] = lambda _: ANONYMOUS  # noqa: E731
    drop: Callable[[Any], Any] = lambda _: None  # noqa: E731
    old_actor = f"member:{ids.old_id}"

    await _rewrite(await Consent.filter(member_id=member.id), {"source": ref})
    await _rewrite(await ConsentChange.filter(member_id=member.id), {"source": ref})
    await _rewrite(await TierChange.filter(member_id=member.id), {"reason": ids.personal})
    await _rewrite(await Signal.filter(member_id=member.id, session_id__isnull=False), {"session_id": drop})

    # Points: the member's own rows, and the referrer's rows that name the member as source.
    # The old id becomes the new one in keys, so a replay under the new id finds them.
    own_key = ids.own_key
    keyed = {"reason": ref, "source_id": own_key, "idempotency_key": own_key, "details": json}
    caller = keyed | {"reason": text}
    other = {"reason": ids.personal, "idempotency_key": _caller_key(own_key), "details": json}
    referrer_ids = {member.referred_by_id} if member.referred_by_id else set()
    for model in (Award, LedgerEntry):
        rows = await model.filter(member_id=member.id)
        await _rewrite([r for r in rows if r.source_type in KEYED_BY_MEMBER - CALLER_TEXT], keyed)
        await _rewrite([r for r in rows if r.source_type in CALLER_TEXT], caller)
        await _rewrite([r for r in rows if r.source_type not in KEYED_BY_MEMBER], other)
        await _rewrite(await model.filter(source_type="referral", source_id=ids.old_id),
                       keyed | {"source_id": ref, "idempotency_key": ref})  # the referrer's rows

    # Reviews and Q&A: the content stays (it is about the product), the author goes.
    review_ids = list(await _ids(Review.filter(member_id=member.id)))
    reviews = await Review.filter(id__in=review_ids)
    await _rewrite(reviews, {"author_name": anonymous, "title": text, "body": text, "follow_up_answer": text,
                             "reply_body": text, "moderation_note": text, "attributes": json})
    await _rewrite(await ReviewRevision.filter(review_id__in=review_ids), {"title": text, "body": text, "editor": ref})
    await _rewrite(await ReviewReport.filter(reporter=old_actor), {"reporter": ref, "comment": text})
    await _rewrite(await ReviewReport.filter(review_id__in=review_ids), {"comment": text})
    question_ids = list(await _ids(Question.filter(member_id=member.id)))
    await _rewrite(await Question.filter(id__in=question_ids), {"author_name": anonymous, "body": text})
    answer_ids = list(await _ids(Answer.filter(member_id=member.id)))
    await _rewrite(await Answer.filter(id__in=answer_ids), {"author_name": anonymous, "body": text})
    await _rewrite(await Answer.filter(question_id__in=question_ids), {"body": text})
    media = await ReviewMedia.filter(review_id__in=review_ids)
    files = [name for m in media for name in (m.file_name, m.thumb_name) if name]
    decisions = ModerationDecision.filter(actor=old_actor)
    await _rewrite(await decisions, {"actor": ref, "note": text})
    for subject, subject_ids in (("review", review_ids), ("question", question_ids), ("answer", answer_ids),
                                 ("media", [m.id for m in media])):
        await _rewrite(await ModerationDecision.filter(subject_type=subject, subject_id__in=subject_ids),
                       {"actor": ref, "note": text})
    if media:
        await ReviewMedia.filter(id__in=[m.id for m in media]).delete()
        for review in reviews:
            if review.has_media:
                review.has_media = False
                await review.save(update_fields=["has_media"])
                await summary.recount(review)

    await _rewrite(await Redemption.filter(member_id=member.id), {"idempotency_key": own_key})
    await _rewrite(await Message.filter(member_id=member.id, last_error__isnull=False), {"last_error": ids.personal})
    await _rewrite(await SurveyResponse.filter(member_id=member.id, comment__isnull=False), {"comment": text})
    await _rewrite(await Activity.filter(member_id=member.id), {"url": drop})
    await _rewrite(await Subscription.filter(member_id=member.id), {"cancel_comment": text})
    await _rewrite(await SubscriptionChange.filter(subscription__member_id=member.id), {"actor": ref, "details": json})

    # Events about the member (and the referrer's, which name the member), then every
    # stored copy of them: delivery excerpts are dropped; pending deliveries send the
    # scrubbed payload, since a delivery reads the event when it is sent.
    events = await Event.filter(member_id__in={member.id, *referrer_ids})
    changed = await _rewrite(events, {"payload": json})
    own = {e.id for e in events if e.member_id == member.id}
    await _rewrite(await WebhookDelivery.filter(event_id__in=own | changed),
                   {"request_excerpt": lambda _: ERASED_EXCERPT, "response_excerpt": drop, "last_error": ref})
    return files
