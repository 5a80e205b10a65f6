"""Webhooks end to end: signing (checked with the Standard Webhooks reference library),
fan-out, every retry and disable rule against a local receiver, SSRF refusal, rotation."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from domain import clock
from domain.events.models import Event
from domain.settings import reload_settings
from domain.webhooks.delivery import Deliverer
from domain.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests import helpers
from tests.receiver import Reply

CREATE = """mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) {
  endpoint { endpointId url eventTypes enabled } secret errors { field message code } } }"""


async def endpoint(api, token, url, types=("*",)):
    data = await api.ok(CREATE, {"i": {"url": url, "eventTypes": list(types)}}, token)
    payload = data["createWebhookEndpoint"]
    assert payload["errors"] == [], payload
    return payload["endpoint"]["endpointId"], payload["secret"]


async def test_delivery_is_signed_per_standard_webhooks_and_verifiable(api, admin_token, receiver, deliverer):
    endpoint_id, secret = await endpoint(api, admin_token, receiver.script("/hook", Reply(200)), ["member.*"])
    assert secret.startswith("whsec_") and len(secret) > 30
    stored = await WebhookEndpoint.get(id=endpoint_id)
    assert secret not in stored.secret_encrypted  # encrypted at rest
    await helpers.member("m1", email="a@example.com")
    assert await deliverer.run_once() == 1
    [hit] = receiver.at("/hook")
    body = json.loads(hit.body)
    event = await Event.get(type="member.created")
    assert body == {"id": f"evt_{event.id}", "type": "member.created", "version": 1,
                    "createdAt": event.created_at.isoformat(), "data": event.payload}
    assert hit.headers["webhook-id"] == f"evt_{event.id}"
    Webhook(secret).verify(hit.body, {k: hit.headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")})
    with pytest.raises(Exception):
        Webhook("whsec_" + "A" * 44).verify(hit.body, hit.headers)
    delivery = await WebhookDelivery.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)


async def test_fan_out_follows_event_type_patterns(api, admin_token, receiver, deliverer):
    await endpoint(api, admin_token, receiver.script("/points", Reply(200)), ["points.*"])
    await endpoint(api, admin_token, receiver.script("/orders", Reply(200)), ["order.recorded"])
    await helpers.order_rule(pending_days=0)
    await helpers.member("m1")
    await helpers.order("o1", amount=1_000)
    while await deliverer.run_once():
        pass
    assert sorted(json.loads(h.body)["type"] for h in receiver.at("/points")) == ["points.earned", "points.released"]
    assert [json.loads(h.body)["type"] for h in receiver.at("/orders")] == ["order.recorded"]
    bad = await api.ok(CREATE, {"i": {"url": receiver.url("/x"), "eventTypes": ["nope.*"]}}, admin_token)
    assert bad["createWebhookEndpoint"]["errors"][0]["field"] == "eventTypes"


async def test_an_over_long_description_is_a_typed_error_and_nothing_is_written(api, admin_token, receiver):
    long = await api.ok(CREATE, {"i": {"url": receiver.url("/x"), "eventTypes": ["*"], "description": "d" * 501}},
                        admin_token)
    assert long["createWebhookEndpoint"]["errors"] == [
        {"field": "description", "message": "description: at most 500 characters, no NUL", "code": "INVALID"}]
    assert await WebhookEndpoint.all().count() == 0
    endpoint_pk, _ = await endpoint(api, admin_token, receiver.url("/x"))
    update = """mutation($id: ID!, $d: String) { updateWebhookEndpoint(id: $id, input: {description: $d}) {
      errors { field code } } }"""
    endpoint_id = (await api.ok("{ webhookEndpoints { id } }", token=admin_token))["webhookEndpoints"][0]["id"]
    refused = await api.ok(update, {"id": endpoint_id, "d": "d" * 501}, admin_token)
    assert refused["updateWebhookEndpoint"]["errors"] == [{"field": "description", "code": "INVALID"}]
    assert (await WebhookEndpoint.get(id=endpoint_pk)).description is None


async def _one_delivery(api, admin_token, receiver, path, *replies):
    await endpoint(api, admin_token, receiver.script(path, *replies), ["member.created"])
    await helpers.member("m1")
    return await WebhookDelivery.get()


async def test_5xx_and_timeouts_retry_on_schedule_then_succeed(api, admin_token, receiver, deliverer, monkeypatch):
    monkeypatch.setenv("PATRON_WEBHOOK_TIMEOUT", "1")
    reload_settings()
    d = Deliverer("timeouts")
    try:
        delivery = await _one_delivery(api, admin_token, receiver, "/flaky", Reply(500), Reply(200, delay=2), Reply(200))
        t0 = clock.now()
        clock.set_now(t0)
        await d.run_once()
        delivery = await WebhookDelivery.get(id=delivery.id)
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
        assert timedelta(seconds=4.5) <= delivery.next_attempt_at - t0 <= timedelta(seconds=5.5)
        assert await d.run_once() == 0  # not due yet
        clock.set_now(t0 + timedelta(seconds=6))
        await d.run_once()
        delivery = await WebhookDelivery.get(id=delivery.id)
        assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 2, "timeout")
        assert timedelta(minutes=4.5) <= delivery.next_attempt_at - clock.now() <= timedelta(minutes=5.5)
        clock.set_now(t0 + timedelta(minutes=6))
        await d.run_once()
        delivery = await WebhookDelivery.get(id=delivery.id)
        assert (delivery.status, delivery.attempts) == ("succeeded", 3)
        assert (await WebhookEndpoint.get()).failing_since is None
        ids = {h.headers["webhook-id"] for h in receiver.at("/flaky")}
        assert len(ids) == 1  # the same webhook-id on every attempt
    finally:
        await d.client.aclose()


async def test_retry_after_is_honoured_on_429(api, admin_token, receiver, deliverer):
    delivery = await _one_delivery(api, admin_token, receiver, "/busy", Reply(429, {"retry-after": "900"}))
    clock.set_now(clock.now())
    await deliverer.run_once()
    delivery = await WebhookDelivery.get(id=delivery.id)
    assert delivery.status == "pending" and delivery.next_attempt_at - clock.now() >= timedelta(seconds=900)


async def test_other_4xx_fail_without_retry_and_3xx_is_not_followed(api, admin_token, receiver, deliverer):
    delivery = await _one_delivery(api, admin_token, receiver, "/bad", Reply(400))
    await deliverer.run_once()
    assert (await WebhookDelivery.get(id=delivery.id)).status == "failed"
    redirect = receiver.script("/moved", Reply(301, {"location": receiver.url("/target")}))
    ep = await api.ok(CREATE, {"i": {"url": redirect, "eventTypes": ["member.updated"]}}, admin_token)
    assert ep["createWebhookEndpoint"]["errors"] == []
    await helpers.member("m1", name="New Name")
    await deliverer.run_once()
    moved = await WebhookDelivery.filter(endpoint_id=ep["createWebhookEndpoint"]["endpoint"]["endpointId"]).first()
    assert (moved.status, moved.last_status_code) == ("pending", 301)
    assert receiver.at("/target") == []


async def test_410_disables_the_endpoint_and_says_why(api, admin_token, receiver, deliverer):
    delivery = await _one_delivery(api, admin_token, receiver, "/gone", Reply(410))
    await deliverer.run_once()
    endpoint_row = await WebhookEndpoint.get()
    assert endpoint_row.enabled is False and "410" in endpoint_row.disabled_reason
    assert (await WebhookDelivery.get(id=delivery.id)).status == "failed"
    disabled = await Event.get(type="webhook.endpoint_disabled")
    assert disabled.payload["endpointId"] == endpoint_row.id
    await helpers.member("m2")
    assert await WebhookDelivery.filter(endpoint_id=endpoint_row.id).count() == 1  # no new fan-out


async def test_continuous_failure_disables_after_the_configured_time(api, admin_token, receiver, deliverer):
    t0 = clock.now()
    clock.set_now(t0)
    await _one_delivery(api, admin_token, receiver, "/down", Reply(503))
    await deliverer.run_once()
    assert (await WebhookEndpoint.get()).failing_since == t0
    clock.set_now(t0 + timedelta(hours=121))
    await deliverer.run_once()
    endpoint_row = await WebhookEndpoint.get()
    assert endpoint_row.enabled is False and endpoint_row.disabled_reason.startswith("Failing continuously")


async def test_the_schedule_ends_in_failure_after_ten_attempts(api, admin_token, receiver, deliverer):
    delivery = await _one_delivery(api, admin_token, receiver, "/never", Reply(500))
    t = clock.now()
    for _ in range(10):
        clock.set_now(t)
        await deliverer.run_once()
        t += timedelta(hours=27)  # longer than the last step with +10 % jitter
        endpoint_row = await WebhookEndpoint.get()
        endpoint_row.failing_since = clock.now()  # keep the streak rule out of this test
        await endpoint_row.save()
    delivery = await WebhookDelivery.get(id=delivery.id)
    assert (delivery.status, delivery.attempts) == ("failed", 10)


async def test_ssrf_guard_refuses_private_targets_unless_allowed(api, admin_token, monkeypatch):
    for url in ("http://10.0.0.7/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]/x",
                "ftp://example.com/x", "http://user:pw@127.0.0.1/x"):
        data = await api.ok(CREATE, {"i": {"url": url, "eventTypes": ["*"]}}, admin_token)
        assert data["createWebhookEndpoint"]["errors"][0]["code"] == "URL_NOT_ALLOWED", url
    monkeypatch.setenv("PATRON_WEBHOOK_ALLOWED_HOSTS", "")
    reload_settings()
    refused = await api.ok(CREATE, {"i": {"url": "http://127.0.0.1:9/x", "eventTypes": ["*"]}}, admin_token)
    assert refused["createWebhookEndpoint"]["errors"][0]["code"] == "URL_NOT_ALLOWED"
    assert await WebhookEndpoint.all().count() == 0


async def test_rotation_signs_with_both_secrets_during_the_overlap(api, admin_token, receiver, deliverer):
    endpoint_id, old = await endpoint(api, admin_token, receiver.script("/rot", Reply(200)), ["member.*"])
    rotated = await api.ok("mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret endpoint { rotatingUntil } errors { code } } }",
                           {"id": endpoint_id}, admin_token)
    new = rotated["rotateWebhookSecret"]["secret"]
    assert new != old and rotated["rotateWebhookSecret"]["endpoint"]["rotatingUntil"]
    await helpers.member("m1")
    await deliverer.run_once()
    [hit] = receiver.at("/rot")
    assert len(hit.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(hit.body, hit.headers)
    clock.set_now(clock.now() + timedelta(hours=25))
    await helpers.member("m2")
    await deliverer.run_once()
    later = receiver.at("/rot")[-1]
    assert len(later.headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(later.body, later.headers | {"webhook-timestamp": later.headers["webhook-timestamp"]})


async def test_delivery_log_redeliver_and_test_webhook_through_graphql(api, admin_token, partner_token, receiver, deliverer):
    endpoint_id, _ = await endpoint(api, admin_token, receiver.script("/log", Reply(500), Reply(200)), ["member.*"])
    await helpers.member("m1")
    await deliverer.run_once()
    q = """query($e: ID!, $s: DeliveryStatus) { webhookDeliveries(endpointId: $e, status: $s) { edges { node {
      deliveryId eventType status attempts lastStatusCode requestExcerpt responseExcerpt durationMs } } } }"""
    log = (await api.ok(q, {"e": endpoint_id}, admin_token))["webhookDeliveries"]["edges"]
    node = log[0]["node"]
    assert (node["eventType"], node["status"], node["attempts"], node["lastStatusCode"]) == ("member.created", "PENDING", 1, 500)
    assert "member.created" in node["requestExcerpt"] and node["responseExcerpt"] == "no" and node["durationMs"] >= 0
    again = await api.ok("mutation($d: ID!) { redeliverWebhook(deliveryId: $d) { delivery { status } errors { code } } }",
                         {"d": node["deliveryId"]}, admin_token)
    assert again["redeliverWebhook"]["delivery"]["status"] == "PENDING"
    test = await api.ok("mutation($e: ID!) { sendTestWebhook(endpointId: $e) { delivery { eventType } errors { code } } }",
                        {"e": endpoint_id}, admin_token)
    assert test["sendTestWebhook"]["delivery"]["eventType"] == "webhook.test"
    await deliverer.run_once()
    assert "webhook.test" in [json.loads(h.body)["type"] for h in receiver.at("/log")]
    # A partner sees only its own endpoints and cannot touch the admin's.
    assert (await api.ok("{ webhookEndpoints { endpointId } }", token=partner_token))["webhookEndpoints"] == []
    foreign = await api.ok("mutation($e: ID!) { sendTestWebhook(endpointId: $e) { errors { code } } }", {"e": endpoint_id}, partner_token)
    assert foreign["sendTestWebhook"]["errors"] == [{"code": "WEBHOOK_NOT_FOUND"}]
    own_id, _ = await endpoint(api, partner_token, receiver.script("/partner", Reply(200)), ["review.*"])
    listed = (await api.ok("{ webhookEndpoints { endpointId } }", token=partner_token))["webhookEndpoints"]
    assert listed == [{"endpointId": own_id}]
    assert len((await api.ok("{ webhookEndpoints { endpointId } }", token=admin_token))["webhookEndpoints"]) == 2
