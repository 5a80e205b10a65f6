"""Insights at scale (issue 13): each insight query on the 1M-member database of
`server.py generate-demo` (bench/scale.py's `patron_scale`), through the real GraphQL API.

Target: every insight query answers in ≤ 2 s at 1M members / 3M orders, one member's
`insights` in ≤ 200 ms. The member insights (RFM, churn, CLV) are read from the table the
daily `member_insights` job fills; `--refresh` runs that job first (`server.py
refresh-insights`) and reports its duration.

    PATRON_SCALE_DB=patron_scale nice -n 10 .venv/bin/python bench/insights_scale.py [--refresh] [--markdown]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    ADMIN_KEY, APP_DIR, PYTHON, Conn, Server, app_env, db_url, gql, log, migrate, percentile, run_loop,
)
from bench.scale import db_name, pg  # noqa: E402

BLOCKS = {
    "members": "members { total active newInPeriod }",
    "orders": "orders { count revenue { amount currency } averageOrderValue { amount currency } repeatPurchaseRate "
              "purchaseFrequency memberShareOfRevenue guestOrders }",
    "points": "points { issued redeemed expired outstanding pending liability { amount currency } breakageRate earnBurnRatio }",
    "redemptions": "redemptions { count rate medianDaysToFirstRedemption topRewards { reward { name } count } }",
    "tiers": "tiers { tier { name } members upgrades downgrades }",
    "reviews": "reviews { published averageRating withMediaShare replyMedianHours negativeRepliedWithinSlaShare "
               "requestConversionRate }",
    "satisfaction": "satisfaction { responses nps csatAverage }",
    "carts": "carts { abandoned recoveredByReminder }",
    "series (revenue by week)": "series(metric: REVENUE, interval: WEEK) { at value }",
}
PROGRAM = "query($from: Date!, $to: Date!, $cur: String!) {{ programInsights(from: $from, to: $to, currency: $cur) {{ {} }} }}"
RFM = "{ rfmSegments { segment members share } }"
MEMBER = """query($m: String!) { member(externalId: $m) { insights { recencyDays frequency monetary { amount currency }
  rfmSegment churnRisk expectedPurchases90d clv12m { amount currency } explanation } } }"""


async def _timed(conn: Conn, query: str, variables: dict[str, Any] | None, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await gql(conn, query, variables, ADMIN_KEY)
        times.append((time.perf_counter() - started) * 1000)
    return times


async def _members(url: str, n: int) -> list[str]:
    conn = await pg(url)
    try:
        top = await conn.fetchval("SELECT max(id) FROM members")
        rng = random.Random(13)
        ids = [rng.randrange(1, top + 1) for _ in range(n * 2)]
        rows = await conn.fetch("SELECT external_id FROM members WHERE id = ANY($1::int[])", ids)
        return [r["external_id"] for r in rows][:n]
    finally:
        await conn.close()


async def measure(url: str, repeat: int, members: int) -> dict[str, Any]:
    today = dt.date.today()
    period = {"from": str(today - dt.timedelta(days=180)), "to": str(today), "cur": "USD"}
    sample = await _members(url, members)
    server = Server("server:create_app", app_env(url)).start()
    out: dict[str, Any] = {"period": period, "queries": {}}
    try:
        conn = await Conn.open(server.port)
        for name, block in [("programInsights, every field", " ".join(BLOCKS.values())), *BLOCKS.items()]:
            times = await _timed(conn, PROGRAM.format(block), period, repeat)
            out["queries"][name] = times
            log(f"{name}: {[round(t) for t in times]} ms")
        out["queries"]["rfmSegments"] = await _timed(conn, RFM, None, repeat)
        await gql(conn, MEMBER, {"m": sample[0]}, ADMIN_KEY)  # warm-up
        one = []
        for m in sample:
            one.extend(await _timed(conn, MEMBER, {"m": m}, 1))
        out["member"] = one
        conn.writer.close()
    finally:
        server.stop()
    return out


def markdown(r: dict[str, Any], command: str, load: tuple[str, str]) -> str:
    lines = [f"_Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; `{command}`; load average before / after "
             f"{load[0]} / {load[1]}; period {r['period']['from']} – {r['period']['to']}, {r['period']['cur']}._", "",
             "| query | median ms | max ms | target | verdict |", "|---|---:|---:|---:|---|"]
    for name, times in r["queries"].items():
        verdict = "met" if max(times) <= 2000 else "**NOT met**"
        lines.append(f"| {name} | {statistics.median(times):,.0f} | {max(times):,.0f} | ≤ 2,000 | {verdict} |")
    one = r["member"]
    verdict = "met" if percentile(one, 99) <= 200 else "**NOT met**"
    lines.append(f"| one member's `insights` ({len(one)} random members) | p50 {percentile(one, 50):,.1f} | "
                 f"p99 {percentile(one, 99):,.1f} | ≤ 200 | {verdict} |")
    if "refresh_seconds" in r:
        lines += ["", f"`server.py refresh-insights` (the daily member_insights job) before it: {r['refresh_seconds']:,.1f} s."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--refresh", action="store_true", help="run the member_insights job first")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--markdown", action="store_true")
    a = parser.parse_args()
    url = db_url(db_name("PATRON_SCALE_DB", "patron_scale"))
    load_before = os.getloadavg()
    migrate(url)
    refresh = None
    if a.refresh:
        started = time.perf_counter()
        subprocess.run([PYTHON, "server.py", "refresh-insights"], cwd=APP_DIR, env={**os.environ, "DATABASE_URL": url},
                       check=True, timeout=7200)
        refresh = time.perf_counter() - started
        log(f"refresh-insights: {refresh:.1f} s")
    r = run_loop(measure(url, a.repeat, a.members))
    if refresh is not None:
        r["refresh_seconds"] = refresh
    load = (" ".join(f"{x:.2f}" for x in load_before), " ".join(f"{x:.2f}" for x in os.getloadavg()))
    command = "PATRON_SCALE_DB=… " + " ".join(["bench/insights_scale.py", *sys.argv[1:]])
    print(markdown(r, command, load) if a.markdown else r)


if __name__ == "__main__":
    main()
