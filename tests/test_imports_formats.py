"""Bulk imports (issue 14), continued: the Judge.me, Yotpo and Shopify exports by name,
POINTS_BALANCES, media by URL (refused unless PATRON_IMPORT_FETCH_MEDIA=1, then fetched only
through the SSRF guard; tests fetch from 127.0.0.1 only) and the per-batch attempt limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.imports import kinds, media, runner
from domain.imports.models import ImportJob
from domain.ledger.models import LedgerEntry
from domain.members.models import Member
from domain.orders.models import Order, OrderLine
from domain.reviews.models import Review, ReviewMedia
from domain.settings import reload_settings
from tests.media_samples import jpeg
from tests.receiver import Reply
from tests.test_imports import NOW, SUMMARY, import_dir, job, problems, products, start  # noqa: F401

JUDGEME = (
    "title,body,rating,review_date,source,curated,reviewer_name,reviewer_email,product_id,product_handle,"
    "reply,reply_date,picture_urls,ip_address,location\n"
    "Great,Fits well,5,2023-04-01 10:00:00 UTC,web,ok,Ann Lee,ann@example.com,111,p1,,,,,\n"
    ",,4,2023-04-02 10:00:00 UTC,web,ok,Bo,,222,,,,,,\n"
    "Meh,Too small,2,2023-04-03 10:00:00 UTC,web,ok,Cy,,,p9,,,,,\n"
).encode()

YOTPO = (
    "Review ID,Review Title,Review Content,Review Score,Date,Product ID,Product Title,Display Name,Email\n"
    "y-1,Nice,Really nice,4,2023-06-01,p1,Shoe,Dee Kim,dee@example.com\n"
    "y-2,,,3,2023-06-02,p2,Hat,Ed,\n"
    "y-3,Bad,awful,7,2023-06-03,p1,Shoe,Fi,\n"
).encode()

SHOPIFY = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Currency,Subtotal,Total,Created at,Lineitem quantity,"
    "Lineitem name,Lineitem price,Lineitem sku,Cancelled at,Source,Id\n"
    "#1001,ann@example.com,paid,2024-01-02 10:05:00 -0500,fulfilled,USD,64.98,64.98,2024-01-02 10:00:00 -0500,2,"
    "Shirt,29.99,SHIRT-1,,web,5001\n"
    "#1001,,,,,,,,,1,Gift card,5.00,,,,\n"
    "#1002,guest@example.com,paid,,,KRW,15000,15000,2024-01-03 09:00:00 +0900,1,Socks,15000,SOCK-1,,pos,5002\n"
    "#1003,ann@example.com,voided,,,USD,10.00,10.00,2024-01-04 09:00:00 -0500,1,Cap,10.00,CAP-1,"
    "2024-01-05 09:00:00 -0500,web,5003\n"
    "#1004,,paid,,,USD,1.00,1.00,2024-01-04 09:00:00 -0500,1,Pin,1.005,PIN-1,,web,5004\n"
).encode()


async def test_judgeme_reviews_by_their_export_columns(api, admin_token):
    await products("p1", "111", "222")
    started = await start(api, admin_token, JUDGEME, "judgeme.csv", kind="REVIEWS", format="judgeme")
    assert started["errors"] == []
    await runner.run_pending()
    j = await job(api, admin_token, started["job"]["id"])
    assert (j["status"], j["total"], j["succeeded"], j["failed"], j["warnings"]) == ("SUCCEEDED", 3, 2, 1, 0)
    assert problems(j) == [(3, "productExternalId", "ERROR")]  # product_handle p9 is unknown
    rows = {r.author_name: r for r in await Review.all()}
    ann, bo = rows["Ann L."], rows["Bo"]
    # product_handle wins over product_id; a row without a handle falls back on product_id.
    assert (await ann.product).external_id == "p1" and (await bo.product).external_id == "222"
    assert (ann.title, ann.body, ann.rating, ann.created_at) == ("Great", "Fits well", 5,
                                                                 datetime(2023, 4, 1, 10, tzinfo=UTC))
    assert (bo.body, bo.title) == ("", None)  # rating-only
    assert ann.external_id.startswith("judgeme:")  # no id in the export: a hash of the row
    again = await start(api, admin_token, JUDGEME, "judgeme.csv", kind="REVIEWS", format="judgeme")
    await runner.run_pending()
    j2 = await job(api, admin_token, again["job"]["id"])
    assert (j2["succeeded"], j2["skipped"], j2["failed"]) == (0, 2, 1)


async def test_yotpo_reviews_keep_their_ids(api, admin_token):
    await products("p1", "p2")
    started = await start(api, admin_token, YOTPO, "yotpo.csv", kind="REVIEWS", format="yotpo")
    await runner.run_pending()
    j = await job(api, admin_token, started["job"]["id"])
    assert (j["status"], j["succeeded"], j["failed"]) == ("SUCCEEDED", 2, 1)
    assert problems(j) == [(3, "rating", "ERROR")]
    assert sorted(await Review.all().values_list("external_id", "rating", "author_name")) == [
        ("y-1", 4, "Dee K."), ("y-2", 3, "Ed")]
    p1 = (await api.ok(SUMMARY, {"p": "p1"}))["product"]["reviewSummary"]
    assert (p1["count"], p1["average"]) == (1, 4.0)


@pytest.mark.parametrize(("fmt", "data", "message"), [
    ("judgeme", b"name,body,rating\nA,b,5\n",
     "This is not a Judge.me review export: its header (name, body, rating) has no product_handle or product_id column"),
    ("yotpo", b"Review ID,Product ID\n1,p1\n",
     "This is not a Yotpo review export: its header (Review ID, Product ID) has no Review Score column"),
])
async def test_a_named_format_checks_its_header(api, admin_token, fmt, data, message):
    started = await start(api, admin_token, data, kind="REVIEWS", format=fmt)
    await runner.run_pending()
    j = await job(api, admin_token, started["job"]["id"])
    assert (j["status"], j["message"]) == ("FAILED", message)


async def test_shopify_orders_export(api, admin_token):
    ann = await Member.create(external_id="m-ann", email="ann@example.com", created_at=NOW, updated_at=NOW)
    started = await start(api, admin_token, SHOPIFY, "orders_export.csv", kind="ORDERS", format="shopify")
    assert started["errors"] == []
    await runner.run_pending()
    j = await job(api, admin_token, started["job"]["id"])
    assert (j["status"], j["total"], j["succeeded"], j["failed"]) == ("SUCCEEDED", 4, 2, 2)
    assert problems(j) == [(4, "cancelledAt", "ERROR"), (5, "lines.0.price", "ERROR")]
    orders = {o.external_id: o for o in await Order.all()}
    assert sorted(orders) == ["#1001", "#1002"]
    first, second = orders["#1001"], orders["#1002"]
    # The e-mail finds the member; an unknown e-mail is a guest order. Prices in minor units.
    assert (first.member_id, first.currency, first.channel, first.total_amount) == (ann.id, "USD", "web", 6498)
    assert first.placed_at == datetime(2024, 1, 2, 15, tzinfo=UTC)
    assert (second.member_id, second.currency, second.channel, second.total_amount) == (None, "KRW", "pos", 15000)
    lines = sorted(await OrderLine.filter(order_id=first.id).values_list("sku", "quantity", "unit_price"))
    assert lines == [("Gift card", 1, 500), ("SHIRT-1", 2, 2999)]  # no SKU: the line item's name
    refused = await api.upload(
        "mutation($file: Upload!) { startImport(input: {kind: REVIEWS, format: \"shopify\"}, file: $file) { errors { field } } }",
        {"file": None}, {"file": ("x.csv", SHOPIFY, "text/csv")}, admin_token)
    assert refused["data"]["startImport"]["errors"] == [{"field": "format"}]


BALANCES = (
    "memberExternalId,points,expiresAt\n"
    "m1,1200,2026-03-31T00:00:00Z\n"
    "m2,300,\n"
    "ghost,10,\n"
    "m1,50,2025-01-01\n"
    "m3,0,\n"
)


async def test_points_balances_as_one_adjust_lot_each_with_its_expiry(api, admin_token, monkeypatch):
    monkeypatch.setenv("PATRON_POINTS_EXPIRY_DAYS", "365")
    reload_settings()
    m1 = await Member.create(external_id="m1", created_at=NOW, updated_at=NOW)
    m2 = await Member.create(external_id="m2", created_at=NOW, updated_at=NOW, points_balance=-100)
    await LedgerEntry.create(member_id=m2.id, amount=-100, kind="reverse", reason="refund", created_at=NOW)
    started = await start(api, admin_token, BALANCES.encode(), "balances.csv", kind="POINTS_BALANCES", format="patron")
    assert started["errors"] == [] and started["job"]["kind"] == "POINTS_BALANCES"
    await runner.run_pending()
    j = await job(api, admin_token, started["job"]["id"])
    assert (j["status"], j["total"], j["succeeded"], j["failed"]) == ("SUCCEEDED", 5, 2, 3)
    assert problems(j) == [(3, "memberExternalId", "ERROR"), (4, "expiresAt", "ERROR"), (5, "points", "ERROR")]
    lot1 = await LedgerEntry.get(member_id=m1.id)
    assert (lot1.kind, lot1.amount, lot1.remaining, lot1.expires_at, lot1.idempotency_key) == (
        "adjust", 1200, 1200, datetime(2026, 3, 31, tzinfo=UTC), "import:opening:m1")
    lot2 = await LedgerEntry.get(member_id=m2.id, kind="adjust")
    # Blank expiry: the program's expiry from today; the debt of 100 is repaid first.
    assert (lot2.amount, lot2.remaining, lot2.expires_at) == (300, 200, NOW + timedelta(days=365))
    assert [(await Member.get(id=m.id)).points_balance for m in (m1, m2)] == [1200, 200]
    balance = await api.ok('query { member(externalId: "m1") { points { balance } } }', token=admin_token)
    assert balance == {"member": {"points": {"balance": 1200}}}

    again = await start(api, admin_token, BALANCES.encode(), "balances.csv", kind="POINTS_BALANCES", format="patron")
    await runner.run_pending()
    j2 = await job(api, admin_token, again["job"]["id"])
    assert (j2["succeeded"], j2["skipped"], j2["failed"]) == (0, 2, 3)
    assert (await Member.get(id=m1.id)).points_balance == 1200 and await LedgerEntry.filter(kind="adjust").count() == 2


REVIEW_WITH_MEDIA = "externalId,productExternalId,rating,body,mediaUrls\nr1,p1,5,Lovely,{urls}\n"


async def test_media_by_url_are_refused_while_fetching_is_off(api, admin_token, receiver):
    await products("p1")
    url = receiver.script("/a.jpg", Reply(body=jpeg()))
    started = await start(api, admin_token, REVIEW_WITH_MEDIA.format(urls=url).encode(), kind="REVIEWS", format="patron")
    await runner.run_pending()
    j = await job(api, admin_token, started["job"]["id"])
    assert (j["succeeded"], j["warnings"]) == (1, 1)
    assert j["errors"]["edges"][0]["node"]["message"] == media.OFF
    assert receiver.received == [] and await ReviewMedia.all().count() == 0


async def test_media_by_url_are_fetched_through_the_ssrf_guard(api, admin_token, receiver, monkeypatch):
    await products("p1")
    monkeypatch.setenv("PATRON_IMPORT_FETCH_MEDIA", "1")
    monkeypatch.setenv("PATRON_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")  # the guard's allow-list: the test server
    reload_settings()
    good = receiver.script("/a.jpg", Reply(body=jpeg()))
    missing = receiver.script("/gone.jpg", Reply(status=404))
    not_media = receiver.script("/page.html", Reply(body=b"<html></html>"))
    urls = " ".join([good, missing, not_media, "http://10.1.2.3/x.jpg", "http://169.254.169.254/latest/meta-data",
                     "file:///etc/passwd"])
    started = await start(api, admin_token, REVIEW_WITH_MEDIA.format(urls=urls).encode(), kind="REVIEWS",
                          format="patron")
    await runner.run_pending()
    j = await job(api, admin_token, started["job"]["id"])
    assert (j["status"], j["succeeded"], j["warnings"]) == ("SUCCEEDED", 1, 5)
    assert [e["node"]["message"] for e in j["errors"]["edges"]] == [
        "Media not imported: the server answered 404",
        "Media not imported: Only JPEG, PNG, WebP or HEIC photos and MP4, MOV or WebM videos",
        "Media not imported: the URL is not allowed (only http(s) to public internet addresses)",
        "Media not imported: the URL is not allowed (only http(s) to public internet addresses)",
        "Media not imported: the URL is not allowed (only http(s) to public internet addresses)"]
    # Only the three loopback URLs (allowed) were requested; the refused ones never left.
    assert sorted(r.path for r in receiver.received) == ["/a.jpg", "/gone.jpg", "/page.html"]
    review = await Review.get(external_id="r1")
    photo = await ReviewMedia.get(review_id=review.id)
    assert (photo.kind, photo.content_type, photo.status, review.has_media) == ("photo", "image/jpeg", "published", True)
    summary = await api.ok('query { product(externalId: "p1") { reviewSummary { count withMediaCount } } }')
    assert summary["product"]["reviewSummary"] == {"count": 1, "withMediaCount": 1}


async def test_without_the_allow_list_loopback_is_refused_and_nothing_is_fetched(api, admin_token, receiver, monkeypatch):
    await products("p1")
    monkeypatch.setenv("PATRON_IMPORT_FETCH_MEDIA", "1")
    monkeypatch.setenv("PATRON_WEBHOOK_ALLOWED_HOSTS", "")  # as in production: public addresses only
    reload_settings()
    url = receiver.script("/a.jpg", Reply(body=jpeg()))
    started = await start(api, admin_token, REVIEW_WITH_MEDIA.format(urls=url).encode(), kind="REVIEWS", format="patron")
    await runner.run_pending()
    j = await job(api, admin_token, started["job"]["id"])
    assert (j["succeeded"], j["warnings"]) == (1, 1)
    assert j["errors"]["edges"][0]["node"]["message"] == (
        "Media not imported: the URL is not allowed (only http(s) to public internet addresses)")
    assert receiver.received == [] and await ReviewMedia.all().count() == 0


async def test_a_poison_batch_is_written_off_after_three_attempts(api, admin_token, monkeypatch):
    await products("p1")
    monkeypatch.setenv("PATRON_IMPORT_BATCH_ROWS", "2")
    reload_settings()
    data = "externalId,productExternalId,rating\n" + "".join(f"r{i},p1,5\n" for i in range(5))
    started = await start(api, admin_token, data.encode(), kind="REVIEWS", format="patron")
    real, calls = kinds.write_reviews, []

    async def second_batch_always_fails(items, outcome, dry_run, actor, fetched=None):
        calls.append([i.external_id for i in items])
        if items[0].external_id == "r2":
            raise RuntimeError("a bug")
        await real(items, outcome, dry_run, actor, fetched)

    monkeypatch.setattr(kinds, "write_reviews", second_batch_always_fails)
    assert await runner.run_pending() == 5
    assert calls.count(["r2", "r3"]) == runner.MAX_BATCH_ATTEMPTS  # then written off, not tried again
    j = await job(api, admin_token, started["job"]["id"])
    assert (j["status"], j["processed"], j["succeeded"], j["failed"]) == ("SUCCEEDED", 5, 3, 2)
    assert problems(j) == [(3, None, "ERROR"), (4, None, "ERROR")]
    assert j["errors"]["edges"][0]["node"]["message"] == (
        "Not imported: the batch holding this row failed 3 times (see the server log); "
        "import these rows again in a smaller file")
    assert sorted(await Review.all().values_list("external_id", flat=True)) == ["r0", "r1", "r4"]
    assert (await ImportJob.get(id=(await ImportJob.first()).id)).batch_attempts == 0
