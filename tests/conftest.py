"""Test harness: one database per pytest process (SQLite in memory, or PostgreSQL when
DATABASE_URL says so), migrated with the real migrations, emptied before every test.
API tests go through the real ASGI app with httpx."""

from __future__ import annotations

import os
import sys
import tempfile

os.environ.setdefault("DATABASE_URL", "sqlite://:memory:")
os.environ["PATRON_MEMBER_JWT_SECRET"] = "test-member-secret-of-at-least-32-bytes"
os.environ.pop("PATRON_BOOTSTRAP_ADMIN_KEY", None)
for name in ("PATRON_RATE_LIMIT_KEY", "PATRON_RATE_LIMIT_MEMBER", "PATRON_RATE_LIMIT_ANONYMOUS"):
    os.environ[name] = "0"  # tests send bursts; test_rate_limits turns limits on
# Recommender builds run in-process in tests: many tests train on a file shared with the test
# process; tests/test_recommender_training.py turns the child process on where it is the point.
os.environ["PATRON_RECS_TRAIN_SUBPROCESS"] = "0"
os.environ.setdefault("PATRON_SECRET_KEY", "8nY6m1k1G5s0bqk7a1yJQm2b9XW5x2Ck8nH4Wv2tq9E=")
os.environ["PATRON_WEBHOOK_ALLOWED_HOSTS"] = "127.0.0.1,localhost"
os.environ.setdefault("PATRON_MEDIA_DIR", __import__("tempfile").mkdtemp(prefix="patron-media-"))
os.environ.setdefault("PATRON_IMPORT_DIR", __import__("tempfile").mkdtemp(prefix="patron-imports-"))

from typing import Any  # noqa: E402

import httpx  # noqa: E402
import pytest  # noqa: E402
from tortoise import Tortoise, connections  # noqa: E402

from composition import subscribers  # noqa: E402
from composition.api import schema  # noqa: E402
from domain import changes, clock, db  # noqa: E402
from domain.auth import service as auth  # noqa: E402
from domain.catalog import service as catalog_service  # noqa: E402
from domain.recommendations import training as rec_training  # noqa: E402
from domain.settings import reload_settings  # noqa: E402
from domain.webhooks import service as webhook_service  # noqa: E402
from domain.webhooks.delivery import Deliverer  # noqa: E402
from schema import limits, trusted  # noqa: E402
from server import create_app  # noqa: E402
from tests.receiver import Receiver  # noqa: E402

IS_POSTGRES = os.environ["DATABASE_URL"].startswith(("postgres://", "postgresql://"))
postgres_only = pytest.mark.skipif(not IS_POSTGRES, reason="needs PostgreSQL row locks (runs in the PostgreSQL pass)")
# Tests that never touch the pass's database (static checks, processes on their own SQLite file)
# would only repeat themselves in the PostgreSQL pass: they run once, in the SQLite pass.
sqlite_pass_only = pytest.mark.skipif(IS_POSTGRES, reason="does not use the pass's database: runs in the SQLite pass")


async def _reset_postgres_schema(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


@pytest.fixture(scope="session", autouse=True)
async def database():
    url = os.environ["DATABASE_URL"]
    if IS_POSTGRES:
        await _reset_postgres_schema(url)
    elif ":memory:" in url:
        # A private file: migrations and the ORM use separate connections.
        tmp = tempfile.mkdtemp(prefix="patron-test-")
        url = f"sqlite://{tmp}/test.sqlite3"
    reload_settings()
    subscribers.wire()  # as every process does at start (tests call domain services directly too)
    await db.migrate(url)
    await Tortoise.close_connections()
    await db.init_orm(url)
    yield
    await db.close_orm()


TABLES = [
    "staff_audit", "staff_sessions", "staff_users", "import_errors", "import_jobs", "improvement_links", "improvements", "survey_responses", "message_templates",
    "segment_members", "member_insights", "messages", "message_policies", "job_runs", "job_states", "signals", "subscription_changes", "subscriptions", "subscription_plans", "activities", "redemptions", "reward_grants", "grant_policies", "rewards", "segments", "webhook_deliveries", "webhook_endpoints",
    "review_votes", "review_reports", "review_revisions", "review_media", "moderation_decisions",
    "answers", "questions", "reviews", "follow_up_questions", "products",
    "lot_consumptions", "ledger_entries", "awards", "refunds", "order_lines", "orders",
    "tier_changes", "consent_changes", "consents", "events", "earning_rules", "members",
    "tiers", "api_keys",
]


_NON_EMPTY = " UNION ALL ".join(f"SELECT '{t}' AS t WHERE EXISTS (SELECT 1 FROM {t})" for t in TABLES)
_RESTART_IDS = (
    "SELECT count(setval(s, 1, false)) FROM (SELECT pg_get_serial_sequence(c.table_name, c.column_name) AS s"
    " FROM information_schema.columns c WHERE c.table_schema = current_schema() AND c.table_name IN ("
    + ", ".join(f"'{t}'" for t in TABLES) + ") AND c.column_default LIKE 'nextval%') AS x WHERE s IS NOT NULL;"
)


@pytest.fixture(autouse=True)
async def clean_state(request):
    conn = connections.get("default")
    raw = getattr(conn, "_connection", None)
    if not IS_POSTGRES and raw is not None and raw.in_transaction:
        # A transaction left open on the shared SQLite connection hides every later write from
        # other processes (the recommender's training child): say where, and end it.
        print(f"\nLEAKED SQLITE TRANSACTION before {request.node.nodeid}", file=sys.stderr)
        await raw.rollback()
    if IS_POSTGRES:
        # Empty only the tables the last test wrote to, children first, then restart every id
        # sequence: the same state as `TRUNCATE … RESTART IDENTITY` of all of them, which costs
        # 0.3–0.5 s a test with 80 tables (a new file per table) against a few ms.
        used = {row["t"] for row in await conn.execute_query_dict(_NON_EMPTY)}
        await conn.execute_script("".join(f"DELETE FROM {t};" for t in TABLES if t in used) + _RESTART_IDS)
    else:
        for table in TABLES:
            await conn.execute_script(f"DELETE FROM {table};")
    clock.set_now(None)
    reload_settings()
    auth._cache.clear()
    changes._memo.clear()  # tables were emptied behind the change counter's back
    catalog_service.forget()  # and behind the known-products set
    webhook_service.invalidate_cache()
    rec_training.forget()
    yield
    clock.set_now(None)


@pytest.fixture
async def client():
    app = create_app(manage_db=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://patron.test") as c:
        yield c


class Api:
    """Posts GraphQL through the ASGI app as a given caller."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def raw(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return await self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)

    async def __call__(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
        response = await self.raw(query, variables, token)
        assert response.status_code == 200, response.text
        return response.json()

    async def upload(self, query: str, variables: dict[str, Any], files: dict[str, tuple[str, bytes, str]],
                     token: str | None = None) -> dict[str, Any]:
        """A GraphQL multipart request: files maps a variable path ("media.0") to (name, bytes, type)."""
        import json

        names = {str(i): path for i, path in enumerate(files)}
        form = {"operations": json.dumps({"query": query, "variables": variables}),
                "map": json.dumps({n: [f"variables.{p}"] for n, p in names.items()})}
        uploads = {n: files[p] for n, p in names.items()}
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post("/graphql", data=form, files=uploads, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def ok(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
        """Data of a call that must succeed without GraphQL errors."""
        body = await self(query, variables, token)
        assert "errors" not in body, body
        return body["data"]


@pytest.fixture
async def receiver():
    """A webhook receiver on 127.0.0.1 (tests/receiver.py)."""
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


@pytest.fixture
async def deliverer():
    """A webhook delivery worker for tests that drive deliveries by hand."""
    d = Deliverer("test")
    yield d
    await d.client.aclose()


@pytest.fixture
async def app_with(monkeypatch):
    """A client of an app started with the given environment (the `client` fixture's app is
    built before a test can set one)."""
    clients: list[httpx.AsyncClient] = []

    async def make(**env: str) -> httpx.AsyncClient:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        reload_settings()
        app = create_app(manage_db=False)
        clients.append(httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://patron.test"))
        return clients[-1]

    yield make
    for c in clients:
        await c.aclose()
    trusted.configure(schema._schema, "off", {}, limits.limit_errors)  # no mode leaks to later tests


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client)


@pytest.fixture
async def admin_token() -> str:
    return (await auth.create_api_key("test admin", "admin"))[1]


@pytest.fixture
async def storefront_token() -> str:
    return (await auth.create_api_key("test storefront", "storefront"))[1]


@pytest.fixture
async def partner_token() -> str:
    return (await auth.create_api_key("test partner", "partner"))[1]


def member_token(external_id: str, ttl: int = 3600) -> str:
    return auth.issue_member_token(external_id, ttl)
