"""Issue 12's rules are "defaults; each configurable per policy": the cap across types, the
per-product repeat window, the quiet hours, the points notice lead days and the per-category
delays are policy fields (updateMessagePolicy), and with PERSONALIZATION a message goes at the
member's preferred contact hour. End to end through GraphQL with the injected clock and a real
SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain import clock
from domain.members.models import Consent
from domain.messaging import disclosure, occasions
from domain.messaging.models import Message
from domain.messaging.sending import send_due
from tests.conftest import member_token
from tests.test_message_types import A_EXPIRES, ADJUST, LOTS_AT, _at, _member, _subjects
from tests.test_messaging import (  # noqa: F401 - smtp and surveys_off are fixtures
    DELAY,
    ORDER,
    T0,
    _fulfil,
    _messages,
    _run_at,
    _shop,
    smtp,
    surveys_off,
)

SETTINGS = """{ messagePolicies { type capMessages capDays productRepeatDays quietHoursStart quietHoursEnd leadDays
  categoryDelays { category delayHours } } }"""
UPDATE = """mutation($i: UpdateMessagePolicyInput!) { updateMessagePolicy(input: $i) { policy { type capMessages
  capDays productRepeatDays quietHoursStart quietHoursEnd leadDays categoryDelays { category delayHours } }
  errors { field code } } }"""


async def _policy(api, admin_token, **changes) -> dict:
    done = (await api.ok(UPDATE, {"i": changes}, admin_token))["updateMessagePolicy"]
    assert done["errors"] == [], done
    return done["policy"]


async def test_settings_have_the_issue_defaults_and_each_is_changed_or_refused(api, admin_token):
    policies = {p["type"]: p for p in (await api.ok(SETTINGS, token=admin_token))["messagePolicies"]}
    assert policies["REVIEW_REQUEST"] == {
        "type": "REVIEW_REQUEST", "capMessages": 5, "capDays": 30, "productRepeatDays": 365, "quietHoursStart": 21,
        "quietHoursEnd": 8, "leadDays": [], "categoryDelays": []}
    assert policies["POINTS_EXPIRING"]["leadDays"] == [30, 7]  # PATRON_POINTS_EXPIRING_DAYS
    changed = await _policy(api, admin_token, type="REVIEW_REQUEST", capMessages=2, capDays=7, productRepeatDays=30,
                            quietHoursStart=22, quietHoursEnd=7,
                            categoryDelays=[{"category": "Shoes", "delayHours": 504}])
    assert changed == {"type": "REVIEW_REQUEST", "capMessages": 2, "capDays": 7, "productRepeatDays": 30,
                       "quietHoursStart": 22, "quietHoursEnd": 7, "leadDays": [],
                       "categoryDelays": [{"category": "Shoes", "delayHours": 504}]}
    assert (await _policy(api, admin_token, type="POINTS_EXPIRING", leadDays=[3, 14]))["leadDays"] == [14, 3]
    # a later change keeps what it does not name; [] removes the category delays
    assert (await _policy(api, admin_token, type="REVIEW_REQUEST", categoryDelays=[]))["capMessages"] == 2
    for bad, field in (({"capMessages": 0}, "capMessages"), ({"capDays": 366}, "capDays"),
                       ({"productRepeatDays": -1}, "productRepeatDays"), ({"quietHoursStart": 24}, "quietHoursStart"),
                       ({"quietHoursEnd": -1}, "quietHoursEnd"), ({"leadDays": [7]}, "leadDays"),
                       ({"categoryDelays": [{"category": "A", "delayHours": 1}, {"category": "A", "delayHours": 2}]},
                        "categoryDelays"),
                       ({"categoryDelays": [{"category": "", "delayHours": 1}]}, "categoryDelays"),
                       ({"categoryDelays": [{"category": "A", "delayHours": 9000}]}, "categoryDelays")):
        refused = (await api.ok(UPDATE, {"i": {"type": "REVIEW_REQUEST"} | bad}, admin_token))["updateMessagePolicy"]
        assert refused == {"policy": None, "errors": [{"field": field, "code": "INVALID"}]}, bad
    for type_, bad, field in (("WIN_BACK", {"productRepeatDays": 10}, "productRepeatDays"),
                              ("BIRTHDAY", {"categoryDelays": []}, "categoryDelays"),
                              ("POINTS_EXPIRING", {"leadDays": []}, "leadDays"),
                              ("POINTS_EXPIRING", {"leadDays": [7, 7]}, "leadDays"),
                              ("POINTS_EXPIRING", {"leadDays": [1, 2, 3, 4, 5, 6]}, "leadDays")):
        refused = (await api.ok(UPDATE, {"i": {"type": type_} | bad}, admin_token))["updateMessagePolicy"]
        assert refused == {"policy": None, "errors": [{"field": field, "code": "INVALID"}]}, (type_, bad)


async def test_a_category_delay_holds_the_request_until_its_longest_line(api, storefront_token, admin_token, smtp):
    await _policy(api, admin_token, type="REVIEW_REQUEST", categoryDelays=[{"category": "Shoes", "delayHours": 504}])
    shoes_and_socks = [{"sku": "s1", "productExternalId": "p1", "category": "Shoes", "quantity": 1, "unitPrice": 100},
                       {"sku": "s2", "productExternalId": "p2", "category": "Socks", "quantity": 1, "unitPrice": 100}]
    await _shop(api, storefront_token, lines=shoes_and_socks)
    await api.ok(ORDER, {"id": "o2", "m": "m1", "lines": [
        {"sku": "s3", "productExternalId": "p3", "category": "Socks", "quantity": 1, "unitPrice": 100}]},
        storefront_token)
    await _fulfil(api, storefront_token)
    await _fulfil(api, storefront_token, order="o2")
    due = {m["orderExternalId"]: (m["scheduledFor"], m["products"]) for m in await _messages(api)}
    assert due == {"o1": ("2026-01-24T01:00:00+00:00", ["p1", "p2"]),  # 504 h: the shoes
                   "o2": ("2026-01-17T01:00:00+00:00", ["p3"])}  # 336 h: no override for socks


async def test_the_cap_and_the_product_repeat_window_follow_the_policy(api, storefront_token, admin_token, smtp):
    await _policy(api, admin_token, type="REVIEW_REQUEST", capMessages=2, capDays=7, productRepeatDays=1)
    await _shop(api, storefront_token)
    member_id = (await Consent.first()).member_id
    due = T0 + DELAY
    for i, days in enumerate((2, 10)):  # sent 2 and 10 days before: one inside the 7-day window
        at = due - timedelta(days=days)
        await Message.create(member_id=member_id, type="BIRTHDAY", channel="EMAIL", status="SENT",
                             consent_purpose="MARKETING_EMAIL", scheduled_for=at, sent_at=at, products=[],
                             dedupe_key=f"old-{i}", created_at=at, updated_at=at)
    await _fulfil(api, storefront_token)
    # one in the window: under the cap of 2, the request goes
    assert await _run_at(due) == 1 and len(smtp.mails) == 1
    # p1 again two days later: the repeat window is 1 day, so it is asked again; but the
    # request and the old message are now 2 sent in 7 days: capped at the policy's figures
    await api.ok(ORDER, {"id": "o2", "m": "m1", "lines": [
        {"sku": "s1", "productExternalId": "p1", "quantity": 1, "unitPrice": 100}]}, storefront_token)
    await _fulfil(api, storefront_token, order="o2", at=T0 + timedelta(days=2))
    request = await Message.get(type="REVIEW_REQUEST", order_external_id="o2")
    assert (request.status, request.products) == ("SCHEDULED", ["p1"])
    assert await _run_at(due + timedelta(days=2)) == 0
    await request.refresh_from_db()
    assert (request.status, request.reason) == ("SUPPRESSED", "capped: 2 messages in 7 days")
    # with the default window the same order is capped by the product instead
    await _policy(api, admin_token, type="REVIEW_REQUEST", productRepeatDays=365)
    await api.ok(ORDER, {"id": "o3", "m": "m1", "lines": [
        {"sku": "s1", "productExternalId": "p1", "quantity": 1, "unitPrice": 100}]}, storefront_token)
    await _fulfil(api, storefront_token, order="o3", at=T0 + timedelta(days=3))
    third = await Message.get(type="REVIEW_REQUEST", order_external_id="o3")
    assert (third.status, third.reason) == ("SUPPRESSED", "capped: each product was already asked about in the last 12 months")


async def test_quiet_hours_follow_the_policy(api, storefront_token, admin_token, smtp):
    # 12:00 UTC is 21:00 in Seoul: quiet by default, not when the quiet hours start at 22
    at = datetime(2026, 1, 3, 12, 0, tzinfo=UTC)
    await _policy(api, admin_token, type="REVIEW_REQUEST", quietHoursStart=22, quietHoursEnd=7)
    await _shop(api, storefront_token)
    await _fulfil(api, storefront_token, at=at)
    [message] = await _messages(api)
    assert (message["scheduledFor"], message["reason"]) == ("2026-01-17T12:00:00+00:00", None)
    # quiet from 20:00 to 09:00: the same moment moves to 09:00 the next day
    await _policy(api, admin_token, type="REVIEW_REQUEST", quietHoursStart=20, quietHoursEnd=9)
    await _shop(api, storefront_token, order="o2", member="m2")
    await _fulfil(api, storefront_token, order="o2", at=at)
    [moved] = await _messages(api, "m2")
    assert (moved["scheduledFor"], moved["reason"]) == (
        "2026-01-18T00:00:00+00:00", "quiet hours: moved to 2026-01-18 09:00 Asia/Seoul (no NIGHT_MESSAGES consent)")
    # and when due the same hours are checked again: 20:30 in Seoul is quiet for this policy
    assert await _run_at(datetime(2026, 1, 17, 11, 30, tzinfo=UTC)) == 0
    await Message.filter(member__external_id="m1").update(status="CANCELLED")
    assert (await Message.get(member__external_id="m2")).status == "SCHEDULED"
    assert await _run_at(datetime(2026, 1, 18, 0, 0, tzinfo=UTC)) == 1
    # start == end: no quiet hours at all
    await _policy(api, admin_token, type="REVIEW_REQUEST", quietHoursStart=0, quietHoursEnd=0)
    await _shop(api, storefront_token, order="o3", member="m3")
    await _fulfil(api, storefront_token, order="o3", at=datetime(2026, 1, 3, 16, 0, tzinfo=UTC))  # 01:00 in Seoul
    [night] = await _messages(api, "m3")
    assert (night["scheduledFor"], night["reason"]) == ("2026-01-17T16:00:00+00:00", None)


async def test_points_notice_lead_days_follow_the_policy(api, storefront_token, admin_token, smtp):
    await _policy(api, admin_token, type="POINTS_EXPIRING", leadDays=[14])
    await _member(api, storefront_token, consents=("SERVICE_NOTICES",))
    clock.set_now(LOTS_AT)
    await api.ok(ADJUST, {"m": "m1", "a": 100, "k": "g"}, admin_token)
    assert await _at(A_EXPIRES - timedelta(days=30), occasions.plan_points_expiring) == 0
    assert await _at(A_EXPIRES - timedelta(days=14), occasions.plan_points_expiring) == 1
    assert await send_due(clock.now()) == 1
    assert _subjects(smtp) == ["100포인트가 2027-01-05까지 소멸됩니다"]


async def test_with_personalization_a_message_goes_at_the_preferred_contact_hour(api, storefront_token, smtp):
    # the member orders at 00:00 UTC (09:00 in Seoul): their preferred contact hour
    await _shop(api, storefront_token, consents=("REVIEW_REQUESTS", "PERSONALIZATION"))
    await _fulfil(api, storefront_token)
    [message] = await _messages(api)
    # due 2026-01-17 01:00 UTC (10:00 Seoul): the next 09:00 Seoul is the day after
    assert (message["scheduledFor"], message["reason"]) == (
        "2026-01-18T00:00:00+00:00", "preferred contact hour: 2026-01-18 09:00 Asia/Seoul (PERSONALIZATION consent)")
    assert await _run_at(T0 + DELAY) == 0
    assert await _run_at(datetime(2026, 1, 18, 0, 0, tzinfo=UTC)) == 1 and len(smtp.mails) == 1
    sent = next(m for m in await _messages(api) if m["type"] == "REVIEW_REQUEST")
    assert (sent["status"], sent["reason"]) == ("SENT", message["reason"])
    # without PERSONALIZATION the same member's next request keeps its due time
    await Consent.filter(purpose="PERSONALIZATION").update(granted=False)
    await api.ok(ORDER, {"id": "o2", "m": "m1", "lines": [
        {"sku": "s3", "productExternalId": "p3", "quantity": 1, "unitPrice": 100}]}, storefront_token)
    await _fulfil(api, storefront_token, order="o2")
    request = await Message.get(type="REVIEW_REQUEST", order_external_id="o2")
    assert (request.scheduled_for, request.reason) == (T0 + DELAY, None)


async def test_a_preferred_hour_inside_the_quiet_hours_is_not_used(api, storefront_token, smtp):
    # orders at 14:00 UTC = 23:00 in Seoul: the member is active at night, but without
    # NIGHT_MESSAGES nothing goes then; the message keeps its daytime due time
    late = [{"sku": "s1", "productExternalId": "p1", "quantity": 1, "unitPrice": 100}]
    await _shop(api, storefront_token, consents=("REVIEW_REQUESTS", "PERSONALIZATION"), lines=late)
    await Message.all().delete()
    from_orders = await api.ok("""mutation { recordOrder(input: {externalId: "late", memberExternalId: "m1",
        currency: "KRW", placedAt: "2026-01-02T14:00:00Z", lines: [{sku: "s1", productExternalId: "p9", quantity: 1,
        unitPrice: 100}]}) { errors { code } } }""", token=storefront_token)
    assert from_orders["recordOrder"]["errors"] == []
    await api.ok("""mutation { recordOrder(input: {externalId: "late2", memberExternalId: "m1",
        currency: "KRW", placedAt: "2026-01-02T14:30:00Z", lines: [{sku: "s1", productExternalId: "p8", quantity: 1,
        unitPrice: 100}]}) { errors { code } } }""", token=storefront_token)
    await _fulfil(api, storefront_token, order="late")
    request = await Message.get(type="REVIEW_REQUEST", order_external_id="late")
    assert (request.scheduled_for, request.reason) == (T0 + DELAY, None)
    # with NIGHT_MESSAGES the 23:00 hour is used
    await api.ok("""mutation { updateConsents(input: {memberExternalId: "m1", consents: [{purpose: NIGHT_MESSAGES,
        granted: true}]}) { errors { code } } }""", token=storefront_token)
    await _fulfil(api, storefront_token, order="late2")
    night = await Message.get(type="REVIEW_REQUEST", order_external_id="late2")
    assert night.scheduled_for == datetime(2026, 1, 17, 14, 0, tzinfo=UTC)
    assert night.reason == "preferred contact hour: 2026-01-17 23:00 Asia/Seoul (PERSONALIZATION consent)"


USAGE = "{ myDataUsage { features { feature consentPurpose active reads why } } }"


async def _usage(api) -> dict[str, dict]:
    features = (await api.ok(USAGE, token=member_token("m1")))["myDataUsage"]["features"]
    return {f["feature"]: f for f in features}


async def test_my_data_usage_states_exactly_the_messages_the_policies_can_send(api, storefront_token, admin_token):
    await _member(api, storefront_token, consents=("SERVICE_NOTICES",))
    usage = await _usage(api)
    assert usage["Service notices"] == {
        "feature": "Service notices", "consentPurpose": "SERVICE_NOTICES", "active": True,
        "reads": ["points balance and expiry dates", "tier changes", "e-mail address, name and language",
                  "time zone (quiet hours)", "the hours you are usually active (with PERSONALIZATION consent)"],
        "why": "Only with your consent: a notice 30 and 7 days before points expire, with what expires by then, never "
               "if you spent them meanwhile (by e-mail); a notice when your tier changes (by e-mail). Rules: not "
               "counted toward the limit of messages, none between 21:00 and 08:00 of your time zone without your "
               "NIGHT_MESSAGES consent, with your PERSONALIZATION consent, at the hour you are usually active. Every "
               "message has a one-click unsubscribe."}
    marketing = usage["Marketing e-mail"]
    assert (marketing["consentPurpose"], marketing["active"]) == ("MARKETING_EMAIL", False)
    assert marketing["why"].startswith(
        "Only with your consent: a birthday greeting on your birthday, once a year (by e-mail); one note when you "
        "have not ordered for 90 days (once per pause; an order ends it) (by e-mail); one reminder 2 days to 3 days "
        "after you leave products in your cart")
    assert "at most 5 messages in 30 days" in marketing["why"] and "marked (광고) in Korean" in marketing["why"]
    feedback = usage["Review requests and feedback"]["why"]
    assert ("one request per delivered order, 14 days after delivery, asking about the products you have not "
            "reviewed, at most once per product in 365 days (by e-mail)") in feedback
    assert "Marketing by SMS or app" not in usage
    # the policies change: what is stated changes with them, figure for figure
    await _policy(api, admin_token, type="TIER_CHANGED", enabled=False)
    await _policy(api, admin_token, type="POINTS_EXPIRING", leadDays=[14], quietHoursStart=22, quietHoursEnd=7)
    await _policy(api, admin_token, type="REVIEW_REQUEST", capMessages=3, capDays=14,
                  categoryDelays=[{"category": "Shoes", "delayHours": 504}])
    for type_ in ("WIN_BACK", "CART_REMINDER"):
        await _policy(api, admin_token, type=type_, enabled=False)
    await api.ok("""mutation { updateMessagePolicy(input: {type: BIRTHDAY, channels: [WEBHOOK]}) {
        errors { code } } }""", token=admin_token)
    usage = await _usage(api)
    notices = usage["Service notices"]
    assert notices["reads"] == ["points balance and expiry dates", "e-mail address, name and language",
                                "time zone (quiet hours)",
                                "the hours you are usually active (with PERSONALIZATION consent)"]
    assert notices["why"].startswith("Only with your consent: a notice 14 days before points expire, with what "
                                     "expires by then, never if you spent them meanwhile (by e-mail). Rules: not "
                                     "counted toward the limit of messages, none between 22:00 and 07:00")
    assert "Marketing e-mail" not in usage  # no marketing type goes by e-mail any more
    sms = usage["Marketing by SMS or app"]
    assert (sms["consentPurpose"], sms["active"]) == ("MARKETING_SMS", False)
    assert sms["why"].startswith("Only with your consent: a birthday greeting on your birthday, once a year (through "
                                 "the store's SMS, 알림톡 or app provider).")
    assert sms["reads"][:2] == ["birthday (a birthday greeting)", "e-mail address, name and language, sent with the "
                                "message to the store's messaging provider"]
    feedback = usage["Review requests and feedback"]
    assert ("one request per delivered order, 14 days after delivery (21 days for Shoes; an order waits for its "
            "longest)") in feedback["why"]
    assert "Rules for REVIEW_REQUEST: at most 3 messages in 14 days" in feedback["why"]
    assert "order line categories (some wait longer)" in feedback["reads"]


async def test_a_statement_read_disappears_when_its_code_path_does_not_exist(api, monkeypatch):
    real = disclosure.exists
    monkeypatch.setattr(disclosure, "exists", lambda path: path != "domain.messaging.planning:zone_of" and real(path))
    stated = {s["feature"]: s for s in await disclosure.statements()}
    assert stated["Review requests and feedback"]["purpose"] == "REVIEW_REQUESTS"
    assert not any("time zone" in r for s in stated.values() for r in s["reads"])
    monkeypatch.setattr(disclosure, "exists", lambda path: path != disclosure.NEEDS and real(path))
    assert await disclosure.statements() == []
