"""Authorization matrix (R5): every root field x every kind of caller.

MATRIX below is the specification. Each cell is OK (the call is served) or the error code
the call must be refused with (`errors[0].extensions.code`): UNAUTHENTICATED for an
anonymous caller on a protected field, FORBIDDEN otherwise. A root field without a row
fails `test_every_root_field_has_a_matrix_row`, so new fields cannot slip in unreviewed.

Callers ("roles"):
  anonymous      no Authorization header
  storefront     a storefront API key
  partner        a partner API key
  member_other   a member JWT for A, arguments naming member B
  member_self    a member JWT for A, arguments naming A (or none)
  admin          an admin API key
Every other caller names member B (the victim), so a refused call can be checked for
side effects against B: after a refusal the whole database must be exactly as before, and
after a served member call everything that belongs to B is.

Past the permission classes: ownership checks on ids (A acting on B's review, subscription or
reward code without naming B; partner A versus partner B on webhooks), the public response
cache, the subscription matrix (SUBSCRIPTION_MATRIX), and invalid tokens (HTTP 401).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
import pytest
from tortoise import Tortoise

from composition.api import schema
from composition.operations import Mutation
from domain import clock
from domain.auth import service as auth
from domain.events.models import Event
from domain.imports import service as import_service
from domain.segments import service as segment_service
from domain.ledger.models import LedgerEntry
from domain.members.models import Consent, Member
from domain.messaging.models import Message
from domain.reviews.models import ReviewMedia
from domain.settings import get_settings
from domain.webhooks import service as webhooks
from schema.common import decode_global_id, global_id
from schema.context import Context
from tests.conftest import member_token

OK = "OK"
UNAUTH = "UNAUTHENTICATED"
FORBID = "FORBIDDEN"

ROLES = ("anonymous", "storefront", "partner", "member_other", "member_self", "admin")
MEMBER_A = "member-a"
MEMBER_B = "member-b"
# `_service` (federation) is public while PATRON_INTROSPECTION is (the tests' default; its other
# policies are tested in tests/test_federation.py).
PUBLIC_FIELDS = {"tiers", "earningRules", "product", "rewards", "subscriptionPlans", "_service"}
# No permission class either: each object is checked as the field that lists it (resolvers/node.py),
# and `_entities` applies each entity's root field permission (`member(externalId:)` for a Member)
# to each representation; a refusal is at `<field>.<index>` and the other items are still served.
# Their rows use the named member; tests/test_relay_node.py and tests/test_federation.py cover the rest.
PER_OBJECT_FIELDS = {"node", "nodes", "_entities"}

# field -> outcome per role, in ROLES order:
#   anonymous, storefront, partner, member_other (A names B), member_self (A names A), admin
MATRIX: dict[str, tuple[str, str, str, str, str, str]] = {
    # --- Query
    "me":                   (UNAUTH, FORBID, FORBID, OK,     OK,     FORBID),  # no argument: always A's own
    "member":               (UNAUTH, FORBID, FORBID, FORBID, OK,     OK),
    "members":              (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "myDataUsage":          (UNAUTH, FORBID, FORBID, OK,     OK,     FORBID),  # no argument: always A's own
    "dataUsage":            (UNAUTH, FORBID, FORBID, FORBID, OK,     OK),
    "exportMemberData":     (UNAUTH, FORBID, FORBID, FORBID, OK,     OK),
    "tiers":                (OK,     OK,     OK,     OK,     OK,     OK),
    "earningRules":         (OK,     OK,     OK,     OK,     OK,     OK),
    "events":               (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "apiKeys":              (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "jobs":                 (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "jobRuns":              (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "importJob":            (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "importJobs":           (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "startImport":          (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "cancelImport":         (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "apiKeyScopes":         (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "node":                 (UNAUTH, FORBID, FORBID, FORBID, OK,     OK),  # as `member`
    "nodes":                (UNAUTH, FORBID, FORBID, FORBID, OK,     OK),
    # --- federation: a Member representation is member(externalId:)
    "_service":             (OK,     OK,     OK,     OK,     OK,     OK),
    "_entities":            (UNAUTH, FORBID, FORBID, FORBID, OK,     OK),
    # keys with insights:read too (tests/test_insights.py); default partner/storefront keys lack it
    "programInsights":      (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "rfmSegments":          (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "grantPolicies":        (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "messagePolicies":      (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "messages":             (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "previewMessage":       (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "segment":              (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "segments":             (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    # --- Mutation
    "upsertMember":         (UNAUTH, OK,     FORBID, FORBID, FORBID, OK),
    "updateConsents":       (UNAUTH, OK,     FORBID, FORBID, OK,     OK),
    "anonymizeMember":      (UNAUTH, FORBID, FORBID, FORBID, OK,     OK),
    "recordOrder":          (UNAUTH, OK,     FORBID, FORBID, FORBID, OK),
    "recordRefund":         (UNAUTH, OK,     FORBID, FORBID, FORBID, OK),
    "recordFulfillment":    (UNAUTH, OK,     FORBID, FORBID, FORBID, OK),
    "updateMessagePolicy":  (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    # the provider's key (a storefront or partner key holding events:messages; the matrix's keys do not)
    "reportMessageStatus":  (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "updateMessageTemplate": (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "resetMessageTemplate": (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    # the survey link's token (tests/test_feedback.py) or the member themself: no argument names a
    # member, so member_other is A answering about A's own order
    "submitSurveyResponse": (UNAUTH, FORBID, FORBID, OK,     OK,     FORBID),
    "surveyResponses":      (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "recordImprovement":    (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "spendPoints":          (UNAUTH, OK,     FORBID, FORBID, OK,     OK),
    "adjustPoints":         (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "releasePendingPoints": (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "createTier":           (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "updateTier":           (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "createEarningRule":    (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "updateEarningRule":    (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "createApiKey":         (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "revokeApiKey":         (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "setApiKeyScopes":      (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    # --- catalog and reviews: Query
    "product":              (OK,     OK,     OK,     OK,     OK,     OK),
    "reviewModerationQueue": (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "questionModerationQueue": (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "answerModerationQueue":   (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "reviewsAwaitingReply": (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "moderationLog":        (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "staffAuditLog":        (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),  # console owners (tests/test_console.py)
    # --- catalog and reviews: Mutation (a shopper's own actions: storefront or the member, not admin)
    "upsertProducts":       (UNAUTH, OK,     FORBID, FORBID, FORBID, OK),
    "submitReview":         (UNAUTH, OK,     FORBID, FORBID, OK,     OK),
    "editReview":           (UNAUTH, OK,     FORBID, FORBID, OK,     FORBID),
    "deleteReview":         (UNAUTH, OK,     FORBID, FORBID, OK,     OK),
    "addReviewMedia":       (UNAUTH, OK,     FORBID, FORBID, OK,     FORBID),
    "moderateReview":       (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "moderateReviewMedia":  (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "reportReview":         (UNAUTH, OK,     FORBID, FORBID, OK,     FORBID),
    "replyToReview":        (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "voteReview":           (UNAUTH, OK,     FORBID, FORBID, OK,     FORBID),
    "answerFollowUp":       (UNAUTH, OK,     FORBID, FORBID, OK,     FORBID),
    "setFollowUpQuestion":  (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "importReviews":        (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "askQuestion":          (UNAUTH, OK,     FORBID, FORBID, OK,     FORBID),
    "answerQuestion":       (UNAUTH, OK,     FORBID, FORBID, OK,     OK),
    "moderateQuestion":     (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "moderateAnswer":       (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    # --- earning activities and rewards
    "previewEarning":       (UNAUTH, OK,     FORBID, FORBID, OK,     OK),  # naming a member; public without one
    "pendingActivities":    (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "recordActivity":       (UNAUTH, OK,     FORBID, FORBID, OK,     OK),
    "reviewActivity":       (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "rewards":              (OK,     OK,     OK,     OK,     OK,     OK),
    "rewardCode":           (UNAUTH, OK,     FORBID, FORBID, FORBID, OK),
    "createReward":         (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "grantReward":          (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "setGrantPolicy":       (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "createSegment":        (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "updateSegment":        (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "deleteSegment":        (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "updateReward":         (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "redeemReward":         (UNAUTH, OK,     FORBID, FORBID, OK,     OK),
    "markRewardCodeUsed":   (UNAUTH, OK,     FORBID, FORBID, FORBID, OK),
    "cancelRedemption":     (UNAUTH, OK,     FORBID, FORBID, OK,     OK),
    # --- subscriptions and paid memberships
    "subscriptionPlans":    (OK,     OK,     OK,     OK,     OK,     OK),
    "subscriptions":        (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "createSubscriptionPlan": (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "updateSubscriptionPlan": (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
    "subscribe":            (UNAUTH, OK,     FORBID, FORBID, OK,     OK),
    "pauseSubscription":    (UNAUTH, OK,     FORBID, FORBID, OK,     OK),
    "resumeSubscription":   (UNAUTH, OK,     FORBID, FORBID, OK,     OK),
    "skipNextDelivery":     (UNAUTH, OK,     FORBID, FORBID, OK,     OK),
    "unskipDelivery":       (UNAUTH, OK,     FORBID, FORBID, OK,     OK),
    "swapSubscriptionProduct": (UNAUTH, OK,  FORBID, FORBID, OK,     OK),
    "changeSubscriptionInterval": (UNAUTH, OK, FORBID, FORBID, OK,   OK),
    "rescheduleSubscription": (UNAUTH, OK,   FORBID, FORBID, OK,     OK),
    "cancelSubscription":   (UNAUTH, OK,     FORBID, FORBID, OK,     OK),
    "recordRenewalFailure": (UNAUTH, OK,     FORBID, FORBID, FORBID, OK),
    # --- webhooks: admin on every endpoint, a partner on its own (see the partner-vs-partner tests)
    "webhookEndpoints":     (UNAUTH, FORBID, OK,     FORBID, FORBID, OK),
    "webhookDeliveries":    (UNAUTH, FORBID, OK,     FORBID, FORBID, OK),
    "createWebhookEndpoint": (UNAUTH, FORBID, OK,    FORBID, FORBID, OK),
    "updateWebhookEndpoint": (UNAUTH, FORBID, OK,    FORBID, FORBID, OK),
    "deleteWebhookEndpoint": (UNAUTH, FORBID, OK,    FORBID, FORBID, OK),
    "rotateWebhookSecret":  (UNAUTH, FORBID, OK,     FORBID, FORBID, OK),
    "redeliverWebhook":     (UNAUTH, FORBID, OK,     FORBID, FORBID, OK),
    "sendTestWebhook":      (UNAUTH, FORBID, OK,     FORBID, FORBID, OK),
    # --- recommendations (naming a member; public without one)
    "recommendations":      (UNAUTH, OK,     FORBID, FORBID, OK,     OK),
    "trackEvents":          (UNAUTH, OK,     FORBID, FORBID, OK,     OK),
    "mergeSession":         (UNAUTH, OK,     FORBID, FORBID, OK,     OK),
    "trainRecommender":     (UNAUTH, FORBID, FORBID, FORBID, FORBID, OK),
}


@pytest.fixture(autouse=True)
def fresh_webhook_endpoint_cache():
    """The fan-out caches enabled endpoints for 5 s per process and `clean_state` does not clear
    it: an endpoint of the previous test would get deliveries for rows that no longer exist."""
    webhooks.invalidate_cache()
    yield
    webhooks.invalidate_cache()


# --- the world every matrix cell starts from ------------------------------------------------


@dataclass
class World:
    tokens: dict[str, str | None]
    admin: str
    tier_id: str
    rule_id: str
    spare_key_id: str
    # Objects are named by the global IDs the API returns (legacy ints: tests/test_global_ids.py).
    reviews: dict[str, str]  # member external id -> their review of prod-1
    question_id: str
    answer_id: str
    media_id: str
    endpoint_id: str  # the partner's webhook endpoint
    delivery_id: str  # a delivery to it
    reward_id: str
    codes: dict[str, str]  # member external id -> a reward code they redeemed
    activity_id: str  # B's brand UGC awaiting approval
    plan_id: str
    subscriptions: dict[str, dict[str, str]]  # member -> {"active"|"paused"|"skipped": subscription id}
    member_ids: dict[str, str]  # member external id -> its global ID
    webhook_message_id: str  # B's review request, handed to the webhook provider (SENT)
    import_job_id: str = ""  # a queued import job (its file under PATRON_IMPORT_DIR)
    segment_id: str = ""  # a saved segment ("World buyers": at least one order)

    def other_review(self, member: str) -> str:
        return self.reviews[MEMBER_B if member == MEMBER_A else MEMBER_A]


ADMIN_SETUP = """
mutation Setup($a: String!, $b: String!) {
  tier: createTier(input: {name: "Bronze", rank: 0}) { tier { id } errors { code } }
  rule: createEarningRule(input: {name: "1 per dollar", type: ORDER_PAID, pointsPerUnit: 1, currencyUnit: 100}) {
    rule { id } errors { code }
  }
  products: upsertProducts(input: [{externalId: "prod-1", title: "Trail shoe", categories: ["shoes"]},
                                   {externalId: "prod-2", title: "Sock"}]) { errors { code } }
  a: upsertMember(input: {externalId: $a, email: "a@example.com", name: "Ann Lee"}) { errors { code } }
  b: upsertMember(input: {externalId: $b, email: "b@example.com", name: "Bob Stone"}) { errors { code } }
  creditA: adjustPoints(input: {memberExternalId: $a, amount: 500, reason: "welcome", idempotencyKey: "setup-a"}) {
    errors { code }
  }
  creditB: adjustPoints(input: {memberExternalId: $b, amount: 500, reason: "welcome", idempotencyKey: "setup-b"}) {
    errors { code }
  }
  orderA: recordOrder(input: {externalId: "order-a", memberExternalId: $a, currency: "USD",
                              placedAt: "2024-01-02T03:04:05+00:00",
                              lines: [{sku: "sku-1", productExternalId: "prod-1", quantity: 1, unitPrice: 5000}]}) {
    errors { code }
  }
  order: recordOrder(input: {externalId: "order-b", memberExternalId: $b, currency: "USD",
                             placedAt: "2024-01-02T03:04:05+00:00",
                             lines: [{sku: "sku-1", productExternalId: "prod-1", quantity: 2, unitPrice: 5000}]}) {
    errors { code }
  }
  spare: createApiKey(input: {name: "spare", role: PARTNER}) { apiKey { id } errors { code } }
  reviewA: submitReview(input: {memberExternalId: $a, productExternalId: "prod-1", rating: 5, body: "Great fit."}) {
    review { id } errors { code }
  }
  reviewB: submitReview(input: {memberExternalId: $b, productExternalId: "prod-1", rating: 2, body: "Too small."}) {
    review { id } errors { code }
  }
}
"""
REWARD_SETUP = """mutation($b: String!) {
  reward: createReward(input: {name: "Free socks", type: FREE_PRODUCT, pointsCost: 100, sku: "sock"}) {
    reward { id } errors { code }
  }
  ugc: recordActivity(input: {memberExternalId: $b, type: UGC_SUBMITTED, externalId: "ugc-b",
                              url: "https://example.com/b.jpg"}) { activity { id status } errors { code } }
}"""
REDEEM_SETUP = """mutation($a: String!, $b: String!, $r: ID!) {
  a: redeemReward(input: {memberExternalId: $a, rewardId: $r, idempotencyKey: "setup-a"}) { redemption { code } errors { code } }
  b: redeemReward(input: {memberExternalId: $b, rewardId: $r, idempotencyKey: "setup-b"}) { redemption { code } errors { code } }
}"""
PLAN_SETUP = """mutation { plan: createSubscriptionPlan(input: {name: "Socks monthly", kind: PRODUCT,
    skus: ["sku-1", "sku-2"], intervalUnit: MONTH, intervalCount: 1, price: 1000, currency: "USD"}) {
    plan { id } errors { code } } }"""
SUBSCRIBE_SETUP = """mutation($a: String!, $b: String!, $p: ID!) {
  aActive: subscribe(input: {memberExternalId: $a, planId: $p}) { subscription { id } errors { code } }
  aPaused: subscribe(input: {memberExternalId: $a, planId: $p}) { subscription { id } errors { code } }
  aSkipped: subscribe(input: {memberExternalId: $a, planId: $p}) { subscription { id } errors { code } }
  bActive: subscribe(input: {memberExternalId: $b, planId: $p}) { subscription { id } errors { code } }
  bPaused: subscribe(input: {memberExternalId: $b, planId: $p}) { subscription { id } errors { code } }
  bSkipped: subscribe(input: {memberExternalId: $b, planId: $p}) { subscription { id } errors { code } }
}"""
SUBSCRIPTION_STATES = """mutation($ap: ID!, $as: ID!, $bp: ID!, $bs: ID!, $until: DateTime!) {
  ap: pauseSubscription(input: {subscriptionId: $ap, until: $until}) { errors { code } }
  as: skipNextDelivery(input: {subscriptionId: $as}) { errors { code } }
  bp: pauseSubscription(input: {subscriptionId: $bp, until: $until}) { errors { code } }
  bs: skipNextDelivery(input: {subscriptionId: $bs}) { errors { code } }
}"""
PARTNER_SETUP = """mutation {
  created: createWebhookEndpoint(input: {url: "http://127.0.0.1:9/partner-hook", eventTypes: ["member.*"],
                                         description: "partner one"}) { endpoint { id } errors { code } }
}"""
SEND_TEST = "mutation($e: ID!) { sendTestWebhook(endpointId: $e) { delivery { id } errors { code } } }"
ASK = """mutation($b: String!) { askQuestion(input: {productExternalId: "prod-1", memberExternalId: $b,
         body: "Does it run small?"}) { question { id } errors { code } } }"""
ANSWER = """mutation($q: ID!) { answerQuestion(input: {questionId: $q, body: "It runs true to size."}) {
            answer { id } errors { code } } }"""


def _in_days(days: int) -> str:
    return (clock.now() + timedelta(days=days)).isoformat()


def _pk(value: str) -> int:
    return decode_global_id(value)[1]


@pytest.fixture
async def world(api, admin_token, storefront_token, partner_token) -> World:
    data = await api.ok(ADMIN_SETUP, {"a": MEMBER_A, "b": MEMBER_B}, admin_token)
    for name, payload in data.items():
        assert payload["errors"] == [], (name, payload)
    asked = (await api.ok(ASK, {"b": MEMBER_B}, storefront_token))["askQuestion"]
    assert asked["errors"] == [], asked
    question_id = asked["question"]["id"]
    answered = (await api.ok(ANSWER, {"q": question_id}, admin_token))["answerQuestion"]
    assert answered["errors"] == [], answered
    review_b = data["reviewB"]["review"]["id"]
    # A photo on B's review, written directly: this fixture is about who may moderate it.
    media = await ReviewMedia.create(review_id=_pk(review_b), kind="photo", content_type="image/png", file_name="b.png",
                                     size=77, width=8, height=8, status="published", created_at=clock.now())
    created = (await api.ok(PARTNER_SETUP, token=partner_token))["created"]
    assert created["errors"] == [], created
    endpoint_id = created["endpoint"]["id"]
    sent = (await api.ok(SEND_TEST, {"e": endpoint_id}, partner_token))["sendTestWebhook"]
    assert sent["errors"] == [], sent
    rewarded = await api.ok(REWARD_SETUP, {"b": MEMBER_B}, admin_token)
    assert all(payload["errors"] == [] for payload in rewarded.values()), rewarded
    assert rewarded["ugc"]["activity"]["status"] == "pending"
    reward_id = rewarded["reward"]["reward"]["id"]
    redeemed = await api.ok(REDEEM_SETUP, {"a": MEMBER_A, "b": MEMBER_B, "r": reward_id}, admin_token)
    assert all(payload["errors"] == [] for payload in redeemed.values()), redeemed
    plan_id = (await api.ok(PLAN_SETUP, token=admin_token))["plan"]["plan"]["id"]
    subscribed = await api.ok(SUBSCRIBE_SETUP, {"a": MEMBER_A, "b": MEMBER_B, "p": plan_id}, admin_token)
    assert all(payload["errors"] == [] for payload in subscribed.values()), subscribed
    subs = {member: {state: subscribed[f"{key}{state.capitalize()}"]["subscription"]["id"]
                     for state in ("active", "paused", "skipped")}
            for member, key in ((MEMBER_A, "a"), (MEMBER_B, "b"))}
    states = await api.ok(SUBSCRIPTION_STATES, {
        "ap": subs[MEMBER_A]["paused"], "as": subs[MEMBER_A]["skipped"],
        "bp": subs[MEMBER_B]["paused"], "bs": subs[MEMBER_B]["skipped"], "until": _in_days(30)}, admin_token)
    assert all(payload["errors"] == [] for payload in states.values()), states
    token_a = member_token(MEMBER_A)
    members = await Member.filter(external_id__in=[MEMBER_A, MEMBER_B])
    # A message handed to the webhook provider, written directly: this fixture is about who may report on it.
    handed = await Message.create(
        member_id=next(m.id for m in members if m.external_id == MEMBER_B), type="REVIEW_REQUEST", channel="WEBHOOK",
        status="SENT", consent_purpose="REVIEW_REQUESTS", scheduled_for=clock.now(), sent_at=clock.now(),
        order_external_id="order-b", products=["prod-1"], dedupe_key="world-webhook", created_at=clock.now(),
        updated_at=clock.now())
    return World(
        webhook_message_id=global_id("Message", handed.id),
        member_ids={m.external_id: global_id("Member", m.id) for m in members},
        tokens={
            "anonymous": None, "storefront": storefront_token, "partner": partner_token,
            "member_other": token_a, "member_self": token_a, "admin": admin_token,
        },
        admin=admin_token,
        tier_id=data["tier"]["tier"]["id"],
        rule_id=data["rule"]["rule"]["id"],
        spare_key_id=data["spare"]["apiKey"]["id"],
        reviews={MEMBER_A: data["reviewA"]["review"]["id"], MEMBER_B: review_b},
        question_id=question_id,
        answer_id=answered["answer"]["id"],
        media_id=global_id("ReviewMedia", media.id),
        endpoint_id=endpoint_id,
        delivery_id=sent["delivery"]["id"],
        reward_id=reward_id,
        codes={MEMBER_A: redeemed["a"]["redemption"]["code"], MEMBER_B: redeemed["b"]["redemption"]["code"]},
        activity_id=rewarded["ugc"]["activity"]["id"],
        plan_id=plan_id,
        subscriptions=subs,
        import_job_id=global_id("ImportJob", (await _queued_import()).id),
        segment_id=global_id("Segment", (await segment_service.create_segment("World buyers", {"min_orders": 1})).id),
    )


async def _queued_import():
    path, size = import_service.store_file(io.BytesIO(b"productExternalId,rating\nprod-1,5\n"))
    return await import_service.start_import("reviews", "patron", path, size, "a.csv", "test")


# --- one request per root field ---------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    document: str
    variables: Callable[[World, str], dict[str, Any]] = lambda w, target: {"t": target}
    # The member external id the served answer is about, to check a member gets only its own data.
    owner: Callable[[Any], str | None] | None = None
    # Where a refusal lands below the field: (0,) for the first item of a list (`nodes`).
    refused_at: tuple[int, ...] = ()
    # False where a member's served call legitimately changes another member's rows (a vote or a
    # report changes the counters of B's review): then only B's account (member, ledger, consents)
    # is checked to be untouched.
    touches_only_own_rows: bool = True


def _payload_member(field: str) -> Callable[[Any], str | None]:
    return lambda data: (data[field]["member"] or {}).get("externalId")


def _own_review(w: World, t: str) -> dict[str, Any]:
    return {"t": t, "r": w.reviews[t]}


def _others_review(w: World, t: str) -> dict[str, Any]:
    return {"t": t, "r": w.other_review(t)}


CALLS: dict[str, Call] = {
    "me": Call("query { me { externalId email points { balance } } }", lambda w, t: {},
               owner=lambda d: d["me"]["externalId"]),
    "_service": Call("query { _service { sdl } }", lambda w, t: {}),
    "_entities": Call("""query($t: String!) { _entities(representations: [{__typename: "Member", externalId: $t}]) {
                           ... on Member { externalId email points { balance } } } }""",
                      owner=lambda d: d["_entities"][0]["externalId"], refused_at=(0,)),
    "member": Call("query($t: String!) { member(externalId: $t) { externalId email points { balance } } }",
                   owner=lambda d: d["member"]["externalId"]),
    "members": Call("query { members(first: 10) { edges { node { externalId email } } } }", lambda w, t: {}),
    "myDataUsage": Call("query { myDataUsage { memberExternalId consents { purpose granted } } }", lambda w, t: {},
                        owner=lambda d: d["myDataUsage"]["memberExternalId"]),
    "dataUsage": Call("query($t: String!) { dataUsage(memberExternalId: $t) { memberExternalId } }",
                      owner=lambda d: d["dataUsage"]["memberExternalId"]),
    "exportMemberData": Call("query($t: String) { exportMemberData(memberExternalId: $t) }",
                             owner=lambda d: d["exportMemberData"]["member"]["externalId"]),
    "tiers": Call("query { tiers { name rank } }", lambda w, t: {}),
    "earningRules": Call("query { earningRules { name } }", lambda w, t: {}),
    "events": Call("query { events(first: 10) { edges { node { type payload } } } }", lambda w, t: {}),
    "apiKeys": Call("query { apiKeys { name role prefix } }", lambda w, t: {}),
    "jobs": Call("query { jobs { name schedule lastRunAt running } }", lambda w, t: {}),
    "jobRuns": Call("query { jobRuns(first: 5) { edges { node { name status } } } }", lambda w, t: {}),
    "apiKeyScopes": Call("query { apiKeyScopes { name grants eventTypes } }", lambda w, t: {}),
    "node": Call("query($id: ID!) { node(id: $id) { ... on Member { externalId email points { balance } } } }",
                 lambda w, t: {"id": w.member_ids[t]}, owner=lambda d: d["node"]["externalId"]),
    "nodes": Call("query($ids: [ID!]!) { nodes(ids: $ids) { ... on Member { externalId email } } }",
                  lambda w, t: {"ids": [w.member_ids[t]]}, owner=lambda d: d["nodes"][0]["externalId"],
                  refused_at=(0,)),
    "programInsights": Call(
        'query { programInsights(from: "2026-01-01", to: "2026-12-31", currency: "KRW") { orders { count } } }',
        lambda w, t: {}),
    "rfmSegments": Call("query { rfmSegments { segment members share } }", lambda w, t: {}),
    "grantPolicies": Call("query { grantPolicies { kind enabled reward { name } } }", lambda w, t: {}),
    "upsertMember": Call(
        """mutation { upsertMember(input: {externalId: "member-new", email: "new@example.com"}) {
             created member { externalId } errors { code } } }""",
        lambda w, t: {}),
    "updateConsents": Call(
        """mutation($t: String) { updateConsents(input: {memberExternalId: $t,
             consents: [{purpose: MARKETING_EMAIL, granted: true}]}) {
             member { externalId consents { purpose granted } } errors { code } } }""",
        owner=_payload_member("updateConsents")),
    "anonymizeMember": Call(
        "mutation($t: String) { anonymizeMember(input: {memberExternalId: $t}) { member { anonymized } errors { code } } }"),
    "recordOrder": Call(
        """mutation($t: String!) { recordOrder(input: {externalId: "order-new", memberExternalId: $t, currency: "USD",
             placedAt: "2024-02-03T04:05:06+00:00", lines: [{sku: "sku-2", quantity: 1, unitPrice: 2500}]}) {
             pointsAwarded errors { code } } }"""),
    "recordFulfillment": Call(
        """mutation { recordFulfillment(input: {orderExternalId: "order-b", fulfilledAt: "2024-01-05T03:04:05Z"}) {
             order { fulfilledAt } errors { code } } }""",
        lambda w, t: {}),
    "updateMessagePolicy": Call(
        """mutation { updateMessagePolicy(input: {type: REVIEW_REQUEST, delayHours: 48}) {
             policy { delayHours } errors { code } } }""",
        lambda w, t: {}),
    "reportMessageStatus": Call(
        """mutation($m: ID!) { reportMessageStatus(input: {id: $m, status: DELIVERED}) { replayed errors { code } } }""",
        lambda w, t: {"m": w.webhook_message_id}),
    "updateMessageTemplate": Call(
        """mutation { updateMessageTemplate(input: {type: REVIEW_REQUEST, locale: EN, subject: "About {{ order }}"}) {
             template { subject } errors { code } } }""",
        lambda w, t: {}),
    "resetMessageTemplate": Call(
        """mutation { resetMessageTemplate(input: {type: REVIEW_REQUEST, locale: EN}) { template { subject }
             errors { code } } }""",
        lambda w, t: {}),
    "submitSurveyResponse": Call(
        """mutation($o: String!) { submitSurveyResponse(input: {orderExternalId: $o, nps: 9, csat: 5}) {
             response { nps } errors { code } } }""",
        lambda w, t: {"o": "order-a"}),  # the member token is always A's
    "surveyResponses": Call("query { surveyResponses(first: 5) { edges { node { id nps } } } }", lambda w, t: {}),
    "recordImprovement": Call(
        """mutation($r: ID!) { recordImprovement(input: {title: "Wider fit", body: "From your reviews.",
             productExternalId: "prod-1", reviewIds: [$r]}) { improvement { id } errors { code } } }""",
        lambda w, t: {"r": w.reviews[MEMBER_B]}),
    "messagePolicies": Call("query { messagePolicies { type enabled channels delayHours } }", lambda w, t: {}),
    "messages": Call("query { messages(first: 5) { edges { node { id type status } } } }", lambda w, t: {}),
    "previewMessage": Call(
        "query($t: String!) { previewMessage(type: REVIEW_REQUEST, memberExternalId: $t) { subject } }"),
    "recordRefund": Call(
        """mutation { recordRefund(input: {externalId: "refund-1", orderExternalId: "order-b"}) {
             pointsReversed errors { code } } }""",
        lambda w, t: {}),
    "spendPoints": Call(
        """mutation($t: String) { spendPoints(input: {memberExternalId: $t, amount: 10, idempotencyKey: "spend-1"}) {
             member { externalId points { balance } } errors { code } } }""",
        owner=_payload_member("spendPoints")),
    "adjustPoints": Call(
        """mutation($t: String!) { adjustPoints(input: {memberExternalId: $t, amount: 1000, reason: "gift",
             idempotencyKey: "adjust-1"}) { member { externalId points { balance } } errors { code } } }""",
        owner=_payload_member("adjustPoints")),
    "releasePendingPoints": Call(
        """mutation($t: String!) { releasePendingPoints(input: {memberExternalId: $t}) {
             released member { externalId } errors { code } } }""",
        owner=_payload_member("releasePendingPoints")),
    "createTier": Call(
        'mutation { createTier(input: {name: "Platinum", rank: 5}) { tier { name } errors { code } } }',
        lambda w, t: {}),
    "updateTier": Call(
        'mutation($id: ID!) { updateTier(id: $id, input: {name: "Renamed"}) { tier { name } errors { code } } }',
        lambda w, t: {"id": w.tier_id}),
    "createEarningRule": Call(
        """mutation { createEarningRule(input: {name: "Signup bonus", type: SIGNUP, points: 50}) {
             rule { name } errors { code } } }""",
        lambda w, t: {}),
    "updateEarningRule": Call(
        """mutation($id: ID!) { updateEarningRule(id: $id, input: {active: false}) {
             rule { active } errors { code } } }""",
        lambda w, t: {"id": w.rule_id}),
    "createApiKey": Call(
        'mutation { createApiKey(input: {name: "sneaky", role: ADMIN}) { secret errors { code } } }',
        lambda w, t: {}),
    "revokeApiKey": Call(
        "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { revokedAt } errors { code } } }",
        lambda w, t: {"id": w.spare_key_id}),
    "setApiKeyScopes": Call(
        """mutation($id: ID!) { setApiKeyScopes(input: {id: $id, scopes: ["members:pii"]}) {
             apiKey { scopes } errors { code } } }""",
        lambda w, t: {"id": w.spare_key_id}),
    # --- catalog and reviews
    "product": Call(
        """query { product(externalId: "prod-1") { externalId
             reviews(first: 5) { edges { node { rating author { displayName } } } } } }""",
        lambda w, t: {}),
    "questionModerationQueue": Call(
        "query { questionModerationQueue(first: 5) { edges { node { id body productExternalId } } } }",
        lambda w, t: {}),
    "answerModerationQueue": Call(
        "query { answerModerationQueue(first: 5) { edges { node { id body question { body } } } } }",
        lambda w, t: {}),
    "reviewModerationQueue": Call(
        "query { reviewModerationQueue(first: 5) { edges { node { reviewId } } } }", lambda w, t: {}),
    "reviewsAwaitingReply": Call(
        "query { reviewsAwaitingReply(first: 5) { edges { node { reviewId } } } }", lambda w, t: {}),
    "staffAuditLog": Call("query { staffAuditLog(first: 5) { edges { node { action } } } }", lambda w, t: {}),
    "moderationLog": Call(
        'query($r: ID!) { moderationLog(subjectType: "review", subjectId: $r) { status } }',
        lambda w, t: {"r": w.reviews[MEMBER_B]}),
    "upsertProducts": Call(
        'mutation { upsertProducts(input: [{externalId: "prod-new", title: "New"}]) { products { externalId } errors { code } } }',
        lambda w, t: {}),
    "submitReview": Call(
        """mutation($t: String) { submitReview(input: {memberExternalId: $t, productExternalId: "prod-2", rating: 4,
             body: "Solid product, arrived quickly and fits well."}) { review { id } errors { code } } }"""),
    "editReview": Call(
        """mutation($t: String, $r: ID!) { editReview(input: {reviewId: $r, memberExternalId: $t,
             body: "Edited after a month: still happy."}) { review { id } errors { code } } }""",
        _own_review),
    "deleteReview": Call(
        """mutation($t: String, $r: ID!) { deleteReview(input: {reviewId: $r, memberExternalId: $t}) {
             review { status } errors { code } } }""",
        _own_review),
    "addReviewMedia": Call(
        """mutation($t: String, $r: ID!, $media: [Upload!]!) {
             addReviewMedia(input: {reviewId: $r, memberExternalId: $t}, media: $media) { errors { code } } }""",
        lambda w, t: _own_review(w, t) | {"media": []}),
    "moderateReview": Call(
        """mutation($r: ID!) { moderateReview(input: {id: $r, action: REJECT, reason: SPAM}) {
             review { status } errors { code } } }""",
        lambda w, t: {"r": w.reviews[MEMBER_B]}),
    "moderateReviewMedia": Call(
        "mutation($m: ID!) { moderateReviewMedia(input: {id: $m, action: REJECT, reason: OTHER}) { errors { code } } }",
        lambda w, t: {"m": w.media_id}),
    "reportReview": Call(
        """mutation($t: String, $r: ID!) { reportReview(input: {reviewId: $r, memberExternalId: $t, reason: SPAM}) {
             errors { code } } }""",
        _others_review, touches_only_own_rows=False),
    "replyToReview": Call(
        'mutation($r: ID!) { replyToReview(input: {reviewId: $r, body: "Sorry to hear that."}) { errors { code } } }',
        lambda w, t: {"r": w.reviews[MEMBER_B]}),
    "voteReview": Call(
        """mutation($t: String, $r: ID!) { voteReview(input: {reviewId: $r, memberExternalId: $t, helpful: true}) {
             errors { code } } }""",
        _others_review, touches_only_own_rows=False),
    "answerFollowUp": Call(
        """mutation($t: String, $r: ID!) { answerFollowUp(input: {reviewId: $r, memberExternalId: $t,
             answer: "Order a size up."}) { errors { code } } }""",
        _own_review),
    "setFollowUpQuestion": Call(
        'mutation { setFollowUpQuestion(input: {category: "shoes", question: "How is the fit?"}) { errors { code } } }',
        lambda w, t: {}),
    "importJob": Call("query($j: ID!) { importJob(id: $j) { status total } }", lambda w, t: {"j": w.import_job_id}),
    "importJobs": Call("query { importJobs(first: 5) { edges { node { status } } } }", lambda w, t: {}),
    "startImport": Call(
        """mutation($file: Upload!) { startImport(input: {kind: REVIEWS, format: "patron"}, file: $file) {
             job { status } errors { code } } }""",
        lambda w, t: {"file": "not a file"}),
    "cancelImport": Call("mutation($j: ID!) { cancelImport(id: $j) { job { status } errors { code } } }",
                         lambda w, t: {"j": w.import_job_id}),
    "importReviews": Call(
        """mutation { importReviews(input: [{externalId: "old-shop-1", productExternalId: "prod-1", rating: 4, body: "Bought it at the old shop.",
             authorName: "Old Shop Customer"}]) { errors { code } } }""",
        lambda w, t: {}),
    "askQuestion": Call(
        """mutation($t: String) { askQuestion(input: {productExternalId: "prod-1", memberExternalId: $t,
             body: "Is it waterproof?"}) { errors { code } } }"""),
    "answerQuestion": Call(
        """mutation($t: String, $q: ID!) { answerQuestion(input: {questionId: $q, memberExternalId: $t,
             body: "Yes, in light rain."}) { errors { code } } }""",
        lambda w, t: {"t": t, "q": w.question_id}, touches_only_own_rows=False),  # B, the asker, is notified
    "moderateQuestion": Call(
        "mutation($q: ID!) { moderateQuestion(input: {id: $q, action: REJECT, reason: SPAM}) { errors { code } } }",
        lambda w, t: {"q": w.question_id}),
    "moderateAnswer": Call(
        "mutation($a: ID!) { moderateAnswer(input: {id: $a, action: REJECT, reason: SPAM}) { errors { code } } }",
        lambda w, t: {"a": w.answer_id}),
    # --- earning activities and rewards
    "previewEarning": Call(
        """query($t: String) { previewEarning(input: {memberExternalId: $t, currency: "USD",
             lines: [{sku: "sku-1", quantity: 1, unitPrice: 5000}]}) { points } }"""),
    "pendingActivities": Call("query { pendingActivities { activityId } }", lambda w, t: {}),
    "recordActivity": Call(
        """mutation($t: String) { recordActivity(input: {memberExternalId: $t, type: SOCIAL_SHARE, externalId: "share-1",
             url: "https://example.com/post"}) { activity { status } errors { code } } }"""),
    "reviewActivity": Call(
        "mutation($id: ID!) { reviewActivity(input: {activityId: $id, approve: true}) { errors { code } } }",
        lambda w, t: {"id": w.activity_id}),
    "rewards": Call("query { rewards { name pointsCost } }", lambda w, t: {}),
    "segment": Call("query($id: ID!) { segment(id: $id) { name memberCount } }",
                    lambda w, t: {"id": w.segment_id}),
    "segments": Call("query { segments(first: 5) { edges { node { name memberCount } } } }", lambda w, t: {}),
    "createSegment": Call(
        """mutation { createSegment(input: {name: "Buyers", filter: {minOrders: 1}}) {
             segment { memberCount } errors { code } } }""",
        lambda w, t: {}),
    "updateSegment": Call(
        "mutation($id: ID!) { updateSegment(input: {id: $id, name: \"x\"}) { errors { code } } }",
        lambda w, t: {"id": w.segment_id}),
    "deleteSegment": Call(
        "mutation($id: ID!) { deleteSegment(input: {id: $id}) { errors { code } } }",
        lambda w, t: {"id": w.segment_id}),
    "grantReward": Call(
        """mutation($r: ID!) { grantReward(input: {rewardId: $r, memberExternalIds: ["member-b"], reason: "Thanks",
             idempotencyKey: "grant-1"}) { granted errors { code } } }""",
        lambda w, t: {"r": w.reward_id}),
    "setGrantPolicy": Call(
        """mutation($r: ID!) { setGrantPolicy(input: {kind: BIRTHDAY, rewardId: $r}) {
             policy { kind } errors { code } } }""",
        lambda w, t: {"r": w.reward_id}),
    "rewardCode": Call("query($c: String!) { rewardCode(code: $c) { status memberExternalId } }",
                       lambda w, t: {"c": w.codes[MEMBER_B]}),
    "createReward": Call(
        """mutation { createReward(input: {name: "Cap", type: FREE_PRODUCT, pointsCost: 50, sku: "cap"}) {
             errors { code } } }""",
        lambda w, t: {}),
    "updateReward": Call(
        "mutation($id: ID!) { updateReward(id: $id, input: {pointsCost: 1}) { errors { code } } }",
        lambda w, t: {"id": w.reward_id}),
    "redeemReward": Call(
        """mutation($t: String, $r: ID!) { redeemReward(input: {memberExternalId: $t, rewardId: $r,
             idempotencyKey: "redeem-1"}) { redemption { memberExternalId } errors { code } } }""",
        lambda w, t: {"t": t, "r": w.reward_id},
        owner=lambda d: (d["redeemReward"]["redemption"] or {}).get("memberExternalId")),
    "markRewardCodeUsed": Call(
        """mutation($c: String!) { markRewardCodeUsed(input: {code: $c, orderExternalId: "order-b"}) {
             errors { code } } }""",
        lambda w, t: {"c": w.codes[MEMBER_B]}),
    "cancelRedemption": Call(
        """mutation($t: String, $c: String!) { cancelRedemption(input: {code: $c, memberExternalId: $t}) {
             redemption { memberExternalId status } errors { code } } }""",
        lambda w, t: {"t": t, "c": w.codes[t]},
        owner=lambda d: (d["cancelRedemption"]["redemption"] or {}).get("memberExternalId")),
    # --- subscriptions and paid memberships (each on the named member's own subscription)
    "subscriptionPlans": Call("query { subscriptionPlans { name } }", lambda w, t: {}),
    "subscriptions": Call("query { subscriptions(first: 10) { edges { node { subscriptionId } } } }", lambda w, t: {}),
    "createSubscriptionPlan": Call(
        """mutation { createSubscriptionPlan(input: {name: "Club", kind: MEMBERSHIP, intervalUnit: MONTH,
             intervalCount: 1, price: 500, currency: "USD"}) { errors { code } } }""",
        lambda w, t: {}),
    "updateSubscriptionPlan": Call(
        "mutation($id: ID!) { updateSubscriptionPlan(id: $id, input: {price: 900}) { errors { code } } }",
        lambda w, t: {"id": w.plan_id}),
    "subscribe": Call(
        """mutation($t: String, $p: ID!) { subscribe(input: {memberExternalId: $t, planId: $p}) {
             subscription { status } errors { code } } }""",
        lambda w, t: {"t": t, "p": w.plan_id}),
    "pauseSubscription": Call(
        """mutation($t: String, $s: ID!, $until: DateTime) { pauseSubscription(input: {subscriptionId: $s,
             memberExternalId: $t, until: $until}) { subscription { status } errors { code } } }""",
        lambda w, t: {"t": t, "s": w.subscriptions[t]["active"], "until": _in_days(20)}),
    "resumeSubscription": Call(
        """mutation($t: String, $s: ID!) { resumeSubscription(input: {subscriptionId: $s, memberExternalId: $t}) {
             subscription { status } errors { code } } }""",
        lambda w, t: {"t": t, "s": w.subscriptions[t]["paused"]}),
    "skipNextDelivery": Call(
        """mutation($t: String, $s: ID!) { skipNextDelivery(input: {subscriptionId: $s, memberExternalId: $t}) {
             errors { code } } }""",
        lambda w, t: {"t": t, "s": w.subscriptions[t]["active"]}),
    "unskipDelivery": Call(
        """mutation($t: String, $s: ID!) { unskipDelivery(input: {subscriptionId: $s, memberExternalId: $t}) {
             errors { code } } }""",
        lambda w, t: {"t": t, "s": w.subscriptions[t]["skipped"]}),
    "swapSubscriptionProduct": Call(
        """mutation($t: String, $s: ID!) { swapSubscriptionProduct(input: {subscriptionId: $s, memberExternalId: $t,
             sku: "sku-2"}) { subscription { sku } errors { code } } }""",
        lambda w, t: {"t": t, "s": w.subscriptions[t]["active"]}),
    "changeSubscriptionInterval": Call(
        """mutation($t: String, $s: ID!) { changeSubscriptionInterval(input: {subscriptionId: $s,
             memberExternalId: $t, intervalUnit: WEEK, intervalCount: 2}) { errors { code } } }""",
        lambda w, t: {"t": t, "s": w.subscriptions[t]["active"]}),
    "rescheduleSubscription": Call(
        """mutation($t: String, $s: ID!, $date: DateTime) { rescheduleSubscription(input: {subscriptionId: $s,
             memberExternalId: $t, date: $date}) { errors { code } } }""",
        lambda w, t: {"t": t, "s": w.subscriptions[t]["active"], "date": _in_days(10)}),
    "cancelSubscription": Call(
        """mutation($t: String, $s: ID!) { cancelSubscription(input: {subscriptionId: $s, memberExternalId: $t,
             reason: OTHER, confirm: true}) { cancelled errors { code } } }""",
        lambda w, t: {"t": t, "s": w.subscriptions[t]["active"]}),
    "recordRenewalFailure": Call(
        """mutation($s: ID!) { recordRenewalFailure(input: {subscriptionId: $s, reason: "card declined"}) {
             errors { code } } }""",
        lambda w, t: {"s": w.subscriptions[MEMBER_B]["active"]}),
    # --- webhooks (on the partner's endpoint)
    "webhookEndpoints": Call("query { webhookEndpoints { endpointId url } }", lambda w, t: {}),
    "webhookDeliveries": Call(
        "query($e: ID!) { webhookDeliveries(endpointId: $e) { edges { node { deliveryId eventType } } } }",
        lambda w, t: {"e": w.endpoint_id}),
    "createWebhookEndpoint": Call(
        """mutation { createWebhookEndpoint(input: {url: "http://127.0.0.1:9/new-hook", eventTypes: ["*"]}) {
             secret errors { code } } }""",
        lambda w, t: {}),
    "updateWebhookEndpoint": Call(
        """mutation($e: ID!) { updateWebhookEndpoint(id: $e, input: {url: "http://127.0.0.1:9/moved"}) {
             endpoint { url } errors { code } } }""",
        lambda w, t: {"e": w.endpoint_id}),
    "deleteWebhookEndpoint": Call(
        "mutation($e: ID!) { deleteWebhookEndpoint(id: $e) { endpoint { enabled } errors { code } } }",
        lambda w, t: {"e": w.endpoint_id}),
    "rotateWebhookSecret": Call(
        "mutation($e: ID!) { rotateWebhookSecret(id: $e) { secret errors { code } } }",
        lambda w, t: {"e": w.endpoint_id}),
    "redeliverWebhook": Call(
        "mutation($d: ID!) { redeliverWebhook(deliveryId: $d) { delivery { deliveryId } errors { code } } }",
        lambda w, t: {"d": w.delivery_id}),
    "sendTestWebhook": Call(
        "mutation($e: ID!) { sendTestWebhook(endpointId: $e) { delivery { deliveryId } errors { code } } }",
        lambda w, t: {"e": w.endpoint_id}),
    "recommendations": Call(
        "query($t: String) { recommendations(context: HOME, memberExternalId: $t) { personalized } }"),
    "trackEvents": Call(
        """mutation($t: String) { trackEvents(events: [{memberExternalId: $t, type: VIEW, productExternalId: "p-1"}]) {
             accepted errors { code } } }"""),
    "mergeSession": Call(
        """mutation($t: String) { mergeSession(input: {sessionId: "sess-x", memberExternalId: $t}) { merged errors { code } } }"""),
    "trainRecommender": Call("mutation { trainRecommender { items } }", lambda w, t: {}),
}


# --- database snapshots -------------------------------------------------------------------------


async def database_snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every model, to prove a refused call changed nothing at all."""
    snapshot = {}
    for name, model in sorted(Tortoise.apps["patron"].items()):
        snapshot[name] = await model.all().order_by(model._meta.pk_attr).values()
    return snapshot


async def member_snapshot(pk: int, everything: bool = True) -> dict[str, Any]:
    """What belongs to one member (by primary key, which anonymisation keeps): the account
    (member row, ledger, consents) and, with `everything`, every row of any model that names
    the member (events, reviews, votes, questions ...)."""
    snapshot: dict[str, Any] = {
        "member": await Member.filter(id=pk).values(),
        "ledger": await LedgerEntry.filter(member_id=pk).order_by("id").values(),
        "consents": await Consent.filter(member_id=pk).order_by("id").values(),
    }
    if everything:
        for name, model in sorted(Tortoise.apps["patron"].items()):
            if "member_id" in model._meta.fields_db_projection and name not in snapshot:
                # by primary key (member_insights' is member_id)
                snapshot[name] = await model.filter(member_id=pk).order_by(model._meta.pk_attr).values()
        snapshot["events"] = await Event.filter(member_id=pk).order_by("id").values()
    return snapshot


def root_fields() -> set[str]:
    """Root Query and Mutation fields as the served schema has them (introspection)."""
    types = {t["name"]: t for t in schema.introspect()["__schema"]["types"]}
    return {f["name"] for root in ("Query", "Mutation") for f in types[root]["fields"]}


# --- the matrix ---------------------------------------------------------------------------------


def test_every_root_field_has_a_matrix_row():
    assert root_fields() == set(MATRIX), (
        f"fields without a matrix row: {sorted(root_fields() - set(MATRIX))}; "
        f"rows without a field: {sorted(set(MATRIX) - root_fields())}"
    )
    assert set(CALLS) == set(MATRIX)


def test_only_the_public_fields_have_no_permission_class():
    open_fields = {
        f.graphql_name or schema.config.name_converter.apply_naming_config(f.python_name)
        for root in (schema.query, Mutation)  # the served Query: federation's `_entities` included
        for f in root.__strawberry_definition__.fields
        if not f.permission_classes
    }
    assert open_fields == PUBLIC_FIELDS | PER_OBJECT_FIELDS
    assert {field for field, row in MATRIX.items() if set(row) == {OK}} == PUBLIC_FIELDS


def _cells(outcome_is_ok: bool) -> list[tuple[str, str]]:
    return [(field, role) for field in sorted(MATRIX) for role, outcome in zip(ROLES, MATRIX[field], strict=True)
            if (outcome == OK) == outcome_is_ok]


def _target(role: str) -> str:
    return MEMBER_A if role == "member_self" else MEMBER_B


@pytest.mark.parametrize("field", sorted(MATRIX))
async def test_matrix_refusals(api, world, field):
    """Every refused cell of one row, in one world: a refusal changes nothing, so each caller
    meets the same state, and the whole database is compared after every call."""
    call = CALLS[field]
    before = await database_snapshot()
    refused = [role for role, outcome in zip(ROLES, MATRIX[field], strict=True) if outcome != OK]
    for role in refused:
        expected = MATRIX[field][ROLES.index(role)]
        body = await api(call.document, call.variables(world, _target(role)), world.tokens[role])
        assert body.get("errors"), (role, body)
        assert body["errors"][0]["extensions"]["code"] == expected, (role, body)
        assert body["errors"][0]["path"] == [field, *call.refused_at], (role, body)
        refused = (body["data"] or {}).get(field)
        assert (refused[call.refused_at[0]] if call.refused_at else refused) is None, (role, body)
        # Refused means refused: no member created, no balance changed, no event written ...
        assert await database_snapshot() == before, role


@pytest.mark.parametrize(("field", "role"), _cells(outcome_is_ok=True))
async def test_matrix_served(api, world, field, role):
    call = CALLS[field]
    victim_pk = (await Member.get(external_id=MEMBER_B)).id
    victim_before = await member_snapshot(victim_pk, call.touches_only_own_rows)

    variables = call.variables(world, _target(role))
    if field == "addReviewMedia":  # with no file the call is refused (INVALID): send one photo
        from tests import media_samples

        body = await api.upload(call.document, variables | {"media": [None]},
                                {"media.0": ("a.jpg", media_samples.jpeg(), "image/jpeg")}, world.tokens[role])
    elif field == "startImport":
        body = await api.upload(call.document, variables | {"file": None},
                                {"file": ("a.csv", b"productExternalId,rating\nprod-1,5\n", "text/csv")},
                                world.tokens[role])
    else:
        body = await api(call.document, variables, world.tokens[role])

    assert "errors" not in body, body
    result = body["data"][field]
    assert result is not None, body
    if isinstance(result, dict) and "errors" in result:
        assert result["errors"] == [], body  # the mutation was carried out
    if role.startswith("member"):
        if call.owner is not None:
            assert call.owner(body["data"]) == MEMBER_A, body
        # Whatever a member token did, member B is untouched.
        assert await member_snapshot(victim_pk, call.touches_only_own_rows) == victim_before


async def test_served_mutations_by_a_member_change_only_their_own_member(api, world):
    a_pk = (await Member.get(external_id=MEMBER_A)).id
    a_balance = (await Member.get(id=a_pk)).points_balance
    b_before = await Member.get(external_id=MEMBER_B)
    token = world.tokens["member_self"]
    # Omitting memberExternalId means "my own" with a member token.
    spent = await api.ok('mutation { spendPoints(input: {amount: 25, idempotencyKey: "k1"}) '
                         '{ member { externalId points { balance } } errors { code } } }', token=token)
    assert spent["spendPoints"] == {"member": {"externalId": MEMBER_A, "points": {"balance": a_balance - 25}},
                                    "errors": []}
    consents = await api.ok('mutation { updateConsents(input: {consents: [{purpose: MARKETING_SMS, granted: true}]}) '
                            '{ member { externalId } errors { code } } }', token=token)
    assert consents["updateConsents"] == {"member": {"externalId": MEMBER_A}, "errors": []}
    export = await api.ok("query { exportMemberData }", token=token)
    assert export["exportMemberData"]["member"]["externalId"] == MEMBER_A
    b = await Member.get(external_id=MEMBER_B)
    assert b.points_balance == b_before.points_balance
    assert not await Consent.filter(member_id=b.id).exists()
    anonymized = await api.ok("mutation { anonymizeMember(input: {}) { member { anonymized } errors { code } } }",
                              token=token)
    assert anonymized["anonymizeMember"] == {"member": {"anonymized": True}, "errors": []}
    assert (await Member.get(id=a_pk)).anonymized_at is not None
    assert (await Member.get(external_id=MEMBER_B)).anonymized_at is None


# --- member A versus member B, spelled out --------------------------------------------------------


async def test_member_cannot_read_another_member(api, world):
    body = await api('query { member(externalId: "member-b") { externalId email } }',
                     token=member_token(MEMBER_A))
    assert body["data"] == {"member": None}
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "b@example.com" not in json.dumps(body)


async def test_member_cannot_spend_another_members_points(api, world):
    before = await database_snapshot()
    balance = (await Member.get(external_id=MEMBER_B)).points_balance
    body = await api('mutation { spendPoints(input: {memberExternalId: "member-b", amount: 400, '
                     'idempotencyKey: "steal"}) { member { points { balance } } errors { code } } }',
                     token=member_token(MEMBER_A))
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await Member.get(external_id=MEMBER_B)).points_balance == balance
    assert not await LedgerEntry.filter(idempotency_key="steal").exists()
    assert await database_snapshot() == before


async def test_me_returns_only_the_signed_in_member(api, world):
    data = await api.ok("query { me { externalId email points { balance } } }", token=member_token(MEMBER_A))
    balance = (await Member.get(external_id=MEMBER_A)).points_balance
    assert data == {"me": {"externalId": MEMBER_A, "email": "a@example.com", "points": {"balance": balance}}}
    data = await api.ok("query { me { externalId } }", token=member_token(MEMBER_B))
    assert data == {"me": {"externalId": MEMBER_B}}


async def test_member_token_of_an_unknown_member_sees_nothing(api, world):
    token = member_token("nobody")
    assert await api.ok("query { me { externalId } myDataUsage { memberExternalId } }", token=token) == {
        "me": None, "myDataUsage": None}
    body = await api('query { member(externalId: "member-b") { externalId } }', token=token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_inactive_earning_rules_are_for_admins_only(api, world):
    await api.ok('mutation($id: ID!) { updateEarningRule(id: $id, input: {active: false}) { errors { code } } }',
                 {"id": world.rule_id}, world.admin)
    query = "query { earningRules(includeInactive: true) { name active } }"
    for role in ROLES:
        if role == "admin":
            continue
        assert await api.ok(query, token=world.tokens[role]) == {"earningRules": []}, role
    assert await api.ok(query, token=world.admin) == {"earningRules": [{"name": "1 per dollar", "active": False}]}


# --- reviews: a member names a review by id, so ownership is checked past the permission class ----

REVIEW_BY_ID = {
    "editReview": 'mutation($r: ID!) { editReview(input: {reviewId: $r, body: "Hijacked text"}) { errors { code } } }',
    "deleteReview": "mutation($r: ID!) { deleteReview(input: {reviewId: $r}) { errors { code } } }",
    "addReviewMedia": ("mutation($r: ID!) { addReviewMedia(input: {reviewId: $r}, media: []) "
                       "{ errors { code } } }"),
    "answerFollowUp": ('mutation($r: ID!) { answerFollowUp(input: {reviewId: $r, answer: "Hijacked"}) '
                       "{ errors { code } } }"),
}


@pytest.mark.parametrize("field", sorted(REVIEW_BY_ID))
async def test_member_cannot_change_another_members_review_by_its_id(api, world, field):
    before = await database_snapshot()
    body = await api(REVIEW_BY_ID[field], {"r": world.reviews[MEMBER_B]}, member_token(MEMBER_A))
    refused = body.get("errors") or body["data"][field]["errors"]
    assert refused, body
    assert await database_snapshot() == before


SUBSCRIPTION_BY_ID = {
    "pauseSubscription": "mutation($s: ID!) { pauseSubscription(input: {subscriptionId: $s}) { errors { code } } }",
    "skipNextDelivery": "mutation($s: ID!) { skipNextDelivery(input: {subscriptionId: $s}) { errors { code } } }",
    "cancelSubscription": ("mutation($s: ID!) { cancelSubscription(input: {subscriptionId: $s, reason: OTHER, "
                           "confirm: true}) { errors { code } } }"),
    "swapSubscriptionProduct": ('mutation($s: ID!) { swapSubscriptionProduct(input: {subscriptionId: $s, sku: "sku-2"}) '
                                "{ errors { code } } }"),
}


@pytest.mark.parametrize("field", sorted(SUBSCRIPTION_BY_ID))
async def test_member_cannot_change_another_members_subscription_by_its_id(api, world, field):
    before = await database_snapshot()
    body = await api(SUBSCRIPTION_BY_ID[field], {"s": world.subscriptions[MEMBER_B]["active"]}, member_token(MEMBER_A))
    assert body.get("errors") or body["data"][field]["errors"], body
    assert await database_snapshot() == before


async def test_member_cannot_cancel_another_members_reward_code(api, world):
    before = await database_snapshot()
    body = await api("mutation($c: String!) { cancelRedemption(input: {code: $c}) { errors { code } } }",
                     {"c": world.codes[MEMBER_B]}, member_token(MEMBER_A))
    assert body.get("errors") or body["data"]["cancelRedemption"]["errors"], body
    assert await database_snapshot() == before


async def test_preview_earning_without_a_member_is_public(api, world):
    query = ('query { previewEarning(input: {currency: "USD", lines: [{sku: "sku-1", quantity: 1, unitPrice: 5000}]}) '
             "{ points } }")
    for role in ROLES:
        assert await api.ok(query, token=world.tokens[role]) == {"previewEarning": {"points": 50}}, role


async def test_storefront_acting_for_a_member_cannot_change_another_members_review(api, world):
    before = await database_snapshot()
    body = await api.ok('mutation($r: ID!) { editReview(input: {reviewId: $r, memberExternalId: "member-a", '
                        'body: "Hijacked text"}) { errors { code } } }',
                        {"r": world.reviews[MEMBER_B]}, world.tokens["storefront"])
    assert body["editReview"]["errors"] == [{"code": "NOT_ALLOWED"}]
    assert await database_snapshot() == before


PUBLIC_PRODUCT = """query { product(externalId: "prod-1") {
  reviews(first: 10) { edges { node { id body author { displayName } media { id } } } } } }"""


async def test_public_product_shows_only_published_reviews_and_media_and_no_emails(api, world):
    shown = await api.ok(PUBLIC_PRODUCT)
    assert "@example.com" not in json.dumps(shown)
    by_id = {e["node"]["id"]: e["node"] for e in shown["product"]["reviews"]["edges"]}
    assert by_id[world.reviews[MEMBER_B]]["media"] == [{"id": world.media_id}]
    assert by_id[world.reviews[MEMBER_B]]["author"] == {"displayName": "Bob S."}
    await api.ok("mutation($m: ID!) { moderateReviewMedia(input: {id: $m, action: REJECT, reason: OTHER}) "
                 "{ errors { code } } }", {"m": world.media_id}, world.admin)
    shown = await api.ok(PUBLIC_PRODUCT, token=world.tokens["partner"])
    by_id = {e["node"]["id"]: e["node"] for e in shown["product"]["reviews"]["edges"]}
    assert by_id[world.reviews[MEMBER_B]]["media"] == []
    await api.ok("mutation($r: ID!) { moderateReview(input: {id: $r, action: REJECT, reason: SPAM}) "
                 "{ errors { code } } }", {"r": world.reviews[MEMBER_B]}, world.admin)
    shown = await api.ok(PUBLIC_PRODUCT, token=member_token(MEMBER_A))
    assert [e["node"]["id"] for e in shown["product"]["reviews"]["edges"]] == [world.reviews[MEMBER_A]]


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


async def _upload(client, token: str, review_id: str):
    operations = {"query": "mutation($r: ID!, $media: [Upload!]!) { addReviewMedia(input: {reviewId: $r}, "
                           "media: $media) { review { media { kind } } errors { code message } } }",
                  "variables": {"r": review_id, "media": [None]}}
    return await client.post("/graphql", headers={"authorization": f"Bearer {token}"},
                             data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.media.0"]})},
                             files={"0": ("photo.png", _png(), "image/png")})


async def test_member_adds_a_photo_to_own_review_but_not_to_another_members(client, world):
    token = member_token(MEMBER_A)
    own = await _upload(client, token, world.reviews[MEMBER_A])
    assert own.status_code == 200, own.text
    assert own.json()["data"]["addReviewMedia"] == {"review": {"media": [{"kind": "PHOTO"}]}, "errors": []}, own.text
    media_before = await ReviewMedia.filter(review_id=_pk(world.reviews[MEMBER_B])).count()
    other = await _upload(client, token, world.reviews[MEMBER_B])
    assert other.json()["data"]["addReviewMedia"]["errors"][0]["code"] == "NOT_ALLOWED", other.text
    assert await ReviewMedia.filter(review_id=_pk(world.reviews[MEMBER_B])).count() == media_before


# --- webhooks: partner A versus partner B --------------------------------------------------------

PARTNER_B_ON_A = {
    "updateWebhookEndpoint": ('mutation($e: ID!) { updateWebhookEndpoint(id: $e, input: {url: "http://127.0.0.1:9/stolen"}) '
                              "{ endpoint { url } errors { code } } }", "e"),
    "deleteWebhookEndpoint": ("mutation($e: ID!) { deleteWebhookEndpoint(id: $e) { endpoint { enabled } errors { code } } }",
                              "e"),
    "rotateWebhookSecret": ("mutation($e: ID!) { rotateWebhookSecret(id: $e) { secret errors { code } } }", "e"),
    "sendTestWebhook": ("mutation($e: ID!) { sendTestWebhook(endpointId: $e) { delivery { deliveryId } errors { code } } }",
                        "e"),
    "redeliverWebhook": ("mutation($d: ID!) { redeliverWebhook(deliveryId: $d) { delivery { deliveryId } "
                         "errors { code } } }", "d"),
}


@pytest.mark.parametrize("field", sorted(PARTNER_B_ON_A))
async def test_partner_cannot_act_on_another_partners_webhooks(api, world, field):
    _, partner_b = await auth.create_api_key("partner two", "partner")
    document, argument = PARTNER_B_ON_A[field]
    before = await database_snapshot()
    body = await api(document, {argument: world.endpoint_id if argument == "e" else world.delivery_id}, partner_b)
    refused = body.get("errors") or body["data"][field]["errors"]
    assert refused, body
    assert await database_snapshot() == before


async def test_partner_sees_only_its_own_webhooks(api, world):
    _, partner_b = await auth.create_api_key("partner two", "partner")
    assert await api.ok("query { webhookEndpoints { endpointId } }", token=partner_b) == {"webhookEndpoints": []}
    deliveries = await api.ok("query($e: ID!) { webhookDeliveries(endpointId: $e) { edges { cursor } } }",
                              {"e": world.endpoint_id}, partner_b)
    assert deliveries == {"webhookDeliveries": {"edges": []}}


async def test_private_answers_are_not_served_to_others_from_the_response_cache(api, world):
    """The public response cache (schema/response_cache.py) must not hand one caller's private
    answer to another: partner A's endpoints and deliveries belong to partner A only, and what a
    storefront may read (a reward code's owner) is not for anonymous callers or partners."""
    _, partner_b = await auth.create_api_key("partner two", "partner")
    endpoints = "query { webhookEndpoints { endpointId url description } }"
    deliveries = "query($e: ID!) { webhookDeliveries(endpointId: $e) { edges { node { deliveryId eventType } } } }"
    variables = {"e": world.endpoint_id}
    own = await api.ok(endpoints, token=world.tokens["partner"])  # partner A asks first
    assert own["webhookEndpoints"][0]["url"] == "http://127.0.0.1:9/partner-hook"
    assert (await api.ok(deliveries, variables, world.tokens["partner"]))["webhookDeliveries"]["edges"]
    leaks = []
    for name, token in (("partner B", partner_b), ("storefront", world.tokens["storefront"]), ("anonymous", None)):
        for query, args in ((endpoints, None), (deliveries, variables)):
            body = await api(query, args, token)
            if "partner-hook" in json.dumps(body) or "webhook.test" in json.dumps(body):
                leaks.append(f"{name} got partner A's data for {query.split('{')[1].split('(')[0].strip()}: {body}")
    # The same holds for what only a storefront may read: a code's owner, a named member's preview.
    code = "query($c: String!) { rewardCode(code: $c) { memberExternalId points } }"
    assert (await api.ok(code, {"c": world.codes[MEMBER_B]}, world.tokens["storefront"]))["rewardCode"]
    for name, token in (("partner", world.tokens["partner"]), ("anonymous", None)):
        body = await api(code, {"c": world.codes[MEMBER_B]}, token)
        if MEMBER_B in json.dumps(body):
            leaks.append(f"{name} got the storefront's rewardCode answer: {body}")
    assert not leaks, "\n".join(leaks)


# --- subscriptions (graphql-transport-ws): who may subscribe to what -------------------------------

SUBSCRIPTION_ROLES = ("anonymous", "storefront", "partner", "member", "admin")
SUBSCRIPTION_MATRIX: dict[str, tuple[str, str, str, str, str]] = {
    "pointsBalanceChanged": (UNAUTH, FORBID, FORBID, OK, FORBID),
    "tierChanged":          (UNAUTH, FORBID, FORBID, OK, FORBID),
    "reviewPublished":      (OK,     OK,     OK,     OK, OK),
    "events":               (UNAUTH, FORBID, FORBID, FORBID, OK),
    "importProgress":       (UNAUTH, FORBID, FORBID, FORBID, OK),
}
SUBSCRIPTIONS = {
    "pointsBalanceChanged": "subscription { pointsBalanceChanged { balance eventType } }",
    "tierChanged": "subscription { tierChanged { toTier } }",
    "reviewPublished": 'subscription { reviewPublished(productExternalId: "prod-2") { rating author } }',
    "events": 'subscription { events(types: ["points.*"]) { type } }',
    "importProgress": 'subscription($j: ID!) { importProgress(id: $j) { status processed } }',
}
# What makes each subscription yield for member A (done as admin), and what A must then receive.
TRIGGERS = {
    "pointsBalanceChanged": ('mutation { adjustPoints(input: {memberExternalId: "member-b", amount: 5, reason: "b", '
                             'idempotencyKey: "sub-b"}) { errors { code } } '
                             'a: adjustPoints(input: {memberExternalId: "member-a", amount: 7, reason: "a", '
                             'idempotencyKey: "sub-a"}) { errors { code } } }',
                             None),  # A's balance after the trigger, never B's
    "tierChanged": ("""mutation($now: DateTime!) {
        silver: createTier(input: {name: "Silver", rank: 8, minSpend: 20000, currency: "USD"}) { errors { code } }
        gold: createTier(input: {name: "Gold", rank: 9, minSpend: 40000, currency: "USD"}) { errors { code } }
        b: recordOrder(input: {externalId: "tier-b", memberExternalId: "member-b", currency: "USD", placedAt: $now,
                               lines: [{sku: "x", quantity: 1, unitPrice: 40000}]}) { errors { code } }
        a: recordOrder(input: {externalId: "tier-a", memberExternalId: "member-a", currency: "USD", placedAt: $now,
                               lines: [{sku: "x", quantity: 1, unitPrice: 20000}]}) { errors { code } } }""",
                    {"tierChanged": {"toTier": "Silver"}}),  # B reaches Gold first; A must only hear of A's Silver
    "reviewPublished": ('mutation { submitReview(input: {memberExternalId: "member-a", productExternalId: "prod-2", '
                        'rating: 4, body: "Comfortable and warm, would buy again."}) { errors { code } } }',
                        {"reviewPublished": {"rating": 4, "author": "Ann L."}}),
    "events": ('mutation { adjustPoints(input: {memberExternalId: "member-b", amount: 5, reason: "b", '
               'idempotencyKey: "ev-b"}) { errors { code } } }', {"events": {"type": "points.adjusted"}}),
    # The job's state is sent at once: any mutation will do as the trigger.
    "importProgress": ('mutation { adjustPoints(input: {memberExternalId: "member-b", amount: 5, reason: "b", '
                       'idempotencyKey: "ip-b"}) { errors { code } } }',
                       {"importProgress": {"status": "QUEUED", "processed": 0}}),
}


def test_every_subscription_has_a_matrix_row():
    types = {t["name"]: t for t in schema.introspect()["__schema"]["types"]}
    assert {f["name"] for f in types["Subscription"]["fields"]} == set(SUBSCRIPTION_MATRIX)


@pytest.mark.parametrize("role", SUBSCRIPTION_ROLES)
@pytest.mark.parametrize("field", sorted(SUBSCRIPTION_MATRIX))
async def test_subscription_matrix(api, world, field, role):
    expected = SUBSCRIPTION_MATRIX[field][SUBSCRIPTION_ROLES.index(role)]
    token = world.tokens["member_self" if role == "member" else role]
    viewer = await auth.authenticate(f"Bearer {token}" if token else None)
    stream = await schema.subscribe(SUBSCRIPTIONS[field], context_value=Context(viewer=viewer),
                                    variable_values={"j": world.import_job_id})
    first = asyncio.ensure_future(stream.__anext__())
    try:
        if expected != OK:
            result = await asyncio.wait_for(first, 10)
            assert result.data is None
            assert result.errors[0].extensions["code"] == expected, result.errors
            return
        await asyncio.sleep(0.05)  # the subscription is waiting on the bus before the trigger
        mutation, received = TRIGGERS[field]
        done = await api.ok(mutation, {"now": clock.now().isoformat()} if "$now" in mutation else None, world.admin)
        assert all(payload["errors"] == [] for payload in done.values()), done
        result = await asyncio.wait_for(first, 10)
        assert result.errors is None, result.errors
        if received is None:
            balance = (await Member.get(external_id=MEMBER_A)).points_balance
            received = {"pointsBalanceChanged": {"balance": balance, "eventType": "points.adjusted"}}
        assert result.data == received  # member A gets A's own news, never B's
    finally:
        first.cancel()
        with contextlib.suppress(BaseException):
            await first
        await stream.aclose()


# --- tokens that are not valid are refused before GraphQL runs ---------------------------------------


async def _assert_401(api, token: str) -> None:
    before = await database_snapshot()
    response = await api.raw("query { tiers { name } }", token=token)
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await database_snapshot() == before


def _jwt(claims: dict[str, Any], secret: str | None = None) -> str:
    return jwt.encode(claims, secret or get_settings().member_jwt_secret, algorithm="HS256")


async def test_expired_member_token_is_401(api, world):
    await _assert_401(api, member_token(MEMBER_A, ttl=-60))


async def test_member_token_signed_with_another_secret_is_401(api, world):
    await _assert_401(api, _jwt({"sub": MEMBER_A, "exp": int(time.time()) + 600}, secret="not-the-secret-but-just-as-long-as-it"))


async def test_member_token_without_expiry_is_401(api, world):
    await _assert_401(api, _jwt({"sub": MEMBER_A}))


async def test_unsigned_member_token_is_401(api, world):
    header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    claims = jwt.utils.base64url_encode(json.dumps({"sub": MEMBER_B, "exp": int(time.time()) + 600}).encode()).decode()
    await _assert_401(api, f"{header}.{claims}.")


async def test_tampered_member_token_is_401(api, world):
    header, _, signature = member_token(MEMBER_A).split(".")
    claims = jwt.utils.base64url_encode(json.dumps({"sub": MEMBER_B, "exp": int(time.time()) + 600}).encode()).decode()
    await _assert_401(api, f"{header}.{claims}.{signature}")


async def test_member_token_with_empty_subject_is_401(api, world):
    await _assert_401(api, _jwt({"sub": "", "exp": int(time.time()) + 600}))


async def test_unknown_api_key_is_401(api, world):
    await _assert_401(api, "ptn_ad_" + "x" * 43)


async def test_revoked_api_key_is_401(api, world):
    key, secret = await auth.create_api_key("to revoke", "storefront")
    assert (await api.raw("query { tiers { name } }", token=secret)).status_code == 200  # cached as valid
    await auth.revoke_api_key(key.id)
    await _assert_401(api, secret)


async def test_api_key_revoked_through_the_api_is_401_at_once(api, world):
    data = await api.ok('mutation { createApiKey(input: {name: "temp", role: STOREFRONT}) '
                        "{ apiKey { id } secret errors { code } } }", token=world.admin)
    secret = data["createApiKey"]["secret"]
    assert (await api.ok("query { tiers { name } }", token=secret)) == {"tiers": [{"name": "Bronze"}]}
    await api.ok("mutation($id: ID!) { revokeApiKey(id: $id) { errors { code } } }",
                 {"id": data["createApiKey"]["apiKey"]["id"]}, world.admin)
    await _assert_401(api, secret)


async def test_malformed_authorization_header_is_401(api, client, world):
    for header in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", world.admin):  # the last one lacks "Bearer "
        response = await client.post("/graphql", json={"query": "{ tiers { name } }"},
                                     headers={"authorization": header})
        assert response.status_code == 401, header
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
