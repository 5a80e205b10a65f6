"""Database wiring: the tortoise config, migrations and the one way to write.

Every write that moves points or money goes through `write_transaction()`: a real
transaction on PostgreSQL (where services lock member rows with SELECT ... FOR UPDATE),
and additionally a process-wide lock on SQLite, which has no row locks and shares one
connection between coroutines.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api import migrate as run_migrations
from tortoise.transactions import in_transaction

from domain import changes
from domain.settings import get_settings

MODEL_MODULES = [
    "domain.auth.models",
    "domain.events.models",
    "domain.members.models",
    "domain.orders.models",
    "domain.ledger.models",
    "domain.rules.models",
    "domain.tiers.models",
    "domain.catalog.models",
    "domain.reviews.models",
    "domain.webhooks.models",
    "domain.rewards.models",
    "domain.subscriptions.models",
    "domain.recommendations.models",
    "domain.scheduler.models",
    "domain.messaging.models",
    "domain.insights.models",
    "domain.imports.models",
    "domain.feedback.models",
    "domain.staff.models",
    "domain.segments.models",
]

_sqlite_write_lock = asyncio.Lock()
log = logging.getLogger("patron.db")


async def keep_session(connection: Any) -> None:
    """What a pooled PostgreSQL connection runs when it goes back to the pool: nothing.

    asyncpg's default sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;`
    after every query run outside a transaction, a round trip each time. Patron keeps no
    session state on pooled connections: no advisory locks, LISTEN, cursors held across
    transactions or session SETs (`SET LOCAL` only, which ends with its transaction). asyncpg
    still rolls back a transaction left open on release and drops its Python-side listeners
    (Connection._reset) before calling this."""


def _url(db_url: str | None) -> str:
    """The database URL as the ORM opens it (postgres:// spelling, SQLite with secure_delete)."""
    url = db_url or get_settings().database_url
    if url.startswith("postgresql://"):
        url = "postgres://" + url[len("postgresql://"):]
    if url.startswith("sqlite://") and "secure_delete" not in url:
        # Deleted and overwritten content is zeroed in the file, not left in free pages (erasure).
        url += ("&" if "?" in url else "?") + "secure_delete=ON"
    return url


def tortoise_config(db_url: str | None = None) -> dict[str, Any]:
    url = _url(db_url)
    connection: str | dict[str, Any] = url
    if url.startswith("postgres://"):
        connection = expand_db_url(url)
        connection["credentials"]["reset"] = keep_session  # asyncpg create_pool(reset=...)
    return {
        "connections": {"default": connection},
        "apps": {
            "patron": {
                "models": MODEL_MODULES,
                "migrations": "migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# `tortoise -c domain.db.TORTOISE_ORM makemigrations` reads this.
TORTOISE_ORM = tortoise_config()


def is_sqlite() -> bool:
    return connections.get("default").capabilities.dialect == "sqlite"


class OutsideTransaction(RuntimeError):
    """Work that must commit with a change (recording an event) was attempted outside
    `write_transaction()`: a programming error, never a caller's."""


# The callbacks to run once the current write_transaction commits; None outside one.
_after_commit: contextvars.ContextVar[list[Callable[[], Awaitable[None]]] | None] = \
    contextvars.ContextVar("patron_after_commit", default=None)


def in_write_transaction() -> bool:
    return _after_commit.get() is not None


def after_commit(callback: Callable[[], Awaitable[None]]) -> None:
    """Run `callback` once the current write_transaction commits (never on a rollback)."""
    pending = _after_commit.get()
    if pending is None:
        raise OutsideTransaction("after_commit() needs an open write_transaction()")
    pending.append(callback)


@asynccontextmanager
async def write_transaction() -> AsyncIterator[Any]:
    """The one transaction boundary: domain services open it (never resolvers); a nested
    call joins the outer transaction. After the commit the registered callbacks run (event
    subscribers such as the real-time publish), then public caches are marked stale: those
    of the tags the transaction named with `changes.touch()`, or all of them."""
    if _after_commit.get() is not None:  # already inside one: join it
        with changes.joined_write():
            yield None
        return
    callbacks: list[Callable[[], Awaitable[None]]] = []
    token = _after_commit.set(callbacks)
    touched_token = changes.begin_write()
    touched: set[str] | None = None
    try:
        if is_sqlite():
            async with _sqlite_write_lock:
                async with in_transaction() as conn:
                    yield conn
        else:
            async with in_transaction() as conn:
                yield conn
    finally:
        _after_commit.reset(token)
        touched = changes.end_write(touched_token)
    # Committed. A failing callback must not fail the caller: the change is already durable.
    for callback in callbacks:
        try:
            await callback()
        except Exception:  # noqa: BLE001
            log.exception("an after-commit callback failed")
    # After the commit: caches of what it touched (changes.touch; else everything) are stale.
    await changes.committed(touched)


# PostgreSQL takes 32,767 bind parameters per statement, SQLite 32,766; and at most
# INSERT_CHUNK rows per statement, so one statement's rows stay a modest batch.
MAX_PARAMETERS = 30_000
INSERT_CHUNK = 1000


async def insert_rows(model: Any, rows: list[dict[str, Any]], returning: tuple[str, ...] = (),
                      convert: bool = True) -> list[tuple[Any, ...]]:
    """Insert `rows` (field name → value, the same fields in each) with multi-row INSERTs, one
    round trip per statement (tortoise's bulk_create sends one statement per row on asyncpg).
    On the transaction's connection when called inside one. Each value goes through its
    field's to_db_value as tortoise would, unless `convert=False` (the caller gives
    database-ready values: the bulk imports). With `returning` (field names) the inserted
    rows' values, statement by statement, in no promised order within one."""
    if not rows:
        return []
    conn = model._meta.db
    fields = list(rows[0])
    projection = model._meta.fields_db_projection
    to_db = [model._meta.fields_map[f].to_db_value for f in fields] if convert else None
    columns = ", ".join(f'"{projection[f]}"' for f in fields)
    tail = f' RETURNING {", ".join(projection[f] for f in returning)}' if returning else ""
    sqlite = conn.capabilities.dialect == "sqlite"
    per_statement = max(1, min(INSERT_CHUNK, MAX_PARAMETERS // len(fields)))
    out: list[tuple[Any, ...]] = []
    for start in range(0, len(rows), per_statement):
        values: list[Any] = []
        groups = []
        for row in rows[start:start + per_statement]:
            marks = []
            for i, field in enumerate(fields):
                values.append(to_db[i](row[field], model) if to_db is not None else row[field])
                marks.append("?" if sqlite else f"${len(values)}")
            groups.append(f"({', '.join(marks)})")
        sql = f'INSERT INTO "{model._meta.db_table}" ({columns}) VALUES {", ".join(groups)}{tail}'
        if returning:  # execute_query would drop an INSERT's rows on asyncpg
            found = await conn.execute_query_dict(sql, values)
            out.extend(tuple(r[projection[f]] for f in returning) for r in found)
        else:
            await conn.execute_query(sql, values)
    return out


@asynccontextmanager
async def serialized_writes() -> AsyncIterator[None]:
    """For bookkeeping writes that record no events and leave caches alone (job leases):
    serialised like every other writer on SQLite, nothing extra on PostgreSQL."""
    if is_sqlite():
        async with _sqlite_write_lock:
            yield
    else:
        yield


async def drop_old_page_copies() -> None:
    """After an erasure commits, on SQLite: copy the WAL into the database and empty it, so the
    erased values' older page images (still in the -wal file until a checkpoint) are gone; with
    secure_delete the database file keeps no copy in free space either. PostgreSQL keeps dead
    row versions until VACUUM reuses their space (README, "What erasure removes")."""
    if not is_sqlite():
        return
    async with _sqlite_write_lock:  # not in the middle of another writer's transaction
        await connections.get("default").execute_query("PRAGMA wal_checkpoint(TRUNCATE)")


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a file-based SQLite URL so a fresh checkout just runs."""
    if url.startswith("sqlite://") and ":memory:" not in url:
        Path(url[len("sqlite://"):].split("?")[0]).parent.mkdir(parents=True, exist_ok=True)


async def migrate(db_url: str | None = None) -> None:
    """Apply every migration in migrations/ (tortoise native migrations)."""
    ensure_sqlite_dir(_url(db_url))
    config = tortoise_config(db_url)
    try:
        await run_migrations(config=config)
    finally:
        await Tortoise.close_connections()  # the ORM is opened afresh by init_orm()


_orm_url: str | None = None


def current_url() -> str:
    """The URL the ORM was opened with (tests open a private file, not the settings' URL)."""
    return _orm_url or _url(None)


async def init_orm(db_url: str | None = None) -> None:
    global _orm_url
    config = tortoise_config(db_url)
    _orm_url = _url(db_url)
    ensure_sqlite_dir(_orm_url)
    await Tortoise.init(config=config, _enable_global_fallback=True)


async def close_orm() -> None:
    await Tortoise.close_connections()

