"""Engagement messages end to end through GraphQL: review requests planned from a fulfilment,
sent by the send_messages job to a real SMTP server (aiosmtpd on 127.0.0.1), with consent,
caps, quiet hours, the one reminder, cancellation, one-click unsubscribe and the signed
review link. Time is the injected clock (domain/clock.py)."""

from __future__ import annotations

import base64
import email
import hashlib
import hmac
import json
import socket
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller

from domain import clock
from domain.auth import service as auth
from domain.auth.scopes import ScopeMissing
from domain.events.models import Event
from domain.members.models import Consent, ConsentChange
from domain.messaging import policies
from domain.messaging.models import Message
from domain.messaging.sending import send_due
from domain.settings import reload_settings
from domain.webhooks import service as webhooks
from domain.webhooks.models import WebhookDelivery
from tests.conftest import member_token
from tests.receiver import Reply

T0 = datetime(2026, 1, 3, 1, 0, tzinfo=UTC)  # 10:00 in Seoul
DELAY = timedelta(hours=336)

UPSERT = """mutation($i: UpsertMemberInput!) { upsertMember(input: $i) { member { externalId timezone locale }
  errors { field code } } }"""
CONSENTS = """mutation($m: String, $c: [ConsentInput!]!) { updateConsents(input: {memberExternalId: $m, consents: $c}) {
  errors { code } } }"""
ORDER = """mutation($id: String!, $m: String!, $lines: [OrderLineInput!]!) { recordOrder(input: {externalId: $id,
  memberExternalId: $m, currency: "KRW", placedAt: "2026-01-01T00:00:00Z", lines: $lines}) { errors { code } } }"""
FULFIL = """mutation($o: String!, $at: DateTime!) { recordFulfillment(input: {orderExternalId: $o, fulfilledAt: $at}) {
  order { externalId fulfilledAt } replayed errors { field code } } }"""
MY_MESSAGES = """{ me { messages(first: 20) { edges { node { id type channel status reason scheduledFor sentAt
  orderExternalId products } } } } }"""
POLICY = """mutation($i: UpdateMessagePolicyInput!) { updateMessagePolicy(input: $i) {
  policy { type enabled channels delayHours consentPurpose capExempt } errors { field code } } }"""
SUBMIT = """mutation($i: SubmitReviewInput!) { submitReview(input: $i) { review { verifiedPurchase rating }
  errors { field code } } }"""


@pytest.fixture(autouse=True)
async def surveys_off():
    """These tests are about review requests: the satisfaction survey a fulfilment also plans
    (tests/test_feedback.py) is switched off so each test sees its review messages only."""
    await policies.update_policy("SATISFACTION_SURVEY", {"enabled": False})


class Inbox:
    """What the in-process SMTP server received."""

    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], EmailMessage]] = []
        self.url = ""

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802 - aiosmtpd's hook name
        parsed = email.message_from_bytes(envelope.content, policy=email_policy.default)
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    inbox.url = f"smtp://127.0.0.1:{port}"
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    reload_settings(smtp_url=f"smtp://127.0.0.1:{port}", mail_from="Shop <shop@example.com>",
                    public_url="https://patron.test", review_page_url="https://shop.test/review",
                    brand_name="Shop")
    yield inbox
    controller.stop()


async def _shop(api, storefront_token, consents=("REVIEW_REQUESTS",), lines=None, order="o1", member="m1",
                **profile) -> None:
    """A member with an e-mail and the given consents, and one order of p1 and p2."""
    values = {"externalId": member, "email": f"{member}@example.com", "name": "Ann Lee"} | profile
    assert (await api.ok(UPSERT, {"i": values}, storefront_token))["upsertMember"]["errors"] == []
    if consents:
        await api.ok(CONSENTS, {"m": member, "c": [{"purpose": p, "granted": True} for p in consents]}, storefront_token)
    lines = lines or [{"sku": "s1", "productExternalId": "p1", "quantity": 1, "unitPrice": 10000},
                      {"sku": "s2", "productExternalId": "p2", "quantity": 1, "unitPrice": 5000}]
    assert (await api.ok(ORDER, {"id": order, "m": member, "lines": lines}, storefront_token))["recordOrder"]["errors"] == []


async def _fulfil(api, token, order="o1", at=T0) -> dict:
    clock.set_now(at)
    return (await api.ok(FULFIL, {"o": order, "at": at.isoformat()}, token))["recordFulfillment"]


async def _run_at(at: datetime) -> int:
    clock.set_now(at)
    return await send_due(at)


async def _messages(api, member="m1") -> list[dict]:
    return [e["node"] for e in (await api.ok(MY_MESSAGES, token=member_token(member)))["me"]["messages"]["edges"]]


def _parts(mail: EmailMessage) -> tuple[str, str]:
    return mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content()


async def test_a_fulfilled_order_gets_exactly_one_review_request_at_the_right_time(api, storefront_token, admin_token, smtp):
    # given a consenting member's order of two products, fulfilled (twice: the storefront retried)
    await _shop(api, storefront_token)
    first = await _fulfil(api, storefront_token)
    assert first == {"order": {"externalId": "o1", "fulfilledAt": "2026-01-03T01:00:00+00:00"}, "replayed": False,
                     "errors": []}
    again = await _fulfil(api, storefront_token, at=T0 + timedelta(hours=5))
    assert again["replayed"] is True and again["order"]["fulfilledAt"] == "2026-01-03T01:00:00+00:00"
    # then one message is planned for fulfilment + 336 h
    planned = await _messages(api)
    assert [(m["type"], m["channel"], m["status"], m["scheduledFor"], m["products"]) for m in planned] == [
        ("REVIEW_REQUEST", "EMAIL", "SCHEDULED", "2026-01-17T01:00:00+00:00", ["p1", "p2"])]
    # nothing goes out a minute early
    assert await _run_at(T0 + DELAY - timedelta(minutes=1)) == 0
    assert smtp.mails == []
    # when it is due, exactly one e-mail arrives
    assert await _run_at(T0 + DELAY) == 1
    assert await _run_at(T0 + DELAY + timedelta(hours=1)) == 0
    assert len(smtp.mails) == 1
    sender, recipients, mail = smtp.mails[0]
    assert (sender, recipients) == ("shop@example.com", ["m1@example.com"])
    assert mail["Subject"] == "주문 o1 상품은 어떠셨나요?"  # ko by default; not advertising: no (광고)
    unsubscribe = mail["List-Unsubscribe"]
    assert unsubscribe.startswith("<https://patron.test/unsubscribe?token=") and unsubscribe.endswith(">")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = _parts(mail)
    assert "Ann Lee님" in text and "- p1: https://shop.test/review?token=" in text and "&product=p2" in text
    assert '<a href="https://shop.test/review?token=' in html and "Ann Lee님" in html
    # the member sees what was sent and why; the admin finds it by type and status
    sent = (await _messages(api))
    assert [(m["type"], m["status"], m["sentAt"]) for m in sent] == [
        ("REVIEW_REMINDER", "SCHEDULED", None), ("REVIEW_REQUEST", "SENT", "2026-01-17T01:00:00+00:00")]
    assert sent[1]["reason"] == "handed to the SMTP server"
    admin = await api.ok("""{ messages(first: 20, type: REVIEW_REQUEST, status: SENT) { edges { node {
        id type member { externalId } status reason } } } }""", token=admin_token)
    assert [(e["node"]["type"], e["node"]["member"]["externalId"]) for e in admin["messages"]["edges"]] == [
        ("REVIEW_REQUEST", "m1")]


async def test_without_consent_the_request_is_suppressed_with_the_reason(api, storefront_token, smtp):
    await _shop(api, storefront_token, consents=())
    await _fulfil(api, storefront_token)
    assert await _run_at(T0 + DELAY) == 0
    assert smtp.mails == []
    [message] = await _messages(api)
    assert (message["status"], message["reason"], message["sentAt"]) == ("SUPPRESSED", "no consent (REVIEW_REQUESTS)", None)


async def test_withdrawing_consent_cancels_what_is_scheduled(api, storefront_token, smtp):
    await _shop(api, storefront_token)
    await _fulfil(api, storefront_token)
    await api.ok(CONSENTS, {"c": [{"purpose": "REVIEW_REQUESTS", "granted": False}]}, member_token("m1"))
    [message] = await _messages(api)
    assert (message["status"], message["reason"]) == ("CANCELLED", "consent withdrawn (REVIEW_REQUESTS)")
    assert await _run_at(T0 + DELAY) == 0 and smtp.mails == []


async def test_consent_withdrawn_by_other_means_is_checked_again_at_send_time(api, storefront_token, smtp):
    await _shop(api, storefront_token)
    await _fulfil(api, storefront_token)
    await Consent.filter(purpose="REVIEW_REQUESTS").update(granted=False)  # e.g. restored from another system
    assert await _run_at(T0 + DELAY) == 0 and smtp.mails == []
    assert (await Message.get()).status == "SUPPRESSED"


async def test_quiet_hours_move_a_message_to_0800_local_unless_night_consent(api, storefront_token, smtp):
    # 12:00 UTC is 21:00 in Seoul: due at the start of the quiet hours
    at = datetime(2026, 1, 3, 12, 0, tzinfo=UTC)
    await _shop(api, storefront_token)
    await _fulfil(api, storefront_token, at=at)
    [message] = await _messages(api)
    assert message["scheduledFor"] == "2026-01-17T23:00:00+00:00"  # 08:00 the next day in Seoul
    assert message["reason"] == "quiet hours: moved to 2026-01-18 08:00 Asia/Seoul (no NIGHT_MESSAGES consent)"
    assert await _run_at(at + DELAY) == 0
    assert await _run_at(datetime(2026, 1, 17, 23, 0, tzinfo=UTC)) == 1
    # another member in New York with the night consent is not moved (12:00 UTC is 07:00 there)
    await _shop(api, storefront_token, consents=("REVIEW_REQUESTS", "NIGHT_MESSAGES"), order="o2", member="m2",
                timezone="America/New_York")
    await _fulfil(api, storefront_token, order="o2", at=at)
    [other] = await _messages(api, "m2")
    assert (other["scheduledFor"], other["reason"]) == ("2026-01-17T12:00:00+00:00", None)


async def test_quiet_hours_are_checked_again_when_the_message_is_due(api, storefront_token, smtp):
    await _shop(api, storefront_token)
    await _fulfil(api, storefront_token)
    # the member moved to Kiritimati (UTC+14) meanwhile, and the job runs 7 h late: 08:00 UTC is
    # 22:00 there, inside the quiet hours
    await api.ok(UPSERT, {"i": {"externalId": "m1", "timezone": "Pacific/Kiritimati"}}, storefront_token)
    assert await _run_at(T0 + DELAY + timedelta(hours=7)) == 0
    message = await Message.get()
    assert message.status == "SCHEDULED" and message.reason.startswith("quiet hours: moved to 2026-01-18 08:00 Pacific/Kiritimati")
    assert message.scheduled_for == datetime(2026, 1, 17, 18, 0, tzinfo=UTC)
    assert await _run_at(message.scheduled_for) == 1 and len(smtp.mails) == 1


async def test_one_request_per_product_per_member_in_twelve_months(api, storefront_token, smtp):
    await _shop(api, storefront_token)
    await _fulfil(api, storefront_token)
    # a second order of p1 (and a new p3) fulfilled a day later
    await api.ok(ORDER, {"id": "o2", "m": "m1", "lines": [
        {"sku": "s1", "productExternalId": "p1", "quantity": 1, "unitPrice": 100},
        {"sku": "s3", "productExternalId": "p3", "quantity": 1, "unitPrice": 100}]}, storefront_token)
    await _fulfil(api, storefront_token, order="o2", at=T0 + timedelta(days=1))
    # and a third of p1 only
    await api.ok(ORDER, {"id": "o3", "m": "m1", "lines": [
        {"sku": "s1", "productExternalId": "p1", "quantity": 1, "unitPrice": 100}]}, storefront_token)
    await _fulfil(api, storefront_token, order="o3", at=T0 + timedelta(days=2))
    by_order = {m["orderExternalId"]: m for m in await _messages(api)}
    assert by_order["o2"]["products"] == ["p3"] and by_order["o2"]["status"] == "SCHEDULED"
    assert (by_order["o3"]["status"], by_order["o3"]["reason"]) == (
        "SUPPRESSED", "capped: each product was already asked about in the last 12 months")


async def test_at_most_five_messages_per_member_in_thirty_days_unless_cap_exempt(api, storefront_token, admin_token, smtp):
    await _shop(api, storefront_token)
    member_id = (await Consent.first()).member_id
    due = T0 + DELAY
    for i in range(5):  # five e-mails already sent in the last 30 days
        await Message.create(member_id=member_id, type="REVIEW_REMINDER", channel="EMAIL", status="SENT",
                             consent_purpose="REVIEW_REQUESTS", scheduled_for=due - timedelta(days=i + 1),
                             sent_at=due - timedelta(days=i + 1), products=[f"old{i}"], dedupe_key=f"old-{i}",
                             created_at=due - timedelta(days=i + 1), updated_at=due - timedelta(days=i + 1))
    await _fulfil(api, storefront_token)
    assert await _run_at(due) == 0 and smtp.mails == []
    request = await Message.get(type="REVIEW_REQUEST")
    assert (request.status, request.reason) == ("SUPPRESSED", "capped: 5 messages in 30 days")
    # a cap-exempt type is neither counted nor stopped
    changed = (await api.ok(POLICY, {"i": {"type": "REVIEW_REQUEST", "capExempt": True}}, admin_token))
    assert changed["updateMessagePolicy"]["policy"]["capExempt"] is True
    await api.ok(ORDER, {"id": "o2", "m": "m1", "lines": [
        {"sku": "s3", "productExternalId": "p3", "quantity": 1, "unitPrice": 100}]}, storefront_token)
    await _fulfil(api, storefront_token, order="o2", at=T0 + timedelta(days=1))
    assert await _run_at(due + timedelta(days=1)) == 1 and len(smtp.mails) == 1


async def test_the_cap_counts_every_channel_and_one_occasion_once(api, storefront_token, smtp):
    await _shop(api, storefront_token)
    member_id = (await Consent.first()).member_id
    due = T0 + DELAY
    # two win-back occasions sent by e-mail and webhook both, two more by webhook only
    sent = [(i, channel) for i in range(2) for channel in ("EMAIL", "WEBHOOK")] + [(2, "WEBHOOK"), (3, "WEBHOOK")]
    for i, channel in sent:
        at = due - timedelta(days=i + 1)
        await Message.create(member_id=member_id, type="WIN_BACK", channel=channel, status="SENT",
                             consent_purpose="MARKETING_EMAIL", scheduled_for=at, sent_at=at, products=[],
                             dedupe_key=f"WIN_BACK:old{i}:{channel}", created_at=at, updated_at=at)
    # four occasions so far (six messages): the review request by e-mail still goes out
    await _fulfil(api, storefront_token)
    assert await _run_at(due) == 1 and len(smtp.mails) == 1
    # five now: the next order's request is capped, though only three went out by e-mail
    await api.ok(ORDER, {"id": "o2", "m": "m1", "lines": [
        {"sku": "s3", "productExternalId": "p3", "quantity": 1, "unitPrice": 100}]}, storefront_token)
    await _fulfil(api, storefront_token, order="o2", at=T0 + timedelta(days=1))
    assert await _run_at(due + timedelta(days=1)) == 0 and len(smtp.mails) == 1
    second = await Message.get(type="REVIEW_REQUEST", order_external_id="o2")
    assert (second.status, second.reason) == ("SUPPRESSED", "capped: 5 messages in 30 days")


async def test_one_reminder_seven_days_later_only_while_unreviewed(api, storefront_token, smtp):
    await _shop(api, storefront_token)
    await _fulfil(api, storefront_token)
    assert await _run_at(T0 + DELAY) == 1
    reminder_due = T0 + DELAY + timedelta(days=7)
    assert await _run_at(reminder_due - timedelta(minutes=1)) == 0
    # the member reviewed p1 meanwhile: the reminder asks about p2 only
    await api.ok(SUBMIT, {"i": {"productExternalId": "p1", "rating": 4}}, member_token("m1"))
    assert await _run_at(reminder_due) == 1
    assert await _run_at(reminder_due + timedelta(days=30)) == 0  # once: no reminder of the reminder
    assert len(smtp.mails) == 2
    reminder = smtp.mails[1][2]
    assert reminder["Subject"] == "주문 o1 리뷰를 다시 한 번 부탁드립니다"
    text, _ = _parts(reminder)
    assert "- p2: " in text and "- p1: " not in text
    assert [(m["type"], m["status"]) for m in await _messages(api)] == [("REVIEW_REMINDER", "SENT"), ("REVIEW_REQUEST", "SENT")]


async def test_no_reminder_once_everything_is_reviewed(api, storefront_token, smtp):
    await _shop(api, storefront_token)
    await _fulfil(api, storefront_token)
    await _run_at(T0 + DELAY)
    for product in ("p1", "p2"):
        await api.ok(SUBMIT, {"i": {"productExternalId": product, "rating": 5}}, member_token("m1"))
    assert await _run_at(T0 + DELAY + timedelta(days=7)) == 0
    reminder = await Message.get(type="REVIEW_REMINDER")
    assert (reminder.status, reminder.reason) == ("SUPPRESSED", "already reviewed")
    assert len(smtp.mails) == 1


async def test_the_one_click_unsubscribe_withdraws_exactly_that_consent(client, api, storefront_token, smtp):
    await _shop(api, storefront_token, consents=("REVIEW_REQUESTS", "MARKETING_EMAIL"))
    await _fulfil(api, storefront_token)
    await _run_at(T0 + DELAY)
    url = smtp.mails[0][2]["List-Unsubscribe"].strip("<>")
    path = url.removeprefix("https://patron.test")
    # GET only shows the confirmation (link scanners fetch links)
    page = await client.get(path)
    assert page.status_code == 200 and "Unsubscribe from review requests" in page.text
    assert await Consent.filter(purpose="REVIEW_REQUESTS", granted=True).count() == 1
    # a tampered link changes nothing
    token = parse_qs(urlsplit(url).query)["token"][0]
    bad = await client.post("/unsubscribe", params={"token": token[:-3] + "AAA"}, data={"List-Unsubscribe": "One-Click"})
    assert bad.status_code == 400
    assert await ConsentChange.filter(source="unsubscribe").count() == 0
    # the mail client's one-click POST withdraws REVIEW_REQUESTS only, with source "unsubscribe"
    done = await client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    granted = set(await Consent.filter(granted=True).values_list("purpose", flat=True))
    assert granted == {"MARKETING_EMAIL"}
    change = await ConsentChange.filter(source="unsubscribe").values_list("purpose", "granted")
    assert change == [("REVIEW_REQUESTS", False)]
    # and the scheduled reminder is cancelled
    reminder = await Message.get(type="REVIEW_REMINDER")
    assert (reminder.status, reminder.reason) == ("CANCELLED", "consent withdrawn (REVIEW_REQUESTS)")


async def test_a_review_through_the_request_link_needs_no_login_and_is_verified(api, storefront_token, smtp):
    await _shop(api, storefront_token)
    await _fulfil(api, storefront_token)
    await _run_at(T0 + DELAY)
    text, _ = _parts(smtp.mails[0][2])
    link = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("- p2: "))
    token = parse_qs(urlsplit(link).query)["token"][0]
    # a product the request did not ask about is refused
    other = (await api.ok(SUBMIT, {"i": {"productExternalId": "p9", "rating": 5, "requestToken": token}}))["submitReview"]
    assert other == {"review": None, "errors": [{"field": "productExternalId", "code": "NOT_ALLOWED"}]}
    # anonymous, with the token: the member's verified review
    done = (await api.ok(SUBMIT, {"i": {"productExternalId": "p2", "rating": 4, "requestToken": token}}))["submitReview"]
    assert done == {"review": {"verifiedPurchase": True, "rating": 4}, "errors": []}
    reviews = (await api.ok("{ me { reviews { rating verifiedPurchase } } }", token=member_token("m1")))
    assert reviews["me"]["reviews"] == [{"rating": 4, "verifiedPurchase": True}]
    # a forged or expired token is refused and writes nothing
    forged = (await api.ok(SUBMIT, {"i": {"productExternalId": "p1", "rating": 1, "requestToken": token + "x"}}))
    assert forged["submitReview"]["errors"] == [{"field": "requestToken", "code": "INVALID"}]
    clock.set_now(T0 + DELAY + timedelta(days=61))
    expired = (await api.ok(SUBMIT, {"i": {"productExternalId": "p1", "rating": 1, "requestToken": token}}))
    assert expired["submitReview"]["errors"] == [{"field": "requestToken", "code": "INVALID"}]
    # without a token an anonymous caller is still refused
    refused = await api(SUBMIT, {"i": {"memberExternalId": "m1", "productExternalId": "p1", "rating": 1}})
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_without_smtp_the_mail_is_written_to_the_outbox_folder(api, storefront_token, tmp_path):
    reload_settings(mail_outbox_dir=str(tmp_path), public_url="https://patron.test", default_locale="en")
    await _shop(api, storefront_token)
    await _fulfil(api, storefront_token)
    assert await _run_at(T0 + DELAY) == 1
    [eml] = list(tmp_path.glob("*.eml"))
    mail = email.message_from_bytes(eml.read_bytes(), policy=email_policy.default)
    assert mail["Subject"] == "How did your order o1 work out?" and mail["To"] == "m1@example.com"
    assert (await Message.get(type="REVIEW_REQUEST")).reason == f"written to {eml}"


async def test_advertising_in_korean_starts_with_the_ad_marker_and_html_is_escaped(api, storefront_token, admin_token, smtp):
    # a brand that treats review requests as advertising (gated by MARKETING_EMAIL)
    await api.ok(POLICY, {"i": {"type": "REVIEW_REQUEST", "consentPurpose": "MARKETING_EMAIL"}}, admin_token)
    await _shop(api, storefront_token, consents=("MARKETING_EMAIL",), name="<b>Ann</b>")
    await _fulfil(api, storefront_token)
    assert await _run_at(T0 + DELAY) == 1
    mail = smtp.mails[0][2]
    text, html = _parts(mail)
    assert mail["Subject"].startswith("(광고) ") and text.startswith("(광고) ")
    assert "&lt;b&gt;Ann&lt;/b&gt;님" in html and "<b>Ann</b>" not in html
    assert "Shop" in text


async def test_preview_renders_without_writing_anything(api, storefront_token, admin_token):
    await _shop(api, storefront_token)
    before = (await Message.all().count(), await Event.all().count())
    preview = (await api.ok("""query { previewMessage(type: REVIEW_REQUEST, memberExternalId: "m1") {
        subject text html } }""", token=admin_token))["previewMessage"]
    assert preview["subject"] == "주문 o1 상품은 어떠셨나요?" and "- p1: " in preview["text"] and "<ul>" in preview["html"]
    assert (await Message.all().count(), await Event.all().count()) == before
    unknown = await api.ok('query { previewMessage(type: REVIEW_REQUEST, memberExternalId: "nobody") { subject } }',
                           token=admin_token)
    assert unknown["previewMessage"] is None


async def test_policies_defaults_changes_and_refusals(api, admin_token):
    query = "{ messagePolicies { type enabled channels delayHours consentPurpose capExempt } }"
    # (SATISFACTION_SURVEY and FEEDBACK_THANKS: tests/test_feedback.py)
    policies = (await api.ok(query, token=admin_token))["messagePolicies"]
    assert [p for p in policies if p["type"] not in ("SATISFACTION_SURVEY", "FEEDBACK_THANKS")] == [
        {"type": "REVIEW_REQUEST", "enabled": True, "channels": ["EMAIL"], "delayHours": 336,
         "consentPurpose": "REVIEW_REQUESTS", "capExempt": False},
        {"type": "REVIEW_REMINDER", "enabled": True, "channels": ["EMAIL"], "delayHours": 168,
         "consentPurpose": "REVIEW_REQUESTS", "capExempt": False},
        {"type": "POINTS_EXPIRING", "enabled": True, "channels": ["EMAIL"], "delayHours": 0,
         "consentPurpose": "SERVICE_NOTICES", "capExempt": True},
        {"type": "TIER_CHANGED", "enabled": True, "channels": ["EMAIL"], "delayHours": 0,
         "consentPurpose": "SERVICE_NOTICES", "capExempt": True},
        {"type": "BIRTHDAY", "enabled": True, "channels": ["EMAIL"], "delayHours": 10,
         "consentPurpose": "MARKETING_EMAIL", "capExempt": False},
        {"type": "WIN_BACK", "enabled": True, "channels": ["EMAIL"], "delayHours": 2160,
         "consentPurpose": "MARKETING_EMAIL", "capExempt": False},
        {"type": "CART_REMINDER", "enabled": True, "channels": ["EMAIL"], "delayHours": 48,
         "consentPurpose": "MARKETING_EMAIL", "capExempt": False}]
    changed = await api.ok(POLICY, {"i": {"type": "REVIEW_REQUEST", "enabled": True, "channels": ["EMAIL", "WEBHOOK"],
                                          "delayHours": 48}}, admin_token)
    assert changed["updateMessagePolicy"] == {"policy": {
        "type": "REVIEW_REQUEST", "enabled": True, "channels": ["EMAIL", "WEBHOOK"], "delayHours": 48,
        "consentPurpose": "REVIEW_REQUESTS", "capExempt": False}, "errors": []}
    for bad, field in (({"delayHours": -1}, "delayHours"), ({"delayHours": 10**6}, "delayHours"),
                       ({"channels": []}, "channels"), ({"channels": ["EMAIL", "EMAIL"]}, "channels"),
                       ({"consentPurpose": "NIGHT_MESSAGES"}, "consentPurpose")):
        refused = await api.ok(POLICY, {"i": {"type": "REVIEW_REQUEST"} | bad}, admin_token)
        assert refused["updateMessagePolicy"] == {"policy": None, "errors": [{"field": field, "code": "INVALID"}]}
    after = (await api.ok(query, token=admin_token))["messagePolicies"][0]
    assert (after["delayHours"], after["channels"]) == (48, ["EMAIL", "WEBHOOK"])


async def test_a_disabled_type_plans_nothing_and_cancels_what_was_scheduled(api, storefront_token, admin_token, smtp):
    await _shop(api, storefront_token)
    await _fulfil(api, storefront_token)
    await api.ok(POLICY, {"i": {"type": "REVIEW_REQUEST", "enabled": False}}, admin_token)
    assert await _run_at(T0 + DELAY) == 0 and smtp.mails == []
    message = await Message.get()
    assert (message.status, message.reason) == ("CANCELLED", "REVIEW_REQUEST is disabled on EMAIL")


async def test_record_fulfillment_refusals_write_nothing(api, storefront_token):
    await _shop(api, storefront_token)
    events = await Event.all().count()
    unknown = await _fulfil(api, storefront_token, order="nope")
    assert unknown == {"order": None, "replayed": False, "errors": [{"field": "orderExternalId", "code": "ORDER_NOT_FOUND"}]}
    early = await _fulfil(api, storefront_token, at=datetime(2025, 12, 31, tzinfo=UTC))
    assert early["errors"] == [{"field": "fulfilledAt", "code": "INVALID"}]
    clock.set_now(T0)
    future = (await api.ok(FULFIL, {"o": "o1", "at": (T0 + timedelta(days=1)).isoformat()}, storefront_token))
    assert future["recordFulfillment"]["errors"] == [{"field": "fulfilledAt", "code": "INVALID"}]
    assert await Event.all().count() == events and await Message.all().count() == 0


async def test_member_timezone_and_locale_are_validated(api, storefront_token):
    ok = (await api.ok(UPSERT, {"i": {"externalId": "m1", "timezone": "Europe/Berlin", "locale": "en"}}, storefront_token))
    assert ok["upsertMember"] == {"member": {"externalId": "m1", "timezone": "Europe/Berlin", "locale": "en"}, "errors": []}
    for bad, field in ((({"timezone": "Mars/Base"}), "timezone"), ({"timezone": "../../etc/passwd"}, "timezone"),
                       ({"timezone": "x" * 300}, "timezone"), ({"locale": "fr"}, "locale")):
        refused = (await api.ok(UPSERT, {"i": {"externalId": "m1"} | bad}, storefront_token))["upsertMember"]
        assert refused == {"member": None, "errors": [{"field": field, "code": "INVALID"}]}


async def test_webhook_channel_reaches_only_endpoints_holding_members_pii(api, storefront_token, admin_token, smtp):
    await api.ok(POLICY, {"i": {"type": "REVIEW_REQUEST", "channels": ["WEBHOOK"]}}, admin_token)
    with_pii = (await auth.create_api_key("sms provider", "partner", scopes=["events:messages", "members:pii"]))[0]
    without = (await auth.create_api_key("crm", "partner", scopes=["events:messages"]))[0]
    # a key without members:pii cannot subscribe to message.* at all, and "*" does not include it
    with pytest.raises(ScopeMissing, match="needs the scope events:messages and members:pii"):
        await webhooks.create_endpoint("http://127.0.0.1:9/nopii", ["message.*"], None, without.id)
    await webhooks.create_endpoint("http://127.0.0.1:9/nopii", ["*"], None, without.id)
    await webhooks.create_endpoint("http://127.0.0.1:9/pii", ["message.*"], None, with_pii.id)
    await _shop(api, storefront_token)
    await _fulfil(api, storefront_token)
    assert await _run_at(T0 + DELAY) == 1
    assert smtp.mails == []  # the webhook channel only
    event = await Event.get(type="message.due")
    assert event.payload["email"] == "m1@example.com" and event.payload["subject"] == "주문 o1 상품은 어떠셨나요?"
    deliveries = await WebhookDelivery.filter(event_id=event.id).prefetch_related("endpoint")
    assert [d.endpoint.url for d in deliveries] == ["http://127.0.0.1:9/pii"]


async def test_an_unreachable_smtp_server_is_retried_then_the_message_fails(api, storefront_token):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    reload_settings(smtp_url=f"smtp://127.0.0.1:{port}", public_url="https://patron.test")
    await _shop(api, storefront_token)
    await _fulfil(api, storefront_token)
    due = T0 + DELAY
    for at, attempts in ((due, 1), (due + timedelta(minutes=5), 2), (due + timedelta(minutes=15), 3)):
        assert await _run_at(at) == 0
        message = await Message.get()
        assert message.attempts == attempts and message.last_error.startswith("SMTPConnect")
    assert (message.status, message.reason, message.sent_at) == ("FAILED", "not delivered after 3 attempts", None)
    assert await Message.filter(type="REVIEW_REMINDER").count() == 0


async def test_the_webhook_message_arrives_signed_per_standard_webhooks(api, storefront_token, admin_token, receiver,
                                                                       deliverer):
    # the Done-when item "the webhook arrives signed": a real HTTP receiver on 127.0.0.1
    await api.ok(POLICY, {"i": {"type": "REVIEW_REQUEST", "channels": ["WEBHOOK"]}}, admin_token)
    created = (await api.ok("""mutation($u: String!) { createWebhookEndpoint(input: {url: $u, eventTypes: ["message.*"]})
        { secret errors { code } } }""", {"u": receiver.script("/sms", Reply(200))}, admin_token))["createWebhookEndpoint"]
    assert created["errors"] == []
    await _shop(api, storefront_token)
    await _fulfil(api, storefront_token)
    assert await _run_at(T0 + DELAY) == 1
    assert await deliverer.run_once() == 1
    [hit] = receiver.at("/sms")
    body = json.loads(hit.body)
    message = await Message.get()
    assert (body["type"], body["data"]["messageId"], body["data"]["type"], body["data"]["email"]) == (
        "message.due", message.id, "REVIEW_REQUEST", "m1@example.com")
    assert "/unsubscribe?token=" in body["data"]["unsubscribeUrl"]
    # Standard Webhooks: v1 = base64(HMAC-SHA256(secret, "id.timestamp.body")); computed here
    # because the library's verify also compares the timestamp (wall time) with the real clock
    key = base64.b64decode(created["secret"].removeprefix("whsec_"))
    signed = f"{hit.headers['webhook-id']}.{hit.headers['webhook-timestamp']}.".encode() + hit.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert f"v1,{expected}" in hit.headers["webhook-signature"].split(" ")
