"""The hourly tier review on a generated database: steady state and a genuinely large change.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/patron_scale \\
        .venv/bin/python server.py generate-demo --members 1000000 --orders 3000000
    PATRON_SCALE_DB=patron_scale .venv/bin/python bench/tier_review.py [--json out.json]

Runs domain/jobs.py review_tiers directly (what the `tier_review` job runs) four times:
1. steady state: the data as generated (each member holds the tier their orders give);
2. the program lowers Silver's spend threshold to --lowered (default 2,000 = 20.00):
   a large wave of upgrades, each with its tier change and event;
3. the threshold is put back: every member upgraded in 2 no longer qualifies, so their
   downgrade grace starts (bulk-set);
4. the clock moves past the grace: they are all downgraded.
After 4 the members hold the tiers they held before (with the extra history rows), so the
run can be repeated. Each step reports seconds, members changed and members per second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import FORBIDDEN_DBS, db_url, machine  # noqa: E402


async def main(args: argparse.Namespace) -> dict:
    from composition import subscribers
    from domain import clock, db, jobs
    from domain.members.models import Member
    from domain.settings import get_settings
    from domain.tiers.models import Tier
    from domain.tiers.service import save_tier

    subscribers.wire()  # as in a worker: each tier change's event fans out to webhooks
    await db.init_orm(db_url(args.db))
    results: dict = {"db": args.db, "machine_before": machine()}
    try:
        members = await Member.filter(tier_id__isnull=False).count()
        results["members_with_tier"] = members
        silver = await Tier.get(name="Silver")
        original = silver.min_spend
        base = clock.now()

        async def step(name: str, at) -> None:  # noqa: ANN001
            clock.set_now(at)
            started = time.monotonic()
            changed = await jobs.review_tiers(at)
            seconds = time.monotonic() - started
            results[name] = {"seconds": round(seconds, 1), "changed": changed,
                             "members_per_s": round(members / seconds), "changes_per_s":
                             round(changed / seconds) if changed else 0}
            print(name, results[name], flush=True)

        await step("steady", base)
        await save_tier(silver.id, {"min_spend": args.lowered})
        await step("upgrades", base + timedelta(minutes=1))
        await save_tier(silver.id, {"min_spend": original})
        await step("grace_starts", base + timedelta(minutes=2))
        await step("downgrades", base + timedelta(days=get_settings().tier_grace_days, minutes=3))
        by_tier = {t.name: await Member.filter(tier_id=t.id).count() for t in await Tier.all()}
        results["tiers_after"] = by_tier
    finally:
        clock.set_now(None)
        await db.close_orm()
    results["machine_after"] = machine()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default=os.environ.get("PATRON_SCALE_DB", "patron_scale"))
    parser.add_argument("--lowered", type=int, default=2_000)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.db in FORBIDDEN_DBS:
        raise SystemExit(f"refusing to use database {args.db!r}")
    started = time.monotonic()
    out = asyncio.run(main(args))
    out["took_s"] = round(time.monotonic() - started, 1)
    print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
    if args.json:
        Path(args.json).write_bytes(orjson.dumps(out, option=orjson.OPT_INDENT_2))
