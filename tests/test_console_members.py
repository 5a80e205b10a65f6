"""Member search and Member 360 in the console over HTTP: the support role finds a member by
externalId, e-mail or name, reads the whole record and adjusts points with a reason, all through
GraphQL (member, members(search:), adjustPoints) with the members:support scope; a moderator and a
viewer are refused (403) and change nothing. The browser test is in tests/test_console_browser.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from domain import clock
from domain.auth.service import create_api_key
from domain.insights import members as member_insights
from domain.ledger.models import LedgerEntry
from domain.members import service as members_service
from domain.members.models import Member
from domain.staff.models import StaffAudit
from tests import helpers
from tests.test_console import csrf_of, make_staff, sign_in

KEY = re.compile(r'name="key" value="([^"]+)"')


@pytest.fixture(autouse=True)
def english(client):
    """Pages in English unless a test asks otherwise (PATRON_DEFAULT_LOCALE is ko)."""
    client.headers["accept-language"] = "en"


async def _members() -> None:
    await helpers.member("cust-1", email="ann.lee@shop.example", name="Ann Lee")
    await helpers.member("cust-2", email="bo.kim@shop.example", name="Bo Kim")


async def test_support_finds_a_member_by_external_id_email_or_name(client):
    await _members()
    await make_staff("support")
    await sign_in(client, "support@brand.example")
    for search in ("cust-1", "ANN.LEE@shop.example", "ann l"):
        page = await client.get("/console/members", params={"q": search})
        assert page.status_code == 200, search
        assert 'href="/console/members/cust-1"' in page.text and "cust-2" not in page.text, search
    nobody = await client.get("/console/members", params={"q": "ann@elsewhere.example"})
    assert "No member matches." in nobody.text
    empty = await client.get("/console/members")
    assert empty.status_code == 200 and 'id="found"' not in empty.text


async def test_member_360_shows_profile_points_ledger_orders_and_consents(client):
    await _members()
    await helpers.order("A-1001", "cust-1", amount=12_900, currency="KRW")
    await make_staff("support")
    await sign_in(client, "support@brand.example")
    page = await client.get("/console/members/cust-1")
    assert page.status_code == 200
    text = page.text
    assert "ann.lee@shop.example" in text and "Ann Lee" in text
    assert '<dd id="balance">0</dd>' in text
    assert "<code>A-1001</code>" in text and "₩12,900" in text
    assert text.count("<code>MARKETING_EMAIL</code>") == 1
    assert 'action="/console/members/cust-1/adjust"' in text


async def test_support_adjusts_points_with_a_reason_once_per_form(client):
    await _members()
    support = await make_staff("support")
    await sign_in(client, "support@brand.example")
    page = await client.get("/console/members/cust-1")
    form = {"csrf": csrf_of(page), "key": KEY.search(page.text).group(1), "amount": "500",
            "reason": "Courier lost the parcel"}
    done = await client.post("/console/members/cust-1/adjust", data=form)
    assert done.headers["location"] == "/console/members/cust-1?done=adjusted"
    again = await client.post("/console/members/cust-1/adjust", data=form)  # a double submit
    assert again.headers["location"] == "/console/members/cust-1?done=adjusted"
    member = await Member.get(external_id="cust-1")
    assert member.points_balance == 500
    entries = await LedgerEntry.filter(member_id=member.id)
    assert [(e.kind, e.amount, e.reason) for e in entries] == [("adjust", 500, "Courier lost the parcel")]
    assert entries[0].details["actor"] == f"staff:{support.id}"
    shown = await client.get("/console/members/cust-1?done=adjusted")
    assert "Points adjusted." in shown.text and '<dd id="balance">500</dd>' in shown.text
    assert "Courier lost the parcel" in shown.text and "+500" in shown.text
    log = [(a.action, a.detail) for a in await StaffAudit.filter(action="points.adjust")]
    assert log == [("points.adjust", "cust-1 +500"), ("points.adjust", "cust-1 +500")]


async def test_an_adjustment_without_reason_or_number_or_below_zero_is_refused(client):
    await _members()
    await make_staff("support")
    await sign_in(client, "support@brand.example")
    page = await client.get("/console/members/cust-1")
    token = csrf_of(page)
    cases = {("100", ""): "ADJUST_REASON", ("ten", "x"): "AMOUNT", ("0", "typo"): "AMOUNT",
             ("-5", "goodwill reversal"): "INSUFFICIENT_POINTS"}
    for (amount, reason), code in cases.items():
        refused = await client.post("/console/members/cust-1/adjust",
                                    data={"csrf": token, "key": f"k-{amount}", "amount": amount, "reason": reason})
        assert refused.headers["location"] == f"/console/members/cust-1?error={code}", (amount, reason)
    assert await LedgerEntry.all().count() == 0
    shown = await client.get("/console/members/cust-1?error=INSUFFICIENT_POINTS")
    assert "Not saved: the balance is too low." in shown.text


async def test_moderator_and_viewer_cannot_search_read_or_adjust(client):
    await _members()
    for role in ("moderator", "viewer"):
        await make_staff(role)
        client.cookies.clear()
        await sign_in(client, f"{role}@brand.example")
        page = await client.get("/console/reviews") if role == "moderator" else await client.get("/console/replies")
        assert (await client.get("/console/members", params={"q": "cust-1"})).status_code == 403, role
        assert (await client.get("/console/members")).status_code == 403, role
        member = await client.get("/console/members/cust-1")
        assert member.status_code == 403 and "ann.lee@shop.example" not in member.text, role
        assert 'href="/console/members"' not in page.text  # no link to a page they cannot open
        refused = await client.post("/console/members/cust-1/adjust",
                                    data={"csrf": csrf_of(page) if role == "moderator" else "", "key": "k",
                                          "amount": "100", "reason": "nope"})
        assert refused.status_code == 403, role
    assert await LedgerEntry.all().count() == 0


async def test_member_page_in_korean(client):
    await _members()
    await make_staff("support")
    await sign_in(client, "support@brand.example")
    page = await client.get("/console/members/cust-1", headers={"accept-language": "ko"})
    assert '<html lang="ko">' in page.text and "포인트 조정" in page.text and "포인트 내역" in page.text


# --- the API the pages use: members:support, and members:pii for personal fields -------------

SEARCH = "query($s: String) { members(first: 10, search: $s) { edges { node { externalId email } } } }"
ADJUST = """mutation($i: AdjustPointsInput!) { adjustPoints(input: $i) { member { points { balance } }
            errors { code } } }"""


async def test_a_support_key_without_pii_searches_by_external_id_only(api):
    await _members()
    desk = (await create_api_key("helpdesk", "partner", scopes=["members:support"]))[1]
    by_id = await api.ok(SEARCH, {"s": "cust-2"}, desk)
    assert by_id["members"]["edges"] == [{"node": {"externalId": "cust-2", "email": None}}]
    for search in ("bo.kim@shop.example", "Bo"):  # no oracle on personal data
        assert (await api.ok(SEARCH, {"s": search}, desk))["members"]["edges"] == []
    member = await api.ok('{ member(externalId: "cust-2") { email name } }', token=desk)
    assert member["member"] == {"email": None, "name": None}
    adjusted = await api.ok(ADJUST, {"i": {"memberExternalId": "cust-2", "amount": 40, "reason": "goodwill",
                                           "idempotencyKey": "hd-1"}}, desk)
    assert adjusted["adjustPoints"] == {"member": {"points": {"balance": 40}}, "errors": []}
    with_pii = (await create_api_key("helpdesk+pii", "partner", scopes=["members:support", "members:pii"]))[1]
    found = await api.ok(SEARCH, {"s": "bo.kim@shop.example"}, with_pii)
    assert found["members"]["edges"] == [{"node": {"externalId": "cust-2", "email": "bo.kim@shop.example"}}]


async def test_a_key_without_members_support_is_refused(api):
    await _members()
    partner = (await create_api_key("bi", "partner", scopes=["members:pii", "insights:read"]))[1]
    for query, variables in ((SEARCH, {"s": "cust-1"}), ('{ member(externalId: "cust-1") { email } }', None),
                             (ADJUST, {"i": {"memberExternalId": "cust-1", "amount": 1, "reason": "x",
                                             "idempotencyKey": "k"}})):
        body = await api(query, variables, partner)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await LedgerEntry.all().count() == 0


async def test_member_insights_show_for_owners_and_support_not_for_moderators(client, api):
    clock.set_now(datetime(2026, 5, 1, tzinfo=UTC))
    await _members()
    await helpers.order("A-1", "cust-1", amount=40_000)
    clock.set_now(datetime(2026, 6, 1, tzinfo=UTC))
    await member_insights.refresh(clock.now())
    await make_staff("owner")
    await sign_in(client, "owner@brand.example")
    page = await client.get("/console/members/cust-1")
    assert 'id="member-insights"' in page.text and "<dt>RFM segment</dt>" in page.text
    await make_staff("support")
    client.cookies.clear()
    await sign_in(client, "support@brand.example")
    support_page = (await client.get("/console/members/cust-1")).text
    assert 'id="member-insights"' in support_page and "<dt>Churn risk</dt>" in support_page
    query = '{ member(externalId: "cust-1") { insights { frequency } } }'
    desk = (await create_api_key("desk", "partner", scopes=["members:support"]))[1]
    assert (await api.ok(query, token=desk))["member"]["insights"] == {"frequency": 1}
    moderator = await make_staff("moderator")
    assert moderator.role == "moderator"
    client.cookies.clear()
    await sign_in(client, "moderator@brand.example")
    assert (await client.get("/console/members/cust-1")).status_code == 403


# --- consent history and the data-rights actions (export, anonymize) ---------------------------

async def test_member_360_lists_consent_history_newest_first(client, api, admin_token):
    await _members()
    clock.set_now(datetime(2026, 3, 1, 9, tzinfo=UTC))
    await members_service.update_consents("cust-1", [("MARKETING_EMAIL", True)], "member:cust-1")
    clock.set_now(datetime(2026, 4, 2, 9, tzinfo=UTC))
    await members_service.update_consents("cust-1", [("MARKETING_EMAIL", False)], "staff:desk")
    history = await api.ok('{ member(externalId: "cust-1") { consentHistory { purpose granted source at } } }',
                           token=admin_token)
    assert history["member"]["consentHistory"] == [
        {"purpose": "MARKETING_EMAIL", "granted": False, "source": "staff:desk", "at": "2026-04-02T09:00:00+00:00"},
        {"purpose": "MARKETING_EMAIL", "granted": True, "source": "member:cust-1", "at": "2026-03-01T09:00:00+00:00"},
    ]
    one = await api.ok('{ member(externalId: "cust-1") { consentHistory(first: 1) { granted } } }', token=admin_token)
    assert one["member"]["consentHistory"] == [{"granted": False}]
    too_many = await api('{ member(externalId: "cust-1") { consentHistory(first: 201) { granted } } }', None,
                         admin_token)
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    await make_staff("support")
    await sign_in(client, "support@brand.example")
    page = (await client.get("/console/members/cust-1")).text
    table = page[page.index('id="consent-history"'):]
    rows = re.findall(r"<tr><td>[^<]*</td><td><code>(\w+)</code></td><td>(\w+)</td><td>([^<]+)</td></tr>", table)
    assert rows == [("MARKETING_EMAIL", "Withdrawn", "staff:desk"), ("MARKETING_EMAIL", "Yes", "member:cust-1")]


async def test_an_admin_downloads_a_members_data_and_it_is_audited(client):
    await _members()
    await helpers.order("A-1001", "cust-1", amount=12_900, currency="KRW")
    await make_staff("admin")
    await sign_in(client, "admin@brand.example")
    page = await client.get("/console/members/cust-1")
    assert 'href="/console/members/cust-1/export"' in page.text and 'id="anonymize"' in page.text
    export = await client.get("/console/members/cust-1/export")
    assert export.status_code == 200
    assert export.headers["content-disposition"] == 'attachment; filename="member-cust-1.json"'
    data = export.json()
    assert data["member"]["externalId"] == "cust-1" and data["member"]["email"] == "ann.lee@shop.example"
    assert [o["externalId"] for o in data["orders"]] == ["A-1001"]
    assert [(a.action, a.detail) for a in await StaffAudit.filter(action="member.export")] == [
        ("member.export", "cust-1")]
    assert (await client.get("/console/members/nobody/export")).status_code == 404


async def test_anonymize_needs_the_typed_id_then_erases_and_is_audited(client):
    await _members()
    await make_staff("owner")
    await sign_in(client, "owner@brand.example")
    token = csrf_of(await client.get("/console/members/cust-1"))
    wrong = await client.post("/console/members/cust-1/anonymize", data={"csrf": token, "confirm": "cust-2"})
    assert wrong.headers["location"] == "/console/members/cust-1?error=CONFIRM"
    member = await Member.get(external_id="cust-1")
    assert member.anonymized_at is None and member.email == "ann.lee@shop.example"
    done = await client.post("/console/members/cust-1/anonymize", data={"csrf": token, "confirm": "cust-1"})
    member = await Member.get(id=member.id)
    assert member.anonymized_at is not None and member.email is None and member.name is None
    assert member.external_id != "cust-1"
    assert done.headers["location"] == f"/console/members/{member.external_id}?done=anonymized"
    shown = await client.get(done.headers["location"])
    assert "The member was anonymized." in shown.text and "ann.lee@shop.example" not in shown.text
    assert 'id="anonymize"' not in shown.text  # nothing left to erase
    assert [(a.action, a.detail) for a in await StaffAudit.filter(action="member.anonymize")] == [
        ("member.anonymize", f"cust-1 -> {member.external_id}")]


async def test_support_sees_no_data_rights_actions_and_cannot_post_them(client):
    await _members()
    await make_staff("support")
    await sign_in(client, "support@brand.example")
    page = await client.get("/console/members/cust-1")
    assert 'id="rights"' not in page.text and "/export" not in page.text
    assert (await client.get("/console/members/cust-1/export")).status_code == 403
    refused = await client.post("/console/members/cust-1/anonymize",
                                data={"csrf": csrf_of(page), "confirm": "cust-1"})
    assert refused.status_code == 403
    member = await Member.get(external_id="cust-1")
    assert member.anonymized_at is None and member.email == "ann.lee@shop.example"
    assert await StaffAudit.filter(action__in=["member.export", "member.anonymize"]).count() == 0
