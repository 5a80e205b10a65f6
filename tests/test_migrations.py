"""Migrations are append-only: 0001 is frozen, and a database populated at 0001 upgrades
to head with its data intact (on SQLite and, in the PostgreSQL pass, on PostgreSQL).

Migrations run in a child process through tortoise's own CLI, exactly as an operator would
run them, so this test never disturbs the ORM the rest of the session uses."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg

from tests.conftest import IS_POSTGRES, sqlite_pass_only

ROOT = Path(__file__).resolve().parent.parent
TORTOISE_CLI = [sys.executable, "-m", "tortoise.cli.cli", "-c", "domain.db.TORTOISE_ORM"]
# sha256 of migrations/0001_initial.py as it landed; it must never change again.
FROZEN_0001 = "d4d21aae11f0f61cf542bb5621567105c1854dff2e8f460f0191d6e5fea2724d"

NOW = "2026-01-01 00:00:00+00:00"
ROWS_AT_0001 = [
    ("api_keys", {"id": 1, "name": "old admin", "role": "admin", "prefix": "ptn_ad_x",
                  "key_hash": "a" * 64, "created_at": NOW}),
    ("tiers", {"id": 1, "name": "Legacy Gold", "rank": 1, "require_all": False, "window": "ROLLING_12_MONTHS",
               "earn_multiplier": "1.5", "perks": "[]", "created_at": NOW}),
    ("members", {"id": 1, "tier_id": 1, "external_id": "legacy-1", "email": "legacy@example.com", "name": "Legacy Lee",
                 "created_at": NOW, "updated_at": NOW, "points_balance": 120, "points_pending": 0,
                 "lifetime_earned": 120}),
    ("products", {"id": 1, "external_id": "p-legacy", "title": "Old Tea", "categories": '["tea"]',
                  "active": True, "hidden": False, "in_stock": True, "review_count": 1, "rating_sum": 5,
                  "rating_histogram": '{"1":0,"2":0,"3":0,"4":0,"5":1}', "with_media_count": 0,
                  "created_at": NOW, "updated_at": NOW}),
    ("reviews", {"id": 1, "author_name": "Legacy L.", "rating": 5, "body": "Lovely old tea", "attributes": "{}",
                 "status": "published", "verified_purchase": False, "incentivized": False, "imported": False,
                 "has_media": False, "helpful_count": 0, "not_helpful_count": 0, "open_reports": 0,
                 "counted_rating": 5, "counted_media": False, "created_at": NOW, "updated_at": NOW,
                 "published_at": NOW, "member_id": 1, "product_id": 1}),
    ("orders", {"id": 1, "external_id": "o-legacy", "currency": "KRW", "channel": "web", "placed_at": NOW,
                "total_amount": 12000, "refunded_amount": 0, "created_at": NOW, "member_id": 1}),
    ("events", {"id": 1, "type": "member.created", "payload": '{"externalId":"legacy-1"}', "member_id": 1,
                "created_at": NOW}),
]


def _run_cli(url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": url}
    done = subprocess.run([*TORTOISE_CLI, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _columns(row: dict[str, object]) -> str:
    return ", ".join('"%s"' % name for name in row)  # quoted: "window" is a keyword


def _sqlite_value(value: object) -> object:
    return int(value) if isinstance(value, bool) else value


def test_0001_initial_is_frozen():
    digest = hashlib.sha256((ROOT / "migrations" / "0001_initial.py").read_bytes()).hexdigest()
    assert digest == FROZEN_0001, "migrations/0001_initial.py changed: add a new migration instead"


@sqlite_pass_only
def test_migrations_have_one_head():
    out = _run_cli("sqlite://:memory:", "heads")
    heads = [line.strip()[2:] for line in out.splitlines() if line.strip().startswith("- patron.")]
    assert len(heads) == 1, out  # several heads: chain the new migration after the last one


@sqlite_pass_only
def test_populated_0001_sqlite_database_upgrades_to_head(tmp_path: Path):
    url = f"sqlite://{tmp_path}/upgrade.sqlite3"
    _run_cli(url, "migrate", "patron", "0001_initial")
    conn = sqlite3.connect(tmp_path / "upgrade.sqlite3")
    for table, row in ROWS_AT_0001:
        info = conn.execute(f"PRAGMA table_info({table})").fetchall()
        missing = [c[1] for c in info if c[3] and c[4] is None and c[1] not in row and c[1] != "id"]
        assert not missing, f"{table}: fill {missing}"
        cols = _columns(row)
        conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' for _ in row)})",
                     [_sqlite_value(v) for v in row.values()])
    conn.commit()
    conn.close()

    _run_cli(url, "migrate")

    conn = sqlite3.connect(tmp_path / "upgrade.sqlite3")
    conn.row_factory = sqlite3.Row
    member = conn.execute("SELECT * FROM members WHERE id = 1").fetchone()
    assert (member["external_id"], member["email"], member["points_balance"]) == ("legacy-1", "legacy@example.com", 120)
    review = conn.execute("SELECT * FROM reviews WHERE id = 1").fetchone()
    assert (review["body"], review["rating"], review["status"]) == ("Lovely old tea", 5, "published")
    assert conn.execute("SELECT total_amount FROM orders WHERE id = 1").fetchone()[0] == 12000
    assert conn.execute("SELECT role FROM api_keys WHERE id = 1").fetchone()[0] == "admin"
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    conn.close()


async def test_populated_0001_postgres_database_upgrades_to_head():
    if not IS_POSTGRES:
        return  # the SQLite variant above runs in both passes; this one needs the server
    base = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
    name = f"patron_upgrade_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(base)
    await admin.execute(f"CREATE DATABASE {name}")
    url = base.rsplit("/", 1)[0] + "/" + name
    try:
        _run_cli(url.replace("postgresql://", "postgres://", 1), "migrate", "patron", "0001_initial")
        conn = await asyncpg.connect(url)
        try:
            for table, row in ROWS_AT_0001:
                values = list(row.values())
                types = [await _pg_type(conn, table, k) for k in row]
                casts = ", ".join(f"${i + 1}::text::{t}" for i, t in enumerate(types))
                await conn.execute(f"INSERT INTO {table} ({_columns(row)}) VALUES ({casts})",
                                   *[str(v).lower() if isinstance(v, bool) else str(v) for v in values])
        finally:
            await conn.close()

        _run_cli(url.replace("postgresql://", "postgres://", 1), "migrate")

        conn = await asyncpg.connect(url)
        try:
            member = await conn.fetchrow("SELECT * FROM members WHERE id = 1")
            assert (member["external_id"], member["email"], member["points_balance"]) == ("legacy-1", "legacy@example.com", 120)
            review = await conn.fetchrow("SELECT * FROM reviews WHERE id = 1")
            assert (review["body"], review["rating"]) == ("Lovely old tea", 5)
            assert await conn.fetchval("SELECT total_amount FROM orders WHERE id = 1") == 12000
            assert await conn.fetchval("SELECT count(*) FROM events") == 1
        finally:
            await conn.close()
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


async def _pg_type(conn: asyncpg.Connection, table: str, column: str) -> str:
    return await conn.fetchval(
        "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "WHERE a.attrelid = $1::regclass AND a.attname = $2", table, column)
