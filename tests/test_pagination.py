"""Relay connections both ways (issue 11, item 2): every connection walked forward with
first/after and backward with last/before over the same rows gives the same items in the same
order, with exact pageInfo at both ends and in the middle; the 100 cap; refused combinations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from domain import clock
from domain.catalog.models import Product
from domain.events.models import Event
from domain.ledger.models import LedgerEntry
from domain.members.models import Member
from domain.orders.models import Order
from domain.reviews.models import Question, Review
from domain.reviews.queries import SORTS
from domain.scheduler.models import JobRun
from domain.subscriptions.models import Subscription, SubscriptionPlan
from domain.webhooks.models import WebhookDelivery, WebhookEndpoint
from schema.common import global_id
from schema.pagination import encode_cursor
from tests import helpers

ARGS = "first: $first, after: $after, last: $last, before: $before"
SELECTION = """edges { cursor node { key: %s } }
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor } totalCount"""


@dataclass
class Case:
    name: str  # the tag its cursors carry
    field: str  # the connection field as written in the query: {args} and {ctx} placeholders
    path: tuple[str, ...]
    make: Callable[[int], Awaitable[tuple[list[str], dict[str, Any]]]]  # n rows -> expected keys, ctx
    counted: bool
    node_key: str = "id"

    def query(self, ctx: dict[str, Any]) -> str:
        field = self.field.format(args=ARGS, selection=SELECTION % self.node_key, **ctx)
        return f"query($first: Int, $after: String, $last: Int, $before: String) {{ {field} }}"


def ids(type_name: str, rows: list[Any]) -> list[str]:
    return [global_id(type_name, r.id) for r in rows]


async def make_members(n: int):
    now = clock.now()
    await Member.bulk_create([Member(external_id=f"bulk-{i}", created_at=now, updated_at=now) for i in range(n)])
    return ids("Member", await Member.all().order_by("-id")), {}


async def make_events(n: int):
    now = clock.now()
    await Event.bulk_create([Event(type="test.page", payload={"i": i}, created_at=now) for i in range(n)])
    return ids("Event", await Event.all().order_by("-id")), {}


async def make_job_runs(n: int):
    now = clock.now()
    await JobRun.bulk_create([JobRun(name="page", worker=f"w{i}", lease_token=i, status="ok", started_at=now)
                              for i in range(n)])
    return [r.worker for r in await JobRun.all().order_by("-id")], {}


async def make_deliveries(n: int):
    now = clock.now()
    endpoint = await WebhookEndpoint.create(url="http://127.0.0.1:9/hook", event_types=["*"], secret_encrypted="x",
                                            created_at=now, updated_at=now)
    event = await Event.create(type="test.page", payload={}, created_at=now)
    await WebhookDelivery.bulk_create([WebhookDelivery(endpoint_id=endpoint.id, event_id=event.id,
                                                       next_attempt_at=now, created_at=now) for _ in range(n)])
    return ids("WebhookDelivery", await WebhookDelivery.all().order_by("-id")), {"endpoint": endpoint.id}


async def make_subscriptions(n: int):
    now = clock.now()
    member = await helpers.member("m1")
    plan = await SubscriptionPlan.create(name="Beans", kind="PRODUCT", interval_unit="MONTH", interval_count=1,
                                         price=1000, currency="USD", created_at=now)
    await Subscription.bulk_create([
        Subscription(member_id=member.id, plan_id=plan.id, status="active", interval_unit="MONTH", interval_count=1,
                     next_delivery_at=now, created_at=now, updated_at=now) for _ in range(n)])
    return ids("Subscription", await Subscription.all().order_by("-id")), {}


async def product() -> Product:
    now = clock.now()
    return await Product.get_or_none(external_id="p1") or await Product.create(
        external_id="p1", title="Shoes", created_at=now, updated_at=now)


def review(product_id: int, **values) -> Review:
    now = clock.now()
    return Review(**({"product_id": product_id, "author_name": "Ann", "rating": 1, "body": "Too small.",
                      "status": "published", "created_at": now, "received_at": now, "updated_at": now} | values))


async def make_queue(n: int):
    p = await product()
    await Review.bulk_create([review(p.id, status="pending") for _ in range(n)])
    return ids("Review", await Review.filter(status="pending").order_by("-id")), {}


async def make_awaiting_reply(n: int):
    p = await product()
    await Review.bulk_create([review(p.id, rating=1) for _ in range(n)])
    return ids("Review", await Review.all().order_by("-id")), {}


async def make_orders(n: int):
    member = await helpers.member("m1")
    now = clock.now()
    await Order.bulk_create([Order(external_id=f"o{i}", member_id=member.id, currency="USD", channel="web",
                                   placed_at=now, total_amount=100, created_at=now) for i in range(n)])
    return ids("Order", await Order.all().order_by("-id")), {}


async def make_ledger(n: int):
    member = await helpers.member("m1")
    now = clock.now()
    await LedgerEntry.bulk_create([LedgerEntry(member_id=member.id, amount=1, kind="adjust", reason="page",
                                               created_at=now) for _ in range(n)])
    return ids("LedgerEntry", await LedgerEntry.filter(member_id=member.id).order_by("-id")), {}


async def make_questions(n: int):
    p = await product()
    now = clock.now()
    await Question.bulk_create([Question(product_id=p.id, author_name="Bo", body="Does it run small?",
                                         status="published", created_at=now) for _ in range(n)])
    await Question.create(product_id=p.id, author_name="Bo", body="Held.", status="pending", created_at=now)
    return ids("Question", await Question.filter(status="published").order_by("-id")), {}


async def seed_reviews(n: int) -> Product:
    """Published reviews with ties on every sort field (dates, helpful votes, media, rating),
    one held review that no public list shows, and the product summary in line with them."""
    p = await product()
    t0 = clock.now() - timedelta(days=30)
    await Review.bulk_create([
        review(p.id, rating=i % 5 + 1, helpful_count=i % 3, has_media=i % 4 == 0, verified_purchase=i % 2 == 0,
               created_at=t0 + timedelta(days=i % 4))
        for i in range(n)])
    await Review.bulk_create([review(p.id, status="pending", rating=5)])
    published = await Review.filter(status="published")
    histogram = [sum(1 for r in published if r.rating == s) for s in range(1, 6)]
    await Product.filter(id=p.id).update(review_count=len(published), rating_histogram=histogram,
                                         with_media_count=sum(1 for r in published if r.has_media))
    return p


def in_sort_order(rows: list[Review], sort: str) -> list[Review]:
    """The sort computed here, independently of the keyset query."""
    def key(r: Review) -> tuple:
        values = []
        for field, desc in SORTS[sort]:
            value = getattr(r, field)
            value = value.timestamp() if field == "created_at" else int(value)
            values.append(-value if desc else value)
        return tuple(values)
    return sorted(rows, key=key)


def make_reviews(sort: str):
    async def make(n: int):
        await seed_reviews(n)
        return ids("Review", in_sort_order(await Review.filter(status="published"), sort)), {}
    return make


CASES = [
    Case("Query.members", "c: members({args}) {{ {selection} }}", ("c",), make_members, False),
    Case("Query.events", 'c: events({args}, type: "test.page") {{ {selection} }}', ("c",), make_events, False),
    Case("Query.jobRuns", "c: jobRuns({args}) {{ {selection} }}", ("c",), make_job_runs, False, node_key="worker"),
    Case("Query.webhookDeliveries", "c: webhookDeliveries(endpointId: {endpoint}, {args}) {{ {selection} }}", ("c",),
         make_deliveries, False),
    Case("Query.subscriptions", "c: subscriptions({args}) {{ {selection} }}", ("c",), make_subscriptions, False),
    Case("Query.reviewModerationQueue", "c: reviewModerationQueue({args}) {{ {selection} }}", ("c",), make_queue, True),
    Case("Query.reviewsAwaitingReply", "c: reviewsAwaitingReply({args}) {{ {selection} }}", ("c",),
         make_awaiting_reply, True),
    Case("Member.orders", 'member(externalId: "m1") {{ c: orders({args}) {{ {selection} }} }}', ("member", "c"),
         make_orders, True),
    Case("Member.ledger", 'member(externalId: "m1") {{ c: ledger({args}) {{ {selection} }} }}', ("member", "c"),
         make_ledger, True),
    Case("Product.questions", 'product(externalId: "p1") {{ c: questions({args}) {{ {selection} }} }}',
         ("product", "c"), make_questions, True),
] + [
    Case(f"Product.reviews:{sort}",
         'product(externalId: "p1") {{ c: reviews({args}, sort: ' + sort + ") {{ {selection} }} }}",
         ("product", "c"), make_reviews(sort), True)
    for sort in SORTS
]


async def page(api, token: str, case: Case, ctx: dict[str, Any], **arguments: Any) -> dict[str, Any]:
    data = await api.ok(case.query(ctx), arguments, token)
    for name in case.path:
        data = data[name]
    return data


def keys(connection: dict[str, Any]) -> list[str]:
    return [e["node"]["key"] for e in connection["edges"]]


def assert_page_info(connection: dict[str, Any], has_previous: bool, has_next: bool) -> None:
    edges = connection["edges"]
    assert connection["pageInfo"] == {
        "hasPreviousPage": has_previous, "hasNextPage": has_next,
        "startCursor": edges[0]["cursor"] if edges else None, "endCursor": edges[-1]["cursor"] if edges else None,
    }


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_forward_and_backward_walks_give_the_same_items_with_exact_page_info(api, admin_token, case):
    expected, ctx = await case.make(5)
    assert len(expected) >= 5
    pages = -(-len(expected) // 2)

    forward, after = [], None
    for i in range(pages):
        conn = await page(api, admin_token, case, ctx, first=2, after=after)
        assert_page_info(conn, has_previous=i > 0, has_next=i < pages - 1)
        assert conn["totalCount"] == (len(expected) if case.counted else None)
        forward += keys(conn)
        after = conn["pageInfo"]["endCursor"]
    assert forward == expected

    backward, before = [], None
    for i in range(pages):
        conn = await page(api, admin_token, case, ctx, last=2, before=before)
        assert_page_info(conn, has_previous=i < pages - 1, has_next=i > 0)
        backward = keys(conn) + backward
        before = conn["pageInfo"]["startCursor"]
    assert backward == expected

    # Both cursors: the rows strictly between them, and what lies beyond each side.
    first_page = await page(api, admin_token, case, ctx, first=5)
    cursors = [e["cursor"] for e in first_page["edges"]]
    between = await page(api, admin_token, case, ctx, first=10, after=cursors[0], before=cursors[4])
    assert keys(between) == expected[1:4]
    assert_page_info(between, has_previous=True, has_next=True)
    tail = await page(api, admin_token, case, ctx, last=2, after=cursors[0], before=cursors[4])
    assert keys(tail) == expected[2:4]
    assert_page_info(tail, has_previous=True, has_next=True)

    # Zero items asked: nothing returned, but whether rows lie that way is still told.
    none = await page(api, admin_token, case, ctx, first=0)
    assert (none["edges"], none["pageInfo"]["hasNextPage"], none["pageInfo"]["hasPreviousPage"]) == ([], True, False)
    none = await page(api, admin_token, case, ctx, last=0)
    assert (none["edges"], none["pageInfo"]["hasNextPage"], none["pageInfo"]["hasPreviousPage"]) == ([], False, True)
    # Neither first nor last: the first 20.
    assert keys(await page(api, admin_token, case, ctx)) == expected[:20]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_first_and_last_are_capped_at_100(api, admin_token, case):
    expected, ctx = await case.make(101)
    assert len(expected) > 100
    head = await page(api, admin_token, case, ctx, first=500)
    assert keys(head) == expected[:100]
    assert_page_info(head, has_previous=False, has_next=True)
    tail = await page(api, admin_token, case, ctx, last=500)
    assert keys(tail) == expected[-100:]
    assert_page_info(tail, has_previous=True, has_next=False)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_refused_arguments_are_bad_user_input(api, admin_token, case):
    expected, ctx = await case.make(3)
    cursor = (await page(api, admin_token, case, ctx, first=1))["pageInfo"]["endCursor"]
    other_list = encode_cursor("Query.elsewhere", [1])
    for arguments in ({"first": 1, "last": 1}, {"last": -1}, {"first": -1}, {"after": other_list},
                      {"last": 1, "before": other_list}, {"before": "not a cursor"}, {"after": cursor[:-3]},
                      {"after": cursor * 20}, {"first": 1, "last": 1, "after": cursor},
                      # This list's tag with values that cannot be its keys.
                      {"after": encode_cursor(case.name, [])}, {"after": encode_cursor(case.name, ["1"])},
                      {"before": encode_cursor(case.name, [2**63])}, {"after": encode_cursor(case.name, [1] * 9)},
                      {"last": 1, "before": encode_cursor(case.name, [0.5])}):
        body = await api(case.query(ctx), arguments, admin_token)
        assert [e["extensions"]["code"] for e in body.get("errors", [])] == ["BAD_USER_INPUT"], (arguments, body)
        data = body["data"]
        for name in case.path[:-1]:
            data = data[name]
        assert data is None, arguments  # no partial page
    assert keys(await page(api, admin_token, case, ctx, after=cursor)) == expected[1:21]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_an_empty_list_has_no_pages_either_way(api, admin_token, case):
    _, ctx = await case.make(0)
    for arguments in ({"first": 2}, {"last": 2}):
        conn = await page(api, admin_token, case, ctx, **arguments)
        assert conn["edges"] == []
        assert_page_info(conn, has_previous=False, has_next=False)
        assert conn["totalCount"] == (0 if case.counted else None)


async def test_a_review_cursor_is_refused_under_another_sort(api, admin_token):
    await seed_reviews(3)
    query = 'query($s: ReviewSort!, $a: String) { product(externalId: "p1") { reviews(first: 1, after: $a, sort: $s) { pageInfo { endCursor } } } }'
    newest = (await api.ok(query, {"s": "NEWEST"}, admin_token))["product"]["reviews"]["pageInfo"]["endCursor"]
    for sort in ("MOST_HELPFUL", "RATING_HIGH", "RATING_LOW", "WITH_MEDIA_FIRST"):
        body = await api(query, {"s": sort, "a": newest}, admin_token)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", sort
    # A cursor of one list is refused by another list of the same node type.
    queue = (await api.ok("{ reviewModerationQueue(first: 1) { pageInfo { endCursor } } }",
                          token=admin_token))["reviewModerationQueue"]["pageInfo"]["endCursor"]
    body = await api(query, {"s": "NEWEST", "a": queue}, admin_token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_filtered_review_counts_match_the_rows_walked(api, admin_token):
    await seed_reviews(20)
    query = """query($f: ReviewFilterInput) { product(externalId: "p1") {
      reviews(first: 100, filter: $f) { totalCount edges { node { id } } } } }"""
    for review_filter in (None, {"rating": 3}, {"withMedia": True}, {"withMedia": False}, {"verifiedOnly": True},
                          {"rating": 1, "verifiedOnly": True}):
        conn = (await api.ok(query, {"f": review_filter}, admin_token))["product"]["reviews"]
        assert conn["totalCount"] == len(conn["edges"]) > 0, review_filter


async def test_the_moderation_queue_counts_only_its_bounded_views(api, admin_token):
    p = await product()
    await Review.bulk_create([review(p.id, status="pending"), review(p.id, status="published", open_reports=1),
                              review(p.id, status="published"), review(p.id, status="rejected")])
    query = "query($s: ModerationStatus) { reviewModerationQueue(status: $s) { totalCount edges { cursor } } }"
    counts = {}
    for status in (None, "PENDING", "PUBLISHED", "REJECTED"):
        conn = (await api.ok(query, {"s": status}, admin_token))["reviewModerationQueue"]
        counts[status] = (conn["totalCount"], len(conn["edges"]))
    assert counts == {None: (2, 2), "PENDING": (1, 1), "PUBLISHED": (None, 2), "REJECTED": (None, 1)}


async def test_paging_forward_after_the_first_row_is_deleted_still_sees_the_rows_before(api, admin_token):
    # hasPreviousPage comes from a one-row probe at or before the cursor, so it stays right when
    # the cursor's own row is gone; and the next page starts right after the deleted row.
    await make_members(4)
    case = CASES[0]
    rows = await Member.all().order_by("-id")
    first_two = await page(api, admin_token, case, {}, first=2)
    await Member.filter(id=rows[1].id).delete()
    rest = await page(api, admin_token, case, {}, first=2, after=first_two["pageInfo"]["endCursor"])
    assert keys(rest) == ids("Member", rows[2:4])
    assert_page_info(rest, has_previous=True, has_next=False)
    await Member.filter(id=rows[0].id).delete()
    rest = await page(api, admin_token, case, {}, first=2, after=first_two["pageInfo"]["endCursor"])
    assert_page_info(rest, has_previous=False, has_next=False)
