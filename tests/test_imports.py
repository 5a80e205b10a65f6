"""Bulk imports (issue 14): startImport through GraphQL multipart, the worker's batches,
exact counts, idempotent re-imports, resume after a crash, dry runs, formats and encodings."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from domain import clock
from domain.catalog.service import note_ordered_products
from domain.events.models import Event
from composition.api import schema
from domain.auth import service as auth
from domain.imports import cli, formats, kinds, runner, service
from domain.imports.models import ImportJob, ImportProblem
from domain.ledger.models import Award
from domain.members.models import Consent, ConsentChange, Member
from domain.orders.models import Order, OrderLine
from domain.reviews.models import ModerationDecision, Review, ReviewRevision
from domain.rules.service import save_rule
from domain.settings import reload_settings
from schema import realtime
from schema.common import global_id
from schema.context import Context
from tests.conftest import Api

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

START = """mutation($file: Upload!, $input: StartImportInput!) { startImport(input: $input, file: $file) {
  job { id status kind format dryRun } errors { field message code } } }"""
JOB = """query($id: ID!) { importJob(id: $id) { kind format status total processed succeeded skipped failed
  warnings message encoding startedAt finishedAt
  errors(first: 50) { edges { node { row field message level } } } } }"""
SUMMARY = """query($p: String!) { product(externalId: $p) { reviewSummary { count average histogram { rating count } } } }"""

OKENDO = (
    "\ufeffname,title,body,handle,rating,dateCreated,countryCode,email,imageUrls\r\n"
    'Ann Lee,Love them,"Great fit,\r\nsecond line",p1,5,2023-05-01T00:00:00Z,US,ann@example.com,\r\n'
    "Bo Park,,,p2,4,2025-05-31T20:00:00Z,KR,,https://img.example/1.jpg\r\n"
    "Cy,,this is shit,p1,1,2023-05-03,US,,\r\n"
    "Dee,,fine,nope,3,2023-05-03,US,,\r\n"
    "Ee,,ok,p1,9,2023-05-03,US,,\r\n"
    "Fay,,,p1,2,2031-01-01,US,,\r\n"
).encode()


@pytest.fixture(autouse=True)
def import_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PATRON_IMPORT_DIR", str(tmp_path / "imports"))
    reload_settings()
    clock.set_now(NOW)
    return tmp_path / "imports"


async def start(api, token, data: bytes, name="file.csv", **input_) -> dict:
    variables = {"file": None, "input": {"dryRun": False, **input_}}
    body = await api.upload(START, variables, {"file": (name, data, "text/csv")}, token)
    assert "errors" not in body, body
    return body["data"]["startImport"]


async def job(api, token, job_id: str) -> dict:
    return (await api.ok(JOB, {"id": job_id}, token))["importJob"]


def problems(j: dict) -> list[tuple]:
    return [(e["node"]["row"], e["node"]["field"], e["node"]["level"]) for e in j["errors"]["edges"]]


async def products(*ids: str) -> None:
    await note_ordered_products([(p, None) for p in ids])


async def test_okendo_reviews_moderated_verified_and_summarised(api, admin_token, import_dir):
    await products("p1", "p2")
    ann = await Member.create(external_id="m-ann", email="ann@example.com", created_at=NOW, updated_at=NOW)
    order = await Order.create(external_id="o-ann", member_id=ann.id, currency="USD", channel="web",
                               placed_at=NOW - timedelta(days=800), total_amount=100, created_at=NOW)
    await OrderLine.create(order_id=order.id, sku="s", product_external_id="p1", quantity=1, unit_price=100)

    started = await start(api, admin_token, OKENDO, "okendo.csv", kind="REVIEWS", format="okendo")
    assert started["errors"] == []
    assert started["job"]["status"] == "QUEUED" and started["job"]["kind"] == "REVIEWS"
    assert len(list(import_dir.iterdir())) == 1  # the upload waits under PATRON_IMPORT_DIR

    assert await runner.run_pending() == 6
    j = await job(api, admin_token, started["job"]["id"])
    assert {k: j[k] for k in ("status", "total", "processed", "succeeded", "skipped", "failed", "warnings",
                              "encoding", "message")} == {
        "status": "SUCCEEDED", "total": 6, "processed": 6, "succeeded": 3, "skipped": 0, "failed": 3,
        "warnings": 2, "encoding": "utf-8-sig", "message": None}
    assert j["startedAt"] == j["finishedAt"] == NOW.isoformat()
    assert problems(j) == [(2, "mediaUrls", "WARNING"), (3, "body", "WARNING"), (4, "productExternalId", "ERROR"),
                           (5, "rating", "ERROR"), (6, "createdAt", "ERROR")]
    assert list(import_dir.iterdir()) == []  # the file is removed when the job ends

    reviews = {r.author_name: r for r in await Review.all()}
    assert sorted(reviews) == ["Ann L.", "Bo P.", "Cy"]
    a, b, c = reviews["Ann L."], reviews["Bo P."], reviews["Cy"]
    assert (a.status, a.verified_purchase, a.member_id, a.body, a.title) == (
        "published", True, ann.id, "Great fit,\r\nsecond line", "Love them")
    assert (b.status, b.verified_purchase, b.body, b.title, b.imported) == ("published", False, "", None, True)
    assert (c.status, c.reject_reason) == ("pending", "PROFANITY")
    assert a.created_at == datetime(2023, 5, 1, tzinfo=UTC) and a.received_at == NOW
    # Older than the reply SLA when received: history, never an overdue reply; a recent one counts.
    assert (a.reply_sla_applies, b.reply_sla_applies) == (False, True)
    assert await ReviewRevision.all().count() == 3
    assert await ModerationDecision.filter(actor=f"import:{(await ImportJob.first()).id}").count() == 3
    assert await Event.all().count() == 0  # history, not news
    p1 = (await api.ok(SUMMARY, {"p": "p1"}))["product"]["reviewSummary"]
    assert p1 == {"count": 1, "average": 5.0, "histogram": [{"rating": r, "count": int(r == 5)} for r in range(1, 6)]}
    p2 = (await api.ok(SUMMARY, {"p": "p2"}))["product"]["reviewSummary"]
    assert (p2["count"], p2["average"]) == (1, 4.0)

    # The same file again: every readable row is skipped, nothing changes.
    again = await start(api, admin_token, OKENDO, "okendo.csv", kind="REVIEWS", format="okendo")
    await runner.run_pending()
    j2 = await job(api, admin_token, again["job"]["id"])
    assert (j2["succeeded"], j2["skipped"], j2["failed"], j2["warnings"]) == (0, 3, 3, 0)
    assert await Review.all().count() == 3
    assert (await api.ok(SUMMARY, {"p": "p1"}))["product"]["reviewSummary"]["count"] == 1


ORDERS_CSV = (
    "externalId,memberExternalId,currency,channel,placedAt,sku,quantity,unitPrice,productExternalId,category\n"
    "o1,m1,KRW,web,2024-01-02T10:00:00Z,S1,2,1000,p1,shoes\n"
    "o1,m1,KRW,web,2024-01-02T10:00:00Z,S2,1,500,p2,\n"
    "o2,,KRW,store,2024-01-03,S1,1,1000,p1,\n"
    "o3,ghost,KRW,web,2024-01-03,S1,1,1000,p1,\n"
    "o4,,KRW,web,2024-01-03,S1,0,1000,p1,\n"
    "\n"
    "o5,m1,usd,web,2024-02-01 09:00:00,S3,3,250,,\n"
).encode()


async def test_orders_with_lines_guests_and_no_points_by_default(api, admin_token):
    await Member.create(external_id="m1", created_at=NOW, updated_at=NOW)
    await save_rule(None, {"name": "Base", "type": "ORDER_PAID", "points_per_unit": 1, "currency_unit": 100})
    started = await start(api, admin_token, ORDERS_CSV, kind="ORDERS", format="patron")
    await runner.run_pending()
    j = await job(api, admin_token, started["job"]["id"])
    assert (j["status"], j["total"], j["processed"], j["succeeded"], j["skipped"], j["failed"]) == (
        "SUCCEEDED", 5, 5, 3, 0, 2)
    assert problems(j) == [(4, "memberExternalId", "ERROR"), (5, "lines.0.quantity", "ERROR")]
    orders = {o.external_id: o for o in await Order.all()}
    assert sorted(orders) == ["o1", "o2", "o5"]
    assert (orders["o1"].total_amount, orders["o2"].member_id, orders["o5"].currency) == (2500, None, "USD")
    assert orders["o5"].placed_at == datetime(2024, 2, 1, 9, tzinfo=UTC)
    assert sorted(await OrderLine.all().values_list("sku", "quantity")) == [("S1", 1), ("S1", 2), ("S2", 1), ("S3", 3)]
    assert await Award.all().count() == 0 and await Event.all().count() == 0
    assert (await Member.get(external_id="m1")).points_balance == 0

    # JSON Lines, one order per line with its lines; o1 again is skipped.
    jsonl = "\n".join(json.dumps(x) for x in [
        {"externalId": "o1", "memberExternalId": "m1", "currency": "KRW", "placedAt": "2024-01-02T10:00:00Z",
         "lines": [{"sku": "S1", "quantity": 2, "unitPrice": 1000}]},
        {"externalId": "o9", "currency": "KRW", "placedAt": "2024-03-01", "channel": "pos",
         "lines": [{"sku": "S9", "quantity": 1, "unitPrice": 700, "productExternalId": "p9"}]},
    ]).encode()
    second = await start(api, admin_token, jsonl, "orders.jsonl", kind="ORDERS", format="jsonl")
    await runner.run_pending()
    j2 = await job(api, admin_token, second["job"]["id"])
    assert (j2["status"], j2["succeeded"], j2["skipped"], j2["failed"]) == ("SUCCEEDED", 1, 1, 0)
    assert (await Order.get(external_id="o9")).channel == "pos"


async def test_orders_award_points_when_asked(api, admin_token):
    await Member.create(external_id="m1", created_at=NOW, updated_at=NOW)
    await save_rule(None, {"name": "Base", "type": "ORDER_PAID", "points_per_unit": 1, "currency_unit": 100})
    started = await start(api, admin_token, ORDERS_CSV, kind="ORDERS", format="patron", awardPoints=True)
    await runner.run_pending()
    j = await job(api, admin_token, started["job"]["id"])
    assert (j["succeeded"], j["failed"]) == (3, 2)
    assert await Award.filter(source_type="order").count() == 2  # m1's two orders; the guest's earns nothing


MEMBERS_CSV = (
    "externalId,email,name,birthday,signupChannel,consent.MARKETING_EMAIL,consent.MARKETING_EMAIL.at\n"
    "k1,kim@example.com,김민지,1990-04-01,cafe24,true,2021-03-04T05:06:07Z\n"
    "k2,,이서준,,,false,\n"
    "k3,not-an-email,박,,,,\n"
)


async def test_members_in_cp949_with_consents_and_original_times(api, admin_token):
    started = await start(api, admin_token, MEMBERS_CSV.encode("cp949"), "members.csv", kind="MEMBERS",
                          format="patron")
    await runner.run_pending()
    j = await job(api, admin_token, started["job"]["id"])
    assert (j["status"], j["encoding"], j["succeeded"], j["failed"]) == ("SUCCEEDED", "cp949", 2, 1)
    assert problems(j) == [(3, "email", "ERROR")]
    k1 = await Member.get(external_id="k1")
    assert (k1.name, k1.email, str(k1.birthday), k1.signup_channel, k1.points_balance) == (
        "김민지", "kim@example.com", "1990-04-01", "cafe24", 0)
    assert await Consent.filter(source="import").values_list("purpose", "granted") in (
        [("MARKETING_EMAIL", True), ("MARKETING_EMAIL", False)], [("MARKETING_EMAIL", False), ("MARKETING_EMAIL", True)])
    change = await ConsentChange.get(member_id=k1.id)
    assert (change.source, change.created_at) == ("import", datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC))
    assert await Event.all().count() == 0

    # The same data in UTF-8 with a BOM, through a mapping from another export's columns.
    mapped = "\ufeffCustomer ID,E-mail\nk1,kim@example.com\nk4,lee@example.com\n".encode()
    second = await start(api, admin_token, mapped, kind="MEMBERS", format="patron",
                         mapping={"Customer ID": "externalId", "E-mail": "email"})
    await runner.run_pending()
    j2 = await job(api, admin_token, second["job"]["id"])
    assert (j2["encoding"], j2["succeeded"], j2["skipped"]) == ("utf-8-sig", 1, 1)
    assert (await Member.get(external_id="k4")).email == "lee@example.com"


def review_rows(n: int) -> bytes:
    lines = ["externalId,productExternalId,rating,body,authorName,createdAt"]
    lines += [f"r{i},p1,{1 + i % 5},Review number {i},Author {i},2024-01-01" for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


class Killed(BaseException):
    """Stands for kill -9: nothing after it runs in that worker."""


async def test_a_crashed_job_resumes_from_its_last_batch_without_duplicates(api, admin_token, monkeypatch):
    await products("p1")
    monkeypatch.setenv("PATRON_IMPORT_BATCH_ROWS", "2")
    reload_settings()
    started = await start(api, admin_token, review_rows(7), kind="REVIEWS", format="patron")
    real, calls = kinds.write_reviews, []

    async def dies_in_second_batch(items, outcome, dry_run, actor, media=None):
        calls.append(len(items))
        await real(items, outcome, dry_run, actor, media)  # the rows are written in the transaction ...
        if len(calls) == 2:
            raise Killed()  # ... and the process dies before it commits

    monkeypatch.setattr(kinds, "write_reviews", dies_in_second_batch)
    with pytest.raises(Killed):
        await runner.run_pending()
    row = await ImportJob.get(id=(await ImportJob.first()).id)
    assert (row.status, row.committed_rows, row.processed, row.succeeded) == ("running", 2, 2, 2)
    assert await Review.all().count() == 2  # the second batch was rolled back whole
    j = await job(api, admin_token, started["job"]["id"])
    assert (j["status"], j["processed"], j["total"]) == ("RUNNING", 2, 7)

    monkeypatch.setattr(kinds, "write_reviews", real)
    assert await runner.run_pending() == 0  # the dead worker's lease still holds the job
    clock.set_now(NOW + runner.LEASE + timedelta(seconds=1))
    assert await runner.run_pending() == 5  # taken over: rows 3..7 only
    j = await job(api, admin_token, started["job"]["id"])
    assert (j["status"], j["processed"], j["succeeded"], j["skipped"], j["failed"]) == ("SUCCEEDED", 7, 7, 0, 0)
    assert sorted(await Review.all().values_list("external_id", flat=True)) == [f"r{i}" for i in range(7)]
    summary = (await api.ok(SUMMARY, {"p": "p1"}))["product"]["reviewSummary"]
    assert summary["count"] == 7 and [h["count"] for h in summary["histogram"]] == [2, 2, 1, 1, 1]


async def test_dry_run_checks_everything_and_writes_only_the_job(api, admin_token):
    await products("p1", "p2")
    started = await start(api, admin_token, OKENDO, kind="REVIEWS", format="okendo", dryRun=True)
    assert started["job"]["dryRun"] is True
    await runner.run_pending()
    j = await job(api, admin_token, started["job"]["id"])
    assert (j["status"], j["succeeded"], j["failed"], j["warnings"]) == ("SUCCEEDED", 3, 3, 2)
    assert len(problems(j)) == 5
    assert await Review.all().count() == 0 and await ModerationDecision.all().count() == 0
    assert (await api.ok(SUMMARY, {"p": "p1"}))["product"]["reviewSummary"]["count"] == 0


@pytest.mark.parametrize(("fmt", "data", "message"), [
    ("jsonl", b"externalId,productExternalId\nr1,p1\n", "Line 1 is not a JSON object: this is not a JSON Lines file"),
    ("okendo", b"externalId,productExternalId,rating\nr1,p1,5\n",
     "This is not an Okendo review export: its header (externalId, productExternalId, rating) has no "
     "handle, productId or sku column"),
    ("patron", b'{"externalId": "r1"}\n', "This looks like JSON, not CSV: give format jsonl"),
    ("patron", b"", "The file is empty (no header row)"),
    ("patron", b"productExternalId,rating\n\xff\xfe\x00\x81,5\n",
     "The file is not UTF-8 or CP949/EUC-KR text (give the encoding, or save it as UTF-8)"),
])
async def test_a_file_not_of_the_declared_format_fails_the_job_at_once(api, admin_token, import_dir, fmt, data, message):
    started = await start(api, admin_token, data, kind="REVIEWS", format=fmt)
    await runner.run_pending()
    j = await job(api, admin_token, started["job"]["id"])
    assert (j["status"], j["message"], j["processed"], j["total"]) == ("FAILED", message, 0, None)
    assert await Review.all().count() == 0 and await ImportProblem.all().count() == 0
    assert list(import_dir.iterdir()) == []


async def test_cancel_and_refusals(api, admin_token, import_dir):
    started = await start(api, admin_token, review_rows(3), kind="REVIEWS", format="patron")
    cancel = "mutation($id: ID!) { cancelImport(id: $id) { job { status finishedAt } errors { code field } } }"
    done = (await api.ok(cancel, {"id": started["job"]["id"]}, admin_token))["cancelImport"]
    assert done == {"job": {"status": "CANCELLED", "finishedAt": NOW.isoformat()}, "errors": []}
    assert await runner.run_pending() == 0 and await Review.all().count() == 0
    assert list(import_dir.iterdir()) == []
    again = (await api.ok(cancel, {"id": started["job"]["id"]}, admin_token))["cancelImport"]
    assert again == {"job": None, "errors": [{"code": "INVALID_STATE", "field": "id"}]}

    bad = await start(api, admin_token, b"x", kind="MEMBERS", format="okendo")
    assert bad["job"] is None and bad["errors"][0]["field"] == "format"
    bad = await start(api, admin_token, b"x", kind="REVIEWS", format="patron", mapping={"A": "nope"})
    assert bad["job"] is None and bad["errors"][0]["field"] == "mapping"
    bad = await start(api, admin_token, b"x", kind="REVIEWS", format="patron", awardPoints=True)
    assert bad["job"] is None and bad["errors"][0]["field"] == "awardPoints"
    assert await ImportJob.all().count() == 1 and list(import_dir.iterdir()) == []

    not_a_file = await api(START, {"file": "text", "input": {"kind": "REVIEWS", "format": "patron"}}, admin_token)
    assert not_a_file["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert not_a_file["errors"][0]["message"] == "file must be a file sent as a GraphQL multipart request"
    jobs = await api.ok("query { importJobs(first: 5) { edges { node { id kind status processed total } } } }",
                        token=admin_token)
    assert jobs["importJobs"]["edges"] == [{"node": {"id": started["job"]["id"], "kind": "REVIEWS",
                                                     "status": "CANCELLED", "processed": 0, "total": None}}]
    node = await api.ok('query($id: ID!) { node(id: $id) { ... on ImportJob { status } } }',
                        {"id": started["job"]["id"]}, admin_token)
    assert node == {"node": {"status": "CANCELLED"}}
    missing = await api.ok(JOB, {"id": global_id("ImportJob", 999)}, admin_token)
    assert missing == {"importJob": None}


async def test_files_over_the_limit_are_refused(api, admin_token, import_dir, app_with):
    client = await app_with(PATRON_IMPORT_MAX_MB="1")
    small = Api(client)
    body = await small.upload(START, {"file": None, "input": {"kind": "REVIEWS", "format": "patron"}},
                              {"file": ("big.csv", b"a" * (1024 * 1024 + 1), "text/csv")}, admin_token)
    assert body["data"]["startImport"]["errors"] == [
        {"field": "file", "message": "The file is larger than PATRON_IMPORT_MAX_MB (1 MB)", "code": "MEDIA_TOO_LARGE"}]
    assert await ImportJob.all().count() == 0 and list(import_dir.iterdir()) == []

    # Past the request limit the upload is cut off while it streams in (413), before the resolver.
    client = await app_with(PATRON_IMPORT_MAX_MB="1", PATRON_VIDEO_MAX_BYTES="1000", PATRON_PHOTO_MAX_BYTES="1000")

    form = {"operations": json.dumps({"query": START, "variables": {"file": None, "input": {
        "kind": "REVIEWS", "format": "patron"}}}), "map": json.dumps({"0": ["variables.file"]})}
    response = await client.post("/graphql", data=form, files={"0": ("big.csv", b"c" * (3 * 1024 * 1024))},
                                 headers={"authorization": f"Bearer {admin_token}"})
    assert response.status_code == 413
    assert await ImportJob.all().count() == 0


async def test_cli_runs_the_same_job(admin_token, tmp_path, api):
    await products("p1", "p2")
    path = tmp_path / "reviews.csv"
    path.write_bytes(OKENDO)
    out = io.StringIO()
    assert await cli.run("reviews", str(path), "okendo", out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("SUCCEEDED: 6/6 rows, 3 imported, 0 skipped, 3 failed, 2 warnings")
    assert lines[1:] == [
        "  row 2 mediaUrls: warning Media not imported (PATRON_IMPORT_FETCH_MEDIA is off); the review was imported without it",
        "  row 3 body: warning Held for moderation: PROFANITY",
        "  row 4 productExternalId: error No product 'nope' (upsertProducts or an order names it)",
        "  row 5 rating: error rating must be a whole number from 1 to 5",
        "  row 6 createdAt: error createdAt must not be in the future"]
    assert await Review.all().count() == 3
    jobs = await api.ok("query { importJobs(first: 5) { edges { node { kind status processed } } } }", token=admin_token)
    assert jobs["importJobs"]["edges"] == [{"node": {"kind": "REVIEWS", "status": "SUCCEEDED", "processed": 6}}]
    assert path.exists()  # the CLI imports a copy; the operator's file stays

    out = io.StringIO()
    assert await cli.run("reviews", str(path), "okendo", dry_run=True, out=out) == 0
    assert out.getvalue().splitlines()[0].endswith("0 imported, 3 skipped, 3 failed, 0 warnings (dry run)")
    assert await cli.run("reviews", str(tmp_path / "nothing.csv"), "okendo", out=io.StringIO()) == 2


async def test_progress_subscription_reports_while_running(admin_token, monkeypatch):

    await products("p1")
    monkeypatch.setenv("PATRON_IMPORT_BATCH_ROWS", "2")
    reload_settings()
    job_row = await _queued(review_rows(5))
    viewer = await auth.authenticate(f"Bearer {admin_token}")
    doc = 'subscription($id: ID!) { importProgress(id: $id) { status processed total } }'
    stream = await schema.subscribe(doc, variable_values={"id": global_id("ImportJob", job_row.id)},
                                    context_value=Context(viewer=viewer))
    first = await stream.__anext__()
    assert first.data == {"importProgress": {"status": "QUEUED", "processed": 0, "total": None}}
    await runner.run_pending()
    seen = [r.data["importProgress"] async for r in stream]
    assert seen == [{"status": "SUCCEEDED", "processed": 5, "total": 5}]


async def _queued(data: bytes) -> ImportJob:
    path, size = service.store_file(io.BytesIO(data))
    return await service.start_import("reviews", "patron", path, size, "x.csv", "test")


async def test_progress_is_sent_at_least_once_a_second(admin_token, monkeypatch):

    monkeypatch.setattr(realtime, "PROGRESS_INTERVAL", 0.01)
    monkeypatch.setattr(realtime, "PROGRESS_EVERY", 0.02)
    job_row = await _queued(review_rows(1))
    await ImportJob.filter(id=job_row.id).update(status="running", total=1)
    viewer = await auth.authenticate(f"Bearer {admin_token}")
    stream = await schema.subscribe('subscription($id: ID!) { importProgress(id: $id) { status processed } }',
                                    variable_values={"id": global_id("ImportJob", job_row.id)},
                                    context_value=Context(viewer=viewer))
    unchanged = [(await stream.__anext__()).data for _ in range(3)]  # nothing moved, still sent
    assert unchanged == [{"importProgress": {"status": "RUNNING", "processed": 0}}] * 3
    await stream.aclose()


def test_readers_stream_without_loading_the_file(tmp_path):
    # A 20,000-row file is read record by record: the reader holds one row at a time.
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("externalId,productExternalId,rating\n")
        for i in range(20_000):
            fh.write(f'r{i},p1,5\n')
    stream = formats.records("reviews", "patron", str(path), "utf-8-sig", {})
    first = next(stream)
    assert (first.row, first.data) == (1, {"externalId": "r0", "productExternalId": "p1", "rating": "5"})
    assert formats.count("reviews", "patron", str(path), None, {}) == (20_000, "utf-8-sig")
    stream.close()
