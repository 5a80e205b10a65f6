"""The message types beyond review requests, end to end through GraphQL: POINTS_EXPIRING,
TIER_CHANGED, BIRTHDAY, WIN_BACK and CART_REMINDER are planned by their leased jobs or the tier
change event, pass the same consent / cap / quiet-hours rules, are checked again when due and
arrive at a real SMTP server (aiosmtpd on 127.0.0.1). Time is the injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain import clock
from domain.events.models import Event
from domain.messaging import occasions
from domain.messaging.models import Message
from domain.messaging.sending import send_due
from domain.settings import get_settings, reload_settings
from tests import helpers
from tests.conftest import member_token
from tests.test_messaging import CONSENTS, POLICY, UPSERT, _parts, smtp  # noqa: F401 - smtp is a fixture

ADJUST = """mutation($m: String!, $a: Int!, $k: String!) { adjustPoints(input: {memberExternalId: $m, amount: $a,
  reason: "grant", idempotencyKey: $k}) { errors { code } } }"""
SPEND = """mutation($m: String, $a: Int!, $k: String!) { spendPoints(input: {memberExternalId: $m, amount: $a,
  idempotencyKey: $k, reason: "checkout"}) { errors { code } } }"""
ORDER = """mutation($id: String!, $m: String!, $at: DateTime!, $amount: Int!) { recordOrder(input: {externalId: $id,
  memberExternalId: $m, currency: "USD", placedAt: $at, lines: [{sku: "s1", productExternalId: "p1", quantity: 1,
  unitPrice: $amount}]}) { errors { code } } }"""
TRACK = """mutation($e: [TrackEventInput!]!) { trackEvents(events: $e) { accepted errors { field code } } }"""
MY_MESSAGES = """{ me { messages(first: 50) { edges { node { type channel status reason scheduledFor sentAt
  orderExternalId products } } } } }"""


async def _member(api, token, external_id="m1", consents=(), **profile) -> None:
    values = {"externalId": external_id, "email": f"{external_id}@example.com", "name": "Ann Lee"} | profile
    assert (await api.ok(UPSERT, {"i": values}, token))["upsertMember"]["errors"] == []
    if consents:
        done = await api.ok(CONSENTS, {"m": external_id, "c": [{"purpose": p, "granted": True} for p in consents]}, token)
        assert done["updateConsents"]["errors"] == []


async def _at(at: datetime, job) -> int:  # noqa: ANN001
    clock.set_now(at)
    return await job(at)


async def _messages(api, member="m1") -> list[tuple]:
    edges = (await api.ok(MY_MESSAGES, token=member_token(member)))["me"]["messages"]["edges"]
    return [(e["node"]["type"], e["node"]["status"], e["node"]["reason"]) for e in edges]


def _text(mail) -> tuple[str, str]:  # noqa: ANN001
    """Both parts, with the e-mail's CRLF line ends as \n."""
    return tuple(part.replace("\r\n", "\n") for part in _parts(mail))


def _subjects(inbox) -> list[str]:  # noqa: ANN001
    return [mail["Subject"] for _, _, mail in inbox.mails]


# --- POINTS_EXPIRING -------------------------------------------------------------------------

LOTS_AT = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)  # a Monday, 10:00 in Seoul; lots expire 365 days later
A_EXPIRES = LOTS_AT + timedelta(days=365)  # Tue 2027-01-05
C_EXPIRES = LOTS_AT + timedelta(days=375)  # Fri 2027-01-15, the week after


async def test_points_expiring_30_and_7_days_before_summing_what_expires_by_then(api, storefront_token, admin_token, smtp):
    await _member(api, storefront_token, consents=("SERVICE_NOTICES",), locale="en")
    await _member(api, storefront_token, "m2")  # no SERVICE_NOTICES consent
    for i, (member, amount, day) in enumerate((("m1", 100, 0), ("m1", 40, 2), ("m1", 25, 10), ("m2", 70, 0))):
        clock.set_now(LOTS_AT + timedelta(days=day))
        assert (await api.ok(ADJUST, {"m": member, "a": amount, "k": f"g{i}"}, admin_token))["adjustPoints"]["errors"] == []
    plan = occasions.plan_points_expiring
    # a day before the 30-day notice: nothing; on it: one notice per member (m2's suppressed)
    assert await _at(A_EXPIRES - timedelta(days=31), plan) == 0
    assert await _at(A_EXPIRES - timedelta(days=30), plan) == 2
    assert await send_due(clock.now()) == 1
    # the notice sums every lot expiring that week: 100 (Tue) + 40 (Thu), not the 25 of the week after
    assert _subjects(smtp) == ["140 points expire by 2027-01-07"]
    text, html = _text(smtp.mails[0][2])
    assert "140 of your points expire by 2027-01-07." in text and "service notices" in text
    assert "140 of your points expire by 2027-01-07." in html
    # the Thursday lot's own 30-day moment: same week, no second notice
    assert await _at(A_EXPIRES - timedelta(days=28), plan) == 0
    # the week after: its own notice, which sums everything expiring by then (140 + 25)
    assert await _at(C_EXPIRES - timedelta(days=30), plan) == 1
    assert await send_due(clock.now()) == 1
    assert _subjects(smtp)[1] == "165 points expire by 2027-01-15"
    # the 7-day notice is planned, but the member spends the points before it goes out
    assert await _at(A_EXPIRES - timedelta(days=7), plan) == 2
    assert (await api.ok(SPEND, {"m": "m1", "a": 140, "k": "s1"}, admin_token))["spendPoints"]["errors"] == []
    assert await send_due(clock.now()) == 0
    assert len(smtp.mails) == 2
    assert await _messages(api) == [
        ("POINTS_EXPIRING", "SUPPRESSED", "points spent meanwhile: nothing left to expire"),
        ("POINTS_EXPIRING", "SENT", "handed to the SMTP server"),
        ("POINTS_EXPIRING", "SENT", "handed to the SMTP server")]
    sent = await Message.filter(member__external_id="m1", status="SENT").order_by("id").values_list("details", flat=True)
    assert sent == [{"days": 30, "until": "2027-01-11T00:00:00+00:00", "points": 140, "expiresBy": "2027-01-07"},
                    {"days": 30, "until": "2027-01-18T00:00:00+00:00", "points": 165, "expiresBy": "2027-01-15"}]
    assert await _messages(api, "m2") == [("POINTS_EXPIRING", "SUPPRESSED", "no consent (SERVICE_NOTICES)")] * 2


async def test_points_expiring_leads_follow_the_setting(api, storefront_token, admin_token, smtp):
    current = get_settings()  # the smtp fixture's settings, plus one lead of 14 days
    reload_settings(points_expiring_days="14", smtp_url=current.smtp_url, public_url=current.public_url)
    await _member(api, storefront_token, consents=("SERVICE_NOTICES",))
    clock.set_now(LOTS_AT)
    await api.ok(ADJUST, {"m": "m1", "a": 100, "k": "g"}, admin_token)
    assert await _at(A_EXPIRES - timedelta(days=30), occasions.plan_points_expiring) == 0
    assert await _at(A_EXPIRES - timedelta(days=14), occasions.plan_points_expiring) == 1
    assert await send_due(clock.now()) == 1
    assert _subjects(smtp) == ["100포인트가 2027-01-05까지 소멸됩니다"]  # ko; a service notice has no (광고)


# --- TIER_CHANGED ------------------------------------------------------------------------------

async def test_tier_changed_says_the_old_and_new_tier_and_is_cap_exempt(api, storefront_token, smtp):
    clock.set_now(LOTS_AT)
    await helpers.tiers_bronze_silver_gold()
    await _member(api, storefront_token, consents=("SERVICE_NOTICES",), locale="en")
    # joining placed the member in Bronze before the consent was given: that notice is suppressed
    assert await _messages(api) == [("TIER_CHANGED", "SUPPRESSED", "no consent (SERVICE_NOTICES)")]
    member_id = (await Message.get()).member_id
    for i in range(5):  # the 5-in-30-days cap is full
        await Message.create(member_id=member_id, type="BIRTHDAY", channel="EMAIL", status="SENT",
                             consent_purpose="MARKETING_EMAIL", scheduled_for=LOTS_AT - timedelta(days=i + 1),
                             sent_at=LOTS_AT - timedelta(days=i + 1), products=[], dedupe_key=f"old-{i}",
                             created_at=LOTS_AT, updated_at=LOTS_AT)
    done = await api.ok(ORDER, {"id": "o1", "m": "m1", "at": LOTS_AT.isoformat(), "amount": 50_000}, storefront_token)
    assert done["recordOrder"]["errors"] == []
    assert await send_due(LOTS_AT) == 1
    assert _subjects(smtp) == ["Your tier is now Silver"]
    text, _ = _text(smtp.mails[0][2])
    assert "Your tier changed from Bronze to Silver." in text
    planned = await Message.filter(type="TIER_CHANGED", status="SENT").values_list("details", flat=True)
    assert planned == [{"from": "Bronze", "to": "Silver"}]


# --- BIRTHDAY ----------------------------------------------------------------------------------

async def test_birthday_on_the_day_once_a_year_feb_29_on_feb_28_marketing_by_channel(api, storefront_token,
                                                                                    admin_token, smtp):
    await api.ok(POLICY, {"i": {"type": "BIRTHDAY", "channels": ["EMAIL", "WEBHOOK"]}}, admin_token)
    await _member(api, storefront_token, consents=("MARKETING_EMAIL",), birthday="2000-02-29")
    await _member(api, storefront_token, "m2", consents=("MARKETING_EMAIL",), birthday="1990-03-01")
    await _member(api, storefront_token, "m3", birthday="1990-02-28")  # no consent
    plan = occasions.plan_birthdays
    # 2027 is not a leap year: Feb 29 is celebrated on Feb 28. Two days before: nothing.
    assert await _at(datetime(2027, 2, 25, 15, 0, tzinfo=UTC), plan) == 0
    # Feb 27, 09:00 in Seoul: m1 and m3 celebrate tomorrow, planned for 10:00 there (delayHours 10)
    assert await _at(datetime(2027, 2, 27, 0, 0, tzinfo=UTC), plan) == 4
    due = datetime(2027, 2, 28, 1, 0, tzinfo=UTC)
    assert await _at(due - timedelta(minutes=1), send_due) == 0
    assert await _at(due, send_due) == 1
    assert _subjects(smtp) == ["(광고) Ann Lee님, 생일을 축하드립니다"]
    text, _ = _text(smtp.mails[0][2])
    assert text.startswith("(광고) Ann Lee님, 안녕하세요.") and "Shop에서 생일을" in text and "광고성 정보" in text
    # the webhook channel is SMS/push: it needs MARKETING_SMS, which m1 did not give
    assert await _messages(api) == [("BIRTHDAY", "SUPPRESSED", "no consent (MARKETING_SMS)"),
                                    ("BIRTHDAY", "SENT", "handed to the SMTP server")]
    assert await _messages(api, "m3") == [("BIRTHDAY", "SUPPRESSED", "no consent (MARKETING_SMS)"),
                                          ("BIRTHDAY", "SUPPRESSED", "no consent (MARKETING_EMAIL)")]
    # once a year: later runs that day and the next plan nothing more for m1
    assert await _at(due + timedelta(hours=5), plan) == 2  # m2's birthday (Mar 1) is now tomorrow in Seoul
    assert await Message.filter(member__external_id="m1").count() == 2
    # 2028 is a leap year: on Feb 27 only m3 (Feb 28) is planned; m1 on Feb 28, for Feb 29 10:00
    assert await _at(datetime(2028, 2, 27, 1, 0, tzinfo=UTC), plan) == 2
    assert await _at(datetime(2028, 2, 28, 1, 0, tzinfo=UTC), plan) == 2
    planned = await Message.filter(member__external_id="m1", status="SCHEDULED").values_list("scheduled_for", flat=True)
    assert planned == [datetime(2028, 2, 29, 1, 0, tzinfo=UTC)]  # e-mail; the webhook one lacks MARKETING_SMS


# --- WIN_BACK ----------------------------------------------------------------------------------

async def test_win_back_once_per_lapse_and_a_new_order_resets_or_cancels_it(api, storefront_token, smtp):
    await _member(api, storefront_token, consents=("MARKETING_EMAIL",))
    await _member(api, storefront_token, "m2", consents=("MARKETING_EMAIL",))
    first = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    for order, member, at in (("o1", "m1", first), ("o2", "m2", first), ("o3", "m2", first + timedelta(days=30))):
        clock.set_now(at)
        done = await api.ok(ORDER, {"id": order, "m": member, "at": at.isoformat(), "amount": 100}, storefront_token)
        assert done["recordOrder"]["errors"] == []
    plan = occasions.plan_win_back
    lapse = first + timedelta(days=90)  # 2026-04-01 09:00 in Seoul
    assert await _at(lapse - timedelta(hours=1), plan) == 0
    assert await _at(lapse, plan) == 1  # m2 ordered again on day 30: not lapsed
    assert await send_due(lapse) == 1
    assert _subjects(smtp) == ["(광고) Shop에서 안부 전합니다"]
    text, _ = _text(smtp.mails[0][2])
    assert "마지막 주문(o1) 후 90일이 지났습니다." in text
    assert await _at(lapse + timedelta(days=3), plan) == 0  # once per lapse
    # a new order ends the lapse; the next one is planned again, and an order before it goes out cancels it
    again = datetime(2026, 4, 10, 0, 0, tzinfo=UTC)
    clock.set_now(again)
    for order, member in (("o4", "m1"), ("o6", "m2")):
        await api.ok(ORDER, {"id": order, "m": member, "at": again.isoformat(), "amount": 100}, storefront_token)
    assert await _at(again + timedelta(days=90), plan) == 2  # m1's new lapse, and m2's
    clock.set_now(again + timedelta(days=90, minutes=1))
    await api.ok(ORDER, {"id": "o5", "m": "m1", "at": clock.now().isoformat(), "amount": 100}, storefront_token)
    assert await send_due(clock.now()) == 1  # m2 only
    assert await _messages(api) == [("WIN_BACK", "CANCELLED", "ordered meanwhile"),
                                    ("WIN_BACK", "SENT", "handed to the SMTP server")]
    assert [m["orderExternalId"] for m in (await api.ok(MY_MESSAGES, token=member_token("m1")))["me"]["messages"][
        "edges"] for m in [m["node"]]] == ["o4", "o1"]


# --- CART_REMINDER -----------------------------------------------------------------------------

CART_AT = datetime(2026, 5, 4, 1, 0, tzinfo=UTC)  # 10:00 in Seoul


async def _track(api, token, *events) -> None:  # noqa: ANN001
    rows = [{"memberExternalId": m, "type": kind, "productExternalId": p, "at": at.isoformat()} for m, kind, p, at in events]
    assert (await api.ok(TRACK, {"e": rows}, token))["trackEvents"]["errors"] == []


async def test_one_cart_reminder_48_to_72_hours_after_the_last_add_never_for_the_same_items(api, storefront_token, smtp):
    await _member(api, storefront_token, consents=("MARKETING_EMAIL",), locale="en")
    clock.set_now(CART_AT + timedelta(hours=1))
    await _track(api, storefront_token, ("m1", "ADD_TO_CART", "p1", CART_AT), ("m1", "ADD_TO_CART", "p2", CART_AT + timedelta(hours=1)),
                 ("m1", "ADD_TO_CART", "p9", CART_AT), ("m1", "REMOVE_FROM_CART", "p9", CART_AT + timedelta(minutes=5)))
    last = CART_AT + timedelta(hours=1)
    plan = occasions.plan_cart_reminders
    assert await _at(last + timedelta(hours=47, minutes=59), plan) == 0
    assert await _at(last + timedelta(hours=48), plan) == 1
    assert await send_due(clock.now()) == 1
    assert _subjects(smtp) == ["You left something in your cart"]
    text, html = _text(smtp.mails[0][2])
    assert "- p1\n" in text and "- p2\n" in text and "p9" not in text and "<li>p2</li>" in html
    assert await _at(last + timedelta(hours=60), plan) == 0  # one reminder per cart
    # p1 added again and p3 added: only p3 is new; p1 and p2 are never reminded about twice
    later = last + timedelta(days=4)
    clock.set_now(later)
    await _track(api, storefront_token, ("m1", "ADD_TO_CART", "p1", later), ("m1", "ADD_TO_CART", "p3", later))
    assert await _at(later + timedelta(hours=48), plan) == 1
    assert await send_due(clock.now()) == 1
    assert (await Message.filter(type="CART_REMINDER").order_by("id").values_list("products", flat=True)) == [
        ["p1", "p2"], ["p3"]]
    # nothing new in the cart: no reminder at all
    latest = later + timedelta(days=5)
    clock.set_now(latest)
    await _track(api, storefront_token, ("m1", "ADD_TO_CART", "p3", latest))
    assert await _at(latest + timedelta(hours=48), plan) == 0
    assert len(smtp.mails) == 2


async def test_an_order_or_an_emptied_cart_cancels_the_reminder_and_late_is_never(api, storefront_token, smtp):
    await _member(api, storefront_token, consents=("MARKETING_EMAIL",))
    await _member(api, storefront_token, "m2", consents=("MARKETING_EMAIL",))
    await _member(api, storefront_token, "m3", consents=("MARKETING_EMAIL",))
    clock.set_now(CART_AT)
    await _track(api, storefront_token, *[(m, "ADD_TO_CART", "p1", CART_AT) for m in ("m1", "m2", "m3")])
    due = CART_AT + timedelta(hours=48)
    assert await _at(due, occasions.plan_cart_reminders) == 3
    # m1 orders, m2 takes p1 out of the cart before the reminders go out
    done = await api.ok(ORDER, {"id": "o1", "m": "m1", "at": due.isoformat(), "amount": 100}, storefront_token)
    assert done["recordOrder"]["errors"] == []
    await _track(api, storefront_token, ("m2", "REMOVE_FROM_CART", "p1", due))
    # m3's goes out too late (the workers were down for a day): never after 72 hours
    assert await _at(CART_AT + timedelta(hours=72, minutes=1), send_due) == 0
    assert smtp.mails == []
    assert await _messages(api, "m1") == [("CART_REMINDER", "CANCELLED", "ordered meanwhile")]
    assert await _messages(api, "m2") == [("CART_REMINDER", "CANCELLED", "cart emptied")]
    assert await _messages(api, "m3") == [
        ("CART_REMINDER", "SUPPRESSED", "too late: more than 72 hours after the last add-to-cart")]


async def test_a_cart_reminder_due_at_night_moves_to_eight_and_a_later_add_replaces_it(api, storefront_token, smtp):
    await _member(api, storefront_token, consents=("MARKETING_EMAIL",))
    night = datetime(2026, 5, 4, 13, 0, tzinfo=UTC)  # 22:00 in Seoul
    clock.set_now(night)
    await _track(api, storefront_token, ("m1", "ADD_TO_CART", "p1", night))
    assert await _at(night + timedelta(hours=48), occasions.plan_cart_reminders) == 1
    assert await _at(night + timedelta(hours=48, minutes=10), occasions.plan_cart_reminders) == 0  # planned once
    [message] = await Message.filter(type="CART_REMINDER")
    assert (message.scheduled_for, message.reason) == (
        datetime(2026, 5, 6, 23, 0, tzinfo=UTC), "quiet hours: moved to 2026-05-07 08:00 Asia/Seoul (no NIGHT_MESSAGES consent)")
    # another add-to-cart before 08:00: the cart changed, this reminder is not sent
    clock.set_now(night + timedelta(hours=49))
    await _track(api, storefront_token, ("m1", "ADD_TO_CART", "p2", clock.now()))
    assert await _at(datetime(2026, 5, 6, 23, 0, tzinfo=UTC), send_due) == 0
    assert await _messages(api) == [
        ("CART_REMINDER", "CANCELLED", "the cart changed: a later add-to-cart starts its own reminder")]


# --- previews and data usage ---------------------------------------------------------------------

async def test_preview_renders_every_type_from_the_members_situation_and_writes_nothing(api, storefront_token, admin_token):
    clock.set_now(LOTS_AT)
    await helpers.tiers_bronze_silver_gold()
    await _member(api, storefront_token, locale="en", birthday="1990-01-05")
    await api.ok(ADJUST, {"m": "m1", "a": 100, "k": "g"}, admin_token)
    clock.set_now(LOTS_AT + timedelta(minutes=1))
    await api.ok(ORDER, {"id": "o1", "m": "m1", "at": LOTS_AT.isoformat(), "amount": 50_000}, storefront_token)
    await _track(api, storefront_token, ("m1", "ADD_TO_CART", "p7", LOTS_AT + timedelta(minutes=1)))
    before = (await Message.all().count(), await Event.all().count())
    query = """query($t: MessageType!) { previewMessage(type: $t, memberExternalId: "m1") { subject text html } }"""
    subjects = {}
    for type_ in ("POINTS_EXPIRING", "TIER_CHANGED", "BIRTHDAY", "WIN_BACK", "CART_REMINDER"):
        preview = (await api.ok(query, {"t": type_}, admin_token))["previewMessage"]
        subjects[type_] = preview["subject"]
        assert preview["html"].startswith("<!doctype html>") and "Ann Lee" in preview["text"]
    assert subjects == {"POINTS_EXPIRING": "100 points expire by 2027-01-05", "TIER_CHANGED": "Your tier is now Silver",
                        "BIRTHDAY": "Happy birthday, Ann Lee", "WIN_BACK": "We miss you at Patron",
                        "CART_REMINDER": "You left something in your cart"}
    cart = (await api.ok(query, {"t": "CART_REMINDER"}, admin_token))["previewMessage"]["text"]
    assert "- p7\n" in cart
    assert (await Message.all().count(), await Event.all().count()) == before


async def test_my_data_usage_describes_the_notices_and_marketing_messages(api, storefront_token):
    await _member(api, storefront_token, consents=("SERVICE_NOTICES",))
    usage = (await api.ok("{ myDataUsage { features { feature consentPurpose active reads } } }",
                          token=member_token("m1")))["myDataUsage"]["features"]
    by_name = {f["feature"]: f for f in usage}
    # (the statements' wording follows the policies: tests/test_message_policy_settings.py)
    assert by_name["Service notices"] == {
        "feature": "Service notices", "consentPurpose": "SERVICE_NOTICES", "active": True,
        "reads": ["points balance and expiry dates", "tier changes", "e-mail address, name and language",
                  "time zone (quiet hours)", "the hours you are usually active (with PERSONALIZATION consent)"]}
    assert by_name["Marketing e-mail"] == {
        "feature": "Marketing e-mail", "consentPurpose": "MARKETING_EMAIL", "active": False,
        "reads": ["birthday (a birthday greeting)", "orders (the date of your last order)",
                  "products you add to or remove from your cart", "e-mail address, name and language",
                  "time zone (quiet hours)", "the hours you are usually active (with PERSONALIZATION consent)"]}
