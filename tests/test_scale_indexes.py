"""The every-tick jobs find what is due through partial indexes (migration 0012), so a run with
nothing due does not walk the whole award / lot history (found by bench/scale.py)."""

from __future__ import annotations

from tortoise import connections

from tests.conftest import IS_POSTGRES


async def index_definitions() -> dict[str, str]:
    conn = connections.get("default")
    if IS_POSTGRES:
        rows = await conn.execute_query_dict("SELECT indexname AS name, indexdef AS sql FROM pg_indexes")
    else:
        rows = await conn.execute_query_dict("SELECT name, sql FROM sqlite_master WHERE type = 'index'")
    return {r["name"]: " ".join((r["sql"] or "").split()).lower() for r in rows}


async def test_held_awards_due_for_release_have_a_partial_index():
    definition = (await index_definitions()).get("idx_awards_held_release", "")
    assert "awards" in definition and "release_at" in definition
    assert "where" in definition and "held" in definition


async def test_lots_with_points_left_have_a_partial_expiry_index():
    definition = (await index_definitions()).get("idx_ledger_live_lot_expiry", "")
    assert "ledger_entries" in definition and "expires_at" in definition
    assert "where" in definition and "remaining > 0" in definition


async def test_no_plain_expiry_index_competes_with_the_partial_one():
    # PostgreSQL chose a plain expires_at index over the partial one and scanned every spent lot.
    plain = [name for name, sql in (await index_definitions()).items()
             if "ledger_entries" in sql and "expires_at" in sql and "where" not in sql]
    assert plain == []
