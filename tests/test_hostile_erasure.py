"""Erasure, export and data-usage statements, tried as a demanding member would.

One member with distinctive identifiers uses every feature that stores member data; then
`anonymizeMember` must leave none of the identifiers in any table (the whole database is
dumped), in any payload copy or in the media directory; `exportMemberData` must carry a
section for every table the models say can hold the member's rows; every `myDataUsage`
statement must be backed by a code path that exists.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise import Tortoise, connections, fields
from tortoise.models import Model

from domain import clock, jobs
from domain.catalog.service import upsert_products
from domain.events.models import Event
from domain.ledger.models import Award, LedgerEntry
from domain.members import data_usage, erasure, export
from domain.messaging import disclosure
from domain.insights import members as member_insights
from domain.insights.models import MemberInsight
from domain.segments import service as segment_service
from domain.segments.models import SegmentMember
from domain.members.models import Member
from domain.orders.models import Order
from domain.reviews.models import ReviewMedia
from domain.rewards.service import save_reward
from domain.rules.service import save_rule
from domain.settings import get_settings
from domain.subscriptions.service import save_plan
from domain.tiers.service import save_tier
from domain.webhooks.delivery import Deliverer
from domain.webhooks.models import WebhookDelivery
from tests import media_samples
from tests.conftest import IS_POSTGRES, member_token
from tests.helpers import assert_no_drift
from tests.receiver import Receiver, Reply

OLD_ID = "cust-PRIYA-8841"
EMAIL = "priyanka.venkataraman@example.org"
NAME = "Priyanka Venkataraman"
BIRTHDAY = "1987-03-14"
DISPLAY = "Priyanka V."
NEEDLES = [OLD_ID, EMAIL, NAME, BIRTHDAY, DISPLAY, "Venkataraman", "Priyanka"]
REFERRER = "ref-0001"
T0 = datetime(2026, 3, 14, 10, 0, tzinfo=UTC)  # the member's birthday this year

GQL = {
    "upsert": "mutation($i: UpsertMemberInput!) { upsertMember(input: $i) { errors { code } } }",
    "consents": "mutation($c: [ConsentInput!]!) { updateConsents(input: {consents: $c}) { errors { code } } }",
    "order": "mutation($i: RecordOrderInput!) { recordOrder(input: $i) { pointsAwarded errors { code } } }",
    "refund": "mutation($i: RecordRefundInput!) { recordRefund(input: $i) { pointsReversed errors { code } } }",
    "fulfil": "mutation($i: RecordFulfillmentInput!) { recordFulfillment(input: $i) { replayed errors { code } } }",
    "spend": "mutation($i: SpendPointsInput!) { spendPoints(input: $i) { entry { amount } errors { code } } }",
    "submit": "mutation($i: SubmitReviewInput!, $media: [Upload!]) { submitReview(input: $i, media: $media) "
              "{ review { reviewId status media { url thumbnailUrl } } errors { code } } }",
    "edit": "mutation($i: EditReviewInput!) { editReview(input: $i) { errors { code } } }",
    "adjust": "mutation($i: AdjustPointsInput!) { adjustPoints(input: $i) { errors { code } } }",
    "follow_up": "mutation($i: FollowUpAnswerInput!) { answerFollowUp(input: $i) { errors { code } } }",
    "delete": "mutation($i: ReviewRefInput!) { deleteReview(input: $i) { errors { code } } }",
    "vote": "mutation($i: VoteInput!) { voteReview(input: $i) { errors { code } } }",
    "report": "mutation($i: ReportReviewInput!) { reportReview(input: $i) { errors { code } } }",
    "reply": "mutation($i: ReplyInput!) { replyToReview(input: $i) { errors { code } } }",
    "ask": "mutation($i: AskQuestionInput!) { askQuestion(input: $i) { question { questionId } errors { code } } }",
    "moderate_q": "mutation($i: ModerateInput!) { moderateQuestion(input: $i) { errors { code } } }",
    "answer": "mutation($i: AnswerQuestionInput!) { answerQuestion(input: $i) { errors { code } } }",
    "redeem": "mutation($i: RedeemRewardInput!) { redeemReward(input: $i) { redemption { code } errors { code } } }",
    "use": "mutation($i: MarkCodeUsedInput!) { markRewardCodeUsed(input: $i) { errors { code } } }",
    "subscribe": "mutation($i: SubscribeInput!) { subscribe(input: $i) { subscription { subscriptionId } errors { code } } }",
    "pause": "mutation($i: SubscriptionActionInput!) { pauseSubscription(input: $i) { errors { code } } }",
    "cancel": "mutation($i: CancelSubscriptionInput!) { cancelSubscription(input: $i) { errors { code } } }",
    "activity": "mutation($i: RecordActivityInput!) { recordActivity(input: $i) { errors { code } } }",
    "track": "mutation($e: [TrackEventInput!]!) { trackEvents(events: $e) { accepted errors { code } } }",
    "endpoint": "mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) "
                "{ endpoint { endpointId } errors { code } } }",
    "survey": "mutation($i: SubmitSurveyResponseInput!) { submitSurveyResponse(input: $i) { errors { code } } }",
    "improve": "mutation($i: RecordImprovementInput!) { recordImprovement(input: $i) { errors { code } } }",
    "anonymize": "mutation { anonymizeMember(input: {}) { member { externalId anonymized } errors { code } } }",
}


def ok(data: dict[str, Any]) -> dict[str, Any]:
    payload = next(iter(data.values()))
    assert payload.get("errors") in ([], None), data
    return payload


async def _program() -> dict[str, Any]:
    for rule in ({"name": "Per order", "type": "ORDER_PAID", "points_per_unit": 1, "currency_unit": 100, "pending_days": 0},
                 {"name": "Welcome", "type": "SIGNUP", "points": 100},
                 {"name": "Birthday", "type": "BIRTHDAY", "points": 50},
                 {"name": "Referral", "type": "REFERRAL_CONVERTED", "points": 200, "referral_side": "BOTH"},
                 {"name": "Review", "type": "REVIEW_PUBLISHED", "points": 20},
                 {"name": "Photo", "type": "PHOTO_REVIEW", "points": 30},
                 {"name": "Share", "type": "SOCIAL_SHARE", "points": 10}):
        await save_rule(None, rule)
    await save_tier(None, {"name": "Bronze", "rank": 0})
    await save_tier(None, {"name": "Silver", "rank": 1, "min_spend": 10_000, "currency": "USD"})
    await upsert_products([{"external_id": "p1", "title": "Trail Runner", "categories": ["shoes"]},
                           {"external_id": "p2", "title": "Socks", "categories": ["socks"]}])
    reward = await save_reward(None, {"name": "$5 off", "type": "FIXED_AMOUNT", "points_cost": 100, "amount": 500,
                                      "currency": "usd", "code_valid_days": 30})
    plan = await save_plan(None, {"name": "Socks monthly", "kind": "PRODUCT", "skus": ["sock-1"], "interval_unit": "MONTH",
                                  "interval_count": 1, "price": 900, "currency": "usd"})
    return {"reward": reward.id, "plan": plan.id}


async def populate(api, admin_token: str, storefront_token: str, receiver: Receiver, deliverer: Deliverer) -> dict[str, Any]:
    """The member uses every feature that stores member data; returns handles for the checks."""
    clock.set_now(T0)
    ids = await _program()
    hook = receiver.script("/hook", Reply(200))
    ok(await api.ok(GQL["endpoint"], {"i": {"url": hook, "eventTypes": ["*"]}}, admin_token))
    me = member_token(OLD_ID)
    other = member_token(REFERRER)
    ok(await api.ok(GQL["upsert"], {"i": {"externalId": REFERRER, "name": "Rafael Ortiz"}}, storefront_token))
    ok(await api.ok(GQL["upsert"], {"i": {"externalId": OLD_ID, "email": EMAIL, "name": NAME, "birthday": BIRTHDAY,
                                          "signupChannel": "app", "referredBy": REFERRER}}, storefront_token))
    ok(await api.ok(GQL["upsert"], {"i": {"externalId": OLD_ID, "name": NAME + " "}}, storefront_token))  # member.updated
    ok(await api.ok(GQL["upsert"], {"i": {"externalId": OLD_ID, "name": NAME}}, storefront_token))
    await jobs.birthday_bonuses(T0)
    ok(await api.ok(GQL["consents"], {"c": [{"purpose": "PERSONALIZATION", "granted": True},
                                            {"purpose": "MARKETING_EMAIL", "granted": True}]}, me))
    line = {"sku": "shoe-1", "productExternalId": "p1", "category": "shoes", "quantity": 2, "unitPrice": 10_000}
    ok(await api.ok(GQL["order"], {"i": {"externalId": "ord-1", "memberExternalId": OLD_ID, "currency": "USD",
                                         "placedAt": T0.isoformat(), "lines": [line]}}, storefront_token))
    ok(await api.ok(GQL["order"], {"i": {"externalId": "ord-r", "memberExternalId": REFERRER, "currency": "USD",
                                         "placedAt": T0.isoformat(), "lines": [line | {"quantity": 1}]}}, storefront_token))
    ok(await api.ok(GQL["refund"], {"i": {"externalId": "ref-1", "orderExternalId": "ord-1",
                                          "lines": [{"sku": "shoe-1", "quantity": 1}]}}, storefront_token))
    # a review request is planned (suppressed: no REVIEW_REQUESTS consent), so `messages` has a row
    ok(await api.ok(GQL["fulfil"], {"i": {"orderExternalId": "ord-1", "fulfilledAt": T0.isoformat()}}, storefront_token))
    ok(await api.ok(GQL["spend"], {"i": {"amount": 10, "idempotencyKey": "spend-1", "reason": "Checkout by Priyanka"}}, me))
    ok(await api.ok(GQL["adjust"], {"i": {"memberExternalId": OLD_ID, "amount": 5, "reason": "Goodwill for Priyanka",
                                          "idempotencyKey": f"goodwill:{OLD_ID}"}}, admin_token))
    # Caller-chosen keys that embed the old id joined by "-", "_" and "." (the whole key is the member's).
    ok(await api.ok(GQL["spend"], {"i": {"amount": 5, "idempotencyKey": f"chk-{OLD_ID}-1"}}, me))
    ok(await api.ok(GQL["spend"], {"i": {"amount": 1, "idempotencyKey": f"cart_{OLD_ID}_7"}}, me))
    ok(await api.ok(GQL["adjust"], {"i": {"memberExternalId": OLD_ID, "amount": 3, "reason": "Bonus",
                                          "idempotencyKey": f"adj.{OLD_ID}x"}}, admin_token))
    # Reviews: the member's own with a photo, edited, replied to; another member's review voted and reported.
    mine = ok((await api.upload(GQL["submit"], {"i": {"productExternalId": "p1", "rating": 5, "title": "Priyanka loves it",
                                                     "body": f"{NAME} here: great grip on long runs, "
                                                             "comfortable from the first day on."},
                                               "media": [None]},
                               {"media.0": ("shoe.jpg", media_samples.jpeg(), "image/jpeg")}, me))["data"])
    review_id = mine["review"]["reviewId"]
    assert mine["review"]["status"] == "PUBLISHED" and mine["review"]["media"][0]["url"]
    ok(await api.ok(GQL["edit"], {"i": {"reviewId": review_id, "body": "Edited by Priyanka: still great after a month "
                                                                        "of daily runs, no blisters."}}, me))
    ok(await api.ok(GQL["reply"], {"i": {"reviewId": review_id, "body": "Thank you Priyanka!"}}, admin_token))
    theirs = ok(await api.ok(GQL["submit"], {"i": {"productExternalId": "p1", "rating": 4,
                                                   "body": "Solid shoe, a little narrow at the toe for me though."}}, other))
    ok(await api.ok(GQL["vote"], {"i": {"reviewId": theirs["review"]["reviewId"], "helpful": True}}, me))
    ok(await api.ok(GQL["report"], {"i": {"reviewId": theirs["review"]["reviewId"], "reason": "OTHER",
                                          "comment": "Reported by Priyanka Venkataraman"}}, me))
    # A thin review gets a follow-up question; the member answers it, then deletes the review.
    thin = ok(await api.ok(GQL["submit"], {"i": {"productExternalId": "p2", "rating": 4, "body": "Nice socks."}}, me))
    ok(await api.ok(GQL["follow_up"], {"i": {"reviewId": thin["review"]["reviewId"],
                                             "answer": "Priyanka says: buy two pairs."}}, me))
    ok(await api.ok(GQL["delete"], {"i": {"reviewId": thin["review"]["reviewId"]}}, me))
    # Questions and answers.
    asked = ok(await api.ok(GQL["ask"], {"i": {"productExternalId": "p1", "body": "Do they run small? - Priyanka"}}, me))
    question_id = asked["question"]["questionId"]
    ok(await api.ok(GQL["moderate_q"], {"i": {"id": question_id, "action": "PUBLISH"}}, admin_token))
    ok(await api.ok(GQL["answer"], {"i": {"questionId": question_id, "body": "Half a size small, Priyanka."}}, admin_token))
    theirs_q = ok(await api.ok(GQL["ask"], {"i": {"productExternalId": "p1", "body": "Good for trails?"}}, other))
    ok(await api.ok(GQL["moderate_q"], {"i": {"id": theirs_q["question"]["questionId"], "action": "PUBLISH"}}, admin_token))
    ok(await api.ok(GQL["answer"], {"i": {"questionId": theirs_q["question"]["questionId"],
                                          "body": "Yes, I use them on trails every week."}}, me))
    # A satisfaction survey answer with a comment naming her, and an improvement her review and
    # question led to (she is thanked: a FEEDBACK_THANKS message, suppressed without consent).
    ok(await api.ok(GQL["survey"], {"i": {"orderExternalId": "ord-1", "nps": 4, "csat": 2,
                                          "comment": "Priyanka Venkataraman: the box arrived crushed."}}, me))
    ok(await api.ok(GQL["improve"], {"i": {"productExternalId": "p1", "title": "Wider toe box", "body": "From your reviews.",
                                           "reviewIds": [str(review_id)], "questionIds": [str(question_id)]}}, admin_token))
    # Rewards, subscriptions, activities, browsing signals.
    code = ok(await api.ok(GQL["redeem"], {"i": {"rewardId": ids["reward"], "idempotencyKey": f"red-{OLD_ID}"}}, me))
    ok(await api.ok(GQL["use"], {"i": {"code": code["redemption"]["code"], "orderExternalId": "ord-1"}}, storefront_token))
    sub = ok(await api.ok(GQL["subscribe"], {"i": {"planId": ids["plan"], "sku": "sock-1"}}, me))
    sub_id = sub["subscription"]["subscriptionId"]
    ok(await api.ok(GQL["pause"], {"i": {"subscriptionId": sub_id, "until": (T0 + timedelta(days=20)).isoformat()}}, me))
    ok(await api.ok(GQL["cancel"], {"i": {"subscriptionId": sub_id, "reason": "OTHER", "confirm": True,
                                          "comment": "Priyanka is moving abroad"}}, me))
    ok(await api.ok(GQL["activity"], {"i": {"memberExternalId": OLD_ID, "type": "SOCIAL_SHARE", "externalId": "share-1",
                                            "url": "https://instagram.com/priyanka.venkataraman/p/1"}}, storefront_token))
    ok(await api.ok(GQL["track"], {"e": [{"memberExternalId": OLD_ID, "sessionId": "sess-priyanka", "type": "VIEW",
                                          "productExternalId": "p2"}]}, storefront_token))
    # The referral converts once the first order is past the return window.
    clock.set_now(T0 + timedelta(days=get_settings().return_window_days + 2))
    await jobs.activities.convert_referrals(clock.now())
    assert await Award.exists(source_type="referral", source_id=OLD_ID)
    # The member is in a saved segment after its nightly evaluation (segment_members).
    await segment_service.create_segment("Ordered once", {"min_orders": 1})
    await segment_service.evaluate_all(clock.now())
    assert await SegmentMember.exists(member__external_id=OLD_ID)
    while await deliverer.run_once():  # deliveries with request excerpts holding the PII
        pass
    assert any(EMAIL in (d.request_excerpt or "") for d in await WebhookDelivery.all())
    # One more event is left pending: it must not carry the old PII when it is sent after erasure.
    ok(await api.ok(GQL["upsert"], {"i": {"externalId": OLD_ID, "signupChannel": "web"}}, storefront_token))
    assert await WebhookDelivery.filter(status="pending").count() == 1
    member = await Member.get(external_id=OLD_ID)
    # The member's derived insights row, written by the member_insights job.
    assert (await member_insights.refresh(clock.now())).members >= 1
    assert await MemberInsight.exists(member_id=member.id)
    return {"member_pk": member.id, "review_id": review_id, "token": me}


async def dump_database() -> str:
    conn = connections.get("default")
    parts = []
    if IS_POSTGRES:
        tables = [r["table_name"] for r in await conn.execute_query_dict(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")]
        for table in tables:
            rows = await conn.execute_query_dict(f'SELECT t::text AS row FROM "{table}" t')
            parts += [f"{table}: {r['row']}" for r in rows]
    else:
        tables = [r["name"] for r in await conn.execute_query_dict("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            rows = await conn.execute_query_dict(f'SELECT * FROM "{table}"')
            parts += [f"{table}: {json.dumps(r, default=str, ensure_ascii=False)}" for r in rows]
    assert "members" in tables and "webhook_deliveries" in tables
    return "\n".join(parts)


def dump_media() -> tuple[list[str], str]:
    root = Path(get_settings().media_dir)
    names = sorted(p.name for p in root.rglob("*") if p.is_file())
    return names, "\n".join(names) + "\n".join((root / n).read_bytes().decode("latin-1") for n in names)


def found(text: str) -> list[str]:
    lowered = text.casefold()
    return [n for n in NEEDLES if n.casefold() in lowered]


async def test_erasure_leaves_no_identifier_in_any_table_payload_or_file(api, admin_token, storefront_token, receiver, deliverer):
    # given: the member used every feature, webhooks received their events
    handles = await populate(api, admin_token, storefront_token, receiver, deliverer)
    assert found(await dump_database()) == NEEDLES  # every needle is there before
    media_before = set(f for f in os.listdir(get_settings().media_dir))
    photo = await ReviewMedia.get(review_id=handles["review_id"])
    assert photo.file_name in media_before
    # when: the member erases themselves
    data = ok(await api.ok(GQL["anonymize"], token=handles["token"]))
    new_id = data["member"]["externalId"]
    while await deliverer.run_once():  # the pending delivery goes out after erasure
        pass
    # then: no identifier anywhere in the database, nor in the media directory
    dump = await dump_database()
    assert found(dump) == [], [line for line in dump.splitlines() if found(line)][:5]
    names, content = dump_media()
    assert photo.file_name not in names and photo.thumb_name not in names
    assert found(content) == []
    # the new id is random (not a hash of the old one) and is what every reference now names
    assert re.fullmatch(r"anonymized-[0-9a-f]{16}", new_id)
    assert new_id != "anonymized-" + hashlib.sha256(f"{handles['member_pk']}:{OLD_ID}".encode()).hexdigest()[:16]
    announced = await Event.get(type="member.anonymized")
    assert announced.payload["actor"] == f"member:{new_id}" and announced.payload["externalId"] == new_id
    assert await Award.exists(member_id=handles["member_pk"], idempotency_key__endswith=f":signup:{new_id}")
    assert await Award.exists(source_type="referral", source_id=new_id, reason=f"Referral: {new_id}")
    # nothing sent after the erasure carries the old identifiers
    after = receiver.at("/hook")[-2:]
    assert sorted(json.loads(hit.body)["type"] for hit in after) == ["member.anonymized", "member.updated"]
    assert all(found(hit.body.decode()) == [] for hit in after)
    # the delivery logs of the member's events were dropped (only the announcement, made after the
    # erasure, has one), the delivery facts stay
    own = await WebhookDelivery.filter(event__member_id=handles["member_pk"], status="succeeded").count()
    assert own > 10 and await WebhookDelivery.filter(event__member_id=handles["member_pk"],
                                                     request_excerpt=erasure.ERASED_EXCERPT).count() == own - 1
    # the review stays (about the product) under "Anonymous", its photo is gone
    page = await api.ok('{ product(externalId: "p1") { reviews(first: 10) { edges { node { author { displayName } '
                        'body media { url } } } } } }')
    authors = [(e["node"]["author"]["displayName"], e["node"]["media"]) for e in page["product"]["reviews"]["edges"]]
    assert ("Anonymous", []) in authors
    # the export and data usage of the erased member hold no identifier either
    exported = await api.ok("query($m: String) { exportMemberData(memberExternalId: $m) }", {"m": new_id}, admin_token)
    assert found(json.dumps(exported)) == [] and exported["exportMemberData"]["member"]["externalId"] == new_id
    usage = await api.ok('query($m: String!) { dataUsage(memberExternalId: $m) { memberExternalId features { feature } '
                         'consents { purpose granted source } } }', {"m": new_id}, admin_token)
    assert found(json.dumps(usage)) == []


async def test_erasure_keeps_totals_and_idempotent_replays_under_the_new_id(api, admin_token, storefront_token, receiver,
                                                                           deliverer):
    handles = await populate(api, admin_token, storefront_token, receiver, deliverer)
    member = await Member.get(id=handles["member_pk"])
    before = (member.points_balance, member.points_pending, member.lifetime_earned,
              await LedgerEntry.filter(member_id=member.id).count(), await Award.filter(member_id=member.id).count())
    order_before = await Order.get(external_id="ord-1")
    data = ok(await api.ok('mutation($m: String) { anonymizeMember(input: {memberExternalId: $m}) '
                           '{ member { externalId } errors { code } } }', {"m": OLD_ID}, admin_token))
    new_id = data["member"]["externalId"]
    after = await assert_no_drift(new_id)
    assert (after.points_balance, after.points_pending, after.lifetime_earned,
            await LedgerEntry.filter(member_id=after.id).count(), await Award.filter(member_id=after.id).count()) == before
    order = await Order.get(external_id="ord-1")
    assert (order.total_amount, order.refunded_amount, order.member_id) == (
        order_before.total_amount, order_before.refunded_amount, order_before.member_id)
    # replays with the new id return the first result and change nothing
    spent = ok(await api.ok(GQL["spend"], {"i": {"memberExternalId": new_id, "amount": 10, "idempotencyKey": "spend-1"}},
                            storefront_token))
    assert spent["entry"]["amount"] == -10
    line = {"sku": "shoe-1", "productExternalId": "p1", "category": "shoes", "quantity": 2, "unitPrice": 10_000}
    replay = ok(await api.ok(GQL["order"], {"i": {"externalId": "ord-1", "memberExternalId": new_id, "currency": "USD",
                                                  "placedAt": T0.isoformat(), "lines": [line]}}, storefront_token))
    assert replay["pointsAwarded"] == 200
    ok(await api.ok(GQL["upsert"], {"i": {"externalId": new_id}}, storefront_token))  # no second signup bonus
    assert (await assert_no_drift(new_id)).points_balance == before[0]
    assert await LedgerEntry.filter(member_id=after.id).count() == before[3]
    assert await Award.filter(member_id=after.id).count() == before[4]
    # the keys that named the old id name the new one, so those replays stay no-ops too
    keys = await Award.filter(member_id=after.id).values_list("idempotency_key", flat=True)
    assert any(k.endswith(f":signup:{new_id}") for k in keys) and not any(OLD_ID in k for k in keys)
    referral = await Award.get(source_type="referral", reason__startswith="Referral: ")
    assert referral.idempotency_key.endswith(f":referral:{new_id}") and referral.source_id == new_id
    await jobs.activities.convert_referrals(clock.now())
    assert await Award.filter(source_type="referral").count() == 2  # referrer + referred, once
    # the old id is free and unknown
    assert not await Member.exists(external_id=OLD_ID)


# --- export: every member table has a section -------------------------------------------

MEMBERISH = re.compile(r"^(member|member_id|reporter|author.*|editor|actor)$")


def member_tables() -> dict[str, str]:
    """Tables that can hold rows about a member, derived from the models: a foreign key to
    the member or to such a table, or a column that names a member (member_id, reporter,
    author, editor, actor). Returns table -> how it was reached."""
    models: list[type[Model]] = list(Tortoise.apps["patron"].values())
    reached = {"members": "the member"}
    changed = True
    while changed:
        changed = False
        for model in models:
            table = model._meta.db_table
            if table in reached:
                continue
            for name in model._meta.fk_fields | model._meta.o2o_fields:
                target = model._meta.fields_map[name].related_model._meta.db_table
                if target in reached:
                    reached[table], changed = f"{name} -> {target}", True
                    break
            else:
                named = [n for n in model._meta.fields_map if MEMBERISH.match(n)]
                if named:
                    reached[table], changed = f"column {named[0]}", True
    return reached


def test_member_tables_are_derived_from_the_models():
    tables = member_tables()
    # spot checks of the derivation: direct, through a parent, by a naming column
    assert tables["consents"] == "member -> members"
    assert tables["review_revisions"] == "review -> reviews"
    assert tables["events"] == "column member_id"
    assert tables["moderation_decisions"] == "column actor"
    assert tables["webhook_deliveries"] == "event -> events"
    assert "products" not in tables and "tiers" not in tables and "api_keys" not in tables


def test_every_member_table_has_an_export_section():
    assert all(reason.strip() for reason in export.NOT_EXPORTED.values())
    missing = sorted(set(member_tables()) - set(export.SECTIONS) - set(export.NOT_EXPORTED))
    assert missing == [], f"tables about a member without an export section: {missing}"


def test_every_text_column_of_a_member_table_has_an_erasure_decision():
    models = {m._meta.db_table: m for m in Tortoise.apps["patron"].values()}
    undecided = []
    for table in member_tables():
        for name, field in models[table]._meta.fields_map.items():
            if not isinstance(field, fields.CharField | fields.TextField | fields.JSONField):
                continue
            if name not in erasure.COLUMNS.get(table, {}) and name not in erasure.NO_IDENTIFIERS.get(table, {}):
                undecided.append(f"{table}.{name}")
    assert undecided == [], f"say in domain/members/erasure.py what erasure does with: {undecided}"


async def test_export_carries_every_section_with_the_members_rows(api, admin_token, storefront_token, receiver, deliverer):
    handles = await populate(api, admin_token, storefront_token, receiver, deliverer)
    data = (await api.ok("{ exportMemberData }", token=handles["token"]))["exportMemberData"]
    for table, section in export.SECTIONS.items():
        assert data.get(section), f"{table}: section {section} is empty"
    assert data["member"] | {"email": EMAIL, "name": NAME, "birthday": BIRTHDAY} == data["member"]
    review = data["reviews"][0]
    assert [r["body"][:9] for r in review["revisions"]] == ["Priyanka ", "Edited by"]
    assert review["media"][0]["url"].startswith(get_settings().media_base_url) and review["media"][0]["kind"] == "photo"
    assert review["reply"]["body"] == "Thank you Priyanka!" and review["moderation"][0]["status"] == "published"
    assert [v["helpful"] for v in data["votes"]] == [True]
    assert [(r["reason"], r["comment"]) for r in data["reportsFiled"]] == [("OTHER", "Reported by Priyanka Venkataraman")]
    assert data["questions"][0]["answers"][0]["body"] == "Half a size small, Priyanka."
    assert data["answers"][0]["body"] == "Yes, I use them on trails every week."
    assert data["redemptions"][0]["reward__name"] == "$5 off" and data["redemptions"][0]["status"] == "used"
    assert [h["action"] for h in data["subscriptions"][0]["history"]][-1] == "cancel"
    assert data["subscriptions"][0]["cancelComment"] == "Priyanka is moving abroad"
    assert [(a["type"], a["url"]) for a in data["activities"]] == [
        ("SURVEY_COMPLETED", None), ("SOCIAL_SHARE", "https://instagram.com/priyanka.venkataraman/p/1")]
    assert [(r["nps"], r["csat"], r["comment"], r["negative"]) for r in data["surveyResponses"]] == [
        (4, 2, "Priyanka Venkataraman: the box arrived crushed.", True)]
    assert [(c["improvement__title"], c["review_id"] is not None, c["question_id"] is not None)
            for c in data["contributions"]] == [("Wider toe box", True, False), ("Wider toe box", False, True)]
    assert [(b["type"], b["product_external_id"]) for b in data["browsing"]] == [("VIEW", "p2")]
    assert {t["to_tier__name"] for t in data["tierHistory"]} >= {"Silver"}
    assert [c["purpose"] for c in data["consentHistory"]] == ["PERSONALIZATION", "MARKETING_EMAIL"]
    assert data["orders"][0]["refunds"][0]["externalId"] == "ref-1"
    assert any(e["consumedLots"] for e in data["ledger"] if e["amount"] < 0)
    assert {d["recipient"] for d in data["eventDeliveries"]} == {"127.0.0.1"}
    assert {a["source_type"] for a in data["awards"]} >= {"signup", "birthday", "order", "referral", "review"}


# --- data usage: every statement is true of the running code ----------------------------

def test_every_data_usage_statement_names_a_code_path_that_decides_it():
    shown = {f["feature"] for f in data_usage.features()}
    for statement in data_usage.STATEMENTS:
        assert (statement.feature in shown) == (data_usage.exists(statement.needs) and any(
            data_usage.exists(r.needs) for r in statement.reads)), statement.feature
    # Patron sends review requests, service notices and marketing e-mail (issue 12), but holds no
    # phone number: no SMS promise
    assert not data_usage.exists("domain.members.models:Member.phone")
    assert "Marketing SMS / messenger" not in shown
    text = json.dumps(data_usage.features()).lower()
    assert "phone" not in text
    # and the features that exist are all stated
    assert {"Points and rewards", "VIP tiers", "Reviews and questions", "Subscriptions",
            "Personalized recommendations", "The store's own systems", "Consent record"} <= shown


def test_a_statement_appears_exactly_when_its_code_path_exists(monkeypatch):
    real = data_usage.exists

    def with_phone(path: str) -> bool:
        return path in ("domain.messaging.sms:send_marketing_sms", "domain.members.models:Member.phone") or real(path)

    monkeypatch.setattr(data_usage, "exists", with_phone)
    sms = [f for f in data_usage.features() if f["feature"] == "Marketing SMS / messenger"]
    assert sms == [{"feature": "Marketing SMS / messenger", "reads": ["phone number"], "purpose": "MARKETING_SMS",
                    "why": "Only with your consent."}]
    monkeypatch.setattr(data_usage, "exists", lambda path: path != "domain.jobs:birthday_bonuses" and real(path))
    points = next(f for f in data_usage.features() if f["feature"] == "Points and rewards")
    assert not any("birthday" in r for r in points["reads"])


async def test_my_data_usage_shows_only_true_statements(api):
    from tests import helpers

    await helpers.member("m1")
    usage = (await api.ok("{ myDataUsage { features { feature reads consentPurpose active } } }",
                          token=member_token("m1")))["myDataUsage"]
    stated = data_usage.features() + await disclosure.statements()
    assert [f["feature"] for f in usage["features"]] == [f["feature"] for f in stated]
    assert "Marketing SMS / messenger" not in [f["feature"] for f in usage["features"]]
    assert not any("phone" in r for f in usage["features"] for r in f["reads"])


async def test_erasure_never_rewrites_an_order_id_that_equals_the_member_id(api, admin_token, storefront_token):
    # given: a shop whose customer and order numbers overlap (both "1001")
    from tests import helpers

    await helpers.order_rule(pending_days=0)
    await helpers.member("1001", name="Ann Lee")
    await helpers.order("1001", member_id="1001", amount=10_000)
    # when: the member is erased
    data = ok(await api.ok('mutation { anonymizeMember(input: {memberExternalId: "1001"}) { member { externalId } '
                           'errors { code } } }', token=admin_token))
    new_id = data["member"]["externalId"]
    # then: the order keeps its id and its points source, so a later refund still reverses them
    award = await Award.get(source_type="order")
    assert (award.source_id, award.reason) == ("1001", "Order 1001")
    refund = ok(await api.ok(GQL["refund"], {"i": {"externalId": "r1", "orderExternalId": "1001"}}, storefront_token))
    assert refund["pointsReversed"] == 100
    assert (await assert_no_drift(new_id)).points_balance == 0


async def test_erasure_fits_rewritten_text_into_its_columns(api, admin_token):
    # given: a short name repeated in a title at the column's limit ("[removed]" is longer than "Li")
    from tests import helpers

    await upsert_products([{"external_id": "p1", "title": "Mug"}])
    await helpers.member("m1", name="Li Na")
    title = ("Li " * 66)[:200]
    submitted = ok(await api.ok(GQL["submit"], {"i": {"productExternalId": "p1", "rating": 5, "title": title,
                                                      "body": "A lovely mug that keeps coffee warm for a long time."}},
                                member_token("m1")))
    # when: the member is erased (PostgreSQL enforces varchar limits)
    data = ok(await api.ok('mutation { anonymizeMember(input: {memberExternalId: "m1"}) { member { anonymized } '
                           'errors { code } } }', token=admin_token))
    # then: it succeeded and the title holds no name word, within its 200 characters
    assert data["member"]["anonymized"] is True
    from domain.reviews.models import Review
    review = await Review.get(id=submitted["review"]["reviewId"])
    assert len(review.title) <= 200 and not re.search(r"\bLi\b", review.title) and review.author_name == "Anonymous"


async def test_a_delivery_in_flight_during_erasure_keeps_no_excerpt(api, admin_token, storefront_token, receiver):
    # given: a delivery of the member's event is claimed (its POST is under way)
    from domain.webhooks import delivery as webhook_delivery

    hook = receiver.script("/hook", Reply(200))
    ok(await api.ok(GQL["endpoint"], {"i": {"url": hook, "eventTypes": ["member.*"]}}, admin_token))
    ok(await api.ok(GQL["upsert"], {"i": {"externalId": OLD_ID, "email": EMAIL, "name": NAME}}, storefront_token))
    [claimed] = await webhook_delivery.claim(10, "w1")
    sent = json.dumps({"body": json.dumps({"data": {"email": EMAIL, "name": NAME, "externalId": OLD_ID}})})
    # when: the member is erased before the worker records the outcome of that POST
    ok(await api.ok('mutation($m: String) { anonymizeMember(input: {memberExternalId: $m}) { errors { code } } }',
                    {"m": OLD_ID}, admin_token))
    status = await webhook_delivery.record_outcome(claimed.id, claimed.endpoint_id, 200, None, f"echo {EMAIL}", sent,
                                                   None, 5, lease_token=claimed.lease_token)
    # then: the outcome is recorded, but not the copy of what was sent
    row = await WebhookDelivery.get(id=claimed.id)
    assert (status, row.status, row.attempts) == ("succeeded", "succeeded", 1)
    assert (row.request_excerpt, row.response_excerpt) == (erasure.ERASED_EXCERPT, None)
    assert found(await dump_database()) == []


# --- the database files themselves (SQLite): no copy in the WAL or in free pages -------------------


@pytest.mark.skipif(IS_POSTGRES, reason="PostgreSQL keeps dead row versions until VACUUM (README)")
async def test_erasure_leaves_no_identifier_in_the_sqlite_files_or_wal(api, admin_token, storefront_token, receiver,
                                                                       deliverer):
    # given: the member used every feature; the database file and its WAL hold the identifiers
    from domain import db

    handles = await populate(api, admin_token, storefront_token, receiver, deliverer)
    path = Path(db.current_url()[len("sqlite://"):].split("?")[0])

    def raw() -> str:
        files = [path, path.with_name(path.name + "-wal")]
        return "\n".join(f.read_bytes().decode("latin-1") for f in files if f.exists())

    assert found(raw()) != []
    # when: the member erases themselves
    ok(await api.ok(GQL["anonymize"], token=handles["token"]))
    # then: neither the database file nor the WAL holds any of them, not even in free space
    assert found(raw()) == []
    assert (await connections.get("default").execute_query_dict("PRAGMA secure_delete"))[0]["secure_delete"] == 1
