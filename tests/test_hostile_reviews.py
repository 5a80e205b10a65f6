"""Issue 9, reviews slice: reports cannot silence reviews, events name their product, review
dates drive NEWEST and JSON-LD, JSON-LD is script-safe, imports are idempotent, moderated and
announced overdue only when they are news, and a rating alone is a review."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from domain import clock, jobs
from domain.catalog.models import Product
from domain.catalog.service import upsert_products
from domain.events.models import Event
from domain.events.types import EVENT_TYPES
from domain.orders.service import LineInput, record_order
from domain.reviews import service
from domain.reviews.models import ModerationDecision, Review, ReviewReport, ReviewRevision
from domain.settings import reload_settings
from schema.pagination import encode_cursor
from tests import helpers
from tests.conftest import member_token

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
BODY = "Great fit, very comfortable on long runs and the grip is excellent."
SUBMIT = """mutation($i: SubmitReviewInput!) { submitReview(input: $i) {
  review { reviewId status rejectReason body } errors { field code } } }"""
REPORT = "mutation($i: ReportReviewInput!) { reportReview(input: $i) { review { reviewId } errors { field code } } }"
MODERATE = "mutation($i: ModerateInput!) { moderateReview(input: $i) { review { status } errors { code } } }"
QUEUE = """query($s: ModerationStatus) { reviewModerationQueue(status: $s) { edges { node {
  reviewId status openReports reports { reporter reason comment } } } } }"""
PAGE = """query($first: Int, $after: String, $sort: ReviewSort) { product(externalId: "p1") {
  reviewSummary { count average histogram { rating count } jsonLd }
  reviews(first: $first, after: $after, sort: $sort) {
    edges { node { reviewId body createdAt } } pageInfo { hasNextPage endCursor } } } }"""
IMPORT = """mutation($i: [ImportReviewInput!]!) { importReviews(input: $i) {
  reviews { reviewId status rejectReason body ratingOnly createdAt imported }
  skipped { index externalId review { reviewId } } errors { field code } } }"""


async def setup_product(external_id: str = "p1") -> None:
    await upsert_products([{"external_id": external_id, "title": "Trail Runner", "categories": ["shoes"]}])


async def submit(api, member: str = "author", rating: int = 5, query: str = SUBMIT, **extra) -> dict:
    variables = {"i": {"productExternalId": "p1", "rating": rating, **extra}}
    return (await api.ok(query, variables, member_token(member)))["submitReview"]


async def published_review(api, rating: int = 5) -> int:
    await setup_product()
    await helpers.member("author", name="Ann Lee")
    result = await submit(api, rating=rating, body=BODY)
    assert result["errors"] == [] and result["review"]["status"] == "PUBLISHED"
    return result["review"]["reviewId"]


async def report(api, review_id: int, member: str, reason: str = "FAKE", comment: str | None = None,
                 token: str | None = None, on_behalf: bool = False) -> dict:
    i = {"reviewId": review_id, "reason": reason, "comment": comment}
    if on_behalf:
        i["memberExternalId"] = member
    return (await api.ok(REPORT, {"i": i}, token or member_token(member)))["reportReview"]


def opt_in_hide_threshold(monkeypatch, n: int, negative_max: int | None = None) -> None:
    monkeypatch.setenv("PATRON_REVIEW_REPORT_HIDE_THRESHOLD", str(n))
    if negative_max is not None:
        monkeypatch.setenv("PATRON_REVIEW_NEGATIVE_MAX_RATING", str(negative_max))
    reload_settings()


async def public_review_ids(api) -> list[int]:
    page = (await api.ok(PAGE))["product"]
    return [e["node"]["reviewId"] for e in page["reviews"]["edges"]]


# --- Finding 10: reports flag, a moderator decides ------------------------------------------


async def test_one_report_leaves_the_review_published_and_public(api):
    review_id = await published_review(api)
    await helpers.member("rival")
    result = await report(api, review_id, "rival", "FAKE", "Surely written by the brand")
    assert result == {"review": None, "errors": []}
    stored = await Review.get(id=review_id)
    assert (stored.status, stored.open_reports) == ("published", 1)
    assert await public_review_ids(api) == [review_id]
    assert (await api.ok(PAGE))["product"]["reviewSummary"]["count"] == 1
    assert not await Event.filter(type="review.unpublished").exists()


async def test_reported_review_is_in_the_moderation_queue_with_reason_and_comment(api, admin_token, storefront_token):
    review_id = await published_review(api)
    for m in ("r1", "r2"):
        await helpers.member(m)
    await report(api, review_id, "r1", "OFFENSIVE", "Insults the staff")
    await report(api, review_id, "r2", "SPAM", token=storefront_token, on_behalf=True)
    queue = (await api.ok(QUEUE, token=admin_token))["reviewModerationQueue"]["edges"]
    assert queue == [{"node": {"reviewId": review_id, "status": "PUBLISHED", "openReports": 2, "reports": [
        {"reporter": "member:r1", "reason": "OFFENSIVE", "comment": "Insults the staff"},
        {"reporter": "member:r2", "reason": "SPAM", "comment": None}]}}]
    # Only moderators see reports: not the public, a storefront, or the author.
    for token in (None, storefront_token, member_token("author")):
        for field in ("reports { reason }", "openReports"):
            leak = await api('{ product(externalId: "p1") { reviews { edges { node { %s } } } } }' % field, token=token)
            assert leak["errors"][0]["extensions"]["code"] in ("FORBIDDEN", "UNAUTHENTICATED"), (token, field)
    # The moderator keeps it: the flag clears and it leaves the queue, still published.
    kept = await api.ok(MODERATE, {"i": {"id": review_id, "action": "PUBLISH", "note": "fair criticism"}}, admin_token)
    assert kept["moderateReview"] == {"review": {"status": "PUBLISHED"}, "errors": []}
    assert (await api.ok(QUEUE, token=admin_token))["reviewModerationQueue"]["edges"] == []
    assert await public_review_ids(api) == [review_id]
    # Explicit status filters still work (the published review is listed under PUBLISHED).
    published = (await api.ok(QUEUE, {"s": "PUBLISHED"}, admin_token))["reviewModerationQueue"]["edges"]
    assert [e["node"]["reviewId"] for e in published] == [review_id]


async def test_same_member_reporting_twice_counts_once(api, storefront_token, monkeypatch):
    opt_in_hide_threshold(monkeypatch, 2)
    review_id = await published_review(api)
    await helpers.member("r1")
    await report(api, review_id, "r1", "FAKE")
    await report(api, review_id, "r1", "SPAM")
    await report(api, review_id, "r1", "OTHER", token=storefront_token, on_behalf=True)
    stored = await Review.get(id=review_id)
    assert (stored.status, stored.open_reports) == ("published", 1)
    assert await ReviewReport.filter(review_id=review_id).values_list("reporter", "reason") == [("member:r1", "FAKE")]


async def test_reports_need_a_real_other_member_and_a_published_review(api, storefront_token, admin_token):
    review_id = await published_review(api)
    # A storefront cannot invent reporters, and an author cannot report their own review.
    ghost = await report(api, review_id, "nobody", token=storefront_token, on_behalf=True)
    assert ghost["errors"] == [{"field": "memberExternalId", "code": "MEMBER_NOT_FOUND"}]
    own = await report(api, review_id, "author")
    assert own["errors"] == [{"field": "reviewId", "code": "NOT_ALLOWED"}]
    # A review shoppers cannot see cannot be reported either.
    await api.ok(MODERATE, {"i": {"id": review_id, "action": "REJECT", "reason": "SPAM"}}, admin_token)
    await helpers.member("r1")
    hidden = await report(api, review_id, "r1")
    assert hidden["errors"] == [{"field": "reviewId", "code": "REVIEW_NOT_FOUND"}]
    assert await ReviewReport.all().count() == 0 and (await Review.get(id=review_id)).open_reports == 0


async def test_opt_in_threshold_hides_a_positive_review_after_n_distinct_members(api, monkeypatch):
    opt_in_hide_threshold(monkeypatch, 2)
    review_id = await published_review(api, rating=5)
    for m in ("r1", "r2"):
        await helpers.member(m)
    await report(api, review_id, "r1")
    await report(api, review_id, "r1")  # a repeat is not a second member
    assert (await Review.get(id=review_id)).status == "published"
    await report(api, review_id, "r2")
    stored = await Review.get(id=review_id)
    assert (stored.status, stored.open_reports) == ("pending", 2)
    assert await public_review_ids(api) == []
    decision = await ModerationDecision.filter(subject_id=review_id, actor="reports").get()
    assert (decision.status, decision.note) == ("pending", "hidden after reports from 2 members")
    assert await Event.filter(type="review.unpublished").count() == 1


@pytest.mark.parametrize("rating", [1, 2])
async def test_opt_in_threshold_never_hides_a_negative_review(api, monkeypatch, rating):
    opt_in_hide_threshold(monkeypatch, 1)
    review_id = await published_review(api, rating=rating)
    for m in ("r1", "r2", "r3"):
        await helpers.member(m)
        await report(api, review_id, m)
    stored = await Review.get(id=review_id)
    assert (stored.status, stored.open_reports) == ("published", 3)
    assert await public_review_ids(api) == [review_id]


async def test_what_counts_as_negative_is_configurable(api, monkeypatch):
    opt_in_hide_threshold(monkeypatch, 1, negative_max=3)
    review_id = await published_review(api, rating=3)
    await helpers.member("r1")
    await report(api, review_id, "r1")
    assert (await Review.get(id=review_id)).status == "published"


# --- Every review.* and question.* event names its product ------------------------------------


async def test_every_review_and_question_event_carries_the_product_external_id(api, admin_token, monkeypatch):
    opt_in_hide_threshold(monkeypatch, 1)
    clock.set_now(T0)
    await setup_product()
    for m in ("a", "b", "c", "d", "buyer", "r1"):
        await helpers.member(m, name=m.title())
    await record_order("o1", "buyer", "USD", "web", T0, [LineInput("sku", 1, 100, product_external_id="p1")])
    negative = (await submit(api, "a", rating=1, body="Fell apart after two weeks of light use, sadly."))["review"]
    reported = (await submit(api, "b", rating=5, body=BODY))["review"]
    rejected = (await submit(api, "c", rating=4, body=BODY))["review"]
    deleted = (await submit(api, "d", rating=4, body=BODY))["review"]
    await report(api, reported["reviewId"], "r1")  # review.unpublished (the brand opted in)
    await api.ok(MODERATE, {"i": {"id": rejected["reviewId"], "action": "REJECT", "reason": "OFF_TOPIC"}}, admin_token)
    await api.ok("mutation($i: ReviewRefInput!) { deleteReview(input: $i) { errors { code } } }",
                 {"i": {"reviewId": deleted["reviewId"]}}, member_token("d"))
    clock.set_now(T0 + timedelta(hours=25))
    await jobs.JobRunner().run_due()  # review.reply_overdue
    await api.ok("mutation($i: ReplyInput!) { replyToReview(input: $i) { errors { code } } }",
                 {"i": {"reviewId": negative["reviewId"], "body": "Sorry, a replacement is on its way."}}, admin_token)
    ask = "mutation($i: AskQuestionInput!) { askQuestion(input: $i) { question { questionId } } }"
    qid = (await api.ok(ask, {"i": {"productExternalId": "p1", "body": "Do they run small?"}}, member_token("a")))[
        "askQuestion"]["question"]["questionId"]
    answer = "mutation($i: AnswerQuestionInput!) { answerQuestion(input: $i) { errors { code } } }"
    await api.ok(answer, {"i": {"questionId": qid, "body": "True to size."}}, admin_token)
    await api.ok(answer, {"i": {"questionId": qid, "body": "Mine fit well."}}, member_token("buyer"))

    events = await Event.filter(type__in=[t for t in EVENT_TYPES if t.startswith(("review.", "question."))])
    seen = {e.type for e in events}
    assert seen == {t for t in EVENT_TYPES if t.startswith(("review.", "question."))}
    missing = [(e.type, e.payload) for e in events if e.payload.get("productExternalId") != "p1"]
    assert missing == []


# --- NEWEST and JSON-LD follow the review's date ----------------------------------------------


async def test_newest_sort_and_json_ld_follow_the_review_date_not_insertion_order(api, admin_token):
    clock.set_now(T0)
    await setup_product()
    await helpers.member("author", name="Ann Lee")
    fresh = (await submit(api, body="Bought last week, " + BODY))["review"]["reviewId"]
    old = T0 - timedelta(days=30)
    items = [
        {"externalId": "y-1", "body": "Thirty days old, first imported.", "createdAt": old.isoformat()},
        {"externalId": "y-2", "body": "One day old.", "createdAt": (T0 - timedelta(days=1)).isoformat()},
        {"externalId": "y-3", "body": "Thirty days old, imported second.", "createdAt": old.isoformat()},
    ]
    data = (await api.ok(IMPORT, {"i": [
        {"productExternalId": "p1", "rating": 4, "authorName": "Bo Park"} | item for item in items]}, admin_token))
    y1, y2, y3 = [r["reviewId"] for r in data["importReviews"]["reviews"]]
    expected = [fresh, y2, y3, y1]  # date, newest first; the same date: the later id first
    assert await public_review_ids(api) == expected
    # Keyset pages of one on (date, id) walk the same order without gaps or repeats.
    walked, after = [], None
    while True:
        page = (await api.ok(PAGE, {"first": 1, "after": after}))["product"]["reviews"]
        walked += [e["node"]["reviewId"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert walked == expected
    ld = json.loads((await api.ok(PAGE))["product"]["reviewSummary"]["jsonLd"])
    assert [r["reviewBody"] for r in ld["review"]] == ["Bought last week, " + BODY, "One day old.",
                                                       "Thirty days old, imported second."]
    assert [r["datePublished"] for r in ld["review"]] == ["2026-04-01", "2026-03-31", "2026-03-02"]


async def test_forged_review_cursors_are_bad_input_not_server_errors(api):
    await published_review(api)
    # Well-formed cursors of this list whose values do not fit it: dates out of range, a short key.
    for values in ([2**62, 1], [-(2**62), 1], [1]):
        cursor = encode_cursor("Product.reviews:NEWEST", values)
        body = await api(PAGE, {"after": cursor, "sort": "NEWEST"})
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", values


# --- JSON-LD is safe inside <script> ------------------------------------------------------------


async def test_json_ld_escapes_angle_brackets_and_ampersands(api):
    await setup_product()
    await helpers.member("author", name="Ann Lee")
    body = 'Nice <script>alert(1)</script> shoes > boots & "sandals" <!-- ok'
    assert (await submit(api, body=body, title="<b>Top</b> & more"))["review"]["status"] == "PUBLISHED"
    raw = (await api.ok(PAGE))["product"]["reviewSummary"]["jsonLd"]
    assert "<" not in raw and ">" not in raw and "&" not in raw
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e shoes \\u003e boots \\u0026" in raw
    parsed = json.loads(raw)
    assert (parsed["review"][0]["reviewBody"], parsed["review"][0]["name"]) == (body, "<b>Top</b> & more")


# --- Imports: the reply SLA counts from receipt; old history is not "overdue" news ------------


async def test_imported_negative_reviews_are_not_announced_overdue_at_once(api, admin_token):
    clock.set_now(T0)
    await setup_product()
    items = [
        {"externalId": "old", "rating": 1, "body": "Broke in a month.", "createdAt": (T0 - timedelta(days=200)).isoformat()},
        {"externalId": "recent", "rating": 2, "body": "Runs narrow.", "createdAt": (T0 - timedelta(hours=2)).isoformat()},
    ]
    data = await api.ok(IMPORT, {"i": [{"productExternalId": "p1", "authorName": "Bo Park"} | i for i in items]}, admin_token)
    old_id, recent_id = [r["reviewId"] for r in data["importReviews"]["reviews"]]
    assert (await Review.get(id=recent_id)).received_at == T0
    await jobs.JobRunner().run_due()
    assert await Event.filter(type="review.reply_overdue").count() == 0
    # 23 h after receipt (25 h after the recent one was written elsewhere): not overdue yet.
    clock.set_now(T0 + timedelta(hours=23))
    await jobs.JobRunner().run_due()
    assert await Event.filter(type="review.reply_overdue").count() == 0
    awaiting = '{ reviewsAwaitingReply(overdue: %s) { edges { node { reviewId } } } }'
    assert (await api.ok(awaiting % "true", token=admin_token))["reviewsAwaitingReply"]["edges"] == []
    # Past the SLA from receipt: the recent import is announced once, the old history never.
    clock.set_now(T0 + timedelta(hours=25))
    await jobs.JobRunner().run_due()
    await jobs.JobRunner().run_due()
    overdue = await Event.filter(type="review.reply_overdue").values_list("payload", flat=True)
    assert [(p["reviewId"], p["receivedAt"]) for p in overdue] == [(recent_id, T0.isoformat())]
    listed = (await api.ok(awaiting % "true", token=admin_token))["reviewsAwaitingReply"]["edges"]
    assert sorted(e["node"]["reviewId"] for e in listed) == sorted([old_id, recent_id])


# --- Imports are idempotent on externalId ------------------------------------------------------


async def test_importing_the_same_external_id_again_changes_nothing(api, admin_token):
    await setup_product()
    item = {"externalId": "yotpo-991", "productExternalId": "p1", "rating": 4, "body": "Imported once.",
            "authorName": "Bo Park", "createdAt": "2025-05-01T10:00:00Z"}
    first = (await api.ok(IMPORT, {"i": [item]}, admin_token))["importReviews"]
    assert first["errors"] == [] and first["skipped"] == [] and len(first["reviews"]) == 1
    review_id = first["reviews"][0]["reviewId"]
    changed = item | {"rating": 1, "body": "Different text now."}
    again = (await api.ok(IMPORT, {"i": [item, changed]}, admin_token))["importReviews"]
    assert again == {"reviews": [], "errors": [], "skipped": [
        {"index": 0, "externalId": "yotpo-991", "review": {"reviewId": review_id}},
        {"index": 1, "externalId": "yotpo-991", "review": {"reviewId": review_id}}]}
    assert await Review.all().count() == 1 and await ReviewRevision.all().count() == 1
    stored = await Review.get(id=review_id)
    assert (stored.rating, stored.body) == (4, "Imported once.")
    product = await Product.get(external_id="p1")
    assert (product.review_count, product.rating_histogram) == (1, [0, 0, 0, 1, 0])


async def test_duplicates_inside_one_batch_and_concurrent_imports_make_one_review(api, admin_token):
    await setup_product()
    item = {"externalId": "dup", "productExternalId": "p1", "rating": 5, "body": "Twice in a file.", "authorName": "Bo"}
    data = (await api.ok(IMPORT, {"i": [item, item]}, admin_token))["importReviews"]
    assert len(data["reviews"]) == 1 and [s["index"] for s in data["skipped"]] == [0 + 1]
    results = await asyncio.gather(*[
        service.import_review("race", "p1", 5, None, "Raced.", "Bo", None, "admin:test") for _ in range(4)])
    assert sorted(r.created for r in results) == [False, False, False, True]
    assert len({r.review.id for r in results}) == 1
    assert await Review.filter(external_id="race").count() == 1
    assert (await Product.get(external_id="p1")).review_count == 2


async def test_import_refuses_bad_external_ids_and_dates_and_keeps_the_rest(api, admin_token):
    clock.set_now(T0)
    await setup_product()
    base = {"productExternalId": "p1", "rating": 4, "body": "Fine.", "authorName": "Bo"}
    data = (await api.ok(IMPORT, {"i": [
        base | {"externalId": "  "},
        base | {"externalId": "x" * 201},
        base | {"externalId": "future", "createdAt": (T0 + timedelta(days=1)).isoformat()},
        base | {"externalId": "seoul", "createdAt": "2026-03-01T09:00:00+09:00"},
    ]}, admin_token))["importReviews"]
    assert data["errors"] == [{"field": "input.0.externalId", "code": "INVALID"},
                              {"field": "input.1.externalId", "code": "INVALID"},
                              {"field": "input.2.createdAt", "code": "INVALID"}]
    assert [r["createdAt"] for r in data["reviews"]] == ["2026-03-01T00:00:00+00:00"]
    assert await Review.all().count() == 1
    # externalId is required by the schema (its error code is the masked-errors slice's concern).
    missing = await api(IMPORT, {"i": [base]}, admin_token)
    assert missing["errors"] and missing.get("data") is None
    assert await Review.all().count() == 1


# --- Imports take the same automatic moderation as submitted reviews --------------------------


async def test_imports_are_auto_moderated_like_submitted_reviews(api, admin_token):
    await setup_product()
    bodies = [("This is shit quality, do not buy.", "PROFANITY"),
              ("Call me at 010-1234-5678 for a used pair.", "PERSONAL_DATA"),
              ("Write to seller@example.com for a discount.", "PERSONAL_DATA"),
              ("Cheaper at https://other-shop.example/deal now.", "LINK"),
              ("Clean and honest review of the shoes.", None)]
    items = [{"externalId": f"mod-{i}", "productExternalId": "p1", "rating": 5, "body": b, "authorName": "Bo"}
             for i, (b, _) in enumerate(bodies)]
    data = (await api.ok(IMPORT, {"i": items}, admin_token))["importReviews"]
    assert [(r["status"], r["rejectReason"]) for r in data["reviews"]] == [
        ("PENDING", reason) if reason else ("PUBLISHED", None) for _, reason in bodies]
    public = (await api.ok(PAGE))["product"]
    assert public["reviewSummary"]["count"] == 1
    assert [e["node"]["body"] for e in public["reviews"]["edges"]] == ["Clean and honest review of the shoes."]
    queue = (await api.ok(QUEUE, {"s": "PENDING"}, admin_token))["reviewModerationQueue"]["edges"]
    assert len(queue) == 4
    # A held import that a moderator publishes counts like any other review.
    held = data["reviews"][0]["reviewId"]
    await api.ok(MODERATE, {"i": {"id": held, "action": "PUBLISH"}}, admin_token)
    assert (await api.ok(PAGE))["product"]["reviewSummary"]["count"] == 2


# --- Rating-only reviews ------------------------------------------------------------------------


async def test_rating_only_reviews_are_accepted_and_counted(api, admin_token):
    await setup_product()
    await helpers.member("author", name="Ann Lee")
    await helpers.member("second")
    with_flag = SUBMIT.replace("body }", "body ratingOnly }")
    no_body = await submit(api, rating=4, query=with_flag)
    assert no_body["errors"] == []
    assert {k: no_body["review"][k] for k in ("status", "body", "ratingOnly")} == {
        "status": "PUBLISHED", "body": "", "ratingOnly": True}
    blank = await submit(api, "second", rating=2, body="   \n ", query=with_flag)
    assert (blank["review"]["body"], blank["review"]["ratingOnly"]) == ("", True)
    imported = (await api.ok(IMPORT, {"i": [
        {"externalId": "r-1", "productExternalId": "p1", "rating": 5, "authorName": "Bo"},
        {"externalId": "r-2", "productExternalId": "p1", "rating": 5, "body": "", "authorName": "Cy"},
        {"externalId": "r-3", "productExternalId": "p1", "rating": 3, "title": "Okay", "authorName": "Di"},
    ]}, admin_token))["importReviews"]
    assert imported["errors"] == []
    assert [(r["ratingOnly"], r["status"]) for r in imported["reviews"]] == [
        (True, "PUBLISHED"), (True, "PUBLISHED"), (False, "PUBLISHED")]
    page = (await api.ok(PAGE))["product"]
    assert page["reviewSummary"]["count"] == 5 and page["reviewSummary"]["average"] == 3.8
    assert [h["count"] for h in page["reviewSummary"]["histogram"]] == [0, 1, 1, 1, 2]
    ld = json.loads(page["reviewSummary"]["jsonLd"])
    assert all("reviewBody" not in r for r in ld["review"])  # none of the three newest has text
    assert len(ld["review"]) == 3
