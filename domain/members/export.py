"""Everything Patron holds about one member, as plain JSON-ready data.

`SECTIONS` names, for every table that holds rows about a member (directly, through a
parent such as review -> revisions, or by a string reference such as a report's
`member:<id>` reporter), the export section that carries them. tests/test_hostile_erasure.py
derives the member tables from the models and fails when one has no section here.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

from domain.events.models import Event
from domain.ledger.models import Award, LedgerEntry, LotConsumption
from domain.members.models import Consent, ConsentChange, Member
from domain.messaging.models import Message
from domain.orders.models import Order
from domain.recommendations.models import Signal
from domain.reviews.media import media_url
from domain.reviews.models import (
    Answer,
    ModerationDecision,
    Question,
    Review,
    ReviewMedia,
    ReviewReport,
    ReviewRevision,
    ReviewVote,
)
from domain.feedback.models import ImprovementLink, SurveyResponse
from domain.insights.models import MemberInsight
from domain.segments.models import SegmentMember
from domain.rewards.models import Redemption
from domain.rules.models import Activity
from domain.subscriptions.models import Subscription, SubscriptionChange
from domain.tiers.models import TierChange
from domain.webhooks.models import WebhookDelivery, WebhookEndpoint

SECTIONS: dict[str, str] = {
    "members": "member",
    "consents": "consents",
    "consent_changes": "consentHistory",
    "orders": "orders",
    "order_lines": "orders",  # each order's lines
    "refunds": "orders",  # each order's refunds
    "ledger_entries": "ledger",
    "lot_consumptions": "ledger",  # each debit's consumed lots
    "awards": "awards",
    "tier_changes": "tierHistory",
    "events": "events",
    "webhook_deliveries": "eventDeliveries",  # who received the member's events
    "reviews": "reviews",
    "review_revisions": "reviews",  # each review's revisions
    "review_media": "reviews",  # each review's media links
    "moderation_decisions": "reviews",  # each review's / question's / answer's moderation (also in questions, answers)
    "review_votes": "votes",  # votes the member cast; votes received are the review's counts
    "review_reports": "reportsFiled",  # reports the member filed; reports received are in each review
    "questions": "questions",
    "answers": "answers",
    "redemptions": "redemptions",
    "activities": "activities",
    "signals": "browsing",
    "subscriptions": "subscriptions",
    "subscription_changes": "subscriptions",  # each subscription's history
    "messages": "messages",  # engagement messages planned for the member, with status and reason
    "member_insights": "insights",  # the figures Patron derived from the member's orders (RFM, churn risk, CLV)
    "survey_responses": "surveyResponses",  # the member's satisfaction survey answers, comment included
    "improvement_links": "contributions",  # improvements the member's reviews and questions led to
    "segment_members": "segments",  # the segments the member was in at their last nightly evaluation
}

# Tables the derivation reaches that hold nothing about the member, each with the reason.
NOT_EXPORTED: dict[str, str] = {
    # Found by its `actor` column, which names the admin key that granted, never a member; the
    # member's own codes from a grant are in `redemptions`.
    "reward_grants": "a brand's grantReward call (campaign, reason, count), not about one member",
}


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: _iso(v) for k, v in row.items()} for row in rows]


async def _decisions(subject: str, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in await ModerationDecision.filter(subject_type=subject, subject_id__in=ids).order_by("id").values(
            "subject_id", "status", "reason", "note", "created_at"):
        found[row.pop("subject_id")].append({k: _iso(v) for k, v in row.items()})
    return found


async def _reviews(member: Member) -> list[dict[str, Any]]:
    reviews = await Review.filter(member_id=member.id).order_by("id").prefetch_related("product")
    ids = [r.id for r in reviews]
    revisions: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in await ReviewRevision.filter(review_id__in=ids).order_by("id").values(
            "review_id", "rating", "title", "body", "created_at"):
        revisions[row.pop("review_id")].append({k: _iso(v) for k, v in row.items()})
    media_rows = await ReviewMedia.filter(review_id__in=ids).order_by("id")
    media_decisions = await _decisions("media", [m.id for m in media_rows])
    media: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for m in media_rows:
        media[m.review_id].append({"kind": m.kind, "contentType": m.content_type, "status": m.status,
                                   "url": media_url(m.file_name), "thumbnailUrl": media_url(m.thumb_name),
                                   "createdAt": _iso(m.created_at), "moderation": media_decisions[m.id]})
    reports: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in await ReviewReport.filter(review_id__in=ids).order_by("id").values("review_id", "reason", "created_at"):
        reports[row.pop("review_id")].append({k: _iso(v) for k, v in row.items()})  # not who reported: not theirs
    decisions = await _decisions("review", ids)
    return [
        {
            "reviewId": r.id, "productExternalId": r.product.external_id, "authorName": r.author_name,
            "rating": r.rating, "title": r.title, "body": r.body, "attributes": r.attributes, "status": r.status,
            "rejectReason": r.reject_reason, "verifiedPurchase": r.verified_purchase, "incentivized": r.incentivized,
            "helpfulCount": r.helpful_count, "notHelpfulCount": r.not_helpful_count,
            "followUp": {"question": r.follow_up_question, "answer": r.follow_up_answer},
            "reply": {"body": r.reply_body, "repliedAt": _iso(r.replied_at)} if r.reply_body else None,
            "createdAt": _iso(r.created_at), "publishedAt": _iso(r.published_at),
            "revisions": revisions[r.id], "media": media[r.id], "reportsReceived": reports[r.id],
            "moderation": decisions[r.id],
        }
        for r in reviews
    ]


async def _questions(member: Member) -> list[dict[str, Any]]:
    questions = await Question.filter(member_id=member.id).order_by("id").prefetch_related("product", "answers")
    decisions = await _decisions("question", [q.id for q in questions])
    return [
        {"questionId": q.id, "productExternalId": q.product.external_id, "authorName": q.author_name, "body": q.body,
         "status": q.status, "createdAt": _iso(q.created_at), "moderation": decisions[q.id],
         "answers": [{"authorName": a.author_name, "authorKind": a.author_kind, "body": a.body, "status": a.status,
                      "createdAt": _iso(a.created_at)} for a in sorted(q.answers, key=lambda a: a.id)
                     if a.status == "published" or a.member_id == member.id]}
        for q in questions
    ]


async def _answers(member: Member) -> list[dict[str, Any]]:
    answers = await Answer.filter(member_id=member.id).order_by("id").prefetch_related("question")
    decisions = await _decisions("answer", [a.id for a in answers])
    return [{"answerId": a.id, "questionId": a.question_id, "question": a.question.body, "authorName": a.author_name,
             "body": a.body, "status": a.status, "createdAt": _iso(a.created_at), "moderation": decisions[a.id]}
            for a in answers]


async def _ledger(member: Member) -> list[dict[str, Any]]:
    entries = _rows(await LedgerEntry.filter(member_id=member.id).order_by("id").values(
        "id", "amount", "kind", "reason", "source_type", "source_id", "created_at", "expires_at", "remaining"))
    consumed: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in await LotConsumption.filter(debit__member_id=member.id).order_by("id").values("debit_id", "lot_id", "amount"):
        consumed[row["debit_id"]].append({"lotId": row["lot_id"], "amount": row["amount"]})
    return [entry | {"consumedLots": consumed[entry["id"]]} for entry in entries]


async def _subscriptions(member: Member) -> list[dict[str, Any]]:
    subs = await Subscription.filter(member_id=member.id).order_by("id").prefetch_related("plan")
    history: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in await SubscriptionChange.filter(subscription_id__in=[s.id for s in subs]).order_by("id").values(
            "subscription_id", "action", "from_status", "to_status", "details", "actor", "created_at"):
        history[row.pop("subscription_id")].append({k: _iso(v) for k, v in row.items()})
    return [
        {"subscriptionId": s.id, "plan": s.plan.name, "kind": s.plan.kind, "status": s.status, "sku": s.sku,
         "interval": {"unit": s.interval_unit, "count": s.interval_count}, "nextDeliveryAt": _iso(s.next_delivery_at),
         "pausedUntil": _iso(s.paused_until), "cyclesCompleted": s.cycles_completed, "trialEndsAt": _iso(s.trial_ends_at),
         "paidThrough": _iso(s.paid_through), "cancelReason": s.cancel_reason, "cancelComment": s.cancel_comment,
         "cancelledAt": _iso(s.cancelled_at), "createdAt": _iso(s.created_at), "history": history[s.id]}
        for s in subs
    ]


async def _deliveries(member: Member) -> list[dict[str, Any]]:
    """Which of the store's systems received the member's events (the recipients), by host."""
    rows = await WebhookDelivery.filter(event__member_id=member.id).order_by("id").values(
        "event_id", "event__type", "endpoint_id", "status", "attempts", "delivered_at")
    hosts = {e.id: urlsplit(e.url).hostname for e in await WebhookEndpoint.filter(id__in={r["endpoint_id"] for r in rows})}
    return [{"eventId": r["event_id"], "eventType": r["event__type"], "recipient": hosts.get(r["endpoint_id"]),
             "status": r["status"], "attempts": r["attempts"], "deliveredAt": _iso(r["delivered_at"])} for r in rows]


async def export_member(member: Member) -> dict[str, Any]:
    orders = await Order.filter(member_id=member.id).order_by("id").prefetch_related("lines", "refunds")
    return {
        "member": {
            "externalId": member.external_id,
            "email": member.email,
            "name": member.name,
            "birthday": _iso(member.birthday),
            "timezone": member.timezone,
            "locale": member.locale,
            "signupChannel": member.signup_channel,
            "createdAt": _iso(member.created_at),
            "anonymizedAt": _iso(member.anonymized_at),
            "tier": (await member.tier).name if member.tier_id else None,
            "tierAchievedAt": _iso(member.tier_achieved_at),
            "referredBy": (await member.referred_by).external_id if member.referred_by_id else None,
            "referralConvertedAt": _iso(member.referral_converted_at),
            "points": {
                "balance": member.points_balance,
                "pending": member.points_pending,
                "lifetimeEarned": member.lifetime_earned,
            },
        },
        "consents": _rows(await Consent.filter(member_id=member.id).values("purpose", "granted", "source", "updated_at")),
        "consentHistory": _rows(
            await ConsentChange.filter(member_id=member.id).order_by("id").values("purpose", "granted", "source", "created_at")
        ),
        "orders": [
            {
                "externalId": o.external_id,
                "currency": o.currency,
                "channel": o.channel,
                "placedAt": _iso(o.placed_at),
                "total": o.total_amount,
                "refunded": o.refunded_amount,
                "lines": [
                    {"sku": ln.sku, "productExternalId": ln.product_external_id, "category": ln.category,
                     "quantity": ln.quantity, "unitPrice": ln.unit_price, "refundedQuantity": ln.refunded_quantity}
                    for ln in sorted(o.lines, key=lambda x: x.id)
                ],
                "refunds": [{"externalId": r.external_id, "amount": r.amount, "lines": r.lines,
                             "pointsReversed": r.points_reversed, "createdAt": _iso(r.created_at)}
                            for r in sorted(o.refunds, key=lambda x: x.id)],
            }
            for o in orders
        ],
        "ledger": await _ledger(member),
        "awards": _rows(
            await Award.filter(member_id=member.id).order_by("id").values(
                "id", "amount", "reversed", "status", "reason", "source_type", "source_id", "release_at", "created_at"
            )
        ),
        "tierHistory": _rows(
            await TierChange.filter(member_id=member.id).order_by("id").values(
                "from_tier__name", "to_tier__name", "reason", "created_at"
            )
        ),
        "reviews": await _reviews(member),
        "votes": _rows(await ReviewVote.filter(member_id=member.id).order_by("id").values(
            "review_id", "helpful", "created_at")),
        "reportsFiled": _rows(await ReviewReport.filter(reporter=f"member:{member.external_id}").order_by("id").values(
            "review_id", "reason", "comment", "created_at")),
        "questions": await _questions(member),
        "answers": await _answers(member),
        "redemptions": _rows(await Redemption.filter(member_id=member.id).order_by("id").values(
            "reward__name", "points", "code", "status", "order_external_id", "expires_at", "created_at", "used_at",
            "cancelled_at")),
        "subscriptions": await _subscriptions(member),
        "activities": _rows(await Activity.filter(member_id=member.id).order_by("id").values(
            "type", "custom_type", "external_id", "url", "status", "created_at", "decided_at")),
        "browsing": _rows(await Signal.filter(member_id=member.id).order_by("id").values(
            "type", "product_external_id", "at")),
        "events": _rows(
            await Event.filter(member_id=member.id).order_by("id").values("id", "type", "payload", "created_at")
        ),
        "eventDeliveries": await _deliveries(member),
        "messages": _rows(await Message.filter(member_id=member.id).order_by("id").values(
            "id", "type", "channel", "status", "reason", "consent_purpose", "scheduled_for", "sent_at",
            "order_external_id", "products", "provider_message_id", "details", "attempts", "created_at")),
        "insights": _rows(await MemberInsight.filter(member_id=member.id).values(
            "recency_days", "frequency", "monetary", "currency", "r_score", "f_score", "m_score", "rfm_segment",
            "churn_risk", "expected_purchases_90d", "clv_12m", "explanation", "computed_at")),
        "surveyResponses": _rows(await SurveyResponse.filter(member_id=member.id).order_by("id").values(
            "id", "order_external_id", "nps", "csat", "comment", "negative", "via", "created_at")),
        "contributions": _rows(await ImprovementLink.filter(member_id=member.id).order_by("id").values(
            "review_id", "question_id", "improvement__title", "improvement__product__external_id",
            "improvement__created_at")),
        "segments": _rows(await SegmentMember.filter(member_id=member.id).order_by("id").values(
            "segment__name", "entered_at")),
    }
