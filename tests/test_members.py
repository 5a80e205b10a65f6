"""Members and consent: idempotent upsert, consent history, transparency, export, erasure."""

from __future__ import annotations

from domain.auth import service as auth
from domain.events.models import Event
from domain.ledger.models import LedgerEntry
from domain.members.models import ConsentChange, Member
from domain.orders.models import Order
from tests import helpers
from tests.conftest import member_token
from tests.helpers import assert_no_drift, fresh

UPSERT = """mutation($i: UpsertMemberInput!) { upsertMember(input: $i) {
  member { externalId email name birthday signupChannel } created errors { field message code } } }"""
CONSENTS = """mutation($m: String, $c: [ConsentInput!]!) { updateConsents(input: {memberExternalId: $m, consents: $c}) {
  member { consents { purpose granted source updatedAt } } errors { code } } }"""


async def test_upsert_is_idempotent_and_updates_only_given_fields(api):
    # A storefront key allowed to read personal data back (members:pii).
    storefront_token = (await auth.create_api_key("pii storefront", "storefront", scopes=["members:pii"]))[1]
    first = (await api.ok(UPSERT, {"i": {"externalId": "m1", "email": "a@example.com", "name": "Ann Lee",
                                         "birthday": "1990-05-01", "signupChannel": "app"}}, storefront_token))["upsertMember"]
    assert first == {"member": {"externalId": "m1", "email": "a@example.com", "name": "Ann Lee", "birthday": "1990-05-01",
                                "signupChannel": "app"}, "created": True, "errors": []}
    same = (await api.ok(UPSERT, {"i": {"externalId": "m1", "email": "a@example.com"}}, storefront_token))["upsertMember"]
    assert same["created"] is False and same["member"] == first["member"]
    assert await Event.filter(type="member.updated").count() == 0  # nothing changed
    renamed = (await api.ok(UPSERT, {"i": {"externalId": "m1", "name": "Ann Kim"}}, storefront_token))["upsertMember"]
    assert renamed["member"]["name"] == "Ann Kim" and renamed["member"]["email"] == "a@example.com"
    updated = await Event.get(type="member.updated")
    assert updated.payload["changed"] == ["name"]
    assert await Member.all().count() == 1


async def test_upsert_validation(api, storefront_token):
    bad = [({"externalId": "m1", "email": "nope"}, "email"), ({"externalId": " "}, "externalId"),
           ({"externalId": "m1", "birthday": "2999-01-01"}, "birthday")]
    for value, field in bad:
        errors = (await api.ok(UPSERT, {"i": value}, storefront_token))["upsertMember"]["errors"]
        assert [(e["field"], e["code"]) for e in errors] == [(field, "INVALID")]
    assert await Member.all().count() == 0
    assert await Event.all().count() == 0


async def test_signup_bonus_is_awarded_once():
    from domain.rules.service import save_rule

    await save_rule(None, {"name": "Welcome", "type": "SIGNUP", "points": 100})
    await helpers.member()
    await helpers.member()  # the same externalId again
    m = await assert_no_drift()
    assert (m.points_balance, m.lifetime_earned) == (100, 100)
    entry = await LedgerEntry.get(member_id=m.id)
    assert (entry.kind, entry.reason, entry.details["ruleType"]) == ("earn", "Signup bonus", "SIGNUP")


async def test_consents_default_off_and_every_change_is_kept(api, storefront_token):
    await helpers.member()
    token = member_token("m1")
    data = await api.ok("{ me { consents { purpose granted } } }", token=token)
    assert all(c["granted"] is False for c in data["me"]["consents"]) and len(data["me"]["consents"]) == 6
    await api.ok(CONSENTS, {"c": [{"purpose": "PERSONALIZATION", "granted": True}]}, token)
    await api.ok(CONSENTS, {"m": "m1", "c": [{"purpose": "PERSONALIZATION", "granted": False},
                                             {"purpose": "MARKETING_EMAIL", "granted": False}]}, storefront_token)
    result = await api.ok(CONSENTS, {"c": [{"purpose": "PERSONALIZATION", "granted": True}]}, token)
    consents = {c["purpose"]: c for c in result["updateConsents"]["member"]["consents"]}
    assert consents["PERSONALIZATION"]["granted"] is True
    assert consents["PERSONALIZATION"]["source"] == "member:m1"
    assert consents["MARKETING_EMAIL"] == {"purpose": "MARKETING_EMAIL", "granted": False, "source": None, "updatedAt": None}
    history = await ConsentChange.all().order_by("id").values_list("purpose", "granted", "source")
    assert [h[:2] for h in history] == [("PERSONALIZATION", True), ("PERSONALIZATION", False), ("PERSONALIZATION", True)]
    assert history[1][2].startswith("storefront:")


async def test_my_data_usage_reflects_consents(api):
    await helpers.member()
    token = member_token("m1")
    await api.ok(CONSENTS, {"c": [{"purpose": "PERSONALIZATION", "granted": True}]}, token)
    usage = (await api.ok("{ myDataUsage { memberExternalId features { feature consentPurpose active reads }"
                          " consents { purpose granted } } }", token=token))["myDataUsage"]
    features = {f["feature"]: f for f in usage["features"]}
    assert features["Personalized recommendations"]["active"] is True
    assert features["Personalized recommendations"]["consentPurpose"] == "PERSONALIZATION"
    # Patron sends marketing e-mail now (birthday, win-back, cart): stated, inactive without consent
    assert (features["Marketing e-mail"]["consentPurpose"], features["Marketing e-mail"]["active"]) == (
        "MARKETING_EMAIL", False)
    assert features["Points and rewards"]["active"] is True and features["Points and rewards"]["consentPurpose"] is None
    assert {c["purpose"]: c["granted"] for c in usage["consents"]}["PERSONALIZATION"] is True


async def test_export_contains_everything_about_the_member(api, admin_token):
    await helpers.order_rule(pending_days=0)
    await helpers.member(email="a@example.com", name="Ann")
    await helpers.order("o1", amount=5_000)
    export = (await api.ok("{ exportMemberData }", token=member_token("m1")))["exportMemberData"]
    assert export["member"]["email"] == "a@example.com"
    assert export["member"]["points"] == {"balance": 50, "pending": 0, "lifetimeEarned": 50}
    assert [o["externalId"] for o in export["orders"]] == ["o1"]
    assert export["orders"][0]["lines"][0]["unitPrice"] == 5_000
    assert [e["amount"] for e in export["ledger"]] == [50]
    assert {e["type"] for e in export["events"]} >= {"member.created", "order.recorded", "points.earned"}
    assert (await api.ok('{ exportMemberData(memberExternalId: "zzz") }', token=admin_token))["exportMemberData"] is None


async def test_anonymize_removes_pii_and_keeps_totals(api, admin_token):
    await helpers.order_rule(pending_days=0)
    await helpers.member(email="a@example.com", name="Ann Lee")
    await helpers.order("o1", amount=5_000)
    await api.ok(CONSENTS, {"m": "m1", "c": [{"purpose": "MARKETING_EMAIL", "granted": True}]}, admin_token)
    before = await fresh()
    data = (await api.ok('mutation { anonymizeMember(input: {memberExternalId: "m1"}) { member { externalId email name anonymized points { balance } } errors { code } } }',
                         token=admin_token))["anonymizeMember"]
    member = data["member"]
    assert member["email"] is None and member["name"] is None and member["anonymized"] is True
    assert member["externalId"].startswith("anonymized-") and member["points"]["balance"] == 50
    after = await Member.get(id=before.id)
    assert after.lifetime_earned == before.lifetime_earned
    assert (await Order.get(member_id=before.id)).total_amount == 5_000
    await assert_no_drift(after.external_id)
    assert not await Member.exists(external_id="m1")
    # Personal data is gone from the event history too; the announcement carries none.
    for event in await Event.filter(member_id=before.id):
        assert "a@example.com" not in str(event.payload) and "Ann Lee" not in str(event.payload)
    assert await Event.filter(type="member.anonymized").count() == 1
    consents = await api.ok('{ dataUsage(memberExternalId: "%s") { consents { purpose granted } } }' % after.external_id, token=admin_token)
    assert all(not c["granted"] for c in consents["dataUsage"]["consents"])
