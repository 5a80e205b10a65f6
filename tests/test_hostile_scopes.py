"""API-key scopes (issue 9, Broken 1 and Weak "storefront reads PII"): a partner or storefront
key receives only the event types and personal data its scopes allow, in webhook bodies,
stored delivery logs and query answers alike; excerpts are blanked after the retention."""

from __future__ import annotations

import json
from datetime import timedelta

import orjson

from domain import clock
from domain.auth import scopes as access
from domain.auth import service as auth
from domain.auth.models import ApiKey
from domain.events.models import Event
from domain.events.types import EVENT_TYPES
from domain.jobs import JOBS
from domain.members.personal_data import EVENT_PERSONAL_FIELDS, redact_event_payload
from domain.webhooks.delivery import Deliverer
from domain.webhooks.models import WebhookDelivery, WebhookEndpoint
from domain.webhooks.retention import blank_old_excerpts
from tests import helpers
from tests.conftest import member_token
from tests.receiver import Reply

PII = ("ann@example.com", "Ann Lee", "1990-05-01")
UPSERT = """mutation($i: UpsertMemberInput!) { upsertMember(input: $i) {
  member { externalId email name birthday personalDataWithheld } created errors { field code } } }"""
CREATE_ENDPOINT = """mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) {
  endpoint { endpointId eventTypes } errors { field code message } } }"""
DELIVERIES = """query($e: ID!) { webhookDeliveries(endpointId: $e) { edges { node {
  eventType status lastStatusCode lastError requestExcerpt responseExcerpt } } } }"""
CREATE_KEY = """mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) {
  apiKey { id role scopes } secret errors { field code message } } }"""
SET_SCOPES = """mutation($i: SetApiKeyScopesInput!) { setApiKeyScopes(input: $i) {
  apiKey { scopes } errors { field code } } }"""


async def _key(role: str, scopes: list[str] | None = None) -> tuple[int, str]:
    key, secret = await auth.create_api_key(f"test {role}", role, scopes=scopes)
    return key.id, secret


async def _endpoint(api, token: str, url: str, types: list[str]) -> int:
    payload = (await api.ok(CREATE_ENDPOINT, {"i": {"url": url, "eventTypes": types}}, token))["createWebhookEndpoint"]
    assert payload["errors"] == [], payload
    return payload["endpoint"]["endpointId"]


async def _drain(deliverer: Deliverer) -> None:
    while await deliverer.run_once():
        pass


def _has_pii(text: str) -> list[str]:
    return [value for value in PII if value in text]


# --- the attack from the issue ------------------------------------------------------------


async def test_partner_star_endpoint_gets_no_member_pii_in_body_or_log_even_when_delivery_fails(
        api, storefront_token, partner_token, receiver, deliverer):
    # given a partner key (role defaults: no members:pii) listening to everything, whose receiver fails
    endpoint_id = await _endpoint(api, partner_token, receiver.script("/partner", Reply(400)), ["*"])
    # when a storefront creates a member with personal data
    created = (await api.ok(UPSERT, {"i": {"externalId": "m1", "email": PII[0], "name": PII[1], "birthday": PII[2],
                                           "signupChannel": "app"}}, storefront_token))["upsertMember"]
    assert created["errors"] == [] and created["created"] is True
    await _drain(deliverer)
    # then the receiver got member.created without any personal field
    [hit] = [h for h in receiver.at("/partner") if json.loads(h.body)["type"] == "member.created"]
    assert json.loads(hit.body)["data"] == {"externalId": "m1", "signupChannel": "app"}
    assert _has_pii(hit.body.decode()) == []
    # and the delivery log the partner reads holds no more than the receiver got
    nodes = [e["node"] for e in (await api.ok(DELIVERIES, {"e": endpoint_id}, partner_token))["webhookDeliveries"]["edges"]]
    member_created = [n for n in nodes if n["eventType"] == "member.created"]
    assert [(n["status"], n["lastStatusCode"]) for n in member_created] == [("FAILED", 400)]
    excerpt = member_created[0]["requestExcerpt"]
    assert json.loads(json.loads(excerpt)["body"])["data"] == {"externalId": "m1", "signupChannel": "app"}
    assert _has_pii(excerpt) == []
    stored = await WebhookDelivery.filter(endpoint_id=endpoint_id).values_list("request_excerpt", flat=True)
    assert stored and all(_has_pii(text or "") == [] for text in stored)


async def test_partner_with_members_pii_receives_personal_fields(api, storefront_token, receiver, deliverer):
    # given a partner key the admin granted events:members and members:pii
    _, token = await _key("partner", ["events:members", "members:pii"])
    await _endpoint(api, token, receiver.script("/crm", Reply(200)), ["member.*"])
    # when a member is created
    await api.ok(UPSERT, {"i": {"externalId": "m1", "email": PII[0], "name": PII[1], "birthday": PII[2]}},
                 storefront_token)
    await _drain(deliverer)
    # then the full payload arrives, as it does for an admin endpoint
    [hit] = receiver.at("/crm")
    assert json.loads(hit.body)["data"] == {"externalId": "m1", "email": PII[0], "name": PII[1], "birthday": PII[2],
                                            "signupChannel": None}
    assert (await WebhookDelivery.get()).status == "succeeded"


async def test_admin_endpoint_keeps_the_full_payload(api, admin_token, receiver, deliverer):
    await _endpoint(api, admin_token, receiver.script("/admin", Reply(200)), ["member.created"])
    await helpers.member("m1", email=PII[0], name=PII[1])
    await _drain(deliverer)
    [hit] = receiver.at("/admin")
    assert json.loads(hit.body)["data"] == (await Event.get(type="member.created")).payload
    assert _has_pii(hit.body.decode()) == [PII[0], PII[1]]


# --- registration and fan-out follow the owner's scopes -----------------------------------


async def test_registration_refuses_patterns_outside_the_scopes_and_writes_nothing(api):
    _, token = await _key("partner", ["events:reviews"])
    for patterns in (["member.*"], ["member.created"], ["review.*", "points.earned"], ["*.created", "order.*"]):
        payload = (await api.ok(CREATE_ENDPOINT, {"i": {"url": "http://127.0.0.1:9/h", "eventTypes": patterns}},
                                token))["createWebhookEndpoint"]
        assert payload["endpoint"] is None
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [("eventTypes", "SCOPE_MISSING")], patterns
    assert await WebhookEndpoint.all().count() == 0
    # a wildcard that reaches an allowed type is kept: it means "what my scopes allow"
    endpoint_id = await _endpoint(api, token, "http://127.0.0.1:9/h", ["*"])
    moved = (await api.ok("""mutation($e: ID!) { updateWebhookEndpoint(id: $e, input: {eventTypes: ["order.recorded"]}) {
        endpoint { eventTypes } errors { field code } } }""", {"e": endpoint_id}, token))["updateWebhookEndpoint"]
    assert moved == {"endpoint": None, "errors": [{"field": "eventTypes", "code": "SCOPE_MISSING"}]}
    assert (await WebhookEndpoint.get(id=endpoint_id)).event_types == ["*"]


async def test_star_endpoint_receives_only_the_event_types_its_scopes_allow(api, receiver, deliverer):
    # given a partner allowed only order events, listening to "*"
    _, token = await _key("partner", ["events:orders"])
    endpoint_id = await _endpoint(api, token, receiver.script("/orders", Reply(200)), ["*"])
    # when a member is created, orders and earns points
    await helpers.order_rule(pending_days=0)
    await helpers.member("m1", email=PII[0])
    await helpers.order("o1", amount=1_000)
    # then only the order event was queued and sent
    queued = await WebhookDelivery.filter(endpoint_id=endpoint_id).prefetch_related("event")
    assert [d.event.type for d in queued] == ["order.recorded"]
    await _drain(deliverer)
    assert [json.loads(h.body)["type"] for h in receiver.at("/orders")] == ["order.recorded"]
    # and its own test event still reaches it (events:webhooks is held by every key)
    sent = await api.ok("mutation($e: ID!) { sendTestWebhook(endpointId: $e) { errors { code } } }",
                        {"e": endpoint_id}, token)
    assert sent["sendTestWebhook"]["errors"] == []
    await _drain(deliverer)
    assert [json.loads(h.body)["type"] for h in receiver.at("/orders")] == ["order.recorded", "webhook.test"]


async def test_queued_deliveries_follow_scopes_reduced_or_key_revoked_later(api, admin_token, receiver, deliverer):
    # given two partners listening to "*" with a member.created delivery queued for each
    narrowed_id, narrowed = await _key("partner")
    revoked_id, revoked = await _key("partner")
    narrowed_endpoint = await _endpoint(api, narrowed, receiver.script("/narrowed", Reply(200)), ["*"])
    revoked_endpoint = await _endpoint(api, revoked, receiver.script("/revoked", Reply(200)), ["*"])
    await helpers.member("m1", email=PII[0])
    assert await WebhookDelivery.filter(status="pending").count() == 2
    # when the admin narrows one key's scopes and revokes the other key before the worker runs
    narrowed_gid = (await api.ok("{ apiKeys { id keyId } }", token=admin_token))["apiKeys"]
    gid = next(k["id"] for k in narrowed_gid if k["keyId"] == narrowed_id)
    changed = (await api.ok(SET_SCOPES, {"i": {"id": gid, "scopes": ["events:orders"]}}, admin_token))["setApiKeyScopes"]
    assert changed == {"apiKey": {"scopes": ["events:orders", "events:webhooks"]}, "errors": []}
    await auth.revoke_api_key(revoked_id)
    await _drain(deliverer)
    # then nothing is sent, and the log says why
    assert receiver.at("/narrowed") == [] and receiver.at("/revoked") == []
    outcomes = {d.endpoint_id: (d.status, d.last_error, d.request_excerpt) for d in await WebhookDelivery.all()}
    assert outcomes == {
        narrowed_endpoint: ("failed", "not sent: the owner key lacks the scope events:members", None),
        revoked_endpoint: ("failed", "not sent: the owner key is revoked", None),
    }
    # and new member events are no longer queued for either
    await helpers.member("m2")
    assert await WebhookDelivery.all().count() == 2


async def test_endpoint_disabled_events_reach_only_the_endpoints_owner(api, admin_token, partner_token, receiver,
                                                                       deliverer):
    # given an admin endpoint that answers 410 and a partner listening to "*"
    await _endpoint(api, admin_token, receiver.script("/gone", Reply(410)), ["member.created"])
    partner_endpoint = await _endpoint(api, partner_token, receiver.script("/partner", Reply(200)), ["*"])
    # when the admin endpoint is disabled
    await helpers.member("m1")
    await _drain(deliverer)
    assert await Event.filter(type="webhook.endpoint_disabled").count() == 1
    # then the partner does not learn of it (nor of the admin endpoint's URL)
    types = [d.event.type for d in await WebhookDelivery.filter(endpoint_id=partner_endpoint).prefetch_related("event")]
    assert types == ["member.created"]


# --- the keys and their scopes --------------------------------------------------------------


async def test_unknown_scopes_are_payload_errors_and_change_nothing(api, admin_token):
    before = await ApiKey.all().count()
    bad = (await api.ok(CREATE_KEY, {"i": {"name": "x", "role": "PARTNER", "scopes": ["members:pii", "orders:write"]}},
                        admin_token))["createApiKey"]
    assert (bad["apiKey"], bad["secret"]) == (None, None)
    assert [(e["field"], e["code"]) for e in bad["errors"]] == [("scopes", "UNKNOWN_SCOPE")]
    assert "'orders:write'" in bad["errors"][0]["message"]
    assert await ApiKey.all().count() == before
    key_id, _ = await _key("partner", ["events:reviews"])
    gid = next(k["id"] for k in (await api.ok("{ apiKeys { id keyId } }", token=admin_token))["apiKeys"]
               if k["keyId"] == key_id)
    refused = (await api.ok(SET_SCOPES, {"i": {"id": gid, "scopes": ["*"]}}, admin_token))["setApiKeyScopes"]
    assert refused == {"apiKey": None, "errors": [{"field": "scopes", "code": "UNKNOWN_SCOPE"}]}
    assert (await ApiKey.get(id=key_id)).scopes == ["events:reviews", "events:webhooks"]


async def test_keys_expose_their_scopes_with_role_defaults(api, admin_token):
    made = {}
    for role in ("ADMIN", "STOREFRONT", "PARTNER"):
        payload = (await api.ok(CREATE_KEY, {"i": {"name": role, "role": role}}, admin_token))["createApiKey"]
        assert payload["errors"] == []
        made[role] = payload["apiKey"]["scopes"]
    assert made == {
        "ADMIN": sorted(access.SCOPES),
        "STOREFRONT": ["events:webhooks"],
        "PARTNER": ["events:members", "events:orders", "events:points", "events:reviews", "events:rewards",
                    "events:subscriptions", "events:webhooks"],
    }
    chosen = (await api.ok(CREATE_KEY, {"i": {"name": "crm", "role": "PARTNER",
                                              "scopes": ["members:pii", "events:members", "members:pii"]}},
                           admin_token))["createApiKey"]["apiKey"]["scopes"]
    assert chosen == ["events:members", "events:webhooks", "members:pii"]


async def test_admin_lists_the_scope_catalogue(api, admin_token):
    listed = (await api.ok("{ apiKeyScopes { name eventTypes } }", token=admin_token))["apiKeyScopes"]
    assert [s["name"] for s in listed] == list(access.SCOPES)
    by_name = {s["name"]: s["eventTypes"] for s in listed}
    assert by_name["events:orders"] == ["order.recorded", "order.refunded", "order.fulfilled"]
    assert by_name["events:messages"] == ["message.due"]
    assert by_name["members:pii"] == []
    assert sorted(t for types in by_name.values() for t in types) == sorted(EVENT_TYPES)


async def test_two_argument_create_api_key_still_works():
    key, secret = await auth.create_api_key("legacy", "partner")
    assert secret.startswith("ptn_pa_") and key.scopes == sorted(set(access.DEFAULT_SCOPES["partner"]) | access.IMPLICIT)


# --- query answers: a storefront writes members but reads personal data only with members:pii


MEMBER_FIELDS = "externalId email name birthday personalDataWithheld reviews { title body }"


async def test_storefront_without_members_pii_reads_null_personal_fields(api, admin_token, storefront_token):
    # given a member with personal data and a review
    upserted = (await api.ok(UPSERT, {"i": {"externalId": "m1", "email": PII[0], "name": PII[1], "birthday": PII[2]}},
                             storefront_token))["upsertMember"]
    # then the storefront's own upsert answers without the personal fields, and says they are withheld
    assert upserted["member"] == {"externalId": "m1", "email": None, "name": None, "birthday": None,
                                  "personalDataWithheld": True}
    await api.ok("""mutation { upsertProducts(input: [{externalId: "p1", title: "Shoe"}]) { errors { code } } }""",
                 token=admin_token)
    review = await api.ok("""mutation { submitReview(input: {memberExternalId: "m1", productExternalId: "p1", rating: 5,
        title: "Ann's favourite", body: "Fits well and looks great on long walks."}) { errors { code } } }""",
                          token=storefront_token)
    assert review["submitReview"]["errors"] == []
    gift = await api.ok("""mutation { adjustPoints(input: {memberExternalId: "m1", amount: 50, reason: "gift",
        idempotencyKey: "g1"}) { errors { code } } }""", token=admin_token)
    assert gift["adjustPoints"]["errors"] == []
    spent = (await api.ok(f"""mutation {{ spendPoints(input: {{memberExternalId: "m1", amount: 10, idempotencyKey: "s1"}}) {{
        member {{ {MEMBER_FIELDS} }} errors {{ code }} }} }}""", token=storefront_token))["spendPoints"]
    assert spent["errors"] == []
    assert spent["member"] == {"externalId": "m1", "email": None, "name": None, "birthday": None,
                               "personalDataWithheld": True, "reviews": []}
    # while a storefront with members:pii, an admin and the member themself see everything
    _, pii_storefront = await _key("storefront", ["members:pii"])
    full = {"externalId": "m1", "email": PII[0], "name": PII[1], "birthday": PII[2], "personalDataWithheld": False,
            "reviews": [{"title": "Ann's favourite", "body": "Fits well and looks great on long walks."}]}
    again = (await api.ok(f"""mutation {{ upsertMember(input: {{externalId: "m1"}}) {{ member {{ {MEMBER_FIELDS} }} }} }}""",
                          token=pii_storefront))["upsertMember"]["member"]
    assert again == full
    assert (await api.ok(f'{{ member(externalId: "m1") {{ {MEMBER_FIELDS} }} }}', token=admin_token))["member"] == full
    assert (await api.ok(f"{{ me {{ {MEMBER_FIELDS} }} }}", token=member_token("m1")))["me"] == full


async def test_subscription_history_hides_the_members_comment_without_members_pii(api, admin_token, storefront_token):
    await helpers.member("m1")
    plan = (await api.ok("""mutation { createSubscriptionPlan(input: {name: "Socks", kind: PRODUCT, skus: ["s1"],
        intervalUnit: MONTH, intervalCount: 1, price: 1000, currency: "USD"}) { plan { planId } } }""",
                         token=admin_token))["createSubscriptionPlan"]["plan"]["planId"]
    sub = (await api.ok("""mutation($p: ID!) { subscribe(input: {memberExternalId: "m1", planId: $p}) {
        subscription { subscriptionId } } }""", {"p": plan}, storefront_token))["subscribe"]["subscription"]["subscriptionId"]
    cancel = """mutation($s: ID!) { cancelSubscription(input: {subscriptionId: $s, memberExternalId: "m1", reason: OTHER,
        comment: "Moving in with Ann Lee", confirm: true}) { subscription { history { action details } } errors { code } } }"""
    answer = (await api.ok(cancel, {"s": sub}, storefront_token))["cancelSubscription"]
    assert answer["errors"] == []
    cancelled = [h["details"] for h in answer["subscription"]["history"] if h["action"] == "cancel"]
    assert cancelled == [{"reason": "OTHER", "retentionOffer": None, "paidThrough": None}]
    full = await api.ok("""{ member(externalId: "m1") { subscriptions { history { action details } } } }""",
                        token=admin_token)
    details = [h["details"] for s in full["member"]["subscriptions"] for h in s["history"] if h["action"] == "cancel"]
    assert details == [{"reason": "OTHER", "comment": "Moving in with Ann Lee", "retentionOffer": None, "paidThrough": None}]


# --- the classification is complete -----------------------------------------------------------


def test_every_event_type_belongs_to_exactly_one_scope():
    by_scope: dict[str, list[str]] = {}
    for event_type in EVENT_TYPES:
        scope = access.scope_for_event(event_type)  # KeyError: a new event family without a scope
        assert scope in access.SCOPES and scope.startswith("events:"), event_type
        by_scope.setdefault(scope, []).append(event_type)
    # every events:* scope grants something, and every event type is counted once
    assert set(by_scope) == {s for s in access.SCOPES if s.startswith("events:")}
    assert sum(len(types) for types in by_scope.values()) == len(set(EVENT_TYPES))


def test_every_event_type_payload_was_considered_for_personal_data():
    assert set(EVENT_PERSONAL_FIELDS) == set(EVENT_TYPES)
    # an event type nobody classified sends no data at all
    assert redact_event_payload("chat.message", {"text": "hi", "memberExternalId": "m1"}) == {}


async def test_recorded_payloads_carry_no_personal_value_once_redacted(api, admin_token, storefront_token):
    # given a flow that writes personal data into as many event types as the API allows
    secrets = [*PII, "Ann L.", "Ann's favourite", "Fits well and looks great on long walks.",
               "Does it run small for Ann?", "Moving in with Ann Lee"]
    await api.ok(UPSERT, {"i": {"externalId": "m1", "email": PII[0], "name": PII[1], "birthday": PII[2]}},
                 storefront_token)
    await api.ok(UPSERT, {"i": {"externalId": "m1", "email": "ann.lee@example.com"}}, storefront_token)
    secrets.append("ann.lee@example.com")
    setup = await api.ok("""mutation {
      p: upsertProducts(input: [{externalId: "p1", title: "Shoe"}]) { errors { code } }
      o: recordOrder(input: {externalId: "o1", memberExternalId: "m1", currency: "USD", placedAt: "2024-01-02T03:04:05+00:00",
                             lines: [{sku: "s1", productExternalId: "p1", quantity: 1, unitPrice: 5000}]}) { errors { code } }
      r: submitReview(input: {memberExternalId: "m1", productExternalId: "p1", rating: 1, title: "Ann's favourite",
                              body: "Fits well and looks great on long walks."}) { review { reviewId } errors { code } }
      plan: createSubscriptionPlan(input: {name: "Socks", kind: PRODUCT, skus: ["s1"], intervalUnit: MONTH,
                                           intervalCount: 1, price: 1000, currency: "USD"}) { plan { planId } errors { code } }
    }""", token=admin_token)
    assert all(v["errors"] == [] for v in setup.values()), setup
    review_id = setup["r"]["review"]["reviewId"]
    asked = (await api.ok("""mutation { askQuestion(input: {productExternalId: "p1", memberExternalId: "m1",
        body: "Does it run small for Ann?"}) { question { questionId } errors { code } } }""",
                          token=storefront_token))["askQuestion"]
    assert asked["errors"] == [], asked
    more = await api.ok("""mutation($r: ID!, $q: ID!, $p: ID!) {
      reply: replyToReview(input: {reviewId: $r, body: "Sorry to hear that, Ann Lee."}) { errors { code } }
      adjust: adjustPoints(input: {memberExternalId: "m1", amount: 50, reason: "goodwill Ann birthday 1990-05-01",
                                   idempotencyKey: "adj-1"}) { errors { code } }
      answer: answerQuestion(input: {questionId: $q, memberExternalId: "m1", body: "It runs true to size, Ann."}) {
                errors { code } }
      sub: subscribe(input: {memberExternalId: "m1", planId: $p}) { subscription { subscriptionId } errors { code } }
    }""", {"r": review_id, "q": asked["question"]["questionId"], "p": setup["plan"]["plan"]["planId"]}, admin_token)
    assert all(v["errors"] == [] for v in more.values()), more
    secrets += ["It runs true to size, Ann.", "Sorry to hear that, Ann Lee.", "goodwill Ann birthday"]
    spent = await api.ok("""mutation { spendPoints(input: {memberExternalId: "m1", amount: 5, idempotencyKey: "chk-1",
        reason: "checkout for Ann Lee"}) { errors { code } } }""", token=storefront_token)
    assert spent["spendPoints"]["errors"] == []
    secrets.append("checkout for Ann Lee")
    cancelled = await api.ok("""mutation($s: ID!) { cancelSubscription(input: {subscriptionId: $s, memberExternalId: "m1",
        reason: OTHER, comment: "Moving in with Ann Lee", confirm: true}) { errors { code } } }""",
                             {"s": more["sub"]["subscription"]["subscriptionId"]}, admin_token)
    assert cancelled["cancelSubscription"]["errors"] == []
    deleted = await api.ok("""mutation($r: ID!) { deleteReview(input: {reviewId: $r, memberExternalId: "m1"}) {
        errors { code } } }""", {"r": review_id}, storefront_token)
    assert deleted["deleteReview"]["errors"] == []
    events = await Event.all()
    raw = orjson.dumps([e.payload for e in events]).decode()
    assert {s for s in secrets if s in raw} >= {PII[0], PII[1], "Ann L.", "Ann's favourite", "Moving in with Ann Lee"}
    # then no personal value survives the redaction of any of them
    assert {s for s in secrets if s in raw} >= {"checkout for Ann Lee", "goodwill Ann birthday",
                                                "Sorry to hear that, Ann Lee."}
    assert {e.type for e in events} >= {"points.adjusted", "points.redeemed",
                                        "member.created", "member.updated", "order.recorded", "review.created",
                                        "review.replied", "review.deleted", "question.created", "question.answered",
                                        "subscription.created", "subscription.cancelled"}
    for event in events:
        text = orjson.dumps(redact_event_payload(event.type, event.payload)).decode()
        assert [s for s in secrets if s in text] == [], (event.type, text)


# --- retention -------------------------------------------------------------------------------


async def test_retention_job_blanks_excerpts_older_than_the_setting(api, admin_token, receiver, deliverer, monkeypatch):
    # given deliveries logged 31 days ago and one logged today
    t0 = clock.now().replace(microsecond=0)
    clock.set_now(t0 - timedelta(days=31))
    await _endpoint(api, admin_token, receiver.script("/log", Reply(400)), ["member.created"])
    await helpers.member("old-1", email=PII[0])
    await helpers.member("old-2")
    await _drain(deliverer)
    clock.set_now(t0)
    await helpers.member("new-1")
    await _drain(deliverer)
    assert await WebhookDelivery.filter(request_excerpt__isnull=True).count() == 0
    # when the retention job runs now (default 30 days)
    assert ("webhook_log_retention", blank_old_excerpts) in [(name, job) for name, job, _ in JOBS]
    assert await blank_old_excerpts(clock.now()) == 2
    # then the old excerpts are gone, the rows and the recent excerpt stay
    rows = await WebhookDelivery.all().order_by("id")
    assert [(r.request_excerpt is None, r.response_excerpt is None, r.attempts) for r in rows] == [
        (True, True, 1), (True, True, 1), (False, False, 1)]
    assert await blank_old_excerpts(clock.now()) == 0
    # and a shorter setting reaches the recent one a day later
    monkeypatch.setenv("PATRON_WEBHOOK_LOG_RETENTION_DAYS", "1")
    from domain.settings import reload_settings

    reload_settings()
    assert await blank_old_excerpts(t0 + timedelta(hours=23)) == 0
    assert await blank_old_excerpts(t0 + timedelta(days=1, seconds=1)) == 1
