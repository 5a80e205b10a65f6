"""The feedback loop end to end through GraphQL: satisfaction surveys (planned from a fulfilment,
answered through the signed link or as the member, paid by a SURVEY_COMPLETED rule, a low score
sent to the CS tool), no review gating, improvements that thank their contributors, the webhook
provider's status reports and the admin's template overrides. Time is the injected clock."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from domain import clock
from domain.auth import service as auth
from domain.events.models import Event
from domain.feedback.models import Improvement, ImprovementLink, SurveyResponse
from domain.members.personal_data import redact_event_payload
from domain.messaging.models import Message, MessageTemplate
from domain.rules.models import Activity
from domain.rules.service import save_rule
from domain.settings import reload_settings
from domain.webhooks import service as webhooks
from domain.webhooks.models import WebhookDelivery
from schema.common import global_id
from tests.conftest import member_token
from tests.test_messaging import CONSENTS, ORDER, POLICY, UPSERT, T0, _fulfil, _messages, _parts, _run_at, _shop, smtp  # noqa: F401

SURVEY_DELAY = timedelta(hours=504)
REVIEW_DELAY = timedelta(hours=336)
SUBMIT = """mutation($i: SubmitSurveyResponseInput!) { submitSurveyResponse(input: $i) {
  response { orderExternalId nps csat comment negative member { externalId } } replayed pointsAwarded
  errors { field code message } } }"""
QUEUE = """query($n: Boolean) { surveyResponses(first: 10, negative: $n) { edges { node {
  orderExternalId nps csat comment negative member { externalId } } } } }"""
IMPROVE = """mutation($i: RecordImprovementInput!) { recordImprovement(input: $i) {
  improvement { id title body productExternalId } errors { field code } } }"""
REVIEW = """mutation($i: SubmitReviewInput!) { submitReview(input: $i) { review { id } errors { code } } }"""
ASK = """mutation($i: AskQuestionInput!) { askQuestion(input: $i) { question { id } errors { code } } }"""
REPORT = """mutation($i: ReportMessageStatusInput!) { reportMessageStatus(input: $i) {
  message { status reason providerMessageId } replayed errors { field code } } }"""
TEMPLATE = """mutation($i: UpdateMessageTemplateInput!) { updateMessageTemplate(input: $i) {
  template { type locale subject text html } errors { field code message } } }"""
RESET = """mutation($i: ResetMessageTemplateInput!) { resetMessageTemplate(input: $i) {
  template { subject text html updatedAt } errors { code } } }"""
PREVIEW = """query($t: MessageType!) { previewMessage(type: $t, memberExternalId: "m1") { subject text html } }"""


def _survey_token(mail) -> str:
    text, _ = _parts(mail)
    link = next(line for line in text.splitlines() if line.startswith("https://shop.test/survey?"))
    return parse_qs(urlsplit(link).query)["token"][0]


async def _submit(api, values: dict, token: str | None = None) -> dict:
    return (await api.ok(SUBMIT, {"i": values}, token))["submitSurveyResponse"]


@pytest.fixture
def survey_page(smtp):  # noqa: F811 - the SMTP fixture, plus the storefront's survey form
    reload_settings(smtp_url=smtp.url, mail_from="Shop <shop@example.com>", public_url="https://patron.test",
                    review_page_url="https://shop.test/review", survey_page_url="https://shop.test/survey",
                    brand_name="Shop")
    return smtp


async def test_a_survey_is_sent_21_days_after_fulfilment_and_answered_through_its_link(api, storefront_token,
                                                                                       survey_page):
    await save_rule(None, {"name": "Survey", "type": "SURVEY_COMPLETED", "points": 50})
    await _shop(api, storefront_token)
    await _fulfil(api, storefront_token)
    planned = {m["type"]: m for m in await _messages(api)}
    assert {t: (m["status"], m["scheduledFor"]) for t, m in planned.items()} == {
        "REVIEW_REQUEST": ("SCHEDULED", "2026-01-17T01:00:00+00:00"),
        "SATISFACTION_SURVEY": ("SCHEDULED", "2026-01-24T01:00:00+00:00")}
    assert await _run_at(T0 + SURVEY_DELAY - timedelta(minutes=1)) == 1  # the review request only
    assert await _run_at(T0 + SURVEY_DELAY) == 1
    survey = survey_page.mails[-1][2]
    assert survey["Subject"] == "주문 o1에 대해 두 가지만 여쭤볼게요"
    assert survey["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = _survey_token(survey)
    _, html = _parts(survey)
    assert '<a href="https://shop.test/survey?token=' in html
    # anonymous, with the link's token: stored as the member's, paid by the SURVEY_COMPLETED rule
    done = await _submit(api, {"token": token, "nps": 9, "csat": 5, "comment": "  Fast and well packed.  "})
    assert done == {"response": {"orderExternalId": "o1", "nps": 9, "csat": 5, "comment": "Fast and well packed.",
                                 "negative": False, "member": {"externalId": "m1"}},
                    "replayed": False, "pointsAwarded": 50, "errors": []}
    # a replay (other values, or as the member) answers the first one and changes nothing
    again = await _submit(api, {"token": token, "nps": 0, "csat": 1})
    assert again["replayed"] is True and again["pointsAwarded"] == 0 and again["response"]["nps"] == 9
    mine = await _submit(api, {"orderExternalId": "o1", "nps": 2, "csat": 2}, member_token("m1"))
    assert mine["replayed"] is True and mine["response"]["csat"] == 5
    assert await SurveyResponse.all().count() == 1
    assert await Activity.filter(type="SURVEY_COMPLETED").values_list("external_id", flat=True) == ["survey:o1"]
    me = await api.ok("{ me { points { balance } } }", token=member_token("m1"))
    assert me["me"]["points"]["balance"] == 50
    assert await Event.filter(type="feedback.negative").count() == 0


async def test_answer_validation_is_typed_and_writes_nothing(api, storefront_token, survey_page):
    await _shop(api, storefront_token)
    await _fulfil(api, storefront_token)
    await _run_at(T0 + SURVEY_DELAY)
    token = _survey_token(survey_page.mails[-1][2])
    events = await Event.all().count()
    for bad, field in (({"nps": -1}, "nps"), ({"nps": 11}, "nps"), ({"csat": 0}, "csat"), ({"csat": 6}, "csat"),
                       ({"comment": "x" * 2001}, "comment"), ({"token": token + "x"}, "token")):
        refused = await _submit(api, {"token": token, "nps": 5, "csat": 3} | bad)
        assert (refused["response"], refused["replayed"], refused["pointsAwarded"]) == (None, False, 0)
        assert [(e["field"], e["code"]) for e in refused["errors"]] == [(field, "INVALID")]
    # 2,000 characters is still fine; an expired link is refused
    clock.set_now(T0 + SURVEY_DELAY + timedelta(days=31))
    expired = await _submit(api, {"token": token, "nps": 5, "csat": 3, "comment": "x" * 2000})
    assert expired["errors"] == [{"field": "token", "code": "INVALID", "message": "This survey link is invalid or has expired"}]
    assert await SurveyResponse.all().count() == 0 and await Event.all().count() == events
    # as a member: someone else's order, or another member's survey, is not found
    await _shop(api, storefront_token, order="o2", member="m2")
    other_order = await _submit(api, {"orderExternalId": "o2", "nps": 5, "csat": 3}, member_token("m1"))
    assert [(e["field"], e["code"]) for e in other_order["errors"]] == [("orderExternalId", "ORDER_NOT_FOUND")]
    survey_id = global_id("Message", (await Message.get(type="SATISFACTION_SURVEY")).id)
    other_survey = await _submit(api, {"surveyId": survey_id, "nps": 5, "csat": 3}, member_token("m2"))
    assert [(e["field"], e["code"]) for e in other_survey["errors"]] == [("surveyId", "NOT_FOUND")]
    # a token and a member's ids together are malformed input; no credential at all is refused
    both = await api(SUBMIT, {"i": {"token": token, "orderExternalId": "o1", "nps": 5, "csat": 3}})
    assert both["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    anonymous = await api(SUBMIT, {"i": {"orderExternalId": "o1", "nps": 5, "csat": 3}})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await SurveyResponse.all().count() == 0


async def test_a_low_score_records_feedback_negative_and_joins_the_reply_queue(api, storefront_token, admin_token,
                                                                               survey_page):
    # the CS tool's key: feedback events, without members:pii
    cs_key = (await auth.create_api_key("cs tool", "partner", scopes=["events:feedback"]))[0]
    endpoint, _ = await webhooks.create_endpoint("http://127.0.0.1:9/cs", ["feedback.*"], None, cs_key.id)
    await _shop(api, storefront_token)
    await _fulfil(api, storefront_token)
    # as the signed-in member, naming the survey message from "what we sent you"
    survey = next(m for m in await _messages(api) if m["type"] == "SATISFACTION_SURVEY")
    done = await _submit(api, {"surveyId": survey["id"], "nps": 8, "csat": 2, "comment": "Arrived broken."},
                         member_token("m1"))
    assert done["response"]["negative"] is True and done["errors"] == []
    event = await Event.get(type="feedback.negative")
    response = await SurveyResponse.get()
    assert event.payload == {"surveyResponseId": response.id, "memberExternalId": "m1", "orderExternalId": "o1",
                             "nps": 8, "csat": 2, "comment": "Arrived broken."}
    assert [d.endpoint_id for d in await WebhookDelivery.filter(event_id=event.id)] == [endpoint.id]
    # without members:pii the CS tool receives the scores, not the member's words
    assert redact_event_payload("feedback.negative", event.payload) == {
        "surveyResponseId": response.id, "memberExternalId": "m1", "orderExternalId": "o1", "nps": 8, "csat": 2}
    # a promoter in another order is not in the reply queue
    await api.ok(ORDER, {"id": "o2", "m": "m1", "lines": [
        {"sku": "s3", "productExternalId": "p3", "quantity": 1, "unitPrice": 100}]}, storefront_token)
    await _submit(api, {"orderExternalId": "o2", "nps": 10, "csat": 5}, member_token("m1"))
    queue = (await api.ok(QUEUE, {"n": True}, admin_token))["surveyResponses"]["edges"]
    assert [e["node"] for e in queue] == [{"orderExternalId": "o1", "nps": 8, "csat": 2, "comment": "Arrived broken.",
                                           "negative": True, "member": {"externalId": "m1"}}]
    everything = (await api.ok(QUEUE, {"n": None}, admin_token))["surveyResponses"]["edges"]
    assert [e["node"]["orderExternalId"] for e in everything] == ["o2", "o1"]
    assert await Event.filter(type="feedback.negative").count() == 1
    # NPS 6 alone is negative too
    await api.ok(ORDER, {"id": "o3", "m": "m1", "lines": [
        {"sku": "s3", "productExternalId": "p3", "quantity": 1, "unitPrice": 100}]}, storefront_token)
    assert (await _submit(api, {"orderExternalId": "o3", "nps": 6, "csat": 5}, member_token("m1")))["response"]["negative"]


async def test_no_review_gating_a_detractor_still_gets_the_review_request(api, storefront_token, survey_page):
    await _shop(api, storefront_token)
    await _fulfil(api, storefront_token)
    # the member answers at once, as harshly as possible
    bad = await _submit(api, {"orderExternalId": "o1", "nps": 0, "csat": 1, "comment": "Never again."},
                        member_token("m1"))
    assert bad["response"]["negative"] is True
    # the review request still goes out, unchanged, at its time
    assert await _run_at(T0 + REVIEW_DELAY) == 1
    [(_, recipients, mail)] = survey_page.mails
    assert recipients == ["m1@example.com"] and mail["Subject"] == "주문 o1 상품은 어떠셨나요?"
    request = await Message.get(type="REVIEW_REQUEST")
    assert (request.status, request.products) == ("SENT", ["p1", "p2"])
    # a week later the reminder goes out too (the score is not read); the survey itself,
    # already answered, is not sent
    assert await _run_at(T0 + SURVEY_DELAY) == 1
    assert (await Message.get(type="REVIEW_REMINDER")).status == "SENT" and len(survey_page.mails) == 2
    survey = await Message.get(type="SATISFACTION_SURVEY")
    assert (survey.status, survey.reason) == ("SUPPRESSED", "already answered")


async def test_survey_needs_the_consent_and_policy_changes_apply(api, storefront_token, admin_token, survey_page):
    await _shop(api, storefront_token, consents=())
    await _fulfil(api, storefront_token)
    survey = next(m for m in await _messages(api) if m["type"] == "SATISFACTION_SURVEY")
    assert (survey["status"], survey["reason"]) == ("SUPPRESSED", "no consent (REVIEW_REQUESTS)")
    query = "{ messagePolicies { type enabled channels delayHours consentPurpose capExempt } }"
    policies = (await api.ok(query, token=admin_token))["messagePolicies"]
    assert [p for p in policies if p["type"] in ("SATISFACTION_SURVEY", "FEEDBACK_THANKS")] == [
        {"type": "SATISFACTION_SURVEY", "enabled": True, "channels": ["EMAIL"], "delayHours": 504,
         "consentPurpose": "REVIEW_REQUESTS", "capExempt": False},
        {"type": "FEEDBACK_THANKS", "enabled": True, "channels": ["EMAIL"], "delayHours": 0,
         "consentPurpose": "REVIEW_REQUESTS", "capExempt": False}]
    changed = await api.ok(POLICY, {"i": {"type": "SATISFACTION_SURVEY", "delayHours": 72}}, admin_token)
    assert changed["updateMessagePolicy"]["policy"]["delayHours"] == 72
    await _shop(api, storefront_token, order="o2", member="m2")
    await _fulfil(api, storefront_token, order="o2")
    other = next(m for m in await _messages(api, "m2") if m["type"] == "SATISFACTION_SURVEY")
    assert (other["status"], other["scheduledFor"]) == ("SCHEDULED", "2026-01-06T01:00:00+00:00")


async def _contributions(api, storefront_token) -> tuple[str, str, str]:
    """m1 (consenting) and m2 (not) review p1; m3 (consenting) asks about it."""
    ids = []
    for member, consents in (("m1", ("REVIEW_REQUESTS",)), ("m2", ()), ("m3", ("REVIEW_REQUESTS",))):
        token = member_token(member)
        await api.ok(UPSERT, {"i": {"externalId": member, "email": f"{member}@example.com", "name": "Ann Lee",
                                    "locale": "en"}}, storefront_token)
        if consents:
            await api.ok(CONSENTS, {"c": [{"purpose": p, "granted": True} for p in consents]}, token)
        if member == "m3":
            asked = await api.ok(ASK, {"i": {"productExternalId": "p1", "body": "Is the toe box narrow?"}}, token)
            ids.append(asked["askQuestion"]["question"]["id"])
        else:
            body = "The toe box is too narrow for wide feet, sadly."
            written = await api.ok(REVIEW, {"i": {"productExternalId": "p1", "rating": 3, "body": body}}, token)
            ids.append(written["submitReview"]["review"]["id"])
    return ids[0], ids[1], ids[2]


async def test_an_improvement_thanks_its_contributors_once_and_shows_on_the_product(api, storefront_token, admin_token,
                                                                                    survey_page):
    clock.set_now(T0)
    await api.ok("""mutation { upsertProducts(input: [{externalId: "p1", title: "Trail Runner"},
        {externalId: "p2", title: "Socks"}]) { errors { code } } }""", token=admin_token)
    review1, review2, question3 = await _contributions(api, storefront_token)
    made = (await api.ok(IMPROVE, {"i": {"title": "Wider toe box", "body": "The last is 4 mm wider from March.",
                                         "productExternalId": "p1", "reviewIds": [review1, review2, review1],
                                         "questionIds": [question3]}}, admin_token))["recordImprovement"]
    assert made["errors"] == [] and made["improvement"]["title"] == "Wider toe box"
    # the product page lists it (public)
    page = await api.ok('{ product(externalId: "p1") { improvements { title body createdAt } } }')
    assert page["product"]["improvements"] == [
        {"title": "Wider toe box", "body": "The last is 4 mm wider from March.", "createdAt": "2026-01-03T01:00:00+00:00"}]
    # each author sees what their feedback changed
    mine = await api.ok("{ me { contributions { review { id } question { id } improvement { title } } } }",
                        token=member_token("m1"))
    assert mine["me"]["contributions"] == [{"review": {"id": review1}, "question": None,
                                            "improvement": {"title": "Wider toe box"}}]
    asked = await api.ok("{ me { contributions { review { id } question { id } } } }", token=member_token("m3"))
    assert asked["me"]["contributions"] == [{"review": None, "question": {"id": question3}}]
    # the consenting authors are thanked, the other one is not
    thanks = {m.member_id: m for m in await Message.filter(type="FEEDBACK_THANKS").prefetch_related("member")}
    assert sorted((m.member.external_id, m.status, m.reason) for m in thanks.values()) == [
        ("m1", "SCHEDULED", None), ("m2", "SUPPRESSED", "no consent (REVIEW_REQUESTS)"), ("m3", "SCHEDULED", None)]
    assert await _run_at(T0) == 2
    subjects = sorted((rcpt[0], mail["Subject"]) for _, rcpt, mail in survey_page.mails)
    assert subjects == [("m1@example.com", "Thanks to your feedback we improved Trail Runner"),
                        ("m3@example.com", "Thanks to your feedback we improved Trail Runner")]
    text, html = _parts(survey_page.mails[0][2])
    assert "we improved Trail Runner: Wider toe box." in text and "The last is 4 mm wider from March." in text
    assert "<strong>Wider toe box</strong>" in html
    # another improvement from the same review thanks again (once per improvement and member)
    second = await api.ok(IMPROVE, {"i": {"title": "Softer heel", "body": "New foam.", "productExternalId": "p1",
                                          "reviewIds": [review1]}}, admin_token)
    assert second["recordImprovement"]["errors"] == []
    assert await Message.filter(type="FEEDBACK_THANKS", member__external_id="m1").count() == 2
    assert await _run_at(T0 + timedelta(minutes=1)) == 1


async def test_improvement_refusals_write_nothing(api, storefront_token, admin_token):
    await api.ok("""mutation { upsertProducts(input: [{externalId: "p1"}, {externalId: "p2"}]) { errors { code } } }""",
                 token=admin_token)
    review1, _, question3 = await _contributions(api, storefront_token)
    base = {"title": "Wider toe box", "body": "From your reviews.", "productExternalId": "p1"}
    for bad, field, code in (({"title": " "}, "title", "INVALID"), ({"body": "x" * 5001}, "body", "INVALID"),
                             ({"productExternalId": "nope"}, "productExternalId", "PRODUCT_NOT_FOUND"),
                             ({"productExternalId": "p2", "reviewIds": [review1]}, "reviewIds", "INVALID"),
                             ({"reviewIds": [global_id("Review", 99999)]}, "reviewIds", "REVIEW_NOT_FOUND"),
                             ({"questionIds": [global_id("Question", 99999)]}, "questionIds", "QUESTION_NOT_FOUND")):
        refused = await api.ok(IMPROVE, {"i": base | bad}, admin_token)
        assert refused["recordImprovement"] == {"improvement": None, "errors": [{"field": field, "code": code}]}
    wrong_type = await api(IMPROVE, {"i": base | {"reviewIds": [question3]}}, admin_token)
    assert wrong_type["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await Improvement.all().count(), await ImprovementLink.all().count(),
            await Message.filter(type="FEEDBACK_THANKS").count()) == (0, 0, 0)


async def test_the_webhook_provider_reports_delivery_once(api, storefront_token, admin_token, survey_page):
    await api.ok(POLICY, {"i": {"type": "REVIEW_REQUEST", "channels": ["WEBHOOK", "EMAIL"]}}, admin_token)
    await api.ok(POLICY, {"i": {"type": "SATISFACTION_SURVEY", "enabled": False}}, admin_token)
    provider = (await auth.create_api_key("sms", "partner", scopes=["events:messages", "members:pii"]))[1]
    crm = (await auth.create_api_key("crm", "partner"))[1]
    await _shop(api, storefront_token)
    await _fulfil(api, storefront_token)
    assert await _run_at(T0 + REVIEW_DELAY) == 2
    hook = await Message.get(type="REVIEW_REQUEST", channel="WEBHOOK")
    mail = await Message.get(type="REVIEW_REQUEST", channel="EMAIL")
    due = await Event.get(type="message.due")
    assert due.payload["messageId"] == hook.id
    message_id = global_id("Message", hook.id)
    # a key without events:messages may not report
    refused = await api(REPORT, {"i": {"id": message_id, "status": "DELIVERED"}}, crm)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # input the provider gets wrong changes nothing
    for bad, field, code in (({"status": "DELIVERED", "error": "x"}, "error", "INVALID"),
                             ({"status": "FAILED", "providerMessageId": "x" * 256}, "providerMessageId", "INVALID"),
                             ({"id": global_id("Message", mail.id), "status": "DELIVERED"}, "id", "NOT_ALLOWED"),
                             ({"id": global_id("Message", 99999), "status": "DELIVERED"}, "id", "NOT_FOUND")):
        body = (await api.ok(REPORT, {"i": {"id": message_id} | bad}, provider))["reportMessageStatus"]
        assert body == {"message": None, "replayed": False, "errors": [{"field": field, "code": code}]}
    assert (await Message.get(id=hook.id)).status == "SENT"
    done = (await api.ok(REPORT, {"i": {"id": message_id, "status": "DELIVERED", "providerMessageId": "kakao-77"}},
                         provider))["reportMessageStatus"]
    assert done == {"message": {"status": "DELIVERED", "reason": "delivered by the provider",
                                "providerMessageId": "kakao-77"}, "replayed": False, "errors": []}
    again = (await api.ok(REPORT, {"i": {"id": message_id, "status": "DELIVERED", "providerMessageId": "kakao-77"}},
                          provider))["reportMessageStatus"]
    assert again["replayed"] is True and again["message"]["status"] == "DELIVERED"
    late = (await api.ok(REPORT, {"i": {"id": message_id, "status": "FAILED", "error": "bounced"}},
                         provider))["reportMessageStatus"]
    assert late["errors"] == [{"field": "status", "code": "INVALID_STATE"}]
    seen = await api.ok("{ me { messages(first: 5) { edges { node { channel status providerMessageId } } } } }",
                        token=member_token("m1"))
    assert {(e["node"]["channel"], e["node"]["status"], e["node"]["providerMessageId"])
            for e in seen["me"]["messages"]["edges"]} >= {("WEBHOOK", "DELIVERED", "kakao-77"), ("EMAIL", "SENT", None)}


async def test_a_failed_provider_report_keeps_the_error(api, storefront_token, admin_token, survey_page):
    await api.ok(POLICY, {"i": {"type": "REVIEW_REQUEST", "channels": ["WEBHOOK"]}}, admin_token)
    await _shop(api, storefront_token)
    await _fulfil(api, storefront_token)
    await _run_at(T0 + REVIEW_DELAY)
    hook = await Message.get(type="REVIEW_REQUEST")
    failed = (await api.ok(REPORT, {"i": {"id": global_id("Message", hook.id), "status": "FAILED",
                                          "error": "number not on KakaoTalk"}}, admin_token))["reportMessageStatus"]
    assert failed["message"] == {"status": "FAILED", "reason": "the provider could not deliver it", "providerMessageId": None}
    assert (await Message.get(id=hook.id)).last_error == "number not on KakaoTalk"


async def test_template_overrides_are_checked_used_and_reset(api, storefront_token, admin_token, survey_page):
    clock.set_now(T0)  # the links' expiry is part of the rendering
    await _shop(api, storefront_token, locale="en", name="<b>Ann</b>")
    shipped = (await api.ok(PREVIEW, {"t": "REVIEW_REQUEST"}, admin_token))["previewMessage"]
    assert shipped["subject"] == "How did your order o1 work out?"
    # syntax errors name the part and the line; unknown names and unsafe access are refused too
    for part, source, message in (
            ("subject", "{% if %}", "subject: line 1: Expected an expression, got 'end of statement block'"),
            ("html", "<p>\n{{ name }}\n{% for p in products %}", "html: line 3: Unexpected end of template."),
            ("text", "{{ shoe_size }}", "text: 'shoe_size' is undefined"),
            ("text", "{{ name.__class__.__mro__ }}", None)):
        refused = (await api.ok(TEMPLATE, {"i": {"type": "REVIEW_REQUEST", "locale": "EN", part: source}},
                                admin_token))["updateMessageTemplate"]
        assert refused["template"] is None and [(e["field"], e["code"]) for e in refused["errors"]] == [(part, "INVALID")]
        if message:
            assert refused["errors"][0]["message"].startswith(message), refused
    assert await MessageTemplate.all().count() == 0
    # a valid override of the subject and html; the text stays the shipped one
    saved = (await api.ok(TEMPLATE, {"i": {"type": "REVIEW_REQUEST", "locale": "EN",
                                           "subject": "{{ name }}, a word about {{ order }} & co",
                                           "html": "<p>Dear {{ name }}</p>{% for p in products %}"
                                                   "<a href='{{ p.review_url }}'>{{ p.title }}</a>{% endfor %}"}},
                             admin_token))["updateMessageTemplate"]
    assert saved["errors"] == [] and saved["template"]["text"] is None
    preview = (await api.ok(PREVIEW, {"t": "REVIEW_REQUEST"}, admin_token))["previewMessage"]
    assert preview["subject"] == "<b>Ann</b>, a word about o1 & co"  # a subject is not HTML: not escaped
    assert preview["html"].startswith("<p>Dear &lt;b&gt;Ann&lt;/b&gt;</p><a href='https://shop.test/review?token=")
    assert preview["text"] == shipped["text"]
    # only the en version is overridden, and what is sent uses the override
    assert await MessageTemplate.all().values_list("type", "locale") == [("REVIEW_REQUEST", "en")]
    await _fulfil(api, storefront_token)
    await _run_at(T0 + REVIEW_DELAY)
    sent = survey_page.mails[0][2]
    assert sent["Subject"] == "<b>Ann</b>, a word about o1 & co"
    # reset: the shipped template again
    reset = (await api.ok(RESET, {"i": {"type": "REVIEW_REQUEST", "locale": "EN"}}, admin_token))["resetMessageTemplate"]
    assert reset == {"template": {"subject": None, "text": None, "html": None, "updatedAt": None}, "errors": []}
    clock.set_now(T0)
    assert (await api.ok(PREVIEW, {"t": "REVIEW_REQUEST"}, admin_token))["previewMessage"] == shipped
    assert await MessageTemplate.all().count() == 0


async def test_preview_of_the_new_types(api, storefront_token, admin_token, survey_page):
    await _shop(api, storefront_token, locale="en")
    survey = (await api.ok(PREVIEW, {"t": "SATISFACTION_SURVEY"}, admin_token))["previewMessage"]
    assert survey["subject"] == "Two questions about your order o1"
    assert "https://shop.test/survey?token=" in survey["text"]
    thanks = (await api.ok(PREVIEW, {"t": "FEEDBACK_THANKS"}, admin_token))["previewMessage"]
    assert thanks["subject"] == "Thanks to your feedback we improved"  # no contribution yet: no product named
    assert await Message.all().count() == 0
