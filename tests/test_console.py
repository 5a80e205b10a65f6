"""The merchant console over HTTP (httpx, no browser): staff sign-in, cookies, CSRF, lockout and
throttling, the audit log, and the inbox/replies pages acting through GraphQL with the staff
role's scopes. tests/test_console_browser.py drives the same pages in Chromium."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from domain import clock
from domain.auth.scopes import MODERATE, PII, SUPPORT
from domain.auth.service import create_api_key
from domain.catalog.service import upsert_products
from domain.reviews.models import Review, ReviewMedia
from domain.settings import reload_settings
from domain.staff import service as staff
from domain.staff.models import StaffAudit, StaffSession, StaffUser
from schema.common import decode_global_id, global_id
from server import create_app
from tests import helpers
from tests.conftest import member_token

PASSWORD = "correct horse battery staple"
T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
SUBMIT = """mutation($i: SubmitReviewInput!) { submitReview(input: $i) { review { id status } errors { code } } }"""
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def make_staff(role: str, email: str | None = None) -> StaffUser:
    return await staff.create_staff(email or f"{role}@brand.example", role, PASSWORD)


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    form = await client.get("/console/sign-in")
    token = CSRF.search(form.text).group(1)
    return await client.post("/console/sign-in", data={"csrf": token, "email": email, "password": password})


def csrf_of(page: httpx.Response) -> str:
    return CSRF.search(page.text).group(1)


async def review(api, member: str, rating: int, body: str, product: str = "p1") -> str:
    data = (await api(SUBMIT, {"i": {"productExternalId": product, "rating": rating, "body": body}},
                      member_token(member)))["data"]["submitReview"]
    assert data["errors"] == [], data
    return data["review"]["id"]


@pytest.fixture(autouse=True)
def english(client):
    """Pages in English unless a test asks otherwise (PATRON_DEFAULT_LOCALE is ko)."""
    client.headers["accept-language"] = "en"


@pytest.fixture
def held(monkeypatch):
    """Clean reviews wait for a person (PATRON_REVIEW_AUTO_PUBLISH=0)."""
    monkeypatch.setenv("PATRON_REVIEW_AUTO_PUBLISH", "0")
    reload_settings()
    yield
    monkeypatch.delenv("PATRON_REVIEW_AUTO_PUBLISH")
    reload_settings()


# --- sign-in, cookies, CSRF ---------------------------------------------------------------

async def test_sign_in_sets_an_httponly_lax_session_cookie_and_audits(client):
    user = await make_staff("owner")
    response = await sign_in(client, "OWNER@brand.example")
    assert response.status_code == 303 and response.headers["location"] == "/console/reviews"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("console_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http (the https case is below)
    token = cookie.split(";")[0].split("=", 1)[1]
    session = await StaffSession.get(user_id=user.id)
    assert session.token_hash != token and len(session.token_hash) == 64  # only a hash is stored
    assert [(a.action, a.email, a.ip) for a in await StaffAudit.all().order_by("id")] == [
        ("staff.created", "owner@brand.example", "cli"), ("sign_in", "owner@brand.example", "127.0.0.1")]
    page = await client.get("/console/reviews")
    assert page.status_code == 200 and "owner@brand.example" in page.text
    assert page.headers["cache-control"] == "private, no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


async def test_session_cookie_is_secure_over_https():
    await make_staff("owner")
    transport = httpx.ASGITransport(app=create_app(manage_db=False))
    async with httpx.AsyncClient(transport=transport, base_url="https://patron.test") as c:
        response = await sign_in(c, "owner@brand.example")
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("console_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie


async def test_sign_in_without_its_csrf_token_is_refused_and_makes_no_session(client):
    await make_staff("owner")
    await client.get("/console/sign-in")
    response = await client.post("/console/sign-in", data={"email": "owner@brand.example", "password": PASSWORD})
    assert response.status_code == 403
    forged = await client.post("/console/sign-in", data={"csrf": "x" * 32, "email": "owner@brand.example",
                                                         "password": PASSWORD})
    assert forged.status_code == 403
    assert await StaffSession.all().count() == 0
    assert await StaffAudit.filter(action__startswith="sign_in").count() == 0


async def test_pages_need_a_session(client):
    for path in ("/console/reviews", "/console/replies", "/console/audit", "/console/members/m1"):
        response = await client.get(path)
        assert (response.status_code, response.headers["location"]) == (303, "/console/sign-in"), path
    assert (await client.post("/console/reviews/moderate", data={})).status_code == 403


async def test_sign_out_ends_the_session(client):
    await make_staff("owner")
    await sign_in(client, "owner@brand.example")
    page = await client.get("/console/reviews")
    out = await client.post("/console/sign-out", data={"csrf": csrf_of(page)})
    assert out.status_code == 303
    assert await StaffSession.all().count() == 0
    assert (await client.get("/console/reviews")).status_code == 303


async def test_an_expired_session_signs_nobody_in(client):
    clock.set_now(T0)
    await make_staff("owner")
    await sign_in(client, "owner@brand.example")
    clock.set_now(T0 + timedelta(hours=12, seconds=1))  # PATRON_STAFF_SESSION_HOURS = 12
    assert (await client.get("/console/reviews")).headers["location"] == "/console/sign-in"


# --- lockout and throttling ---------------------------------------------------------------

async def test_wrong_passwords_lock_the_account_then_it_opens_again(client):
    clock.set_now(T0)
    await make_staff("moderator")
    for attempt in range(4):
        refused = await sign_in(client, "moderator@brand.example", "wrong password " + str(attempt))
        assert refused.status_code == 401 and "Wrong e-mail or password" in refused.text
    fifth = await sign_in(client, "moderator@brand.example", "wrong again")
    assert fifth.status_code == 401 and "locked" in fifth.text
    user = await StaffUser.get(email="moderator@brand.example")
    assert user.locked_until == T0 + timedelta(minutes=15)
    # The right password does not open a locked account.
    right = await sign_in(client, "moderator@brand.example")
    assert right.status_code == 401 and "locked" in right.text
    assert await StaffSession.all().count() == 0
    actions = [a.action for a in await StaffAudit.filter(action__startswith="sign_in").order_by("id")]
    assert actions == ["sign_in.failed"] * 5 + ["sign_in.locked"]
    assert (await StaffAudit.filter(action="sign_in.failed").order_by("-id").first()).detail == "account locked"
    clock.set_now(T0 + timedelta(minutes=15, seconds=1))
    assert (await sign_in(client, "moderator@brand.example")).status_code == 303
    assert (await StaffUser.get(id=user.id)).failed_attempts == 0


async def test_unknown_email_gets_the_same_answer_as_a_wrong_password(client):
    await make_staff("owner")
    unknown = await sign_in(client, "nobody@brand.example", PASSWORD)
    wrong = await sign_in(client, "owner@brand.example", "not the password")
    assert unknown.status_code == wrong.status_code == 401
    assert "Wrong e-mail or password" in unknown.text and "Wrong e-mail or password" in wrong.text


async def test_one_address_is_throttled_across_accounts(client, monkeypatch):
    monkeypatch.setenv("PATRON_STAFF_LOGIN_ATTEMPTS_PER_IP", "3")
    reload_settings()
    await make_staff("owner")
    for email in ("a@brand.example", "b@brand.example", "c@brand.example"):
        assert (await sign_in(client, email, "guess guess guess")).status_code == 401
    throttled = await sign_in(client, "owner@brand.example")  # even the right password waits
    assert throttled.status_code == 429
    assert await StaffSession.all().count() == 0


async def test_create_staff_refuses_bad_input_and_stores_an_argon2id_hash():
    with pytest.raises(staff.InvalidInput):
        await staff.create_staff("not-an-email", "owner", PASSWORD)
    with pytest.raises(staff.InvalidInput):
        await staff.create_staff("a@brand.example", "root", PASSWORD)
    with pytest.raises(staff.InvalidInput):
        await staff.create_staff("a@brand.example", "owner", "short")
    assert await StaffUser.all().count() == 0
    user = await make_staff("support")
    assert user.password_hash.startswith("$argon2id$")
    with pytest.raises(staff.InvalidInput):
        await make_staff("support")


# --- roles act through GraphQL with their scopes --------------------------------------------

def test_roles_map_to_viewers_with_scopes():
    def viewer(role: str):
        return staff.viewer_for(StaffUser(id=7, email="x@y.z", role=role, password_hash=""))
    assert viewer("owner").role == viewer("admin").role == "admin"
    moderator = viewer("moderator")
    assert (moderator.role, moderator.scopes, moderator.actor) == ("staff", frozenset({MODERATE}), "staff:7")
    assert moderator.reads_held_reviews and not moderator.sees_personal_data
    assert viewer("support").scopes == frozenset({PII, SUPPORT})
    assert viewer("viewer").scopes == frozenset()


async def _world(api) -> dict[str, str]:
    await upsert_products([{"external_id": "p1", "title": "Trail Runner"},
                           {"external_id": "p2", "title": "Cap"}])
    for m in ("m1", "m2", "m3"):
        await helpers.member(m, email=f"{m}@shop.example", name=f"Ann {m.upper()}")
    return {
        "good": await review(api, "m1", 5, "Great fit, very comfortable on long runs."),
        "bad": await review(api, "m2", 2, "Too narrow for my feet, the stitching came loose."),
        "cap": await review(api, "m3", 4, "Nice cap, a bit small for me.", product="p2"),
    }


async def test_moderator_inbox_shows_held_text_without_emails_and_filters(client, api, held):
    ids = await _world(api)
    await make_staff("moderator")
    await sign_in(client, "moderator@brand.example")
    page = await client.get("/console/reviews")
    assert page.status_code == 200
    assert "Great fit, very comfortable" in page.text and "Too narrow" in page.text  # held text, for moderating
    assert "@shop.example" not in page.text  # never a member's e-mail
    assert ids["good"] in page.text and ids["cap"] in page.text
    two_stars = await client.get("/console/reviews", params={"rating": "2"})
    assert ids["bad"] in two_stars.text and ids["good"] not in two_stars.text
    cap = await client.get("/console/reviews", params={"product": "p2"})
    assert ids["cap"] in cap.text and ids["good"] not in cap.text
    with_media = await client.get("/console/reviews", params={"media": "yes"})
    assert "Nothing is waiting here." in with_media.text


async def test_korean_by_accept_language_and_the_switch(client):
    await make_staff("owner")
    page = await client.get("/console/sign-in", headers={"accept-language": "ko-KR,ko;q=0.9,en;q=0.8"})
    assert '<html lang="ko">' in page.text and "비밀번호" in page.text
    english = await client.get("/console/sign-in", headers={"accept-language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in english.text and "Password" in english.text
    switched = await client.get("/console/lang", params={"to": "en", "next": "/console/sign-in"})
    assert switched.headers["location"] == "/console/sign-in"
    again = await client.get("/console/sign-in", headers={"accept-language": "ko"})
    assert '<html lang="en">' in again.text  # the switch wins over the browser
    off_site = await client.get("/console/lang", params={"to": "ko", "next": "//evil.example/x"})
    assert off_site.headers["location"] == "/console/reviews"


async def test_moderator_approves_one_and_rejects_in_bulk_through_graphql(client, api, held):
    ids = await _world(api)
    moderator = await make_staff("moderator")
    await sign_in(client, "moderator@brand.example")
    page = await client.get("/console/reviews")
    token = csrf_of(page)
    one = await client.post("/console/reviews/moderate", data={"csrf": token, "item": f"{ids['good']}:PUBLISH"})
    assert one.status_code == 303 and "done=moderated" in one.headers["location"]
    no_reason = await client.post("/console/reviews/moderate", data={"csrf": token, "bulk": "REJECT",
                                                                      "ids": [ids["bad"], ids["cap"]]})
    assert "error=REASON_REQUIRED" in no_reason.headers["location"]
    bulk = await client.post("/console/reviews/moderate", data={"csrf": token, "bulk": "REJECT", "bulk-reason": "SPAM",
                                                                 "ids": [ids["bad"], ids["cap"]]})
    assert "n=2" in bulk.headers["location"]
    statuses = {r.id: (r.status, r.reject_reason) for r in await Review.all()}
    assert sorted(statuses.values()) == [("published", None), ("rejected", "SPAM"), ("rejected", "SPAM")]
    log = [(a.action, a.detail) for a in await StaffAudit.filter(user_id=moderator.id, action="review.moderate")
           .order_by("id")]
    assert log == [("review.moderate", f"{ids['good']} PUBLISH"), ("review.moderate", f"{ids['bad']} REJECT SPAM"),
                   ("review.moderate", f"{ids['cap']} REJECT SPAM")]
    decisions = await api.ok('query($r: ID!) { moderationLog(subjectId: $r) { status actor } }',
                             {"r": ids["good"]}, await _admin_token())
    assert decisions["moderationLog"][-1] == {"status": "published", "actor": f"staff:{moderator.id}"}


async def _admin_token() -> str:
    return (await create_api_key("t", "admin"))[1]


async def test_a_form_without_the_csrf_token_changes_nothing(client, api, held):
    ids = await _world(api)
    await make_staff("moderator")
    await sign_in(client, "moderator@brand.example")
    for data in ({"item": f"{ids['good']}:PUBLISH"}, {"item": f"{ids['good']}:PUBLISH", "csrf": "forged"}):
        refused = await client.post("/console/reviews/moderate", data=data)
        assert refused.status_code == 403
    other_session = await staff.sign_in("moderator@brand.example", PASSWORD, "10.0.0.1")
    stolen_form = staff.csrf_token(other_session.token)  # another session's token does not fit this one
    assert (await client.post("/console/reviews/moderate", data={"csrf": stolen_form,
                                                                  "item": f"{ids['good']}:PUBLISH"})).status_code == 403
    assert await Review.filter(status="pending").count() == 3
    assert await StaffAudit.filter(action="review.moderate").count() == 0


async def test_moderator_cannot_open_a_member_page_nor_the_audit_log(client, api):
    await helpers.member("m1", email="ann@shop.example")
    await make_staff("moderator")
    await sign_in(client, "moderator@brand.example")
    member = await client.get("/console/members/m1")
    assert member.status_code == 403 and "ann@shop.example" not in member.text
    assert (await client.get("/console/audit")).status_code == 403


async def test_owner_reads_member_and_audit_log(client, api):
    await helpers.member("m1", email="ann@shop.example")
    await make_staff("owner")
    await sign_in(client, "owner@brand.example")
    assert "ann@shop.example" in (await client.get("/console/members/m1")).text
    audit = await client.get("/console/audit")
    assert audit.status_code == 200 and "sign_in" in audit.text and "staff.created" in audit.text


async def test_console_admin_cannot_read_the_audit_log(client):
    await make_staff("admin")
    await sign_in(client, "admin@brand.example")
    assert (await client.get("/console/audit")).status_code == 403


async def test_replies_overdue_first_reply_clears_it_and_edit(client, api):
    clock.set_now(T0)
    await upsert_products([{"external_id": "p1", "title": "Trail Runner"}])
    for m in ("m1", "m2"):
        await helpers.member(m)
    late = await review(api, "m1", 1, "Fell apart after one week of running.")
    clock.set_now(T0 + timedelta(hours=20))
    fresh = await review(api, "m2", 2, "Runs small, I had to return them.")
    clock.set_now(T0 + timedelta(hours=30))
    await make_staff("moderator")
    await sign_in(client, "moderator@brand.example")
    page = await client.get("/console/replies")
    assert page.text.index(late) < page.text.index(fresh)  # most urgent first
    assert page.text.count('class="card overdue"') == 1
    assert "Overdue by 6 hours" in page.text and "14 hours left" in page.text
    sent = await client.post("/console/replies", data={"csrf": csrf_of(page), "review": late,
                                                       "body": "Sorry! A replacement is on its way."})
    assert sent.headers["location"] == "/console/replies?done=replied"
    after = await client.get("/console/replies")
    assert late not in after.text and fresh in after.text and 'class="card overdue"' not in after.text
    edit = await client.get(f"/console/replies/{late}")
    assert "Sorry! A replacement is on its way." in edit.text
    await client.post("/console/replies", data={"csrf": csrf_of(edit), "review": late, "back": "edit",
                                                "body": "Sorry! A refund is on its way."})
    assert (await Review.get(id=int((await Review.filter(reply_body__isnull=False).first()).id))).reply_body == \
        "Sorry! A refund is on its way."
    empty = await client.post("/console/replies", data={"csrf": csrf_of(edit), "review": fresh, "body": ""})
    assert "error=" in empty.headers["location"]
    assert (await Review.filter(reply_body__isnull=False).count()) == 1


async def test_moderator_approves_a_held_photo(client, api, held):
    ids = await _world(api)
    row = await Review.get(id=int(await _pk(ids["good"])))
    media = await ReviewMedia.create(review_id=row.id, kind="photo", content_type="image/png", file_name="x.png",
                                     size=10, status="pending", created_at=clock.now())
    await make_staff("moderator")
    await sign_in(client, "moderator@brand.example")
    page = await client.get("/console/reviews", params={"media": "yes"})
    assert ids["good"] in page.text and ids["bad"] not in page.text
    media_id = global_id("ReviewMedia", media.id)
    done = await client.post("/console/reviews/media", data={"csrf": csrf_of(page), "media": f"{media_id}:PUBLISH"})
    assert "done=media" in done.headers["location"]
    assert (await ReviewMedia.get(id=media.id)).status == "published"


async def _pk(global_review_id: str) -> int:
    return decode_global_id(global_review_id)[1]


async def test_a_one_time_password_must_be_replaced_first(client):
    await staff.create_staff("new@brand.example", "moderator", PASSWORD, one_time=True)
    signed = await sign_in(client, "new@brand.example")
    assert signed.status_code == 303
    assert (await client.get("/console/reviews")).headers["location"] == "/console/password"
    form = await client.get("/console/password")
    token = csrf_of(form)
    wrong = await client.post("/console/password", data={"csrf": token, "current": "nope nope nope",
                                                         "password": "a brand new secret", "confirm": "a brand new secret"})
    assert wrong.status_code == 400 and "The current password is wrong." in wrong.text
    differ = await client.post("/console/password", data={"csrf": token, "current": PASSWORD,
                                                          "password": "a brand new secret", "confirm": "another"})
    assert differ.status_code == 400 and "differ" in differ.text
    assert (await StaffUser.get(email="new@brand.example")).must_change_password is True
    other = await staff.sign_in("new@brand.example", PASSWORD, "10.0.0.2")  # another browser
    done = await client.post("/console/password", data={"csrf": token, "current": PASSWORD,
                                                        "password": "a brand new secret", "confirm": "a brand new secret"})
    assert done.headers["location"] == "/console/reviews?done=password"
    assert (await client.get("/console/reviews")).status_code == 200
    assert await staff.session_user(other.token) is None  # the other session ended
    client.cookies.clear()
    assert (await sign_in(client, "new@brand.example", "a brand new secret")).status_code == 303
    assert await StaffAudit.filter(action="password.changed").count() == 1
