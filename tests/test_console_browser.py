"""The merchant console in a real browser: headless Debian Chromium driven by Playwright against
a real Patron process, every request to a host other than 127.0.0.1 aborted and recorded.

Staff accounts are made with `server.py create-staff --password-stdin` (the documented way).
Screenshots of each page go to tests/artifacts/ (ignored by git) for a person to look at.
Without /usr/bin/chromium these tests are skipped, except in CI (CI=true), where they fail.
They start processes, so they run once (in the SQLite pass)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

from tests import media_samples
from tests.conftest import sqlite_pass_only
from tests.test_graphiql_browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, Traffic
from tests.test_server_process import ROOT, env_for, free_port, start

ADMIN_KEY = "console-browser-admin-key"
PASSWORD = "correct horse battery staple"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
LOCKOUT = 3

pytestmark = sqlite_pass_only


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    return CHROMIUM


def wait_ready(port: int, seconds: float = 300) -> None:
    """A cold start on a shared, loaded machine can take longer than test_server_process allows."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become ready")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


def gql(base: str, query: str, variables: dict | None = None) -> dict:
    answer = httpx.post(f"{base}/graphql", headers={"authorization": f"Bearer {ADMIN_KEY}"},
                        json={"query": query, "variables": variables or {}}, timeout=120).json()
    assert "errors" not in answer, answer
    return answer["data"]


def upload_photo_review(base: str, member: str) -> str:
    query = """mutation($i: SubmitReviewInput!, $media: [Upload!]) { submitReview(input: $i, media: $media) {
      review { id status media { status } } errors { code } } }"""
    variables = {"i": {"memberExternalId": member, "productExternalId": "p1", "rating": 5,
                       "title": "Photo proof", "body": "Great fit and the colour is exactly as pictured."},
                 "media": [None]}
    form = {"operations": json.dumps({"query": query, "variables": variables}),
            "map": json.dumps({"0": ["variables.media.0"]})}
    answer = httpx.post(f"{base}/graphql", headers={"authorization": f"Bearer {ADMIN_KEY}"}, data=form,
                        files={"0": ("shoe.png", media_samples.png(), "image/png")}, timeout=300).json()
    review = answer["data"]["submitReview"]
    assert review["errors"] == [] and review["review"]["status"] == "PENDING", answer
    assert review["review"]["media"] == [{"status": "PENDING"}]
    return review["review"]["id"]


def create_staff(db_file: Path, email: str, role: str) -> str:
    done = subprocess.run([sys.executable, "server.py", "create-staff", "--email", email, "--role", role,
                           "--password-stdin"], cwd=ROOT, env=env_for(db_file), input=PASSWORD + "\n",
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Staff account {email} ({role}) created." in done.stdout
    assert PASSWORD not in done.stdout  # a typed password is never echoed
    return email


def received_hours_ago(db_file: Path, review_pk: int, hours: int) -> None:
    """The review arrived `hours` ago (the server runs on the wall clock; the SLA counts from
    received_at), written the way the ORM stores it."""
    with sqlite3.connect(db_file) as conn:
        (stored,) = conn.execute("SELECT received_at FROM reviews WHERE id = ?", (review_pk,)).fetchone()
        moved = datetime.fromisoformat(stored) - timedelta(hours=hours)
        conn.execute("UPDATE reviews SET received_at = ? WHERE id = ?", (moved.isoformat(sep=" "), review_pk))


@pytest.fixture(scope="module")
def patron(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A real Patron with a product, members, a pending photo review, an overdue and a fresh
    negative review (published), and staff accounts made with the CLI."""
    db_file = tmp_path_factory.mktemp("console") / "patron.sqlite3"
    port = free_port()
    proc = start(db_file, port, PATRON_BOOTSTRAP_ADMIN_KEY=ADMIN_KEY, PATRON_REVIEW_AUTO_PUBLISH="0",
                 PATRON_STAFF_LOCKOUT_ATTEMPTS=str(LOCKOUT), PATRON_DEFAULT_LOCALE="en",
                 PATRON_MEDIA_DIR=str(db_file.parent / "media"),
                 PATRON_UPLOAD_SECONDS_PER_REQUEST="240")  # a cold media worker on a loaded machine
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(port)
        gql(base, 'mutation { upsertProducts(input: [{externalId: "p1", title: "Trail Runner"}]) { errors { code } } }')
        for m in ("m1", "m2", "m3"):
            gql(base, 'mutation($m: String!, $e: String!) { upsertMember(input: {externalId: $m, email: $e, '
                      'name: "Ann Lee"}) { errors { code } } }', {"m": m, "e": f"{m}@shop.example"})
        photo = upload_photo_review(base, "m1")
        negative = {}
        submit = """mutation($m: String!, $b: String!, $r: Int!) { submitReview(input: {memberExternalId: $m,
                      productExternalId: "p1", rating: $r, body: $b}) { review { id reviewId } errors { code } } }"""
        moderate = 'mutation($id: ID!) { moderateReview(input: {id: $id, action: PUBLISH}) { errors { code } } }'
        for member, rating, body in (("m2", 1, "Fell apart after one week of running."),
                                     ("m3", 2, "Runs small, I had to send them back.")):
            review = gql(base, submit, {"m": member, "b": body, "r": rating})["submitReview"]["review"]
            gql(base, moderate, {"id": review["id"]})
            negative[member] = review
        received_hours_ago(db_file, negative["m2"]["reviewId"], 30)
        storefront = gql(base, 'mutation { createApiKey(input: {name: "shop", role: STOREFRONT}) { secret } }')
        asked = httpx.post(f"{base}/graphql", headers={"authorization": f'Bearer {storefront["createApiKey"]["secret"]}'},
                           json={"query": 'mutation { askQuestion(input: {productExternalId: "p1", memberExternalId: "m2", '
                                          'body: "Is the sole wide enough for flat feet?"}) { question { id } } }'},
                           timeout=120).json()
        gql(base, 'mutation { createEarningRule(input: {name: "1 point per 100", type: ORDER_PAID, pointsPerUnit: 1, '
                  'currencyUnit: 100, currency: "USD"}) { errors { code } } }')
        gql(base, 'mutation { adjustPoints(input: {memberExternalId: "m1", amount: 1200, reason: "Welcome gift", '
                  'idempotencyKey: "seed-1"}) { errors { code } } }')
        staff = {role: create_staff(db_file, f"{role}@brand.example", role) for role in ("owner", "moderator", "support",
                                                                                     "marketer")}
        create_staff(db_file, "locked@brand.example", "support")
        yield {"base": base, "photo": photo, "question": asked["data"]["askQuestion"]["question"]["id"], "overdue": negative["m2"]["id"], "fresh": negative["m3"]["id"],
               "staff": staff, "db": db_file}
    finally:
        stop(proc)


@pytest.fixture()
def browser(chromium: Path, tmp_path: Path) -> Iterator[tuple[BrowserContext, Traffic]]:
    traffic = Traffic()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path / "profile", executable_path=chromium, args=CHROMIUM_ARGS, headless=True,
            timeout=TIMEOUT_MS, locale="en-US", viewport={"width": 1280, "height": 900})
        try:
            context.set_default_timeout(TIMEOUT_MS)
            context.route("**/*", traffic.route)
            yield context, traffic
        finally:
            context.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"), full_page=True)


def signed_in(context: BrowserContext, base: str, email: str, lands_on: str = "reviews") -> tuple[Page, list[str]]:
    context.clear_cookies()  # signs out whoever was signed in (one profile per test)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{base}/console")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/console/{lands_on}")
    return page, errors


def card(page: Page, review_id: str):  # noqa: ANN201
    return page.locator("article[data-card]", has=page.locator(f'input[name="ids"][value="{review_id}"]'))


def test_sign_in_shows_the_inbox_with_the_held_photo_review(browser, patron):
    context, traffic = browser
    page, errors = signed_in(context, patron["base"], patron["staff"]["moderator"])
    shot(page, "inbox")
    item = card(page, patron["photo"])
    assert item.get_by_text("Great fit and the colour is exactly as pictured.").is_visible()
    assert item.get_by_role("img", name="Photo 1").is_visible()
    assert "@shop.example" not in page.content()  # a moderator never sees a member's e-mail
    # keyboard: j moves the focus to the first card
    page.locator("body").focus()
    page.keyboard.press("j")
    assert page.evaluate("() => document.activeElement.matches('[data-card]')")
    assert errors == []
    traffic.assert_stayed_local()


def test_moderator_approves_a_pending_photo_review_and_it_is_public(browser, patron):
    context, traffic = browser
    base = patron["base"]
    public = """{ product(externalId: "p1") { reviews(first: 10, filter: {withMedia: true}) {
                   edges { node { id title media { kind } } } } } }"""
    assert gql(base, public)["product"]["reviews"]["edges"] == []
    page, errors = signed_in(context, base, patron["staff"]["moderator"])
    page.get_by_label("With photos or videos").select_option("yes")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**media=yes**")
    card(page, patron["photo"]).get_by_role("button", name="Approve photo").click()
    page.get_by_role("status").get_by_text("the photo was moderated").wait_for()
    card(page, patron["photo"]).get_by_role("button", name="Approve", exact=True).click()
    page.get_by_role("status").get_by_text("1 review(s) moderated").wait_for()
    shot(page, "inbox-approved")
    assert card(page, patron["photo"]).count() == 0
    edges = gql(base, public)["product"]["reviews"]["edges"]
    assert edges == [{"node": {"id": patron["photo"], "title": "Photo proof", "media": [{"kind": "PHOTO"}]}}]
    assert errors == []
    traffic.assert_stayed_local()


def test_a_reply_to_an_overdue_negative_review_clears_it(browser, patron):
    context, traffic = browser
    page, errors = signed_in(context, patron["base"], patron["staff"]["moderator"])
    page.get_by_role("link", name="Replies").click()
    overdue = page.locator(f'article[data-review="{patron["overdue"]}"]')
    fresh = page.locator(f'article[data-review="{patron["fresh"]}"]')
    assert "overdue" in overdue.get_attribute("class") and "overdue" not in fresh.get_attribute("class")
    assert overdue.get_by_text("Overdue by").is_visible()
    color = overdue.locator(".sla strong").evaluate("el => getComputedStyle(el).color")
    assert color == "rgb(165, 14, 14)"  # red
    cards = page.locator("article[data-card]")
    assert cards.first.get_attribute("data-review") == patron["overdue"]  # most urgent first
    shot(page, "replies")
    overdue.get_by_label("Your reply").fill("We are sorry! A replacement pair is on its way.")
    overdue.get_by_role("button", name="Send reply").click()
    page.get_by_role("status").get_by_text("Reply saved.").wait_for()
    assert page.locator(f'article[data-review="{patron["overdue"]}"]').count() == 0
    assert page.locator("article.overdue").count() == 0
    assert page.locator(f'article[data-review="{patron["fresh"]}"]').count() == 1
    shot(page, "replies-after")
    page.goto(f'{patron["base"]}/console/replies/{patron["overdue"]}')
    assert page.get_by_label("Your reply").input_value() == "We are sorry! A replacement pair is on its way."
    shot(page, "reply-edit")
    assert errors == []
    traffic.assert_stayed_local()


def test_a_moderator_cannot_open_a_member_page(browser, patron):
    context, traffic = browser
    page, _ = signed_in(context, patron["base"], patron["staff"]["moderator"])
    response = page.goto(f'{patron["base"]}/console/members/m1')
    assert response.status == 403
    assert "m1@shop.example" not in page.content()
    shot(page, "member-forbidden")
    owner, _ = signed_in(context, patron["base"], patron["staff"]["owner"])
    allowed = owner.goto(f'{patron["base"]}/console/members/m1')
    assert allowed.status == 200 and owner.get_by_text("m1@shop.example").is_visible()
    audit = owner.goto(f'{patron["base"]}/console/audit')
    assert audit.status == 200 and owner.get_by_text("review.moderate").first.is_visible()
    shot(owner, "audit")
    traffic.assert_stayed_local()


def test_a_form_post_without_the_csrf_token_is_refused(browser, patron):
    context, traffic = browser
    base = patron["base"]
    before = gql(base, "{ reviewsAwaitingReply(first: 50) { edges { node { id reply { body } } } } }")
    page, _ = signed_in(context, base, patron["staff"]["moderator"])
    page.goto(f"{base}/console/replies")
    form = page.locator(f'article[data-review="{patron["fresh"]}"] form')
    form.locator('input[name="csrf"]').evaluate("el => el.remove()")
    form.get_by_label("Your reply").fill("This must not be saved.")
    with page.expect_response(f"{base}/console/replies") as posted:
        form.get_by_role("button", name="Send reply").click()
    assert posted.value.status == 403
    assert page.get_by_role("heading", name="This form expired").is_visible()
    after = gql(base, "{ reviewsAwaitingReply(first: 50) { edges { node { id reply { body } } } } }")
    assert after == before
    fresh = gql(base, 'query($id: ID!) { node(id: $id) { ... on Review { reply { body } } } }',
                {"id": patron["fresh"]})
    assert fresh["node"]["reply"] is None
    traffic.assert_stayed_local()


def test_wrong_passwords_lock_the_account(browser, patron):
    context, traffic = browser
    page = context.new_page()
    page.goto(f'{patron["base"]}/console/sign-in')
    for attempt in range(LOCKOUT):
        page.get_by_label("E-mail").fill("locked@brand.example")
        page.get_by_label("Password").fill(f"wrong password {attempt}")
        page.get_by_role("button", name="Sign in").click()
        expected = "locked" if attempt == LOCKOUT - 1 else "Wrong e-mail or password"
        page.get_by_role("alert").get_by_text(expected).wait_for()
    page.get_by_label("E-mail").fill("locked@brand.example")
    page.get_by_label("Password").fill(PASSWORD)  # the right one: still locked
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").get_by_text("locked").wait_for()
    assert page.url.endswith("/console/sign-in")
    shot(page, "locked")
    traffic.assert_stayed_local()


def test_support_finds_a_member_reads_the_ledger_and_adjusts_points(browser, patron):
    context, traffic = browser
    base = patron["base"]
    page, errors = signed_in(context, base, patron["staff"]["support"], lands_on="members")
    page.get_by_label("External ID, e-mail or name").fill("m1@shop.example")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="m1", exact=True).click()
    page.wait_for_url(f"{base}/console/members/m1")
    assert page.locator("#balance").inner_text() == "1,200"
    assert page.locator("#ledger tbody tr").first.get_by_text("Welcome gift").is_visible()
    assert page.get_by_text("m1@shop.example").is_visible()  # support holds members:pii
    shot(page, "member")
    page.get_by_label("Points (+ to credit, − to debit)").fill("-200")
    page.get_by_label("Reason (required, kept in the ledger)").fill("Duplicate welcome gift")
    page.get_by_role("button", name="Adjust", exact=True).click()
    page.get_by_role("status").get_by_text("Points adjusted.").wait_for()
    assert page.locator("#balance").inner_text() == "1,000"
    assert page.locator("#ledger tbody tr").first.get_by_text("Duplicate welcome gift").is_visible()
    points = gql(base, '{ member(externalId: "m1") { points { balance } } }')["member"]["points"]
    assert points == {"balance": 1000}
    shot(page, "member-adjusted")
    assert errors == []
    traffic.assert_stayed_local()


def test_marketer_reads_insights_with_an_svg_chart_per_figure(browser, patron):
    context, traffic = browser
    base = patron["base"]
    page, errors = signed_in(context, base, patron["staff"]["marketer"], lands_on="insights")
    today = datetime.now(UTC).date()
    page.get_by_label("From", exact=True).fill((today - timedelta(days=6)).isoformat())
    page.get_by_label("To", exact=True).fill(today.isoformat())
    page.get_by_label("Interval").select_option("DAY")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**from=**")
    chart = page.get_by_role("img", name="New members")
    assert chart.evaluate("el => el.tagName") == "svg"
    assert chart.locator("circle").count() == 7  # one point per day of the period
    assert chart.locator("circle").last.locator("title").text_content() == f"{_day(today)}: 3"  # m1, m2, m3
    assert page.locator("#kpi-members dd").inner_text() == "3"
    assert page.get_by_role("img", name="Members per RFM segment").locator("rect").count() == 11
    shot(page, "insights")
    assert errors == []
    traffic.assert_stayed_local()


def _day(day: date) -> str:
    """As the page writes it in English (Babel's medium date), e.g. Nov 28, 2026."""
    return f"{day.strftime('%b')} {day.day}, {day.year}"


def test_moderator_approves_a_question_and_it_is_public(browser, patron):
    context, traffic = browser
    base = patron["base"]
    public = '{ product(externalId: "p1") { questions(first: 5) { edges { node { body } } } } }'
    assert gql(base, public)["product"]["questions"]["edges"] == []
    page, errors = signed_in(context, base, patron["staff"]["moderator"])
    question = page.locator(f'article[data-question="{patron["question"]}"]')
    assert question.get_by_text("Is the sole wide enough for flat feet?").is_visible()
    shot(page, "inbox-questions")
    question.get_by_role("button", name="Approve", exact=True).click()
    page.get_by_role("status").get_by_text("1 question(s) moderated").wait_for()
    assert page.locator(f'article[data-question="{patron["question"]}"]').count() == 0
    edges = gql(base, public)["product"]["questions"]["edges"]
    assert edges == [{"node": {"body": "Is the sole wide enough for flat feet?"}}]
    assert errors == []
    traffic.assert_stayed_local()


def test_owner_previews_earning_on_the_program_page(browser, patron):
    context, traffic = browser
    base = patron["base"]
    page, errors = signed_in(context, base, patron["staff"]["owner"])
    page.get_by_role("link", name="Program").click()
    page.get_by_label("Unit price (minor units)").fill("2500")
    page.get_by_label("Quantity").fill("3")
    page.get_by_label("Currency").fill("USD")
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("status").get_by_text("This order would earn 75 points.").wait_for()
    assert page.locator("#rules").get_by_text("1 point per 100").first.is_visible()
    shot(page, "program")
    assert errors == []
    traffic.assert_stayed_local()


def test_korean_switch(browser, patron):
    context, traffic = browser
    page, _ = signed_in(context, patron["base"], patron["staff"]["owner"])
    page.get_by_role("link", name="한국어").click()
    page.get_by_role("heading", name="리뷰 검수함").wait_for()
    assert page.locator("html").get_attribute("lang") == "ko"
    shot(page, "inbox-ko")
    traffic.assert_stayed_local()
