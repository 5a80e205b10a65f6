"""Whose birthday is it today: matched in SQL, on an expression index on PostgreSQL.

The month-day key is month * 100 + day of `members.birthday` (e.g. 1231). The expression is
dialect-specific (EXTRACT on PostgreSQL, strftime on SQLite) and spelled exactly as in the
partial index of migration 0011, so PostgreSQL answers from the index.
"""

from __future__ import annotations

import calendar
from datetime import date

from tortoise.expressions import RawSQL

from domain.db import is_sqlite

PG_KEY = 'CAST(EXTRACT(MONTH FROM "birthday") AS INTEGER) * 100 + CAST(EXTRACT(DAY FROM "birthday") AS INTEGER)'
SQLITE_KEY = "CAST(strftime('%m%d', \"birthday\") AS INTEGER)"
# The index answers queries that repeat its expression and its predicate.
PG_INDEX = (f'CREATE INDEX IF NOT EXISTS "members_birthday_key" ON "members" (({PG_KEY})) '
            'WHERE "birthday" IS NOT NULL AND "anonymized_at" IS NULL')


def key_sql() -> RawSQL:
    return RawSQL(f"({SQLITE_KEY if is_sqlite() else PG_KEY})")


def keys_for(today: date) -> list[int]:
    """The birthdays celebrated today: Feb 29 birthdays are celebrated on Feb 28 in other years."""
    keys = [today.month * 100 + today.day]
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        keys.append(229)
    return keys


def awarded_sql(year: int, rule_ids: list[int]) -> RawSQL:
    """How many of the active birthday rules already awarded this member this year (the award
    source is "birthday", "<external id>:<year>", see rules.birthday_source)."""
    ids = ", ".join(str(int(i)) for i in rule_ids) or "NULL"
    return RawSQL(
        '(SELECT COUNT(*) FROM "awards" WHERE "awards"."member_id" = "members"."id" '
        "AND \"awards\".\"source_type\" = 'birthday' "
        f"AND \"awards\".\"source_id\" = \"members\".\"external_id\" || ':{int(year)}' "
        f'AND "awards"."rule_id" IN ({ids}))'
    )
