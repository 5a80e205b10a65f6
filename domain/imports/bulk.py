"""Raw bulk reads and writes for import batches: no model objects per row.

Building three tortoise models per imported review (and pypika SQL for `IN` lists of 500
values) was most of an import's time (bench/RESULTS.md). These helpers send plain SQL: one
multi-row INSERT per table and batch (domain/db.insert_rows), and `= ANY($1)` (PostgreSQL)
or `IN (?, …)` (SQLite) look-ups. Values are passed as bind parameters, never formatted in.
"""

from __future__ import annotations

from typing import Any

from tortoise.fields.data import JSONField

from domain.db import insert_rows


def _conn(model: Any) -> Any:
    return model._meta.db


async def select_in(model: Any, columns: tuple[str, ...], key: str, values: list[Any],
                    where: str = "") -> list[tuple[Any, ...]]:
    """`SELECT columns FROM model's table WHERE key IN values [AND where]` (column names)."""
    if not values:
        return []
    conn = _conn(model)
    table = model._meta.db_table
    names = ", ".join(f'"{c}"' for c in columns)
    extra = f" AND {where}" if where else ""
    if conn.capabilities.dialect == "sqlite":
        out: list[tuple[Any, ...]] = []
        for start in range(0, len(values), 30_000):
            chunk = values[start:start + 30_000]
            marks = ", ".join("?" for _ in chunk)
            _, rows = await conn.execute_query(f'SELECT {names} FROM "{table}" WHERE "{key}" IN ({marks}){extra}', chunk)
            out.extend(tuple(r) for r in rows)
        return out
    _, rows = await conn.execute_query(f'SELECT {names} FROM "{table}" WHERE "{key}" = ANY($1){extra}', [values])
    return [tuple(r) for r in rows]


def defaults(model: Any) -> dict[str, Any]:
    """Database-ready values of the fields with a Python-side default (tortoise fills them in
    when it builds a model; a raw INSERT must send them)."""
    out: dict[str, Any] = {}
    for name, fld in model._meta.fields_map.items():
        if fld.pk or name not in model._meta.fields_db_projection or fld.default is None:
            continue
        value = fld.default() if callable(fld.default) else fld.default
        out[name] = fld.to_db_value(value, None) if isinstance(fld, JSONField) else value
    return out


async def insert(model: Any, rows: list[dict[str, Any]], returning: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    """Insert rows given by field name; the fields' defaults fill what a row leaves out."""
    if not rows:
        return []
    base = defaults(model)
    full = [{**base, **row} for row in rows]
    return await insert_rows(model, full, returning, convert=False)


async def locked(model: Any, columns: tuple[str, ...], ids: list[int]) -> list[tuple[Any, ...]]:
    """Rows by primary key, locked for the transaction (FOR UPDATE; SQLite: the write lock)."""
    if not ids:
        return []
    conn = _conn(model)
    names = ", ".join(f'"{c}"' for c in columns)
    table = model._meta.db_table
    if conn.capabilities.dialect == "sqlite":
        _, rows = await conn.execute_query(
            f'SELECT {names} FROM "{table}" WHERE id IN ({", ".join("?" for _ in ids)}) ORDER BY id', ids)
    else:
        _, rows = await conn.execute_query(f'SELECT {names} FROM "{table}" WHERE id = ANY($1) ORDER BY id FOR UPDATE',
                                           [ids])
    return [tuple(r) for r in rows]


async def update_by_id(model: Any, columns: dict[str, str], rows: list[tuple[Any, ...]]) -> None:
    """Set `columns` (name → PostgreSQL type) of each row (id, *values): one statement on
    PostgreSQL (UPDATE … FROM unnest of one array per column), one per row on SQLite."""
    if not rows:
        return
    conn = _conn(model)
    table = model._meta.db_table
    names = list(columns)
    if conn.capabilities.dialect == "sqlite":
        sets = ", ".join(f'"{n}" = ?' for n in names)
        for row in rows:
            await conn.execute_query(f'UPDATE "{table}" SET {sets} WHERE id = ?', [*row[1:], row[0]])
        return
    arrays = ", ".join(f"${i + 2}::{columns[n]}[]" for i, n in enumerate(names))
    sets = ", ".join(f'"{n}" = v.c{i}{"::" + columns[n] if columns[n] == "jsonb" else ""}' for i, n in enumerate(names))
    aliases = ", ".join(f"c{i}" for i in range(len(names)))
    values = [[r[0] for r in rows]] + [[r[i + 1] for r in rows] for i in range(len(names))]
    await conn.execute_query(
        f'UPDATE "{table}" AS t SET {sets} FROM unnest($1::int[], {arrays.replace("::jsonb[]", "::text[]")}) '
        f"AS v(id, {aliases}) WHERE t.id = v.id", values)
