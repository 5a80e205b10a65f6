"""Every argument that names an object takes its global ID (issue 11, item 1).

For each converted argument: the object's global ID (the `id` the API returned) works; the
legacy integer still works (deprecated, counted in patron_legacy_int_ids_total); a global ID of
another type and garbage are BAD_USER_INPUT naming the field, and nothing is written.
The objects come from tests/test_authorization.py's `world` (named there by global IDs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from tortoise import connections

from domain.observability.metrics import LEGACY_INT_IDS
from domain import clock
from domain.members.models import Member
from schema.common import decode_global_id, global_id
from tests.conftest import TABLES, member_token
from tests.test_authorization import MEMBER_A, MEMBER_B, World, world  # noqa: F401 (world is a fixture)


def _pk(value: str) -> int:
    return decode_global_id(value)[1]


@dataclass
class Case:
    name: str
    document: str  # takes the id as $id
    caller: str  # "admin", "storefront" or "member" (MEMBER_A's token)
    type_name: str
    field: str  # as named in the error message
    target: Callable[[World], str]  # the global ID the call names
    check: Callable[[World, dict[str, Any]], None]  # what a successful call returns
    extra: Callable[[World], dict[str, Any]] = lambda w: {}


def _payload(data: dict[str, Any]) -> dict[str, Any]:
    (payload,) = data.values()
    return payload


def _ok(path: tuple[str, ...], expected: Callable[[World], Any]) -> Callable[[World, dict[str, Any]], None]:
    """The payload has no errors and payload[path...] is the expected value."""
    def check(w: World, data: dict[str, Any]) -> None:
        payload = _payload(data)
        assert payload.get("errors", []) == [], payload
        value = payload
        for key in path:
            value = value[key]
        assert value == expected(w), payload
    return check


CASES = [
    Case("editReview", 'mutation($id: ID!) { editReview(input: {reviewId: $id, rating: 4}) { review { id rating } '
         "errors { code } } }", "member", "Review", "reviewId", lambda w: w.reviews[MEMBER_A],
         _ok(("review",), lambda w: {"id": w.reviews[MEMBER_A], "rating": 4})),
    Case("deleteReview", "mutation($id: ID!) { deleteReview(input: {reviewId: $id}) { review { id status } "
         "errors { code } } }", "member", "Review", "reviewId", lambda w: w.reviews[MEMBER_A],
         _ok(("review",), lambda w: {"id": w.reviews[MEMBER_A], "status": "DELETED"})),
    Case("moderateReview", "mutation($id: ID!) { moderateReview(input: {id: $id, action: REJECT, reason: SPAM}) "
         "{ review { id status } errors { code } } }", "admin", "Review", "id", lambda w: w.reviews[MEMBER_B],
         _ok(("review",), lambda w: {"id": w.reviews[MEMBER_B], "status": "REJECTED"})),
    Case("moderateReviewMedia", "mutation($id: ID!) { moderateReviewMedia(input: {id: $id, action: REJECT, "
         "reason: OTHER}) { review { media { id status } } errors { code } } }", "admin", "ReviewMedia", "id",
         lambda w: w.media_id, _ok(("review", "media"), lambda w: [{"id": w.media_id, "status": "REJECTED"}])),
    Case("reportReview", "mutation($id: ID!) { reportReview(input: {reviewId: $id, reason: SPAM}) { review { id } "
         "errors { code } } }", "member", "Review", "reviewId", lambda w: w.reviews[MEMBER_B],
         _ok(("review",), lambda w: None)),
    Case("replyToReview", 'mutation($id: ID!) { replyToReview(input: {reviewId: $id, body: "Thanks!"}) '
         "{ review { id reply { body } } errors { code } } }", "admin", "Review", "reviewId",
         lambda w: w.reviews[MEMBER_B],
         _ok(("review",), lambda w: {"id": w.reviews[MEMBER_B], "reply": {"body": "Thanks!"}})),
    Case("voteReview", "mutation($id: ID!) { voteReview(input: {reviewId: $id, helpful: true}) "
         "{ review { id helpfulCount } errors { code } } }", "member", "Review", "reviewId",
         lambda w: w.reviews[MEMBER_B], _ok(("review",), lambda w: {"id": w.reviews[MEMBER_B], "helpfulCount": 1})),
    Case("answerQuestion", 'mutation($id: ID!) { answerQuestion(input: {questionId: $id, body: "Yes, it does."}) '
         "{ answer { body } errors { code } } }", "admin", "Question", "questionId", lambda w: w.question_id,
         _ok(("answer", "body"), lambda w: "Yes, it does.")),
    Case("moderateQuestion", "mutation($id: ID!) { moderateQuestion(input: {id: $id, action: REJECT, reason: SPAM}) "
         "{ question { id status } errors { code } } }", "admin", "Question", "id", lambda w: w.question_id,
         _ok(("question",), lambda w: {"id": w.question_id, "status": "REJECTED"})),
    Case("moderateAnswer", "mutation($id: ID!) { moderateAnswer(input: {id: $id, action: REJECT, reason: SPAM}) "
         "{ answer { id status } errors { code } } }", "admin", "Answer", "id", lambda w: w.answer_id,
         _ok(("answer",), lambda w: {"id": w.answer_id, "status": "REJECTED"})),
    Case("reviewActivity", "mutation($id: ID!) { reviewActivity(input: {activityId: $id, approve: true}) "
         "{ activity { id status } errors { code } } }", "admin", "Activity", "activityId", lambda w: w.activity_id,
         _ok(("activity",), lambda w: {"id": w.activity_id, "status": "approved"})),
    Case("updateReward", "mutation($id: ID!) { updateReward(id: $id, input: {pointsCost: 7}) "
         "{ reward { id pointsCost } errors { code } } }", "admin", "Reward", "id", lambda w: w.reward_id,
         _ok(("reward",), lambda w: {"id": w.reward_id, "pointsCost": 7})),
    Case("redeemReward", "mutation($id: ID!) { redeemReward(input: {memberExternalId: \"member-a\", rewardId: $id, "
         'idempotencyKey: "gid-1"}) { redemption { reward { id } } errors { code } } }', "admin", "Reward",
         "rewardId", lambda w: w.reward_id, _ok(("redemption", "reward", "id"), lambda w: w.reward_id)),
    Case("updateSubscriptionPlan", "mutation($id: ID!) { updateSubscriptionPlan(id: $id, input: {price: 900}) "
         "{ plan { id price { amount } } errors { code } } }", "admin", "SubscriptionPlan", "id",
         lambda w: w.plan_id, _ok(("plan",), lambda w: {"id": w.plan_id, "price": {"amount": 900}})),
    Case("PlanInput.grantsTierId", "mutation($id: ID!, $plan: ID!) { updateSubscriptionPlan(id: $plan, "
         "input: {grantsTierId: $id}) { plan { grantsTierGlobalId } errors { code } } }", "admin", "Tier",
         "grantsTierId", lambda w: w.tier_id, _ok(("plan", "grantsTierGlobalId"), lambda w: w.tier_id),
         extra=lambda w: {"plan": w.plan_id}),
    Case("subscribe", "mutation($id: ID!) { subscribe(input: {memberExternalId: \"member-a\", planId: $id}) "
         "{ subscription { plan { id } } errors { code } } }", "admin", "SubscriptionPlan", "planId",
         lambda w: w.plan_id, _ok(("subscription", "plan", "id"), lambda w: w.plan_id)),
    Case("pauseSubscription", "mutation($id: ID!, $until: DateTime) { pauseSubscription(input: {subscriptionId: $id, "
         "until: $until}) { subscription { id status } errors { code } } }", "member", "Subscription",
         "subscriptionId", lambda w: w.subscriptions[MEMBER_A]["active"],
         _ok(("subscription",), lambda w: {"id": w.subscriptions[MEMBER_A]["active"], "status": "PAUSED"}),
         extra=lambda w: {"until": (clock.now() + timedelta(days=20)).isoformat()}),
    Case("resumeSubscription", "mutation($id: ID!) { resumeSubscription(input: {subscriptionId: $id}) "
         "{ subscription { id status } errors { code } } }", "member", "Subscription", "subscriptionId",
         lambda w: w.subscriptions[MEMBER_A]["paused"],
         _ok(("subscription",), lambda w: {"id": w.subscriptions[MEMBER_A]["paused"], "status": "ACTIVE"})),
    Case("cancelSubscription", "mutation($id: ID!) { cancelSubscription(input: {subscriptionId: $id, reason: OTHER, "
         "confirm: true}) { subscription { id status } errors { code } } }", "member", "Subscription",
         "subscriptionId", lambda w: w.subscriptions[MEMBER_A]["active"],
         _ok(("subscription",), lambda w: {"id": w.subscriptions[MEMBER_A]["active"], "status": "CANCELLED"})),
    Case("recordRenewalFailure", 'mutation($id: ID!) { recordRenewalFailure(input: {subscriptionId: $id, '
         'reason: "card declined"}) { subscription { id failureCount } errors { code } } }', "admin",
         "Subscription", "subscriptionId", lambda w: w.subscriptions[MEMBER_B]["active"],
         _ok(("subscription",), lambda w: {"id": w.subscriptions[MEMBER_B]["active"], "failureCount": 1})),
    Case("recordOrder.subscriptionId", 'mutation($id: ID!) { recordOrder(input: {externalId: "gid-order", '
         'memberExternalId: "member-a", currency: "USD", placedAt: "2024-02-02T00:00:00+00:00", subscriptionId: $id, '
         'lines: [{sku: "sku-1", quantity: 1, unitPrice: 1000}]}) { order { externalId } errors { code } } }',
         "admin", "Subscription", "subscriptionId", lambda w: w.subscriptions[MEMBER_A]["active"],
         _ok(("order", "externalId"), lambda w: "gid-order")),
    Case("updateWebhookEndpoint", 'mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: {description: "moved"}) '
         "{ endpoint { id description } errors { code } } }", "admin", "WebhookEndpoint", "id",
         lambda w: w.endpoint_id, _ok(("endpoint",), lambda w: {"id": w.endpoint_id, "description": "moved"})),
    Case("deleteWebhookEndpoint", "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { endpoint { id } "
         "errors { code } } }", "admin", "WebhookEndpoint", "id", lambda w: w.endpoint_id,
         _ok(("endpoint", "id"), lambda w: w.endpoint_id)),
    Case("rotateWebhookSecret", "mutation($id: ID!) { rotateWebhookSecret(id: $id) { endpoint { id } errors { code } } }",
         "admin", "WebhookEndpoint", "id", lambda w: w.endpoint_id, _ok(("endpoint", "id"), lambda w: w.endpoint_id)),
    Case("sendTestWebhook", "mutation($id: ID!) { sendTestWebhook(endpointId: $id) { delivery { endpointGlobalId } "
         "errors { code } } }", "admin", "WebhookEndpoint", "endpointId", lambda w: w.endpoint_id,
         _ok(("delivery", "endpointGlobalId"), lambda w: w.endpoint_id)),
    Case("redeliverWebhook", "mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { delivery { endpointGlobalId } "
         "errors { code } } }", "admin", "WebhookDelivery", "deliveryId", lambda w: w.delivery_id,
         _ok(("delivery", "endpointGlobalId"), lambda w: w.endpoint_id)),
    Case("updateTier", 'mutation($id: ID!) { updateTier(id: $id, input: {name: "Copper", rank: 0}) '
         "{ tier { id name } errors { code } } }", "admin", "Tier", "id", lambda w: w.tier_id,
         _ok(("tier",), lambda w: {"id": w.tier_id, "name": "Copper"})),
    Case("revokeApiKey", "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id } errors { code } } }", "admin",
         "ApiKey", "id", lambda w: w.spare_key_id, _ok(("apiKey", "id"), lambda w: w.spare_key_id)),
    # Queries: the argument filters; nothing is written either way.
    Case("webhookDeliveries", "query($id: ID!) { webhookDeliveries(endpointId: $id) { edges { node { id } } } }",
         "admin", "WebhookEndpoint", "endpointId", lambda w: w.endpoint_id,
         lambda w, data: _assert_equal(data["webhookDeliveries"]["edges"], [{"node": {"id": w.delivery_id}}])),
    Case("subscriptions", "query($id: ID!) { subscriptions(planId: $id) { edges { node { id } } } }", "admin",
         "SubscriptionPlan", "planId", lambda w: w.plan_id,
         lambda w, data: _assert_equal(sorted(e["node"]["id"] for e in data["subscriptions"]["edges"]),
                                       sorted(s for member in w.subscriptions.values() for s in member.values()))),
    Case("moderationLog", 'query($id: ID!) { moderationLog(subjectType: "review", subjectId: $id) '
         "{ subjectGlobalId status } }", "admin", "Review", "subjectId", lambda w: w.reviews[MEMBER_B],
         lambda w, data: _assert_equal(data["moderationLog"],
                                       [{"subjectGlobalId": w.reviews[MEMBER_B], "status": "published"}])),
]


def _assert_equal(actual: Any, expected: Any) -> None:
    assert actual == expected


def _token(w: World, caller: str) -> str:
    return {"admin": w.admin, "storefront": w.tokens["storefront"], "member": member_token(MEMBER_A)}[caller]


async def _snapshot() -> dict[str, list[str]]:
    """Every row of every table, to prove a refused call wrote nothing."""
    conn = connections.get("default")
    return {t: sorted(repr(sorted(row.items())) for row in await conn.execute_query_dict(f"SELECT * FROM {t}"))
            for t in TABLES}


def _legacy_count(type_name: str) -> float:
    return LEGACY_INT_IDS.labels(type=type_name)._value.get()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_the_global_id_names_the_object(api, world, case):
    before = _legacy_count(case.type_name)
    data = await api.ok(case.document, {"id": case.target(world)} | case.extra(world), _token(world, case.caller))
    case.check(world, data)
    assert _legacy_count(case.type_name) == before  # a global ID is not a legacy use


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_the_legacy_integer_still_works_and_is_counted(api, world, case):
    before = _legacy_count(case.type_name)
    data = await api.ok(case.document, {"id": _pk(case.target(world))} | case.extra(world), _token(world, case.caller))
    case.check(world, data)
    assert _legacy_count(case.type_name) == before + 1


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_a_wrong_type_or_garbage_is_bad_user_input_and_writes_nothing(api, world, case):
    member_id = global_id("Member", (await Member.get(external_id=MEMBER_A)).id)
    beyond = 2**63 if case.type_name == "WebhookDelivery" else 2**31  # past the key column's range
    before = await _snapshot()
    for value, message in (
        (member_id, f"{case.field} must be the ID of a {case.type_name}, not of a Member"),
        ("not-an-id", f"{case.field} is not an ID this API issued"),
        (global_id(case.type_name, beyond), f"{case.field} is not an ID this API issued"),  # beyond the column
    ):
        body = await api(case.document, {"id": value} | case.extra(world), _token(world, case.caller))
        assert body["data"] is None, body
        assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [(message, "BAD_USER_INPUT")]
    assert await _snapshot() == before


LOG = "query($id: ID!, $t: String) { moderationLog(subjectType: $t, subjectId: $id) { subjectType subjectGlobalId } }"


async def test_moderation_log_takes_the_subject_type_from_a_global_id(api, world):
    review = world.reviews[MEMBER_B]
    expected = {"moderationLog": [{"subjectType": "review", "subjectGlobalId": review}]}
    assert await api.ok(LOG, {"id": review}, world.admin) == expected
    await api.ok("mutation($id: ID!) { moderateReviewMedia(input: {id: $id, action: REJECT, reason: OTHER}) "
                 "{ errors { code } } }", {"id": world.media_id}, world.admin)
    assert await api.ok(LOG, {"id": world.media_id}, world.admin) == {
        "moderationLog": [{"subjectType": "media", "subjectGlobalId": world.media_id}]}
    for variables, message in (
        ({"id": review, "t": "question"}, "subjectType question does not match subjectId, the ID of a Review"),
        ({"id": _pk(review)}, "subjectId must be the ID of a Review, ReviewMedia, Question or Answer "
                              "(a legacy integer id needs subjectType)"),
        ({"id": _pk(review), "t": "member"}, "subjectType must be one of review, media, question, answer"),
    ):
        body = await api(LOG, variables, world.admin)
        assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [(message, "BAD_USER_INPUT")]


async def test_a_legacy_integer_works_as_a_literal_and_as_a_string(api, world):
    pk = _pk(world.reviews[MEMBER_B])
    literal = await api.ok('mutation { replyToReview(input: {reviewId: %d, body: "One"}) { review { id } '
                           "errors { code } } }" % pk, token=world.admin)
    assert literal["replyToReview"] == {"review": {"id": world.reviews[MEMBER_B]}, "errors": []}
    string = await api.ok('mutation($id: ID!) { replyToReview(input: {reviewId: $id, body: "Two"}) '
                          "{ review { id reply { body } } errors { code } } }", {"id": str(pk)}, world.admin)
    assert string["replyToReview"] == {"review": {"id": world.reviews[MEMBER_B], "reply": {"body": "Two"}},
                                       "errors": []}


async def test_an_int_variable_is_refused_by_validation_and_the_metric_is_on_metrics(api, client, world):
    body = await api("mutation($id: Int!) { replyToReview(input: {reviewId: $id, body: \"x\"}) { errors { code } } }",
                     {"id": _pk(world.reviews[MEMBER_B])}, world.admin)
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    await api.ok('mutation { replyToReview(input: {reviewId: %d, body: "x"}) { errors { code } } }'
                 % _pk(world.reviews[MEMBER_B]), token=world.admin)
    metrics = (await client.get("/metrics/")).text
    assert 'patron_legacy_int_ids_total{type="Review"}' in metrics


async def test_int_fields_naming_other_objects_have_global_id_twins(api, world):
    data = await api.ok("""query($e: ID!) {
      webhookDeliveries(endpointId: $e) { edges { node { endpointId endpointGlobalId eventId eventGlobalId } } }
      subscriptionPlans { planId id grantsTierId grantsTierGlobalId }
    }""", {"e": world.endpoint_id}, world.admin)
    (delivery,) = [e["node"] for e in data["webhookDeliveries"]["edges"]]
    assert delivery["endpointGlobalId"] == world.endpoint_id == global_id("WebhookEndpoint", delivery["endpointId"])
    assert delivery["eventGlobalId"] == global_id("Event", delivery["eventId"])
    assert data["subscriptionPlans"] == [{"planId": _pk(world.plan_id), "id": world.plan_id,
                                          "grantsTierId": None, "grantsTierGlobalId": None}]
